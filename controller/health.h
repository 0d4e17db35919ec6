/*
 * Health of every distinct backend: a TCP check with health-query every
 * health-interval (one per backend, however many routes name it), health-fall
 * failures in a row take it out, health-rise passes bring it back. Routers'
 * reports of real traffic take it out too when its recent attempts mostly
 * failed where another backend answered, or ask for a check at once when it
 * answers nothing (passive.h); only checks bring it back.
 */
#ifndef DNSROUTER_HEALTH_H
#define DNSROUTER_HEALTH_H

#include <sys/socket.h>
#include <ev.h>

#include "config.h"
#include "registry.h"

/* Start checking; changed() runs whenever a backend goes up or down. */
void health_init(struct ev_loop *loop, const struct config *cf,
    void (*changed)(void));
/* Check exactly the backends r names: new ones start up, gone ones stop. */
void health_sync(const struct registry *r);
/* Nonzero when addr is in rotation (an unknown backend counts as up). */
int health_up(void *ctx, const struct sockaddr *addr);
/*
 * A router's traffic report for addr: attempts answered and failed, and of
 * the failures those of queries no backend answered (passive.h).
 */
void health_report(const struct sockaddr *addr, uint32_t answered,
    uint32_t failed, uint32_t unanswered);
/* Stop every check. */
void health_shutdown(void);

#endif
