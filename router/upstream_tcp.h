/* Persistent pipelined TCP connections toward backends (upstream_tcp.c). */
#ifndef DNSROUTER_UPSTREAM_TCP_H
#define DNSROUTER_UPSTREAM_TCP_H

struct router;
struct upstream_ops;

void upstream_tcp_init(const struct router *r);
extern const struct upstream_ops upstream_tcp;

#endif
