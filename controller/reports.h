/* Router reports in (nng pull): traffic failures feed the health checks. */
#ifndef DNSROUTER_REPORTS_H
#define DNSROUTER_REPORTS_H

#include <ev.h>
#include <stdint.h>

/* Listen for router reports in rundir. */
void reports_init(struct ev_loop *loop, const char *rundir);
/*
 * Client queries the routers' reports counted since the start (UDP and
 * TCP): how often route patterns are matched, for dbcompile.c.
 */
uint64_t reports_queries(void);
void reports_shutdown(void);

#endif
