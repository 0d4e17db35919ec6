/* Router reports in (nng pull): traffic failures feed the health checks. */
#ifndef DNSROUTER_REPORTS_H
#define DNSROUTER_REPORTS_H

#include <ev.h>

/* Listen for router reports in rundir. */
void reports_init(struct ev_loop *loop, const char *rundir);
void reports_shutdown(void);

#endif
