/*
 * Prometheus metrics: the totals of the routers' reports (which carry
 * deltas), the controller's own state, and the HTTP endpoint that serves
 * them as text at /metrics on the `metrics` address.
 */
#ifndef DNSROUTER_METRICS_H
#define DNSROUTER_METRICS_H

#include <sys/types.h>
#include <ev.h>
#include <stddef.h>

#include "config.h"
#include "report.h"
#include "routetable.h"

/* metrics.c: the numbers */

/* Keep totals when cf asks for metrics (nothing is kept otherwise). */
void metrics_init(const struct config *cf);
/*
 * A table went out with a new generation: its backends and routes are the
 * ones counted. Copied a part per call: 0 while more is left (call again
 * with the same t, kept until then), 1 once it took over.
 */
int metrics_table(const struct rt_table *t);
/* How many registrations the last table built had to leave out (its limits). */
void metrics_left_out(size_t n);
/* Add a router's report to the totals. */
void metrics_report(const struct report *r);
/* A report that did not decode. */
void metrics_bad_report(void);
/*
 * A page of the text exposition format (version 0.0.4): the numbers as
 * they are now, copied, rendered as metrics_page_read asks for them, so
 * that a page of tens of thousands of backends never holds the loop long.
 */
struct metrics_page;
struct metrics_page *metrics_page_new(void);
/* Up to max bytes of the page into buf: how many, 0 at its end, -1 on failure. */
ssize_t metrics_page_read(struct metrics_page *p, char *buf, size_t max);
void metrics_page_free(struct metrics_page *p);
/*
 * /health (ready 0): the master is alive (still our parent) and every
 * router reported within the last 3 s. /ready (ready 1): that, every
 * router has a route table, and with etcd configured the first listing is
 * applied. 1 if so; why says what is missing (or "ok").
 */
int metrics_health(int ready, char *why, size_t len);
/* From now on /ready answers 503: the master's lameduck before a stop. */
void metrics_draining(void);
/* Free everything. */
void metrics_free(void);

/* metrics_http.c: serving them */

/*
 * Bind and listen on cf's metrics address, before privileges are dropped
 * (so any port will do). A failure is logged and leaves metrics off.
 */
void metrics_http_bind(const struct config *cf);
/* Serve GET /metrics from loop on the bound socket, if there is one. */
void metrics_http_init(struct ev_loop *loop);
void metrics_http_shutdown(void);

#endif
