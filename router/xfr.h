/* Zone transfers (AXFR, IXFR in full) merged from the zone's shards (xfr.c). */
#ifndef DNSROUTER_XFR_H
#define DNSROUTER_XFR_H

#include <stddef.h>
#include <stdint.h>

struct client;
struct dns_question;
struct router;

void xfr_init(const struct router *r);
/*
 * Takes a query dns_parse_query accepted whose type is AXFR or IXFR: 1
 * when it holds c until the transfer ends (then c's done is called), 0
 * when it answered at once (refused, over UDP, no table).
 */
int xfr_start(const uint8_t *pkt, size_t len, const struct dns_question *q,
    const struct client *c);
void xfr_shutdown(void);

#endif
