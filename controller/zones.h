/*
 * The zones behind dnsrouter and their shards' SOA serials. A zone is
 * found from its apex route: a registration whose regexp names exactly
 * one name, as `dnsrouterctl split` prints it for every shard
 * (^miek\.nl\.$). Its backends are the zone's; a shard is the set of
 * backends registered with the same set of regexps (replicas). The
 * health checks ask each such backend for the apex SOA (health.c), and
 * the zone's shards agree when every shard that answered holds the same
 * serial.
 */
#ifndef DNSROUTER_ZONES_H
#define DNSROUTER_ZONES_H

#include <sys/socket.h>
#include <stdint.h>
#include <stdio.h>

#include "registry.h"

#define ZONES_MAX		64	/* zones followed; more are not */
#define ZONE_MEMBERS_MAX	1024	/* backends followed per zone */
#define ZONES_PER_BACKEND	4	/* SOA queries per check at most */
#define ZONE_NAME_MAX		256	/* text, with the trailing dot */

struct zone_member {
	struct sockaddr_storage	 addr;
	unsigned		 shard;		/* 1.. in registration order */
	int			 have;		/* serial is known */
	uint32_t		 serial;
	char			 why[64];	/* when not: what the check saw */
};

struct zone {
	char			 name[ZONE_NAME_MAX];	/* lower case, "miek.nl." */
	unsigned		 nshards;
	struct zone_member	*m;
	size_t			 nm;
	uint64_t		*sig;		/* shard s's pattern set: sig[s - 1] */
	int			 logged;	/* last agreement logged: 1, 0, -1 none */
};

/*
 * The name an apex regexp stands for ("^miek\.nl\.$" -> "miek.nl."), in
 * out (ZONE_NAME_MAX); -1 when pattern matches more than one name.
 */
int zones_apex_name(const char *pattern, char *out);

/* Follow the zones r's registrations name; serials already seen stay. */
void zones_sync(const struct registry *r);

/* Names (text) of up to max zones whose apex SOA a check of addr asks. */
size_t zones_of(const struct sockaddr *addr, char (*names)[ZONE_NAME_MAX],
    size_t max);

/*
 * What a check of addr read for zone's SOA: have and serial, or why not.
 * Logs when the zone's shards come to disagree or agree again.
 */
void zones_serial(const struct sockaddr *addr, const char *zone, int have,
    uint32_t serial, const char *why);

/* Zones followed, and the i-th of them. */
size_t zones_count(void);
const struct zone *zones_get(size_t i);

/*
 * 1 when every shard of z holds one serial, 0 when they differ (or
 * replicas of one shard do), -1 while some shard's is unknown. Only
 * backends in rotation (up(addr) nonzero) count.
 */
int zones_agree(const struct zone *z, int (*up)(void *ctx,
    const struct sockaddr *addr));

/* The zones' Prometheus series. */
void zones_metrics(FILE *f, int (*up)(void *ctx, const struct sockaddr *addr));

/* Forget everything. */
void zones_free(void);

#endif
