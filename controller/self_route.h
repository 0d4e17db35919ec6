/*
 * Registrations that point back at dnsrouter itself: a backend equal to one
 * of its listen addresses (for a wildcard listen, any address of this host
 * on that port). Forwarded to, each query would come back as a new query
 * until every in-flight slot is taken; such a backend is refused.
 */
#ifndef DNSROUTER_SELF_ROUTE_H
#define DNSROUTER_SELF_ROUTE_H

#include <sys/socket.h>
#include <stddef.h>

#include "config.h"

/* Remember cf's listen addresses (the controller's config). */
void self_route_init(const struct config *cf);

/*
 * 0 if backend is not one of our own listen addresses; -1 with the reason
 * in err if it is.
 */
int self_route_check(const struct sockaddr *backend, char *err, size_t errlen);

#endif
