/*
 * A zone's shards (see shards.h): one pass over the table's routes gives
 * each of the zone's backends a hash of the routes it is in; backends
 * with the same hash are one shard.
 */
#include <stdlib.h>
#include <string.h>

#include "shards.h"

#define CACHED	4

static struct shards	cache[CACHED];
static unsigned		ncached, next_slot;

int
shards_make(const struct rt_table *rt, uint32_t zone_route, struct shards *s,
    const char **why)
{
	const struct rt_route *zr = &rt->routes[zone_route];
	uint64_t *sig, ssig[SHARDS_MAX];
	uint32_t i, j, k;
	int rc = -1;

	memset(s, 0, sizeof(*s));
	s->epoch = rt->epoch;
	s->generation = rt->generation;
	s->zone_route = zone_route;
	*why = "out of memory";
	sig = calloc(rt->nbackends + 1, sizeof(*sig));
	s->shard_of = malloc((rt->nbackends + 1) * sizeof(*s->shard_of));
	s->first_shard = malloc((rt->nroutes + 1) * sizeof(*s->first_shard));
	if (sig == NULL || s->shard_of == NULL || s->first_shard == NULL)
		goto out;
	for (i = 0; i < rt->nbackends; i++)
		s->shard_of[i] = SHARD_NONE;
	for (j = 0; j < zr->nbackends; j++)
		s->shard_of[zr->backends[j]] = 0;	/* the zone's */
	/* The routes in table order: the same set gives the same hash. */
	for (i = 0; i < rt->nroutes; i++)
		for (j = 0; j < rt->routes[i].nbackends; j++) {
			uint32_t b = rt->routes[i].backends[j];

			if (s->shard_of[b] == 0)
				sig[b] = (sig[b] ^ (i + 1)) * 0x100000001b3ULL +
				    0x9e3779b97f4a7c15ULL;
		}
	for (j = 0; j < zr->nbackends; j++) {
		uint32_t b = zr->backends[j];

		for (k = 0; k < s->n && ssig[k] != sig[b]; k++)
			;
		if (k == s->n) {
			if (s->n == SHARDS_MAX) {
				*why = "more than 64 shards";
				goto out;
			}
			ssig[s->n++] = sig[b];
		}
	}
	for (j = 0; j < zr->nbackends; j++) {
		uint32_t b = zr->backends[j];

		for (k = 0; ssig[k] != sig[b]; k++)
			;
		s->shard_of[b] = (uint16_t)k;
	}
	for (i = 0; i < rt->nroutes; i++) {
		s->first_shard[i] = SHARD_NONE;
		for (j = 0; j < rt->routes[i].nbackends; j++) {
			uint16_t sh = s->shard_of[rt->routes[i].backends[j]];

			if (sh < s->first_shard[i])
				s->first_shard[i] = sh;
		}
	}
	rc = 0;
out:
	free(sig);
	if (rc != 0)
		shards_free(s);
	return rc;
}

void
shards_free(struct shards *s)
{
	free(s->shard_of);
	free(s->first_shard);
	s->shard_of = NULL;
	s->first_shard = NULL;
	s->n = 0;
}

const struct shards *
shards_cached(const struct rt_table *rt, uint32_t zone_route, const char **why)
{
	struct shards *s;
	unsigned i;

	if (ncached > 0 && (cache[0].epoch != rt->epoch ||
	    cache[0].generation != rt->generation))
		shards_cache_free();	/* another table */
	for (i = 0; i < ncached; i++)
		if (cache[i].zone_route == zone_route)
			return &cache[i];
	s = &cache[ncached < CACHED ? ncached++ : next_slot++ % CACHED];
	shards_free(s);
	if (shards_make(rt, zone_route, s, why) != 0) {
		/* Keep the slots in front filled: move the last one here. */
		*s = cache[--ncached];
		memset(&cache[ncached], 0, sizeof(cache[ncached]));
		return NULL;
	}
	return s;
}

void
shards_cache_free(void)
{
	unsigned i;

	for (i = 0; i < ncached; i++)
		shards_free(&cache[i]);
	ncached = next_slot = 0;
}
