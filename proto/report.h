/*
 * PROTO_REPORT, router -> controller over push/pull: what a router saw since
 * its last report (every 100 ms, and once more when a retired table's last
 * query ends). Every count is a delta; the controller keeps the totals and
 * judges each backend's health over a window of them (controller/health.c).
 * A failed attempt is counted when its query ends, so that it is known
 * whether another backend then answered it: the failures of queries that
 * no backend answered are counted apart (unanswered), as a fact about the
 * name rather than about the backend.
 *
 * Layout after the proto header (big endian):
 *   router u32, nentries u32, nroutes u32,
 *   cache_entries u32                 the packet cache's entries now (a
 *                                     gauge, not a delta),
 *   epoch u64, generation u64         the table the entries and routes
 *                                     were counted against,
 *   REPORT_NGLOBAL x u32              enum report_global,
 *   nentries x { family u8 (4|6), pad u8, port u16, addr[16],
 *                queries u32, failed u32, unanswered u32 (of failed),
 *                REPORT_NRCODE x u32   replies by rcode (enum report_rcode),
 *                REPORT_NBUCKET x u32  replies by latency (not cumulative:
 *                                      bucket i counts latencies above bound
 *                                      i-1 up to report_bucket_us[i]; the
 *                                      last has no upper bound),
 *                latency_us u64 }      sum of the replies' latencies,
 *   nroutes x { index u32 (into the table's routes), queries u32 }
 */
#ifndef DNSROUTER_REPORT_H
#define DNSROUTER_REPORT_H

#include <sys/socket.h>
#include <stddef.h>
#include <stdint.h>

#define REPORT_MAX_ENTRIES	65535
#define REPORT_MAX_ROUTES	1000000

enum report_global {
	RG_QUERIES_UDP,		/* messages received from clients, by transport */
	RG_QUERIES_TCP,
	RG_REFUSED,		/* answered REFUSED: no route matched */
	RG_SERVFAIL,		/* answered SERVFAIL by the router itself */
	RG_FORMERR,		/* malformed, answered FORMERR */
	RG_NOTIMP,		/* opcode other than QUERY */
	RG_DROPPED,		/* not answerable at all: dropped */
	RG_BOGUS,		/* backend replies that failed a check */
	RG_TCP_LIMITED,		/* TCP connections refused: tcp-clients(-per-ip) */
	RG_TCP_EVICTED,		/* TCP connections closed to make room */
	RG_TCP_TIMEOUT,		/* TCP connections closed by a timeout */
	RG_TCP_OUTPUT,		/* TCP connections closed: client not reading */
	RG_ACL_REFUSED,		/* queries refused by allow-query */
	RG_RRL_DROPPED,		/* answers dropped by rate limiting */
	RG_RRL_SLIPPED,		/* answers sent truncated by rate limiting */
	RG_RRL_LOGONLY,		/* answers rrl-log-only would have limited */
	RG_MATCH_LIMIT,		/* regexp matches cut off by the match limit */
	RG_CACHE_HITS,		/* answered from the packet cache */
	RG_CACHE_MISSES,	/* cacheable queries the cache could not answer */
	RG_CACHE_STALE,		/* answered stale (cache-stale) instead of SERVFAIL */
	RG_CACHE_EVICTIONS,	/* entries pushed out to make room */
	RG_DNSTAP_SENT,		/* dnstap messages handed to the writer */
	RG_DNSTAP_DROPPED,	/* dnstap messages dropped: queue full, no collector */
	RG_PENDING_TRIED,	/* patterns matched one by one that a database lacked */
	REPORT_NGLOBAL
};

enum report_rcode {
	RR_NOERROR, RR_FORMERR, RR_SERVFAIL, RR_NXDOMAIN, RR_NOTIMP,
	RR_REFUSED, RR_OTHER, REPORT_NRCODE
};

/* Latency buckets: upper bounds in microseconds, then one without a bound. */
#define REPORT_NBUCKET		15
extern const uint32_t report_bucket_us[REPORT_NBUCKET - 1];

/* The bucket of a latency in microseconds. */
static inline unsigned
report_bucket(uint32_t us)
{
	unsigned i = 0;

	while (i < REPORT_NBUCKET - 1 && us > report_bucket_us[i])
		i++;
	return i;
}

/* The report_rcode of a DNS rcode. */
static inline unsigned
report_rcode(unsigned rcode)
{
	return rcode < RR_OTHER ? rcode : RR_OTHER;
}

struct report_entry {
	struct sockaddr_storage	addr;
	uint32_t		queries;	/* attempts sent */
	uint32_t		answered;	/* sum of rcode[]: not on the wire */
	uint32_t		failed;		/* attempts timed out or broken */
	uint32_t		unanswered;	/* of failed: queries no backend answered */
	uint32_t		rcode[REPORT_NRCODE];
	uint32_t		bucket[REPORT_NBUCKET];
	uint64_t		latency_us;
};

struct report_route {
	uint32_t	index;
	uint32_t	queries;
};

struct report {
	uint32_t		 router;
	uint32_t		 cache_entries;
	uint64_t		 epoch, generation;
	uint32_t		 global[REPORT_NGLOBAL];
	uint32_t		 n;
	struct report_entry	*e;
	uint32_t		 nroutes;
	struct report_route	*routes;
};

/* Encode r as a PROTO_REPORT message into a malloc'd buffer; -1 on failure. */
int report_encode(const struct report *r, uint8_t **out, size_t *outlen);

/*
 * Decode and validate; fills r with malloc'd entry and route arrays (free
 * them with report_free). -1 with a reason in *why, and nothing to free.
 */
int report_decode(const uint8_t *buf, size_t len, struct report *r,
    const char **why);

/* The longest report report_decode accepts, in bytes (about 16 MB). */
size_t report_maxlen(void);
/* Free what report_decode allocated. */
void report_free(struct report *r);

#endif
