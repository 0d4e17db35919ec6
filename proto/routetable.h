/*
 * The route table the controller sends to routers: every backend once, with
 * its health, and the routes in match order (priority, then registration),
 * each naming its backends by index. Always a full snapshot, never a delta.
 *
 * Layout after the proto header (big endian):
 *   epoch u64, generation u64, nbackends u32, nroutes u32,
 *   nbackends x { family u8 (4|6), flags u8 (1 = up), port u16, addr[16] },
 *   nroutes x { priority i32, nbackends u32, patlen u16,
 *               nbackends x index u32, pattern[patlen] }
 * (nbackends of a route was a u16 before protocol version 5.)
 */
#ifndef DNSROUTER_ROUTETABLE_H
#define DNSROUTER_ROUTETABLE_H

#include <sys/socket.h>
#include <stddef.h>
#include <stdint.h>

#define RT_FLAG_UP		0x01
/* Registered "primary": takes dynamic updates for its shard. */
#define RT_FLAG_PRIMARY		0x02
/*
 * Limits of a table, checked by both ends: they bound what a decoder
 * allocates. The controller builds tables within them
 * (controller/registry.c leaves out, logs and counts what goes past).
 * A route names at most every backend once, so RT_MAX_BACKENDS bounds
 * a route's backends too.
 */
#define RT_MAX_PATTERN		4096
#define RT_MAX_ROUTES		1000000
#define RT_MAX_BACKENDS		1000000
#define RT_MAX_TABLE_LEN	(256u << 20)	/* bytes, header included */

/* Wire sizes, for building tables that fit RT_MAX_TABLE_LEN. */
#define RT_WIRE_FIXED		(16 + 24)	/* proto header, epoch to counts */
#define RT_WIRE_BACKEND		20
#define RT_WIRE_ROUTE		10		/* before indexes and pattern */
#define RT_WIRE_INDEX		4
/*
 * PCRE2 limits on every match of a route's regexp: routers count a match
 * that reaches them as no match. The controller refuses a regexp that
 * needs more than RT_PROBE_MATCH_LIMIT steps on one of its probe names, a
 * quarter of what routers allow, so the regexps routers run stay well
 * below their limit on names like those. Steps, not time: the verdict is
 * the same on every machine and every run. Real patterns on names of at
 * most 255 bytes stay far below both.
 */
#define RT_MATCH_LIMIT		20000
#define RT_DEPTH_LIMIT		2000
#define RT_HEAP_LIMIT_KIB	1024
#define RT_PROBE_MATCH_LIMIT	(RT_MATCH_LIMIT / 4)

struct rt_backend {
	struct sockaddr_storage	addr;
	socklen_t		addrlen;
	uint8_t			flags;
};

struct rt_route {
	int32_t		 priority;
	uint32_t	 nbackends;
	uint32_t	*backends;	/* indexes into rt_table.backends */
	char		*pattern;	/* NUL-terminated */
	uint16_t	 patlen;
};

struct rt_table {
	uint64_t		 epoch;		/* identifies one controller run */
	uint64_t		 generation;	/* grows with every change in a run */
	uint32_t		 nbackends;
	uint32_t		 nroutes;
	struct rt_backend	*backends;
	struct rt_route		*routes;
	/*
	 * rt_decode's one block for every route's backends and pattern
	 * (a table of 10,000 routes is decoded for every change); NULL when
	 * they are malloc'd one by one.
	 */
	void			*arena;
};

/* Encode t as a PROTO_TABLE message into a malloc'd buffer; -1 on failure. */
int rt_encode(const struct rt_table *t, uint8_t **out, size_t *outlen);

/*
 * Decode and validate a PROTO_TABLE message. Returns a malloc'd table
 * (free with rt_free), or NULL with a reason in *why.
 */
struct rt_table *rt_decode(const uint8_t *buf, size_t len, const char **why);

/*
 * Read the epoch and generation of a PROTO_TABLE message without decoding
 * it (periodic republications are mostly repeats). -1 if it is no table.
 */
int rt_peek(const uint8_t *buf, size_t len, uint64_t *epoch, uint64_t *generation);

/*
 * Free a table from rt_decode or one built by hand with malloc'd parts
 * (arena NULL).
 */
void rt_free(struct rt_table *t);

#endif
