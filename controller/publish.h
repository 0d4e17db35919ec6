/* Sending route tables to routers: pub/sub for every change and periodically, req/rep for snapshots. */
#ifndef DNSROUTER_PUBLISH_H
#define DNSROUTER_PUBLISH_H

#include <ev.h>
#include <stddef.h>
#include <stdint.h>

#include "purgemsg.h"
#include "routetable.h"

/* Listen on the run directory's endpoints; start the periodic republish. */
void publish_init(struct ev_loop *loop, const char *rundir);
/*
 * Offer a freshly built table (epoch and generation are set here). When it
 * differs from the last one it gets the next generation, goes out at once
 * and 1 is returned; 0 when it is the same (or cannot be encoded). The
 * caller keeps t.
 */
int publish_table(struct rt_table *t);
/* The encoded PROTO_TABLE message last sent to routers (NULL before the first). */
const uint8_t *publish_current(size_t *len);
/*
 * Purge a name from every router's cache: the next purge's sequence number
 * and the list of recent ones go out at once and every second (purgemsg.h).
 * The encoded PROTO_PURGE is put in *out (malloc'd), the answer for
 * dnsrouterctl; -1 if it cannot be encoded.
 */
int publish_purge(const struct purge_name *p, uint8_t **out, size_t *outlen);
/* Close the endpoints. */
void publish_shutdown(void);

#endif
