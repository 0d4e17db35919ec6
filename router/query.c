/*
 * In-flight queries: a fixed pool (touched only as far as it has been used),
 * one FIFO for timeouts (every attempt has the same timeout, so insertion
 * order is deadline order and one ev_timer serves them all), retries on
 * another backend, and answers back to the client.
 */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "dnstap.h"
#include "dnswire.h"
#include "log.h"
#include "query.h"
#include "querylog.h"
#include "report.h"
#include "router.h"
#include "routetable.h"
#include "table.h"
#include "util.h"

#define NIL UINT32_MAX

static struct query	*queries;
static uint32_t		 hwm;			/* slots ever used */
static uint32_t		 free_head = NIL;
static uint32_t		 fifo_head = NIL, fifo_tail = NIL;
static ev_timer		 timeout_w;
static double		 timeout_s;
static uint32_t		 inflight;
static struct ev_loop	*loop;
static uint32_t		*rcount;		/* stats.c's */
static struct cache	*cache;			/* NULL: cache-size 0 */
static int		 cache_stale;		/* cache-stale set */
static uint8_t		 cache_out[CACHE_ANSWER_MAX];

uint32_t
query_inflight(void)
{
	return inflight;
}

static void	query_free(struct query *);
static void	attempt_start(struct query *);

uint32_t
query_index(const struct query *q)
{
	return (uint32_t)(q - queries);
}

struct query *
query_get(uint32_t idx)
{
	if (idx >= hwm || !queries[idx].active)
		return NULL;
	return &queries[idx];
}

static void
fifo_append(struct query *q)
{
	uint32_t i = query_index(q);

	q->next = NIL;
	q->prev = fifo_tail;
	if (fifo_tail != NIL)
		queries[fifo_tail].next = i;
	else {
		fifo_head = i;
		ev_timer_set(&timeout_w, q->deadline - ev_now(loop), 0.);
		ev_timer_start(loop, &timeout_w);
	}
	fifo_tail = i;
}

static void
fifo_remove(struct query *q)
{
	uint32_t i = query_index(q);

	if (q->prev != NIL)
		queries[q->prev].next = q->next;
	else if (fifo_head == i)
		fifo_head = q->next;
	else
		return;		/* not queued */
	if (q->next != NIL)
		queries[q->next].prev = q->prev;
	else
		fifo_tail = q->prev;
	q->next = q->prev = NIL;
	if (fifo_head == NIL)
		ev_timer_stop(loop, &timeout_w);
}

/*
 * A timeout this late means the router itself did not run (SIGSTOP, a
 * stall): replies may be waiting unread in its sockets, and the poll that
 * woke it may have reported none (epoll_wait fails with EINTR after a stop
 * signal). One pass of I/O first, then the timeouts.
 */
#define STALL_LATE	0.02

static void
timeout_cb(struct ev_loop *l, ev_timer *w, int revents)
{
	static double io_first_at = -1.0;	/* the last such pass */
	double now = ev_now(l);

	(void)revents;
	if (fifo_head != NIL && now - queries[fifo_head].deadline > STALL_LATE &&
	    now - io_first_at > STALL_LATE) {
		io_first_at = now;
		ev_timer_stop(l, w);
		ev_timer_set(w, 0.001, 0.);
		ev_timer_start(l, w);
		return;
	}
	/* Retries append to the tail, so this loop always ends. */
	while (fifo_head != NIL && queries[fifo_head].deadline <= now + 0.0005) {
		struct query *q = &queries[fifo_head];

		fifo_remove(q);
		query_attempt_failed(q, 1);
	}
	if (fifo_head != NIL) {
		double after = queries[fifo_head].deadline - now;

		ev_timer_stop(l, w);
		ev_timer_set(w, after > 0 ? after : 0.0001, 0.);
		ev_timer_start(l, w);
	}
}

void
query_init(const struct router *r)
{
	loop = r->loop;
	rcount = r->count;
	/* calloc of this size maps fresh zero pages: untouched slots cost no RSS. */
	queries = xcalloc(QUERY_MAX, sizeof(*queries));
	timeout_s = r->conf->timeout_ms / 1000.0;
	ev_init(&timeout_w, timeout_cb);
	if (r->conf->cache_size > 0) {
		struct cache_params p;

		p.size = r->conf->cache_size;
		p.max_ttl = r->conf->cache_max_ttl_ms / 1000;
		p.min_ttl = r->conf->cache_min_ttl_ms / 1000;
		p.negative_ttl = r->conf->cache_negative_ttl_ms / 1000;
		p.stale = r->conf->cache_stale_ms / 1000;
		cache = cache_new(&p);
		cache_stale = p.stale > 0;
	}
}

struct cache *
query_cache(void)
{
	return cache;
}

static struct query *
query_new(void)
{
	struct query *q;

	if (free_head != NIL) {
		q = &queries[free_head];
		free_head = q->next;
	} else if (hwm < QUERY_MAX)
		q = &queries[hwm++];
	else
		return NULL;
	q->next = q->prev = NIL;
	q->active = 1;
	inflight++;
	q->up_conn = NULL;
	q->client.ops = NULL;		/* until dispatch hands it the client */
	q->attempts = 0;
	q->failed_backend = -1;
	return q;
}

/* The handle and as much of the client's address as it holds. */
static void
client_copy(struct client *dst, const struct client *src)
{
	memcpy(dst, src, offsetof(struct client, addr) + src->addrlen);
}

/*
 * Every answer to a client leaves through here: dnstap's client-response
 * and log-queries see it, then the transport sends it. pkt (len bytes) is
 * the client's query, received at qtime; backend answered it, or by did.
 */
static void
answer(const struct client *c, const uint8_t *pkt, size_t len,
    const uint8_t *ans, size_t alen, double qtime,
    const struct sockaddr *backend, const char *by)
{
	const struct sockaddr *sa = (const struct sockaddr *)&c->addr;
	int tcp = c->ops->pending != NULL;

	if (dnstap_types & CONFIG_DNSTAP_CLIENT_RESPONSE)
		dnstap_log(CONFIG_DNSTAP_CLIENT_RESPONSE, sa, tcp, ans, alen,
		    qtime, ev_now(loop));
	if (querylog_due())
		querylog_answer(sa, tcp, pkt, len, ans, alen, qtime, backend,
		    by);
	c->ops->send(c, ans, alen);
}

/* query_answer_error for a query received at qtime. */
static void
answer_error(const uint8_t *pkt, size_t len, const struct dns_question *q,
    int rcode, const struct client *c, double qtime)
{
	uint8_t out[DNS_HDRLEN + DNS_NAME_WIRE_MAX + 4 + 11];
	size_t n;

	if ((n = dns_error_answer(out, sizeof(out), pkt, len, q, rcode)) == 0) {
		rcount[RG_DROPPED]++;
		return;
	}
	switch (rcode) {
	case DNS_RCODE_REFUSED:
		rcount[RG_REFUSED]++;
		break;
	case DNS_RCODE_SERVFAIL:
		rcount[RG_SERVFAIL]++;
		break;
	case DNS_RCODE_FORMERR:
		rcount[RG_FORMERR]++;
		break;
	case DNS_RCODE_NOTIMP:
		rcount[RG_NOTIMP]++;
		break;
	}
	answer(c, pkt, len, out, n, qtime, NULL, "router");
}

void
query_answer_error(const uint8_t *pkt, size_t len, const struct dns_question *q,
    int rcode, const struct client *c)
{
	answer_error(pkt, len, q, rcode, c, ev_now(loop));
}

/*
 * Answer the query pkt of key k from the cache, through c: 1 when it was.
 * stale: an expired entry will do (the route cannot answer).
 */
static int
cache_answer(const uint8_t *pkt, size_t len, const struct cache_key *k,
    const struct client *c, struct live_table *t, uint32_t route, int stale,
    double qtime)
{
	/* Over a stream any length goes; over UDP what the client said. */
	size_t n, max = c->ops->pending != NULL ? 65535 : k->udp_max;
	const char *by = "cache";

	switch (cache_lookup(cache, k, pkt, t->rsig[route], stale, max,
	    ev_now(loop), cache_out, &n)) {
	case CACHE_MISS:
		return 0;
	case CACHE_HIT:
		rcount[RG_CACHE_HITS]++;
		break;
	case CACHE_STALE:
		rcount[RG_CACHE_STALE]++;
		by = "cache (stale)";
		break;
	}
	answer(c, pkt, len, cache_out, n, qtime, NULL, by);
	return 1;
}

/* A stale answer instead of SERVFAIL (cache-stale), from the route that holds the name. */
static int
stale_answer(const uint8_t *pkt, size_t len, const struct dns_question *dq,
    const struct cache_key *k, const struct client *c, struct live_table *t)
{
	long route;

	if (!cache_stale || !k->on ||
	    (route = table_match(t, dq->text, dq->text_len)) < 0)
		return 0;
	return cache_answer(pkt, len, k, c, t, (uint32_t)route, 1, ev_now(loop));
}

/*
 * Forward to backend b of route of t, with a retry on another if tries is 2;
 * k (or NULL) is the query's cache key.
 */
static void
forward(const uint8_t *pkt, size_t len, const struct dns_question *dq,
    const struct client *c, struct live_table *t, uint32_t route, int b,
    int tries, const struct cache_key *k)
{
	struct query *q;

	if (t->rq[route]++ == 0)
		t->touched[t->ntouched++] = route;
	if ((q = query_new()) == NULL)
		goto servfail;
	if (len > QUERY_INLINE) {
		if ((q->pkt = malloc(len)) == NULL) {
			query_free(q);
			goto servfail;
		}
	} else
		q->pkt = q->inline_pkt;
	memcpy(q->pkt, pkt, len);
	q->len = (uint16_t)len;
	q->qend = dq->end;
	q->qname_len = dq->qname_len;
	q->edns = (uint8_t)dq->edns;
	q->ck.on = 0;
	if (k != NULL && k->on)
		q->ck = *k;
	q->client_id = DNS_ID(pkt);
	q->received = ev_now(loop);
	q->table = t;
	table_ref(t);
	q->route = route;
	q->backend = b;
	q->attempts = (uint8_t)(2 - tries);	/* attempt_start counts one */
	client_copy(&q->client, c);
	attempt_start(q);
	return;
servfail:
	query_answer_error(pkt, len, dq, DNS_RCODE_SERVFAIL, c);
	if (c->ops->done != NULL)
		c->ops->done(c);
}

void
query_dispatch(const uint8_t *pkt, size_t len, const struct dns_question *dq,
    const struct client *c)
{
	struct live_table *t = table_current();
	struct cache_key k;
	uint32_t route;
	int rcode, b;

	if (t == NULL) {
		rcode = DNS_RCODE_SERVFAIL;	/* no table yet */
		goto answer;
	}
	k.on = 0;
	if (cache != NULL)
		cache_key(cache, pkt, len, dq, &k);
	switch (table_route(t, dq->text, dq->text_len, &route)) {
	case ROUTE_NONE:
		rcode = DNS_RCODE_REFUSED;
		goto answer;
	case ROUTE_DOWN:
		if (stale_answer(pkt, len, dq, &k, c, t))
			goto done;
		rcode = DNS_RCODE_SERVFAIL;
		goto answer;
	case ROUTE_FOUND:
		break;
	}
	if (k.on) {
		if (cache_answer(pkt, len, &k, c, t, route, 0, ev_now(loop)))
			goto done;
		rcount[RG_CACHE_MISSES]++;
	}
	if ((b = table_pick(t, route, -1)) < 0) {
		if (stale_answer(pkt, len, dq, &k, c, t))
			goto done;
		rcode = DNS_RCODE_SERVFAIL;
		goto answer;
	}
	forward(pkt, len, dq, c, t, route, b, 2, &k);
	return;
answer:
	query_answer_error(pkt, len, dq, rcode, c);
done:
	if (c->ops->done != NULL)
		c->ops->done(c);
}

void
query_dispatch_to(const uint8_t *pkt, size_t len, const struct dns_question *dq,
    const struct client *c, uint32_t route, uint32_t backend)
{
	struct live_table *t = table_current();

	forward(pkt, len, dq, c, t, route, (int)backend, 1, NULL);
}

static void
attempt_start(struct query *q)
{
	const struct rt_backend *b = &q->table->rt->backends[q->backend];
	enum upstream_result rc;

	q->attempts++;
	q->sent = ev_now(loop);
	q->deadline = q->sent + timeout_s;
	q->table->bc[q->backend].queries++;
	fifo_append(q);
	rc = q->client.ops->upstream->send(q, (const struct sockaddr *)&b->addr,
	    b->addrlen);
	if (rc != UPSTREAM_SENT)
		query_attempt_failed(q, rc == UPSTREAM_UNREACHABLE);
	else if (dnstap_types & CONFIG_DNSTAP_FORWARDER_QUERY)
		dnstap_log(CONFIG_DNSTAP_FORWARDER_QUERY,
		    (const struct sockaddr *)&b->addr,
		    q->client.ops->pending != NULL, q->pkt, q->len, q->sent, 0);
}

static void
release_upstream(struct query *q)
{
	if (q->up_conn != NULL)
		q->client.ops->upstream->release(q);
}

static void
answer_servfail(struct query *q)
{
	struct dns_question dq;

	dq.has_question = 1;
	dq.end = q->qend;
	dq.qname_len = q->qname_len;
	dq.edns = q->edns;
	dns_set_id(q->pkt, q->client_id);
	answer_error(q->pkt, q->len, &dq, DNS_RCODE_SERVFAIL, &q->client,
	    q->received);
}

/*
 * The backend's failure is counted when the query ends: answered by the
 * retry, it is held against the backend; answered by nobody, it is also
 * counted as unanswered, which says as much about the name as about the
 * backends (controller/health.c weighs the two differently).
 */
void
query_attempt_failed(struct query *q, int backend_fault)
{
	struct bcount *bc = q->table->bc;
	int b;

	fifo_remove(q);
	release_upstream(q);
	if (!backend_fault)
		bc[q->backend].queries--;	/* never left */
	if (q->attempts < 2 &&
	    (b = table_pick(q->table, q->route, q->backend)) >= 0) {
		if (backend_fault)
			q->failed_backend = q->backend;
		q->backend = b;
		attempt_start(q);
		return;
	}
	if (backend_fault) {
		bc[q->backend].failed++;
		bc[q->backend].unanswered++;
	}
	if (q->failed_backend >= 0) {
		bc[q->failed_backend].failed++;
		bc[q->failed_backend].unanswered++;
	}
	dns_set_id(q->pkt, q->client_id);
	if (!cache_stale || !q->ck.on ||
	    !cache_answer(q->pkt, q->len, &q->ck, &q->client, q->table,
	    q->route, 1, q->received))
		answer_servfail(q);
	query_free(q);
}

int
query_same_question(const struct query *q, const uint8_t *reply, size_t len)
{
	struct dns_question dq;

	dq.end = q->qend;
	dq.qname_len = q->qname_len;
	return dns_same_question(reply, len, q->pkt, &dq);
}

void
query_deliver(struct query *q, uint8_t *reply, size_t len)
{
	struct bcount *bc = &q->table->bc[q->backend];
	const struct rt_backend *b = &q->table->rt->backends[q->backend];
	double lat = ev_now(loop) - q->sent;
	uint32_t us = lat <= 0 ? 0 : lat >= 4000 ? 4000000000u :
	    (uint32_t)(lat * 1e6);

	if (dnstap_types & CONFIG_DNSTAP_FORWARDER_RESPONSE)
		dnstap_log(CONFIG_DNSTAP_FORWARDER_RESPONSE,
		    (const struct sockaddr *)&b->addr,
		    q->client.ops->pending != NULL, reply, len, q->sent,
		    ev_now(loop));
	if (q->failed_backend >= 0)
		q->table->bc[q->failed_backend].failed++;	/* this one answered */
	bc->answered++;
	bc->rcode[report_rcode(DNS_RCODE(reply))]++;
	bc->bucket[report_bucket(us)]++;
	bc->latency_us += us;
	if (q->ck.on && cache_store(cache, &q->ck, q->table->rsig[q->route],
	    reply, len, ev_now(loop)) == CACHE_STORED_EVICTED)
		rcount[RG_CACHE_EVICTIONS]++;
	dns_set_id(reply, q->client_id);
	dns_set_id(q->pkt, q->client_id);
	answer(&q->client, q->pkt, q->len, reply, len, q->received,
	    (const struct sockaddr *)&b->addr, NULL);
	query_free(q);
}

/*
 * The client hears of it last, once the slot is free again: its done may
 * read more of its queries.
 */
static void
query_free(struct query *q)
{
	const struct client_ops *ops = q->client.ops;
	struct client c;
	/* No ops: freed before it took its client (dispatch's malloc failed). */
	int done = ops != NULL && ops->done != NULL;

	if (done)
		client_copy(&c, &q->client);
	fifo_remove(q);
	release_upstream(q);
	if (q->table != NULL) {
		table_unref(q->table);
		q->table = NULL;
	}
	if (q->pkt != q->inline_pkt)
		free(q->pkt);
	q->pkt = NULL;
	q->active = 0;
	inflight--;
	q->next = free_head;
	free_head = query_index(q);
	if (done)
		c.ops->done(&c);
}
