/*
 * The packet cache. Entries live in one array of cache-size slots, found
 * through a power-of-two array of chain heads; an answer's bytes are in a
 * buffer of the slot's own, reused by whatever takes the slot next, so
 * storing allocates only when an answer is bigger than any its slot held,
 * and a hit never does. The key's bytes are not kept apart: an entry's
 * answer holds the question, so a lookup compares the query's question
 * with it (names without regard to case), plus the flags and the EDNS
 * options kept after the answer.
 *
 * Eviction is CLOCK: a hit sets the entry's bit, the hand clears bits and
 * takes the first entry it finds without one. Expiry is lazy: an entry past
 * its time (and past the stale window) is a miss, and freed when found.
 * The hash is SipHash under a key from getrandom, so names picked to
 * collide cannot make one chain long.
 */
#include <stdlib.h>
#include <string.h>

#include "cache.h"
#include "dnsrr.h"
#include "dnswire.h"
#include "siphash.h"
#include "util.h"

#define NIL		UINT32_MAX
#define CACHE_MAX_RR	256		/* records with a TTL an answer may hold */

#define DNS_TYPE_SIG		24
#define EDNS_OPT_COOKIE		10	/* RFC 7873 */
#define EDNS_OPT_PADDING	12	/* RFC 7830 */

/* cache_key.flags */
#define KF_RD		0x01
#define KF_CD		0x02
#define KF_EDNS		0x04
#define KF_DO		0x08
#define KF_BUFSHIFT	4		/* 2 bits: the buffer size's class */

struct centry {
	uint64_t	hash;
	uint64_t	rsig;
	double		stored;		/* when */
	uint8_t		*buf;		/* answer, TTL offsets (u16), options */
	uint32_t	next;		/* chain, or free list */
	uint32_t	ttl;		/* seconds fresh */
	uint16_t	len;		/* answer bytes */
	uint16_t	cap;		/* of buf */
	uint16_t	nttl;
	uint16_t	qtype;
	uint8_t		flags;
	uint8_t		optlen;
	uint8_t		qname_len;
	uint8_t		used;
	uint8_t		ref;		/* CLOCK's bit */
};

struct cache {
	struct cache_params	 p;
	uint64_t		 k0, k1;
	struct centry		*e;
	uint32_t		*head;
	uint32_t		 mask;
	uint32_t		 hwm;		/* slots ever used */
	uint32_t		 free_head;
	uint32_t		 hand;
	uint32_t		 nused;
	size_t			 bufbytes;
};

struct cache *
cache_new(const struct cache_params *p)
{
	struct cache *c = xcalloc(1, sizeof(*c));
	uint8_t key[16];
	uint32_t nb = 1, i;

	c->p = *p;
	if (c->p.size == 0)
		c->p.size = 1;
	while (nb < c->p.size && nb < (1u << 31))
		nb <<= 1;
	c->mask = nb - 1;
	c->e = xcalloc(c->p.size, sizeof(*c->e));
	c->head = xcalloc(nb, sizeof(*c->head));
	for (i = 0; i < nb; i++)
		c->head[i] = NIL;
	c->free_head = NIL;
	rnd_fill(key, sizeof(key));
	memcpy(&c->k0, key, 8);
	memcpy(&c->k1, key + 8, 8);
	return c;
}

void
cache_free(struct cache *c)
{
	uint32_t i;

	if (c == NULL)
		return;
	for (i = 0; i < c->hwm; i++)
		free(c->e[i].buf);
	free(c->e);
	free(c->head);
	free(c);
}

static uint16_t
get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t
get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | p[3];
}

static void
put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/*
 * The classes of EDNS buffer sizes that get answers of their own: a
 * server may truncate at each, and an answer is served only to clients
 * whose size it fits (cache_lookup's maxlen).
 */
static unsigned
buf_class(uint16_t size)
{
	if (size < 1232)
		return 0;
	if (size < 4096)
		return 1;
	return 2;
}

void
cache_key(const struct cache *c, const uint8_t *pkt, size_t len,
    const struct dns_question *dq, struct cache_key *k)
{
	uint8_t hb[DNS_NAME_TEXT_MAX + 6 + CACHE_OPT_MAX];
	size_t n;

	k->on = 0;
	k->optlen = 0;
	if (!dq->has_question || DNS_OPCODE(pkt) != DNS_OPCODE_QUERY ||
	    DNS_ANCOUNT(pkt) != 0 || DNS_NSCOUNT(pkt) != 0 ||
	    dq->qtype == DNS_TYPE_AXFR || dq->qtype == DNS_TYPE_IXFR ||
	    dq->qname_len > DNS_NAME_WIRE_MAX)
		return;
	k->flags = (uint8_t)((pkt[2] & 0x01 ? KF_RD : 0) |
	    (pkt[3] & 0x10 ? KF_CD : 0));
	k->udp_max = 512;
	if (DNS_ARCOUNT(pkt) != 0) {
		size_t o = dq->end, p, end;
		uint16_t size;

		/* One OPT and nothing else: a TSIG or SIG(0) signs for one client. */
		if (DNS_ARCOUNT(pkt) != 1 || !dq->edns || o + 11 > len)
			return;
		end = o + 11 + get16(pkt + o + 9);
		/* Extended rcode and version 0 (RFC 6891 6.1.3). */
		if (end != len || pkt[o + 5] != 0 || pkt[o + 6] != 0)
			return;
		size = get16(pkt + o + 3);
		k->udp_max = size > 512 ? size : 512;
		k->flags |= (uint8_t)(KF_EDNS | (pkt[o + 7] & 0x80 ? KF_DO : 0) |
		    buf_class(size) << KF_BUFSHIFT);
		for (p = o + 11; p < end;) {
			uint16_t code, olen;

			if (p + 4 > end)
				return;
			code = get16(pkt + p);
			olen = get16(pkt + p + 2);
			if (p + 4 + olen > end)
				return;
			if (code != EDNS_OPT_COOKIE && code != EDNS_OPT_PADDING) {
				if (k->optlen + 4u + olen > CACHE_OPT_MAX)
					return;
				memcpy(k->opts + k->optlen, pkt + p, 4u + olen);
				k->optlen = (uint8_t)(k->optlen + 4 + olen);
			}
			p += 4u + olen;
		}
	}
	k->qname_len = (uint8_t)dq->qname_len;
	n = dq->text_len;
	memcpy(hb, dq->text, n);
	memcpy(hb + n, pkt + dq->end - 4, 4);		/* type, class */
	hb[n + 4] = k->flags;
	hb[n + 5] = k->optlen;
	memcpy(hb + n + 6, k->opts, k->optlen);
	k->hash = siphash13(c->k0, c->k1, hb, n + 6 + k->optlen);
	k->on = 1;
}

/* Nonzero when entry e holds the answer to query pkt of key k. */
static int
entry_matches(const struct centry *e, const struct cache_key *k,
    const uint8_t *pkt)
{
	const uint8_t *a = e->buf;
	size_t ql = k->qname_len;

	return e->hash == k->hash && e->flags == k->flags &&
	    e->qname_len == ql && e->optlen == k->optlen &&
	    memcmp(a + DNS_HDRLEN + ql, pkt + DNS_HDRLEN + ql, 4) == 0 &&
	    dns_name_equal(a + DNS_HDRLEN, pkt + DNS_HDRLEN, ql) &&
	    memcmp(a + e->len + 2 * (size_t)e->nttl, k->opts, k->optlen) == 0;
}

static uint32_t
find(const struct cache *c, const struct cache_key *k, const uint8_t *pkt)
{
	uint32_t i;

	for (i = c->head[k->hash & c->mask]; i != NIL; i = c->e[i].next)
		if (entry_matches(&c->e[i], k, pkt))
			return i;
	return NIL;
}

static void
unlink_entry(struct cache *c, uint32_t i)
{
	struct centry *e = &c->e[i];
	uint32_t *pp = &c->head[e->hash & c->mask];

	while (*pp != i)
		pp = &c->e[*pp].next;
	*pp = e->next;
	e->used = 0;
	c->nused--;
}

/* Unlink entry i and put its slot (and buffer) on the free list. */
static void
drop(struct cache *c, uint32_t i)
{
	unlink_entry(c, i);
	c->e[i].next = c->free_head;
	c->free_head = i;
}

enum cache_result
cache_lookup(struct cache *c, const struct cache_key *k, const uint8_t *pkt,
    uint64_t rsig, int stale, size_t maxlen, double now, uint8_t *out,
    size_t *outlen)
{
	struct centry *e;
	const uint8_t *off;
	enum cache_result res;
	double age;
	uint32_t i, j, a;

	if (!k->on || (i = find(c, k, pkt)) == NIL)
		return CACHE_MISS;
	e = &c->e[i];
	age = now - e->stored;
	if (age < 0)
		age = 0;
	if (e->rsig != rsig || age >= (double)e->ttl + c->p.stale) {
		/* Of other registrations, or past any use: gone. */
		drop(c, i);
		return CACHE_MISS;
	}
	if (age >= e->ttl && !stale)
		return CACHE_MISS;
	if (e->len > maxlen)
		return CACHE_MISS;
	res = age < e->ttl ? CACHE_HIT : CACHE_STALE;
	memcpy(out, e->buf, e->len);
	out[0] = pkt[0];
	out[1] = pkt[1];
	/* The asker's own spelling of the name (its 0x20 bits). */
	memcpy(out + DNS_HDRLEN, pkt + DNS_HDRLEN, e->qname_len);
	off = e->buf + e->len;
	a = (uint32_t)age;
	for (j = 0; j < e->nttl; j++) {
		uint16_t o;

		memcpy(&o, off + 2 * j, 2);
		put32(out + o, res == CACHE_STALE ? CACHE_STALE_TTL :
		    get32(out + o) - a);
	}
	e->ref = 1;
	*outlen = e->len;
	return res;
}

/* A slot for a new entry: a free one, a fresh one, or CLOCK's victim. */
static uint32_t
take_slot(struct cache *c, int *evicted)
{
	uint32_t i;

	*evicted = 0;
	if (c->free_head != NIL) {
		i = c->free_head;
		c->free_head = c->e[i].next;
		return i;
	}
	if (c->hwm < c->p.size)
		return c->hwm++;
	for (;;) {
		i = c->hand;
		c->hand = c->hand + 1 == c->hwm ? 0 : c->hand + 1;
		if (!c->e[i].used)
			return i;	/* not reached: free slots are listed */
		if (c->e[i].ref) {
			c->e[i].ref = 0;
			continue;
		}
		unlink_entry(c, i);
		*evicted = 1;
		return i;
	}
}

static uint32_t
clamp_ttl(const struct cache_params *p, uint32_t ttl, int negative)
{
	if (ttl < p->min_ttl)
		ttl = p->min_ttl;
	if (ttl > p->max_ttl)
		ttl = p->max_ttl;
	if (negative && ttl > p->negative_ttl)
		ttl = p->negative_ttl;
	return ttl;
}

enum cache_stored
cache_store(struct cache *c, const struct cache_key *k, uint64_t rsig,
    const uint8_t *reply, size_t len, double now)
{
	struct dns_rr_iter it;
	struct dns_rr rr;
	struct centry *e;
	uint16_t ttloff[CACHE_MAX_RR];
	size_t optrd = 0, optrdlen = 0, cookie = 0, cookielen = 0, need, keep;
	uint32_t nttl = 0, life = UINT32_MAX, i, j;
	int rc, rcode, has_soa = 0, negative, evicted = 0;
	uint8_t *buf;

	if (!k->on || len < DNS_HDRLEN || len > CACHE_ANSWER_MAX ||
	    DNS_TC(reply) || DNS_QDCOUNT(reply) != 1)
		return CACHE_NOT_STORED;
	rcode = DNS_RCODE(reply);
	if (rcode != DNS_RCODE_NOERROR && rcode != DNS_RCODE_NXDOMAIN)
		return CACHE_NOT_STORED;
	if (dns_rr_iter_init(&it, reply, len) != 0)
		return CACHE_NOT_STORED;
	while ((rc = dns_rr_next(&it, &rr)) == 1) {
		if (rr.type == DNS_TYPE_OPT) {
			size_t p;

			if (rr.section != DNS_SECTION_ADDITIONAL || optrd != 0)
				return CACHE_NOT_STORED;
			optrd = rr.rdoff;
			optrdlen = rr.rdlen;
			for (p = optrd; p + 4 <= optrd + optrdlen;
			    p += 4u + get16(reply + p + 2))
				if (get16(reply + p) == EDNS_OPT_COOKIE) {
					cookie = p;
					cookielen = 4u + get16(reply + p + 2);
				}
			continue;
		}
		if (rr.type == DNS_TYPE_TSIG ||
		    (rr.type == DNS_TYPE_SIG && rr.section == DNS_SECTION_ADDITIONAL))
			return CACHE_NOT_STORED;
		if (nttl == CACHE_MAX_RR)
			return CACHE_NOT_STORED;
		if (rr.type == DNS_TYPE_SOA && rr.section == DNS_SECTION_AUTHORITY)
			has_soa = 1;
		ttloff[nttl++] = (uint16_t)(rr.rdoff - 6);
	}
	if (rc != 0 || nttl == 0)
		return CACHE_NOT_STORED;	/* malformed, or no TTL to go by */
	/* A cookie is cut out of the copy; only when nothing follows it. */
	if (cookie != 0 && (optrd + optrdlen != len ||
	    cookie + cookielen > optrd + optrdlen))
		return CACHE_NOT_STORED;
	negative = rcode == DNS_RCODE_NXDOMAIN ||
	    (DNS_ANCOUNT(reply) == 0 && has_soa);
	for (i = 0; i < nttl; i++) {
		uint32_t t = clamp_ttl(&c->p, get32(reply + ttloff[i]), negative);

		if (t < life)
			life = t;
	}
	if (life == 0)
		return CACHE_NOT_STORED;

	keep = len - cookielen;
	need = keep + 2 * (size_t)nttl + k->optlen;
	if ((i = find(c, k, reply)) == NIL) {
		i = take_slot(c, &evicted);
		e = &c->e[i];
	} else {
		e = &c->e[i];
		unlink_entry(c, i);	/* linked again below */
	}
	if (e->cap < need) {
		size_t cap = (need + 63) & ~(size_t)63;

		if ((buf = realloc(e->buf, cap)) == NULL) {
			e->next = c->free_head;
			c->free_head = i;
			return CACHE_NOT_STORED;
		}
		c->bufbytes += cap - e->cap;
		e->buf = buf;
		e->cap = (uint16_t)cap;
	}
	buf = e->buf;
	if (cookielen == 0)
		memcpy(buf, reply, len);
	else {
		memcpy(buf, reply, cookie);
		memcpy(buf + cookie, reply + cookie + cookielen,
		    len - cookie - cookielen);
		buf[optrd - 2] = (uint8_t)((optrdlen - cookielen) >> 8);
		buf[optrd - 1] = (uint8_t)(optrdlen - cookielen);
	}
	for (j = 0; j < nttl; j++) {
		put32(buf + ttloff[j], clamp_ttl(&c->p, get32(buf + ttloff[j]),
		    negative));
		memcpy(buf + keep + 2 * j, &ttloff[j], 2);
	}
	memcpy(buf + keep + 2 * nttl, k->opts, k->optlen);
	e->hash = k->hash;
	e->rsig = rsig;
	e->stored = now;
	e->ttl = life;
	e->len = (uint16_t)keep;
	e->nttl = (uint16_t)nttl;
	e->qtype = get16(reply + DNS_HDRLEN + k->qname_len);
	e->flags = k->flags;
	e->optlen = k->optlen;
	e->qname_len = k->qname_len;
	e->used = 1;
	e->ref = 0;
	e->next = c->head[k->hash & c->mask];
	c->head[k->hash & c->mask] = i;
	c->nused++;
	return evicted ? CACHE_STORED_EVICTED : CACHE_STORED;
}

size_t
cache_purge(struct cache *c, const uint8_t *name, size_t namelen,
    uint16_t qtype)
{
	size_t n = 0;
	uint32_t i;

	for (i = 0; i < c->hwm; i++) {
		struct centry *e = &c->e[i];

		if (e->used && e->qname_len == namelen &&
		    (qtype == 0 || e->qtype == qtype) &&
		    dns_name_equal(e->buf + DNS_HDRLEN, name, namelen)) {
			drop(c, i);
			n++;
		}
	}
	return n;
}

void
cache_flush(struct cache *c)
{
	uint32_t i;

	for (i = 0; i < c->hwm; i++)
		if (c->e[i].used)
			drop(c, i);
}

uint32_t
cache_entries(const struct cache *c)
{
	return c->nused;
}

size_t
cache_memory(const struct cache *c)
{
	return sizeof(*c) + (size_t)c->p.size * sizeof(*c->e) +
	    ((size_t)c->mask + 1) * sizeof(*c->head) + c->bufbytes;
}
