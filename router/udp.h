/* Client-side UDP listeners (udp.c), with rate limiting. */
#ifndef DNSROUTER_UDP_H
#define DNSROUTER_UDP_H

struct router;

void udp_init(const struct router *r, int fd);
/* Send the queued answers now (they leave before the loop blocks anyway). */
void udp_flush(void);
/* Start reading queries (once there is a table) / stop for good. */
void udp_start(void);
void udp_stop(void);

#endif
