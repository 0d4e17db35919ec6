/* Client-side TCP listeners and connections (tcp.c). */
#ifndef DNSROUTER_TCP_H
#define DNSROUTER_TCP_H

struct router;

void tcp_init(const struct router *r, int fd);
void tcp_start(void);
void tcp_stop(void);

#endif
