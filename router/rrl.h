/*
 * Response rate limiting (RRL) with the semantics of BIND 9's rate-limit:
 * answers to one client prefix are counted in accounts, each a token
 * bucket of `rate` answers per second and one second deep; an answer that
 * overdraws its account is dropped or "slips" (the caller sends an empty
 * truncated answer instead, so a real client retries over TCP, which a
 * spoofed victim cannot). This keeps the router from being used to reflect
 * floods at a spoofed address.
 *
 * The table is fixed at creation: a spoofed flood from millions of sources
 * replaces accounts, it never grows memory. rrl_check() allocates nothing,
 * takes constant time and is meant for every UDP answer of one router
 * process (it is not thread-safe: one table per process). TCP answers are
 * not limited (BIND does not limit them either).
 *
 * An account holds state for at most `window` seconds after its last
 * answer, and a one-off answer for 1/rate s. Accounts take 16 bytes; when
 * more are live than the table holds, the shallowest are forgotten first
 * (counted as evictions), which only ever lets answers through that would
 * have been limited. Size table_size above the answers per second from
 * distinct sources and names divided by the rate, and well above the
 * number of clients expected to be limited at once.
 */
#ifndef DNSROUTER_RRL_H
#define DNSROUTER_RRL_H

#include <sys/socket.h>
#include <stddef.h>
#include <stdint.h>

#define RRL_MAX_RATE	1000000	/* answers per second, per class */
#define RRL_MAX_WINDOW	3600	/* seconds */
#define RRL_MAX_SLIP	10	/* as BIND */
#define RRL_MAX_ENTRIES	(1u << 24)

struct rrl_config {
	unsigned responses_per_second;	/* 0 = responses not limited */
	unsigned errors_per_second;	/* 0 = responses_per_second (BIND) */
	unsigned nxdomains_per_second;	/* 0 = responses_per_second (BIND) */
	unsigned window;		/* seconds, 1..3600; default 15 */
	unsigned slip;			/* 0 drop all, N first of every N slips; default 2 */
	unsigned ipv4_prefix_length;	/* 0..32; default 24 */
	unsigned ipv6_prefix_length;	/* 0..128; default 56 */
	int	 log_only;		/* count would_limit, always RRL_SEND */
	unsigned table_size;		/* accounts, 1..2^24; default 65536 */
};

/*
 * What an answer is, for accounting. NOERROR (NODATA too) is RRL_RESPONSE,
 * NXDOMAIN is RRL_NXDOMAIN, any other rcode (SERVFAIL, REFUSED, FORMERR,
 * NOTIMP...) is RRL_ERROR.
 */
enum rrl_class {
	RRL_RESPONSE,
	RRL_NXDOMAIN,
	RRL_ERROR,
	RRL_NCLASS
};

enum rrl_action {
	RRL_SEND,	/* send the answer */
	RRL_DROP,	/* send nothing */
	RRL_SLIP	/* send the answer's header and question, TC=1, no records */
};

/*
 * Counters since rrl_new(), never reset (the caller keeps the last values
 * to report deltas). limited = dropped + slipped, or would_limit with
 * log_only. evictions counts accounts forgotten while they still held
 * state, to make room for another: a sign table_size is too small.
 */
struct rrl_stats {
	uint64_t	limited;
	uint64_t	dropped;
	uint64_t	slipped;
	uint64_t	would_limit;
	uint64_t	evictions;
};

struct rrl;

/* Fill cf with BIND's defaults, with responses not limited; table_size 65536. */
void rrl_config_init(struct rrl_config *cf);

/* Return 0 if cf is usable, or -1 with the reason in *why. */
int rrl_config_check(const struct rrl_config *cf, const char **why);

/* Create a table for cf, with a random hash key; NULL if cf fails rrl_config_check(). */
struct rrl *rrl_new(const struct rrl_config *cf);

/* rrl_new() with the given 16-byte hash key, for reproducible tests and fuzzing. */
struct rrl *rrl_new_keyed(const struct rrl_config *cf, const uint8_t key[16]);

/* Free r and its table; NULL is harmless. */
void rrl_free(struct rrl *r);

/*
 * Account for one UDP answer of class cls to client (AF_INET or AF_INET6;
 * any other family is never limited) and say what to do with it. qname is
 * the query name, qname_len bytes, as on the wire or as text: only its bytes
 * count, ASCII case folded, at most 255 of them; it is used for
 * RRL_RESPONSE only. now is in seconds (ev_now()); a clock that goes
 * backwards is taken as standing still.
 */
enum rrl_action rrl_check(struct rrl *r, const struct sockaddr *client,
    const uint8_t *qname, size_t qname_len, uint16_t qtype,
    enum rrl_class cls, double now);

/* Counters since creation. */
const struct rrl_stats *rrl_stats(const struct rrl *r);

/* Number of accounts the table holds (table_size rounded up to a multiple of 8). */
size_t rrl_entries(const struct rrl *r);

/* Bytes of memory r holds, all of it allocated by rrl_new(). */
size_t rrl_memory(const struct rrl *r);

#endif
