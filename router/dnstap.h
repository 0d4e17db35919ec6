/*
 * dnstap (dnstap.c): the routers' query and response log in the format of
 * BIND, Knot, Unbound and dnsdist, written to a Frame Streams collector by
 * libfstrm's I/O thread. The query path only encodes and queues; a full
 * queue or an absent collector drops the message and counts it.
 */
#ifndef DNSROUTER_DNSTAP_H
#define DNSROUTER_DNSTAP_H

#include <sys/socket.h>
#include <stddef.h>
#include <stdint.h>

struct router;

/* The CONFIG_DNSTAP_* types logged; 0 when dnstap is off. */
extern unsigned dnstap_types;

/* Start the writer when `dnstap` is set; chrooted: rundir is "/". */
void dnstap_init(const struct router *r, int chrooted);
/* Flush what is queued (bounded by the socket timeouts) and stop. */
void dnstap_shutdown(void);
/*
 * Log msg (len bytes) as type (one CONFIG_DNSTAP_* bit): peer is the
 * client (CLIENT_*) or the backend (FORWARDER_*), tcp its transport,
 * qtime and rtime the query's and the response's times in seconds since
 * the epoch (0: not set). Call only when dnstap_types has type.
 */
void dnstap_log(unsigned type, const struct sockaddr *peer, int tcp,
    const uint8_t *msg, size_t len, double qtime, double rtime);

#endif
