/*
 * The shards of a zone in a route table: the backends of the zone's route
 * (its apex route, split's ^miek\.nl\.$) fall into shards, each the
 * backends registered with the same set of routes (replicas of one shard
 * file), as the controller's zones.c groups them for the SOA check.
 * Transfers (xfr.c) and updates (update.c) ask them.
 */
#ifndef DNSROUTER_SHARDS_H
#define DNSROUTER_SHARDS_H

#include <stdint.h>

#include "routetable.h"

#define SHARD_NONE	UINT16_MAX
#define SHARDS_MAX	64

struct shards {
	uint64_t	 epoch, generation;	/* of the table they were made of */
	uint32_t	 zone_route;
	uint32_t	 n;
	uint16_t	*shard_of;	/* per backend: its shard, or SHARD_NONE */
	uint16_t	*first_shard;	/* per route: the first shard serving it */
};

/* Group the backends of zone_route of rt: 0, or -1 with a reason in *why. */
int shards_make(const struct rt_table *rt, uint32_t zone_route,
    struct shards *s, const char **why);
void shards_free(struct shards *s);

/*
 * The same, kept for the table rt is until another table asks: for a
 * caller that is done with it before it returns to the loop.
 */
const struct shards *shards_cached(const struct rt_table *rt,
    uint32_t zone_route, const char **why);
void shards_cache_free(void);

#endif
