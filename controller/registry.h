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
#include "strmap.h"

/* A registration: a parsed route_value, its regexp on the heap (10,000 of them stay small). */
struct reg {
	char			*key;	/* "routes:FILE:LINE" or an etcd key */
	uint64_t		 seq;	/* registration order */
	struct sockaddr_storage	 addr;
	socklen_t		 addrlen;
	int32_t			 priority;
	int			 primary;
	char			*pattern;
};

/* Zeroed is empty. v is in no particular order (a deletion moves the last one into its place). */
struct registry {
	struct reg	*v;
	size_t		 n, cap;
	uint64_t	 nextseq;
	struct strmap	 idx;	/* key -> index into v */
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
/*
 * Remove every registration of r whose key starts with prefix and move
 * all of from's into r in one go (each keeps its order, so give them
 * with registry_set_ordered); from is left empty. A listing built aside
 * replaces the one before without a table ever holding half of each.
 */
void registry_replace_prefix(struct registry *r, const char *prefix,
    struct registry *from);
/* Free everything. */
void registry_free(struct registry *r);

/* The most a table may hold; registry_build leaves out what goes past them. */
struct registry_limits {
	uint32_t	backends;	/* distinct backends */
	uint32_t	routes;
	size_t		len;		/* bytes of the encoded PROTO_TABLE message */
};

/* The table format's own (RT_MAX_BACKENDS, RT_MAX_ROUTES, RT_MAX_TABLE_LEN). */
extern const struct registry_limits registry_table_limits;

/*
 * Build the route table of r into a malloc'd rt_table (free with rt_free),
 * with epoch and generation 0; backend_up(ctx, addr) gives each backend's
 * health. The table always encodes: a registration that would take it
 * past lim (NULL: registry_table_limits), the latest registered first,
 * is left out, and *left_out (if not NULL) says how many were.
 */
struct rt_table *registry_build(const struct registry *r,
    int (*backend_up)(void *ctx, const struct sockaddr *addr), void *ctx,
    const struct registry_limits *lim, size_t *left_out);

#endif
