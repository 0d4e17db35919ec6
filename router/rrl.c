/*
 * Response rate limiting. Each account is a token bucket kept as the time
 * at which it will be full again (the "theoretical arrival time" of GCRA):
 * an answer pushes that time on by 1/rate seconds, and is limited when it
 * lies more than one second's worth of answers ahead of now. This is BIND's
 * balance (rate credits a second, capped at rate, one debit per answer,
 * limited below zero) in one integer per account, credited continuously
 * instead of once a second, with no separate "last seen" to keep.
 *
 * Accounts live in a fixed table of sets of eight (two cache lines); an
 * account's 64-bit keyed hash picks its set and identifies it within the
 * set. A new account takes the place in its set that is worth least: one
 * already full (which holds nothing a new account would not), else the one
 * that would be full soonest. Accounts deep in debt, those being limited,
 * are the last to go, so a spoofed flood of new sources does not wash out
 * the debt of the address it is aimed at.
 */
#include <sys/socket.h>
#include <netinet/in.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "rrl.h"
#include "siphash.h"
#include "util.h"

#define WAYS		8		/* entries per set: two cache lines */
#define SET_ALIGN	(WAYS * sizeof(struct entry))
#define TICKS		4294967296.0	/* clock ticks per second */
#define MAX_SECONDS	1073741824.0	/* keeps ticks, plus a window, below 2^63 */
#define QNAME_MAX	255
#define HDR_LEN		20		/* class, family, address, qtype */
#define SLIP_MASK	0xfULL		/* key bits holding the slip count */

struct entry {
	uint64_t	key;	/* hash, low bits replaced by the slip count */
	uint64_t	tat;	/* ticks: when the account is full again */
};

struct rrl {
	struct entry	*table;		/* nsets * WAYS, each set aligned */
	void		*mem;		/* what to free */
	size_t		 nsets;
	uint64_t	 k0, k1;
	uint64_t	 interval[RRL_NCLASS];	/* ticks an answer costs; 0 = no limit */
	uint64_t	 burst[RRL_NCLASS];	/* rate * interval: one second's worth */
	uint64_t	 debt_max;		/* ticks tat may lead now: the window */
	uint32_t	 mask4;			/* network order */
	uint64_t	 mask6[2];		/* network order */
	unsigned	 slip;
	int		 log_only;
	int		 started;
	double		 base;			/* first now, so ticks start at 0 */
	uint64_t	 now;			/* ticks, never decreasing */
	struct rrl_stats st;
};

void
rrl_config_init(struct rrl_config *cf)
{
	memset(cf, 0, sizeof(*cf));
	cf->window = 15;
	cf->slip = 2;
	cf->ipv4_prefix_length = 24;
	cf->ipv6_prefix_length = 56;
	cf->table_size = 65536;
}

int
rrl_config_check(const struct rrl_config *cf, const char **why)
{
	if (cf->responses_per_second > RRL_MAX_RATE ||
	    cf->errors_per_second > RRL_MAX_RATE ||
	    cf->nxdomains_per_second > RRL_MAX_RATE)
		*why = "rates are at most 1000000 per second";
	else if (cf->window < 1 || cf->window > RRL_MAX_WINDOW)
		*why = "window is 1 to 3600 seconds";
	else if (cf->slip > RRL_MAX_SLIP)
		*why = "slip is 0 to 10";
	else if (cf->ipv4_prefix_length > 32)
		*why = "ipv4 prefix length is 0 to 32";
	else if (cf->ipv6_prefix_length > 128)
		*why = "ipv6 prefix length is 0 to 128";
	else if (cf->table_size < 1 || cf->table_size > RRL_MAX_ENTRIES)
		*why = "table size is 1 to 16777216 entries";
	else
		return 0;
	return -1;
}

/* Ticks one answer costs at rate per second, 0 for no limit. */
static uint64_t
interval_of(unsigned rate)
{
	/*
	 * Rounded down, so the sustained rate is a few parts per million
	 * above the configured one; the burst, rate * interval, is exact.
	 */
	return rate == 0 ? 0 : (uint64_t)(TICKS / rate);
}

static uint64_t
mask_bits(unsigned len)
{
	return len == 0 ? 0 : htobe64(~0ULL << (64 - len));
}

struct rrl *
rrl_new_keyed(const struct rrl_config *cf, const uint8_t key[16])
{
	struct rrl *r;
	const char *why;
	unsigned rate[RRL_NCLASS];
	size_t bytes;
	int c;

	if (rrl_config_check(cf, &why) == -1)
		return NULL;
	r = xcalloc(1, sizeof(*r));
	r->nsets = (cf->table_size + WAYS - 1) / WAYS;
	bytes = r->nsets * WAYS * sizeof(struct entry);
	r->mem = xmalloc(bytes + SET_ALIGN - 1);
	r->table = (struct entry *)(((uintptr_t)r->mem + SET_ALIGN - 1) &
	    ~(uintptr_t)(SET_ALIGN - 1));
	/* Touch every page now: the table's memory is committed up front. */
	memset(r->table, 0, bytes);

	memcpy(&r->k0, key, 8);
	memcpy(&r->k1, key + 8, 8);
	rate[RRL_RESPONSE] = cf->responses_per_second;
	rate[RRL_NXDOMAIN] = cf->nxdomains_per_second != 0 ?
	    cf->nxdomains_per_second : cf->responses_per_second;
	rate[RRL_ERROR] = cf->errors_per_second != 0 ?
	    cf->errors_per_second : cf->responses_per_second;
	for (c = 0; c < RRL_NCLASS; c++) {
		r->interval[c] = interval_of(rate[c]);
		r->burst[c] = r->interval[c] * rate[c];
	}
	/*
	 * BIND floors the balance at -(rate * window) and forgets accounts
	 * idle for more than window whole seconds: a flooded account is
	 * answered again one window after the flood. With a continuous clock
	 * the floor alone says it: tat never leads now by more than the
	 * window, so an account idle for a window is full (and free).
	 */
	r->debt_max = (uint64_t)cf->window * (uint64_t)TICKS;
	r->mask4 = cf->ipv4_prefix_length == 0 ? 0 :
	    htonl(~0U << (32 - cf->ipv4_prefix_length));
	if (cf->ipv6_prefix_length <= 64) {
		r->mask6[0] = mask_bits(cf->ipv6_prefix_length);
		r->mask6[1] = 0;
	} else {
		r->mask6[0] = ~0ULL;
		r->mask6[1] = mask_bits(cf->ipv6_prefix_length - 64);
	}
	r->slip = cf->slip;
	r->log_only = cf->log_only;
	return r;
}

struct rrl *
rrl_new(const struct rrl_config *cf)
{
	uint8_t key[16];
	const char *why;

	if (rrl_config_check(cf, &why) == -1)
		return NULL;
	rnd_fill(key, sizeof(key));
	return rrl_new_keyed(cf, key);
}

void
rrl_free(struct rrl *r)
{
	if (r == NULL)
		return;
	free(r->mem);
	free(r);
}

const struct rrl_stats *
rrl_stats(const struct rrl *r)
{
	return &r->st;
}

size_t
rrl_entries(const struct rrl *r)
{
	return r->nsets * WAYS;
}

size_t
rrl_memory(const struct rrl *r)
{
	return sizeof(*r) + r->nsets * WAYS * sizeof(struct entry) + SET_ALIGN - 1;
}

/*
 * Write the client's family and masked prefix at p; return the bytes
 * written, or 0 for a family that is not limited.
 */
static size_t
prefix_of(const struct rrl *r, const struct sockaddr *sa, uint8_t *p)
{
	const struct sockaddr_in6 *s6;
	uint32_t a4;
	uint64_t a6[2];

	if (sa->sa_family == AF_INET) {
		memcpy(&a4, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, 4);
	} else if (sa->sa_family == AF_INET6) {
		s6 = (const struct sockaddr_in6 *)(const void *)sa;
		if (!IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr)) {
			memcpy(a6, &s6->sin6_addr, 16);
			a6[0] &= r->mask6[0];
			a6[1] &= r->mask6[1];
			p[0] = 6;
			memcpy(p + 1, a6, 16);
			return 17;
		}
		/* A dual-stack socket's IPv4 client is that IPv4 client. */
		memcpy(&a4, s6->sin6_addr.s6_addr + 12, 4);
	} else
		return 0;
	a4 &= r->mask4;
	p[0] = 4;
	memcpy(p + 1, &a4, 4);
	return 5;
}

/*
 * The account's hash: class, the client's prefix and, for answers, the
 * type and the lower-cased name. BIND keys NXDOMAIN (and NODATA) by the
 * zone, which stops a flood of random names from making accounts of its
 * own; a router knows no zones, so NXDOMAIN and errors are keyed by the
 * prefix alone. Returns -1 for a family that is not limited.
 */
static int
account_hash(const struct rrl *r, const struct sockaddr *sa,
    const uint8_t *qname, size_t qname_len, uint16_t qtype,
    enum rrl_class cls, uint64_t *h)
{
	uint8_t buf[HDR_LEN + QNAME_MAX];
	size_t len, n, i;

	buf[0] = (uint8_t)cls;
	if ((n = prefix_of(r, sa, buf + 1)) == 0)
		return -1;
	len = 1 + n;
	if (cls == RRL_RESPONSE) {
		buf[len++] = qtype >> 8;
		buf[len++] = qtype & 0xff;
		if (qname_len > QNAME_MAX)
			qname_len = QNAME_MAX;
		/* Case folded here, so 0x20-randomised names share an account. */
		for (i = 0; i < qname_len; i++) {
			uint8_t c = qname[i];

			buf[len + i] = c | ((uint8_t)(c - 'A') < 26) << 5;
		}
		len += qname_len;
	}
	*h = siphash13(r->k0, r->k1, buf, len);
	return 0;
}

/* now in ticks since the first call, never decreasing. */
static uint64_t
clock_ticks(struct rrl *r, double now)
{
	double s;
	uint64_t t;

	if (!isfinite(now))
		return r->now;
	if (!r->started) {
		r->base = now;
		r->started = 1;
	}
	s = now - r->base;
	if (s <= 0)
		return r->now;
	if (s > MAX_SECONDS)
		s = MAX_SECONDS;
	t = (uint64_t)(s * TICKS);
	if (t > r->now)
		r->now = t;
	return r->now;
}

/* The entry for hash h in its set, made anew (full) if it had none. */
static struct entry *
lookup(struct rrl *r, uint64_t h, uint64_t now)
{
	struct entry *set, *e;
	uint64_t key = h & ~SLIP_MASK;
	size_t s;
	int i;

	s = (size_t)(((unsigned __int128)h * r->nsets) >> 64);
	set = r->table + s * WAYS;
	for (i = 0; i < WAYS; i++)
		if ((set[i].key & ~SLIP_MASK) == key)
			return &set[i];
	e = set;
	for (i = 1; i < WAYS; i++)
		if (set[i].tat < e->tat)
			e = &set[i];
	if (e->tat > now)
		r->st.evictions++;
	e->key = key;
	e->tat = 0;
	return e;
}

enum rrl_action
rrl_check(struct rrl *r, const struct sockaddr *client, const uint8_t *qname,
    size_t qname_len, uint16_t qtype, enum rrl_class cls, double now)
{
	struct entry *e;
	uint64_t h, t, tat, interval;
	unsigned slipcnt;
	enum rrl_action act;

	if ((unsigned)cls >= RRL_NCLASS || client == NULL)
		return RRL_SEND;
	interval = r->interval[cls];
	if (interval == 0)
		return RRL_SEND;
	if (account_hash(r, client, qname, qname_len, qtype, cls, &h) == -1)
		return RRL_SEND;
	t = clock_ticks(r, now);
	e = lookup(r, h, t);

	if (e->tat <= t) {
		/* Full: as BIND, the slip count starts over. */
		tat = t;
		slipcnt = 0;
	} else {
		tat = e->tat;
		slipcnt = e->key & SLIP_MASK;
	}
	tat += interval;
	if (tat - t <= r->burst[cls]) {
		e->tat = tat;
		e->key = (e->key & ~SLIP_MASK) | slipcnt;
		return RRL_SEND;
	}
	/* Limited answers are charged too, down to the floor. */
	if (tat - t > r->debt_max)
		tat = t + r->debt_max;
	e->tat = tat;
	r->st.limited++;
	if (r->log_only) {
		r->st.would_limit++;
		return RRL_SEND;
	}
	if (r->slip == 0)
		act = RRL_DROP;
	else {
		/* The first limited answer slips, then every slip-th (BIND). */
		act = slipcnt == 0 ? RRL_SLIP : RRL_DROP;
		slipcnt = (slipcnt + 1) % r->slip;
	}
	e->key = (e->key & ~SLIP_MASK) | slipcnt;
	if (act == RRL_SLIP)
		r->st.slipped++;
	else
		r->st.dropped++;
	return act;
}
