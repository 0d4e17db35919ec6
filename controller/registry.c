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

	for (i = 0; i < r->n; i++)
		if (strcmp(r->v[i].key, key) == 0)
			return &r->v[i];
	return NULL;
}

void
registry_set(struct registry *r, const char *key, const struct route_value *rv)
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
		g = &r->v[r->n++];
		g->key = xstrdup(key);
		g->seq = r->nextseq++;
		g->pattern = xstrdup(rv->pattern);
	}
	g->addr = rv->addr;
	g->addrlen = rv->addrlen;
	g->priority = rv->priority;
}

void
registry_set_ordered(struct registry *r, const char *key,
    const struct route_value *rv, uint64_t order)
{
	struct reg *g;

	registry_set(r, key, rv);
	if ((g = find(r, key)) != NULL)
		g->seq = REGISTRY_ORDER_BASE + order;
}

int
registry_del(struct registry *r, const char *key)
{
	struct reg *g = find(r, key);

	if (g == NULL)
		return -1;
	free(g->key);
	free(g->pattern);
	memmove(g, g + 1, (size_t)(r->v + r->n - (g + 1)) * sizeof(*g));
	r->n--;
	return 0;
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
	r->n = j;
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
	memset(r, 0, sizeof(*r));
}

/* A small open-addressing hash from a string key to an index. */
struct strmap {
	size_t		 cap;
	const char	**keys;
	size_t		*lens;
	uint32_t	*vals;
};

static uint64_t
hash_bytes(const void *p, size_t n, uint64_t h)
{
	const uint8_t *b = p;

	while (n--)
		h = (h ^ *b++) * 0x100000001b3ULL;
	return h;
}

static void
strmap_init(struct strmap *m, size_t n)
{
	m->cap = 16;
	while (m->cap < n * 2)
		m->cap *= 2;
	m->keys = xcalloc(m->cap, sizeof(*m->keys));
	m->lens = xcalloc(m->cap, sizeof(*m->lens));
	m->vals = xcalloc(m->cap, sizeof(*m->vals));
}

/* Slot for key (len bytes; may hold NULs): found, or the empty one to fill. */
static size_t
strmap_slot(const struct strmap *m, const char *key, size_t len, int *found)
{
	size_t i = hash_bytes(key, len, 0xcbf29ce484222325ULL) & (m->cap - 1);

	while (m->keys[i] != NULL) {
		if (m->lens[i] == len && memcmp(m->keys[i], key, len) == 0) {
			*found = 1;
			return i;
		}
		i = (i + 1) & (m->cap - 1);
	}
	*found = 0;
	return i;
}

static void
strmap_free(struct strmap *m)
{
	free(m->keys);
	free(m->lens);
	free(m->vals);
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

/* A backend's map key: family, port, address. */
#define BKEY_LEN 19	/* family, port, address */

static void
backend_key(const struct sockaddr_storage *ss, char out[BKEY_LEN])
{
	memset(out, 0, BKEY_LEN);
	if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)ss;

		out[0] = 6;
		memcpy(out + 1, &s6->sin6_port, 2);
		memcpy(out + 3, &s6->sin6_addr, 16);
	} else {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)ss;

		out[0] = 4;
		memcpy(out + 1, &s4->sin_port, 2);
		memcpy(out + 3, &s4->sin_addr, 4);
	}
}

struct rt_table *
registry_build(const struct registry *r,
    int (*backend_up)(void *ctx, const struct sockaddr *addr), void *ctx)
{
	struct rt_table *t = xcalloc(1, sizeof(*t));
	const struct reg **order;
	struct route_build *rb;
	char (*bkeys)[BKEY_LEN];
	char **rkeys;
	struct strmap bmap, rmap;
	size_t i, nr = 0;
	uint32_t j;

	order = xcalloc(r->n + 1, sizeof(*order));
	for (i = 0; i < r->n; i++)
		order[i] = &r->v[i];
	qsort(order, r->n, sizeof(*order), cmp_seq);

	t->backends = xcalloc(r->n + 1, sizeof(*t->backends));
	rb = xcalloc(r->n + 1, sizeof(*rb));
	bkeys = xcalloc(r->n + 1, BKEY_LEN);
	rkeys = xcalloc(r->n + 1, sizeof(*rkeys));
	strmap_init(&bmap, r->n);
	strmap_init(&rmap, r->n);

	for (i = 0; i < r->n; i++) {
		const struct reg *rv = order[i];
		size_t plen = strlen(rv->pattern), slot;
		uint32_t bi, ri;
		int found;
		char *rk;

		backend_key(&rv->addr, bkeys[t->nbackends]);
		slot = strmap_slot(&bmap, bkeys[t->nbackends], BKEY_LEN, &found);
		if (found)
			bi = bmap.vals[slot];
		else {
			struct rt_backend *b = &t->backends[t->nbackends];

			b->addr = rv->addr;
			b->addrlen = rv->addrlen;
			b->flags = backend_up == NULL || backend_up(ctx,
			    (const struct sockaddr *)&rv->addr) ? RT_FLAG_UP : 0;
			bmap.keys[slot] = bkeys[t->nbackends];
			bmap.lens[slot] = BKEY_LEN;
			bi = bmap.vals[slot] = t->nbackends++;
		}

		/* Route key: priority bytes, then the pattern with its NUL. */
		rk = xmalloc(4 + plen + 1);
		memcpy(rk, &rv->priority, 4);
		memcpy(rk + 4, rv->pattern, plen + 1);
		slot = strmap_slot(&rmap, rk, 4 + plen + 1, &found);
		if (found) {
			ri = rmap.vals[slot];
			free(rk);
		} else {
			ri = (uint32_t)nr++;
			rmap.keys[slot] = rkeys[ri] = rk;
			rmap.lens[slot] = 4 + plen + 1;
			rmap.vals[slot] = ri;
			rb[ri].priority = rv->priority;
			rb[ri].seq = order[i]->seq;
			rb[ri].pattern = rv->pattern;
		}
		for (j = 0; j < rb[ri].n; j++)
			if (rb[ri].backends[j] == bi)
				break;
		if (j < rb[ri].n)
			continue;	/* same backend registered twice */
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
	for (i = 0; i < nr; i++) {
		t->routes[i].priority = rb[i].priority;
		t->routes[i].nbackends = rb[i].n;
		t->routes[i].backends = rb[i].backends;
		t->routes[i].pattern = xstrdup(rb[i].pattern);
		t->routes[i].patlen = (uint16_t)strlen(rb[i].pattern);
	}
	for (i = 0; i < nr; i++)
		free(rkeys[i]);
	free(rkeys);
	free(bkeys);
	free(rb);
	free(order);
	strmap_free(&bmap);
	strmap_free(&rmap);
	return t;
}
