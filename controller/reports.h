/* Router reports in (nng pull): traffic failures feed the health checks. */
#ifndef DNSROUTER_REPORTS_H
#define DNSROUTER_REPORTS_H

#include <ev.h>
#include <stdint.h>

/* Listen for router reports in rundir. */
void reports_init(struct ev_loop *loop, const char *rundir);
/*
 * Patterns the routers' reports say were matched one by one, since the
 * start, because their database lacked them (RG_PENDING_TRIED): what a
 * compile would save, for dbcompile.c.
 */
uint64_t reports_pending_tried(void);
void reports_shutdown(void);

#endif
