/*
 * From etcd events to registrations. A bad value is logged once per write
 * (not again when a re-listing meets the same revision) and removes what
 * its key registered before; everything else keeps working.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "etcd.h"
#include "log.h"
#include "routes_etcd.h"
#include "self_route.h"
#include "util.h"

static struct registry	*reg;
static void		(*on_change)(void);
static struct route_value rv;

/* Keys whose bad value was logged, with the revision logged. */
static struct bad {
	char		*key;
	int64_t		 rev;
	struct bad	*next;
} *bads;

static int
bad_logged(const char *key, int64_t mrev)
{
	struct bad *b;

	for (b = bads; b != NULL; b = b->next)
		if (strcmp(b->key, key) == 0) {
			if (b->rev == mrev)
				return 1;
			b->rev = mrev;
			return 0;
		}
	b = xcalloc(1, sizeof(*b));
	b->key = xstrdup(key);
	b->rev = mrev;
	b->next = bads;
	bads = b;
	return 0;
}

static void
bad_forget(const char *key)
{
	struct bad **pp, *b;

	for (pp = &bads; (b = *pp) != NULL; pp = &b->next)
		if (strcmp(b->key, key) == 0) {
			*pp = b->next;
			free(b->key);
			free(b);
			return;
		}
}

/* "etcd:" + key as a C string; NULL for a key holding a NUL byte. */
static char *
reg_key(const char *key, size_t klen)
{
	char *k;

	if (memchr(key, '\0', klen) != NULL)
		return NULL;
	k = xmalloc(sizeof(ROUTES_ETCD_KEY) + klen);
	memcpy(k, ROUTES_ETCD_KEY, sizeof(ROUTES_ETCD_KEY) - 1);
	memcpy(k + sizeof(ROUTES_ETCD_KEY) - 1, key, klen);
	k[sizeof(ROUTES_ETCD_KEY) - 1 + klen] = '\0';
	return k;
}

static void
on_reset(void *ctx)
{
	(void)ctx;
	registry_del_prefix(reg, ROUTES_ETCD_KEY);
}

static void
on_put(void *ctx, const char *key, size_t klen, const char *val, size_t vlen,
    int64_t crev, int64_t mrev)
{
	char err[512], *k;

	(void)ctx;
	if ((k = reg_key(key, klen)) == NULL) {
		log_warnx("etcd: a key with a NUL byte skipped");
		return;
	}
	if (route_value_parse(val, vlen, &rv, err, sizeof(err)) != 0 ||
	    self_route_check((struct sockaddr *)&rv.addr, err, sizeof(err)) != 0) {
		if (!bad_logged(k, mrev))
			log_warnx("etcd: key %s: %s; skipped", k +
			    sizeof(ROUTES_ETCD_KEY) - 1, err);
		registry_del(reg, k);
	} else {
		bad_forget(k);
		registry_set_ordered(reg, k, &rv, (uint64_t)(crev > 0 ? crev : 0));
	}
	free(k);
}

static void
on_del(void *ctx, const char *key, size_t klen)
{
	char *k;

	(void)ctx;
	if ((k = reg_key(key, klen)) == NULL)
		return;
	bad_forget(k);
	registry_del(reg, k);
	free(k);
}

static void
on_synced(void *ctx)
{
	(void)ctx;
	on_change();
}

static const struct etcd_handlers handlers = {
	on_reset, on_put, on_del, on_synced
};

void
routes_etcd_init(struct ev_loop *loop, const struct config *cf,
    struct registry *r, void (*changed)(void))
{
	reg = r;
	on_change = changed;
	etcd_init(loop, cf, &handlers, NULL);
}

void
routes_etcd_shutdown(void)
{
	struct bad *b;

	etcd_shutdown();
	while ((b = bads) != NULL) {
		bads = b->next;
		free(b->key);
		free(b);
	}
}
