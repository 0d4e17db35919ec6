/*
 * The registrations the controller knows (routes file lines, later etcd
 * keys), each under a unique key, and the route table they make: routes are
 * regexps (with their priority) in order of priority, then of first
 * registration; backends registered with the same regexp share the route.
 */
#ifndef DNSROUTER_REGISTRY_H
#define DNSROUTER_REGISTRY_H

#include <stddef.h>
#include <stdint.h>

#include "route_value.h"
#include "routetable.h"

/* A registration: a parsed route_value, its regexp on the heap (10,000 of them stay small). */
struct reg {
	char			*key;	/* "routes:FILE:LINE" or an etcd key */
	uint64_t		 seq;	/* registration order */
	struct sockaddr_storage	 addr;
	socklen_t		 addrlen;
	int32_t			 priority;
	char			*pattern;
};

struct registry {
	struct reg	*v;
	size_t		 n, cap;
	uint64_t	 nextseq;
};

/* Add or replace the registration under key (rv is copied); a changed value is a new registration. */
void registry_set(struct registry *r, const char *key, const struct route_value *rv);
/*
 * The same with the registration order given: etcd's creation revision of
 * the key, so that the order survives re-listings and controller restarts.
 * Given orders sort after every registry_set one (the routes file first).
 */
void registry_set_ordered(struct registry *r, const char *key,
    const struct route_value *rv, uint64_t order);
#define REGISTRY_ORDER_BASE	(1ULL << 62)
/* Remove the registration under key; 0 if it was there, -1 if not. */
int registry_del(struct registry *r, const char *key);
/* Remove every registration whose key starts with prefix. */
void registry_del_prefix(struct registry *r, const char *prefix);
/* Free everything. */
void registry_free(struct registry *r);

/*
 * Build the route table of r into a malloc'd rt_table (free with rt_free),
 * with epoch and generation 0; backend_up(ctx, addr) gives each backend's health.
 */
struct rt_table *registry_build(const struct registry *r,
    int (*backend_up)(void *ctx, const struct sockaddr *addr), void *ctx);

#endif
