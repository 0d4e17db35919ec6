/* The master: binds, spawns and supervises; reads no network input. */
#ifndef DNSROUTER_MASTER_H
#define DNSROUTER_MASTER_H

#include <ev.h>

#include "config.h"

/* Children find their config here and their sockets from the next fd on. */
#define CHILD_FD_CONFIG		3
#define CHILD_FD_LISTEN		4

/* Every listening socket: per worker, per listen address, UDP then TCP. */
struct listeners {
	int	 workers;
	int	 nlisten;
	int	*fds;
};

#define LISTENER_FD(ls, w, l, tcp) ((ls)->fds[((w) * (ls)->nlisten + (l)) * 2 + (tcp)])

/* Bind UDP and TCP for every listen address, one SO_REUSEPORT set per worker. */
int listeners_open(const struct config *cf, struct listeners *ls, char *err,
    size_t errlen);
/* Close every socket of ls. */
void listeners_close(struct listeners *ls);

/* Spawn the controller and the routers, and restart any that dies. */
void children_start(struct ev_loop *loop, const struct config *cf,
    const struct listeners *ls, int foreground, int verbose);
/* Ask every child to stop; done() runs once the last has exited. */
void children_stop(void (*done)(void));
/* Send sig to the controller. */
void children_signal_controller(int sig);

#endif
