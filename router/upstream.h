/*
 * UDP toward backends (upstream.c): sockets on random ports, renewed.
 * Queued queries leave in one batch per socket before the loop next blocks.
 */
#ifndef DNSROUTER_UPSTREAM_H
#define DNSROUTER_UPSTREAM_H

struct router;
struct upstream_ops;

/*
 * flushed() is called once the queued queries have left before the loop
 * blocks: the SERVFAILs of those whose send failed must leave then too
 * (main.c gives udp_flush).
 */
void upstream_init(const struct router *r, void (*flushed)(void));
extern const struct upstream_ops upstream_udp;

#endif
