/*
 * The packet cache (cache.c): backends' answers kept by question, served
 * again with the asker's ID and question bytes and TTLs aged, and served
 * stale (RFC 8767) when a route cannot answer. A fixed number of entries,
 * CLOCK eviction; no allocation on a hit. The caller passes the time, so
 * the cache knows nothing of the loop.
 */
#ifndef DNSROUTER_CACHE_H
#define DNSROUTER_CACHE_H

#include <stddef.h>
#include <stdint.h>

struct dns_question;

#define CACHE_ANSWER_MAX	4096	/* larger answers are not kept */
#define CACHE_OPT_MAX		40	/* EDNS option bytes a key holds */
#define CACHE_STALE_TTL		30	/* RFC 8767 4: the TTL of a stale answer */

struct cache_params {
	uint32_t	size;		/* entries */
	uint32_t	max_ttl;	/* seconds, each record's TTL capped to it */
	uint32_t	min_ttl;	/* ... and raised to it (max wins) */
	uint32_t	negative_ttl;	/* NXDOMAIN and NODATA: capped to it */
	uint32_t	stale;		/* seconds past expiry served stale; 0 = off */
};

/*
 * What an answer is kept by: the question (name without regard to case,
 * type, class), RD and CD, EDNS presence, DO, the buffer size's class and
 * the EDNS options but COOKIE and PADDING (whose answers differ per client
 * or carry nothing). on = 0: the query is not answered from the cache nor
 * its answer kept (not a plain QUERY, TSIG, EDNS version, odd sections).
 */
struct cache_key {
	uint64_t	hash;
	uint16_t	udp_max;	/* the largest answer the client takes over UDP */
	uint8_t		on;
	uint8_t		flags;
	uint8_t		qname_len;	/* wire length of the question's name */
	uint8_t		optlen;
	uint8_t		opts[CACHE_OPT_MAX];
};

enum cache_result {
	CACHE_MISS,
	CACHE_HIT,		/* fresh */
	CACHE_STALE,		/* expired, within the stale window, TTL 30 */
};

enum cache_stored {
	CACHE_NOT_STORED,	/* not an answer to keep (see cache_store) */
	CACHE_STORED,
	CACHE_STORED_EVICTED,	/* and another entry made room for it */
};

struct cache;

/* A cache of p->size entries (at least 1), hashed under a random key. */
struct cache *cache_new(const struct cache_params *p);
void cache_free(struct cache *c);

/* The key of the query pkt (len bytes) that dns_parse_query read into dq. */
void cache_key(const struct cache *c, const uint8_t *pkt, size_t len,
    const struct dns_question *dq, struct cache_key *k);

/*
 * The answer to the query pkt (key k) into out (CACHE_ANSWER_MAX bytes),
 * its length in *outlen: the client's ID and question bytes in place, TTLs
 * less the entry's age, or CACHE_STALE_TTL when stale is nonzero and the
 * entry expired less than the stale window ago. rsig is the signature of
 * the route that answers the name (table.c): an entry stored under another
 * is of registrations since changed, and dropped. An answer longer than
 * maxlen is a miss.
 */
enum cache_result cache_lookup(struct cache *c, const struct cache_key *k,
    const uint8_t *pkt, uint64_t rsig, int stale, size_t maxlen, double now,
    uint8_t *out, size_t *outlen);

/*
 * Keep reply (len bytes), a backend's answer to the query of key k that
 * passed the router's checks, under rsig. Kept: NOERROR and NXDOMAIN that
 * are not truncated, hold a record with a TTL, carry no TSIG, and fit
 * CACHE_ANSWER_MAX. Each TTL is clamped to the params; a COOKIE option is
 * taken out (it was the first client's).
 */
enum cache_stored cache_store(struct cache *c, const struct cache_key *k,
    uint64_t rsig, const uint8_t *reply, size_t len, double now);

/* Drop the entries of the wire name (any case) and qtype, 0 = every type. */
size_t cache_purge(struct cache *c, const uint8_t *name, size_t namelen,
    uint16_t qtype);
/* Drop every entry. */
void cache_flush(struct cache *c);
/* Entries held. */
uint32_t cache_entries(const struct cache *c);
/* Bytes the cache holds: entries, index and answer buffers. */
size_t cache_memory(const struct cache *c);

#endif
