/*
 * UPDATE (RFC 2136) to the primary of the one shard its names route to;
 * NOTIFY (RFC 1996) routed like a query (update.c).
 */
#ifndef DNSROUTER_UPDATE_H
#define DNSROUTER_UPDATE_H

#include <stddef.h>
#include <stdint.h>

struct client;
struct dns_question;
struct router;

void update_init(const struct router *r);
/* Each answers or forwards through c as query_dispatch does. */
void update_dispatch(const uint8_t *pkt, size_t len,
    const struct dns_question *q, const struct client *c);
void notify_dispatch(const uint8_t *pkt, size_t len,
    const struct dns_question *q, const struct client *c);

#endif
