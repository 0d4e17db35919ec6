/* The master: binds, spawns and supervises; reads no network input. */
#ifndef DNSROUTER_MASTER_H
#define DNSROUTER_MASTER_H

#include <ev.h>

#include "config.h"

#include "child.h"	/* what a child finds at which descriptor */

/*
 * Every listening socket: per set, per listen address, UDP then TCP. A set
 * is one SO_REUSEPORT member per address; there is a set per worker, and
 * sets never go away while dnsrouter runs (fewer workers share them: router
 * r serves every set s with s % workers == r), because a socket leaving
 * its group loses what the kernel had already queued on it.
 */
struct listeners {
	int			 nsets;
	int			 nlisten;
	struct config_listen	 addrs[CONFIG_MAX_LISTEN];
	int			*fds;
};

#define LISTENER_FD(ls, s, l, tcp) ((ls)->fds[((s) * (ls)->nlisten + (l)) * 2 + (tcp)])

/*
 * Bind UDP and TCP for every listen address of cf, with max(workers, the
 * sets old has) sets. Sockets old already has are duplicated from it (the
 * same kernel socket, so nothing queued is lost); old may be NULL.
 */
int listeners_open(const struct config *cf, const struct listeners *old,
    struct listeners *ls, char *err, size_t errlen);
/* Close every socket of ls. */
void listeners_close(struct listeners *ls);

/* Spawn the controller and the routers, and restart any that dies. */
void children_start(struct ev_loop *loop, const struct config *cf,
    const struct listeners *ls, int foreground, int verbose);
/*
 * Apply a new config and listener set (both must outlive the children):
 * restart the controller if its settings changed (else SIGHUP it), then
 * replace the routers one at a time, each old one stopped only once its
 * successor serves. done() runs when it is over.
 */
void children_reload(const struct config *cf, const struct listeners *ls,
    int controller_changed, int routers_changed, void (*done)(void));
/* Tell the controller that a stop is coming (SIGUSR1): /ready says 503. */
void children_drain(void);
/* Ask every child to stop; done() runs once the last has exited. */
void children_stop(void (*done)(void));

#endif
