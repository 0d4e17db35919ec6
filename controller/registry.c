/* Registrations and building route tables from them. */
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "registry.h"
#include "util.h"

static struct reg *
find(const struct registry *r, const char *key)
{
	size_t i;

	return strmap_get(&r->idx, key, strlen(key), &i) ? &r->v[i] : NULL;
}

/* Add or replace; the registration under key, whatever it was. */
static struct reg *
set(struct registry *r, const char *key, const struct route_value *rv)
{
	struct reg *g = find(r, key);

	if (g != NULL) {
		if (g->priority != rv->priority ||
		    strcmp(g->pattern, rv->pattern) != 0) {
			g->seq = r->nextseq++;
			free(g->pattern);
			g->pattern = xstrdup(rv->pattern);
		}
	} else {
		if (r->n == r->cap) {
			r->cap = r->cap ? r->cap * 2 : 64;
			if ((r->v = realloc(r->v, r->cap * sizeof(*r->v))) == NULL)
				abort();
		}
		g = &r->v[r->n];
		g->key = xstrdup(key);
		g->seq = r->nextseq++;
		g->pattern = xstrdup(rv->pattern);
		/* The key's bytes stay put when v moves: the map may point at them. */
		strmap_put(&r->idx, g->key, strlen(g->key), r->n);
		r->n++;
	}
	g->addr = rv->addr;
	g->addrlen = rv->addrlen;
	g->priority = rv->priority;
	g->primary = rv->primary;
	return g;
}

void
registry_set(struct registry *r, const char *key, const struct route_value *rv)
{
	set(r, key, rv);
}

void
registry_set_ordered(struct registry *r, const char *key,
    const struct route_value *rv, uint64_t order)
{
	set(r, key, rv)->seq = REGISTRY_ORDER_BASE + order;
}

/* Remove v[i]: the last registration takes its place. */
static void
remove_at(struct registry *r, size_t i)
{
	struct reg *g = &r->v[i];

	strmap_del(&r->idx, g->key, strlen(g->key));
	free(g->key);
	free(g->pattern);
	if (i != --r->n) {
		*g = r->v[r->n];
		strmap_put(&r->idx, g->key, strlen(g->key), i);
	}
}

int
registry_del(struct registry *r, const char *key)
{
	struct reg *g = find(r, key);

	if (g == NULL)
		return -1;
	remove_at(r, (size_t)(g - r->v));
	return 0;
}

/* The map anew from v (after a compaction moved many). */
static void
reindex(struct registry *r)
{
	size_t i;

	strmap_clear(&r->idx);
	for (i = 0; i < r->n; i++)
		strmap_put(&r->idx, r->v[i].key, strlen(r->v[i].key), i);
}

void
registry_del_prefix(struct registry *r, const char *prefix)
{
	size_t i, j, plen = strlen(prefix);

	for (i = j = 0; i < r->n; i++) {
		if (strncmp(r->v[i].key, prefix, plen) == 0) {
			free(r->v[i].key);
			free(r->v[i].pattern);
		} else
			r->v[j++] = r->v[i];
	}
	if (j != r->n) {
		r->n = j;
		reindex(r);
	}
}

void
registry_replace_prefix(struct registry *r, const char *prefix,
    struct registry *from)
{
	struct reg *g;
	size_t i;

	registry_del_prefix(r, prefix);
	for (i = 0; i < from->n; i++) {
		struct reg *f = &from->v[i];

		if ((g = find(r, f->key)) != NULL) {
			/* Not under prefix, yet in both: from's wins. */
			free(f->key);
			free(g->pattern);
			g->seq = f->seq;
			g->addr = f->addr;
			g->addrlen = f->addrlen;
			g->priority = f->priority;
			g->primary = f->primary;
			g->pattern = f->pattern;
			continue;
		}
		if (r->n == r->cap) {
			r->cap = r->cap ? r->cap * 2 : 64;
			while (r->cap < r->n + from->n - i)
				r->cap *= 2;
			if ((r->v = realloc(r->v, r->cap * sizeof(*r->v))) == NULL)
				abort();
		}
		r->v[r->n] = *f;
		strmap_put(&r->idx, f->key, strlen(f->key), r->n);
		r->n++;
	}
	/* Their keys and patterns belong to r now. */
	free(from->v);
	strmap_free(&from->idx);
	memset(from, 0, sizeof(*from));
}

void
registry_free(struct registry *r)
{
	size_t i;

	for (i = 0; i < r->n; i++) {
		free(r->v[i].key);
		free(r->v[i].pattern);
	}
	free(r->v);
	strmap_free(&r->idx);
	memset(r, 0, sizeof(*r));
}

static int
cmp_seq(const void *a, const void *b)
{
	const struct reg *x = *(const struct reg *const *)a;
	const struct reg *y = *(const struct reg *const *)b;

	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

struct route_build {
	int32_t		 priority;
	uint64_t	 seq;
	const char	*pattern;
	uint32_t	 n, cap;
	uint32_t	*backends;
};

static int
cmp_route(const void *a, const void *b)
{
	const struct route_build *x = a, *y = b;

	if (x->priority != y->priority)
		return x->priority < y->priority ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

const struct registry_limits registry_table_limits = {
	RT_MAX_BACKENDS, RT_MAX_ROUTES, RT_MAX_TABLE_LEN
};

/*
 * Registrations are taken in registration order; each adds a backend, a
 * route and the route's index of the backend unless they are there. One
 * that would need a backend or route or bytes past the limits, or whose
 * address or pattern no table can carry, is left out, so the table
 * always encodes. Maps from backend key, pattern and (route, backend)
 * keep it O(n), however many backends share a route; the last map only
 * holds a backend's routes after its first, so it stays empty while
 * every backend serves one route.
 */
struct rt_table *
registry_build(const struct registry *r,
    int (*backend_up)(void *ctx, const struct sockaddr *addr), void *ctx,
    const struct registry_limits *lim, size_t *left_out)
{
	struct rt_table *t = xcalloc(1, sizeof(*t));
	const struct reg **order;
	struct route_build *rb;
	char (*bkeys)[ADDR_KEYLEN];
	uint32_t *rnext, *first_route;
	uint64_t *pairs;
	struct strmap bmap, rmap, pmap;
	size_t i, nr = 0, npairs = 0, len = RT_WIRE_FIXED, skipped = 0, v;
	size_t nidx = 0, npat = 0;
	uint32_t *idx;
	char *pat;

	if (lim == NULL)
		lim = &registry_table_limits;
	order = xcalloc(r->n + 1, sizeof(*order));
	for (i = 0; i < r->n; i++)
		order[i] = &r->v[i];
	qsort(order, r->n, sizeof(*order), cmp_seq);

	t->backends = xcalloc(r->n + 1, sizeof(*t->backends));
	rb = xcalloc(r->n + 1, sizeof(*rb));
	bkeys = xcalloc(r->n + 1, ADDR_KEYLEN);
	rnext = xcalloc(r->n + 1, sizeof(*rnext));
	first_route = xcalloc(r->n + 1, sizeof(*first_route));
	pairs = xcalloc(r->n + 1, sizeof(*pairs));
	strmap_init(&bmap, r->n);
	/*
	 * Routes are at most as many as registrations (as many, when each
	 * backend has a regexp of its own: room for them all at once, not a
	 * dozen rehashes per build); a backend on several routes is rarer.
	 */
	strmap_init(&rmap, r->n);
	strmap_init(&pmap, 0);

	for (i = 0; i < r->n; i++) {
		const struct reg *rv = order[i];
		size_t plen = strlen(rv->pattern), need = 0;
		uint32_t bi, ri, head = UINT32_MAX;
		int newb, newr, dup;

		if (plen == 0 || plen > RT_MAX_PATTERN ||
		    (rv->addr.ss_family != AF_INET &&
		    rv->addr.ss_family != AF_INET6)) {
			skipped++;
			continue;
		}
		addr_key((const struct sockaddr *)&rv->addr, bkeys[t->nbackends]);
		newb = !strmap_get(&bmap, bkeys[t->nbackends], ADDR_KEYLEN, &v);
		bi = newb ? t->nbackends : (uint32_t)v;
		/* Primary for its shard if any of its registrations says so. */
		if (!newb && rv->primary)
			t->backends[bi].flags |= RT_FLAG_PRIMARY;

		/* Routes of one pattern (one per priority) are chained from the map. */
		ri = UINT32_MAX;
		if (strmap_get(&rmap, rv->pattern, plen, &v))
			for (head = ri = (uint32_t)v; ri != UINT32_MAX &&
			    rb[ri].priority != rv->priority; ri = rnext[ri])
				;
		newr = ri == UINT32_MAX;
		if (newr)
			ri = (uint32_t)nr;

		pairs[npairs] = (uint64_t)ri << 32 | bi;
		dup = !newb && !newr && (first_route[bi] == ri ||
		    strmap_get(&pmap, &pairs[npairs], sizeof(*pairs), &v));
		if (dup)
			continue;	/* same backend registered twice */
		if (newb)
			need += RT_WIRE_BACKEND;
		if (newr)
			need += RT_WIRE_ROUTE + plen;
		need += RT_WIRE_INDEX;
		if ((newb && t->nbackends >= lim->backends) ||
		    (newr && nr >= lim->routes) || len + need > lim->len) {
			skipped++;
			continue;
		}
		len += need;

		if (newb) {
			struct rt_backend *b = &t->backends[t->nbackends];

			b->addr = rv->addr;
			b->addrlen = rv->addrlen;
			b->flags = backend_up == NULL || backend_up(ctx,
			    (const struct sockaddr *)&rv->addr) ? RT_FLAG_UP : 0;
			if (rv->primary)
				b->flags |= RT_FLAG_PRIMARY;
			strmap_put(&bmap, bkeys[t->nbackends], ADDR_KEYLEN, bi);
			first_route[bi] = ri;
			t->nbackends++;
		} else if (first_route[bi] != ri) {
			/* A backend's second route or later. */
			strmap_put(&pmap, &pairs[npairs], sizeof(*pairs), 0);
			npairs++;
		}
		if (newr) {
			/* The pattern's bytes outlive the map: r is not changed here. */
			rnext[ri] = head;
			strmap_put(&rmap, rv->pattern, plen, ri);
			rb[ri].priority = rv->priority;
			rb[ri].seq = rv->seq;
			rb[ri].pattern = rv->pattern;
			nr++;
		}
		if (rb[ri].n == rb[ri].cap) {
			rb[ri].cap = rb[ri].cap ? rb[ri].cap * 2 : 4;
			if ((rb[ri].backends = realloc(rb[ri].backends,
			    rb[ri].cap * sizeof(uint32_t))) == NULL)
				abort();
		}
		rb[ri].backends[rb[ri].n++] = bi;
	}
	qsort(rb, nr, sizeof(*rb), cmp_route);

	t->nroutes = (uint32_t)nr;
	t->routes = xcalloc(nr + 1, sizeof(*t->routes));
	/* The routes' indexes and patterns in one block, as rt_decode does. */
	for (i = 0; i < nr; i++) {
		nidx += rb[i].n;
		npat += strlen(rb[i].pattern) + 1;
	}
	idx = t->arena = xmalloc(nidx * sizeof(*idx) + npat + 1);
	pat = (char *)(idx + nidx);
	for (i = 0; i < nr; i++) {
		size_t plen = strlen(rb[i].pattern);

		t->routes[i].priority = rb[i].priority;
		t->routes[i].nbackends = rb[i].n;
		t->routes[i].backends = idx;
		if (rb[i].n > 0)
			memcpy(idx, rb[i].backends, rb[i].n * sizeof(*idx));
		idx += rb[i].n;
		free(rb[i].backends);
		t->routes[i].pattern = memcpy(pat, rb[i].pattern, plen + 1);
		t->routes[i].patlen = (uint16_t)plen;
		pat += plen + 1;
	}
	free(bkeys);
	free(rnext);
	free(first_route);
	free(pairs);
	free(rb);
	free(order);
	strmap_free(&bmap);
	strmap_free(&rmap);
	strmap_free(&pmap);
	if (left_out != NULL)
		*left_out = skipped;
	return t;
}
