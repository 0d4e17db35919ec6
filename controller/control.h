/*
 * The operator's window into the running controller: a req/rep endpoint,
 * control.ipc in the run directory, where dnsrouterctl asks for the
 * status (the route table routers were last sent, with each backend's
 * health, generation and epoch, and the state of the etcd watch).
 */
#ifndef DNSROUTER_CONTROL_H
#define DNSROUTER_CONTROL_H

#include <ev.h>

#include "config.h"

/* Listen on dir/control.ipc and answer status requests from loop. */
void control_init(struct ev_loop *loop, const struct config *cf,
    const char *dir);
/* Close the endpoint. */
void control_shutdown(void);

#endif
