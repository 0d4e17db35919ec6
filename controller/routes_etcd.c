/*
 * From etcd events to registrations. A bad value is logged once per write
 * (not again when a re-listing meets the same revision) and removes what
 * its key registered before; everything else keeps working. Keys are
 * found by hash: etcd may hold tens of thousands.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "etcd.h"
#include "log.h"
#include "pattern_cache.h"
#include "routes_etcd.h"
#include "self_route.h"
#include "strmap.h"
#include "util.h"

static struct registry	*reg;
static void		(*on_change)(void);
static struct route_value rv;
/*
 * A listing goes here, and into reg only once complete: a table built
 * meanwhile (a health change) has the last listing's routes, never
 * half of the new one.
 */
static struct registry	 listing;
static int		 listing_open;
static unsigned		 listings;	/* completed, for forgetting bad keys */

/* Keys whose bad value was logged, with the revision logged. */
struct bad {
	char		*key;
	int64_t		 rev;
	unsigned	 listing;	/* last listing that held the key */
};
static struct bad	*bads;
static size_t		 nbads, capbads;
static struct strmap	 badidx;	/* key -> index into bads */

static struct bad *
bad_find(const char *key)
{
	size_t i;

	return strmap_get(&badidx, key, strlen(key), &i) ? &bads[i] : NULL;
}

static void
bad_remove(struct bad *b)
{
	size_t i = (size_t)(b - bads);

	strmap_del(&badidx, b->key, strlen(b->key));
	free(b->key);
	if (i != --nbads) {
		bads[i] = bads[nbads];
		strmap_put(&badidx, bads[i].key, strlen(bads[i].key), i);
	}
}

static int
bad_logged(const char *key, int64_t mrev)
{
	struct bad *b;

	if ((b = bad_find(key)) != NULL) {
		b->listing = listings + listing_open;
		if (b->rev == mrev)
			return 1;
		b->rev = mrev;
		return 0;
	}
	if (nbads == capbads) {
		capbads = capbads ? capbads * 2 : 64;
		if ((bads = realloc(bads, capbads * sizeof(*bads))) == NULL)
			abort();
	}
	b = &bads[nbads];
	b->key = xstrdup(key);
	b->rev = mrev;
	b->listing = listings + listing_open;
	strmap_put(&badidx, b->key, strlen(b->key), nbads);
	nbads++;
	return 0;
}

static void
bad_forget(const char *key)
{
	struct bad *b;

	if ((b = bad_find(key)) != NULL)
		bad_remove(b);
}

/* After a listing: keys it did not hold are gone from etcd. */
static void
bad_sweep(void)
{
	size_t i;

	for (i = 0; i < nbads;)
		if (bads[i].listing != listings)
			bad_remove(&bads[i]);
		else
			i++;
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

int
routes_etcd_listed(void)
{
	return listings > 0;
}

static void
on_reset(void *ctx)
{
	(void)ctx;
	registry_free(&listing);
	listing_open = 1;
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
	if (pattern_cache_parse(val, vlen, &rv, err, sizeof(err)) != 0 ||
	    self_route_check((struct sockaddr *)&rv.addr, err, sizeof(err)) != 0) {
		if (!bad_logged(k, mrev))
			log_warnx("etcd: key %s: %s; skipped", k +
			    sizeof(ROUTES_ETCD_KEY) - 1, err);
		registry_del(listing_open ? &listing : reg, k);
	} else {
		bad_forget(k);
		registry_set_ordered(listing_open ? &listing : reg, k, &rv,
		    (uint64_t)(crev > 0 ? crev : 0));
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
	registry_del(listing_open ? &listing : reg, k);
	free(k);
}

static void
on_synced(void *ctx)
{
	(void)ctx;
	if (listing_open) {
		registry_replace_prefix(reg, ROUTES_ETCD_KEY, &listing);
		listing_open = 0;
		listings++;
		bad_sweep();
	}
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
	size_t i;

	etcd_shutdown();
	for (i = 0; i < nbads; i++)
		free(bads[i].key);
	free(bads);
	bads = NULL;
	nbads = capbads = 0;
	strmap_free(&badidx);
	registry_free(&listing);
}
