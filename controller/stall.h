/*
 * Watching the controller's own event loop: everything it does (etcd,
 * health checks, reports, tables, /metrics) runs in one loop, so one
 * callback that computes too long delays all the rest. An iteration that
 * takes more than STALL_CPU of CPU is counted and logged (at most every
 * STALL_LOG_GAP seconds). CPU time, not wall time: on a busy host the
 * loop also waits for a core, which says nothing about the controller.
 */
#ifndef DNSROUTER_STALL_H
#define DNSROUTER_STALL_H

#include <ev.h>
#include <stdint.h>

#define STALL_CPU	0.100	/* seconds */
#define STALL_LOG_GAP	10.0

/* Start watching loop's iterations. */
void stall_init(struct ev_loop *loop);
/* Iterations so far that took more than STALL_CPU of CPU. */
uint64_t stall_count(void);
void stall_shutdown(void);

#endif
