/*
 * Route tables from the controller: full snapshots over nng pub/sub, and a
 * snapshot asked for over req/rep at start, every 10 ms until one arrives
 * (pub/sub drops what is published
 * before the subscription is connected). Each table is compiled aside and
 * swapped in with one pointer; the old one lives until its last query ends.
 * Every published table is complete, so a missed one needs no repair: the
 * next periodic publication carries everything. A table whose last query
 * ended is handed to released() and freed from an ev_prepare, not inside
 * table_unref: freeing a query must not end in a report's nng send.
 */
#include <nng/nng.h>
#include <nng/protocol/pubsub0/sub.h>
#include <nng/protocol/reqrep0/req.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cache.h"
#include "compile.h"
#include "config.h"
#include "dbfetch.h"
#include "endpoint.h"
#include "hsdb.h"
#include "log.h"
#include "matcher.h"
#include "proto.h"
#include "purgemsg.h"
#include "report.h"
#include "router.h"
#include "routetable.h"
#include "siphash.h"
#include "table.h"
#include "util.h"

/* A first table with more patterns than this waits up to DBWAIT for a database. */
#define DBWAIT_PENDING	64
#define DBWAIT		1.0

static struct live_table	*current;
static nng_socket	 sub_sock, req_sock;
static ev_io		 sub_w, req_w;
static ev_timer		 snap_w, redial_w, dbwait_w;
static int		 have_table, ready;
static struct hsdb	*latest_db;	/* newest database, for the next tables */
static const char	*ep_dir;
static struct ev_loop	*loop;
static uint32_t		*rcount;	/* stats.c's */
static void		(*on_first)(void);
static void		(*on_released)(struct live_table *);
static struct live_table	*retired;	/* unreferenced, for retire_cb */
static ev_prepare	 retire_w;
static int		 want_rsig;	/* the packet cache is on */
static uint64_t		 rsig_k0, rsig_k1;
static uint64_t		 purge_epoch, purge_seq;	/* the last purge applied */
static struct cache	*pcache;	/* what purges apply to, or NULL */

struct live_table *
table_current(void)
{
	return current;
}

void
table_ref(struct live_table *t)
{
	t->refs++;
}

void
table_unref(struct live_table *t)
{
	if (--t->refs > 0)
		return;
	t->retired_next = retired;
	retired = t;
	ev_prepare_start(loop, &retire_w);
}

static void
table_free(struct live_table *t)
{
	matcher_free(t->m);
	rt_free(t->rt);
	free(t->rr);
	free(t->nup);
	free(t->bc);
	free(t->rq);
	free(t->touched);
	free(t->rsig);
	free(t);
}

/* Tables whose last query ended: what they counted goes out, then they go. */
static void
retire_all(void)
{
	struct live_table *t;

	while ((t = retired) != NULL) {
		retired = t->retired_next;
		if (on_released != NULL)
			on_released(t);
		table_free(t);
	}
}

static void
retire_cb(struct ev_loop *l, ev_prepare *w, int revents)
{
	(void)revents;
	ev_prepare_stop(l, w);
	retire_all();
}

struct pick_ctx {
	struct live_table	*t;
	int		 matched;
};

static int
accept_healthy(void *ctx, size_t route)
{
	struct pick_ctx *c = ctx;

	c->matched = 1;
	return c->t->nup[route] > 0;
}

static int
accept_any(void *ctx, size_t route)
{
	(void)ctx; (void)route;
	return 1;
}

/*
 * Match limits the matcher hit: counted, and logged at most every 10 s;
 * and the pending patterns it tried one by one.
 */
static void
count_matcher(struct live_table *t, const char *name, size_t len)
{
	unsigned limited;

	rcount[RG_PENDING_TRIED] += matcher_take_tried(t->m);
	if ((limited = matcher_take_limited(t->m)) > 0) {
		static double last_log;

		rcount[RG_MATCH_LIMIT] += limited;
		if (ev_now(loop) - last_log >= 10.0) {
			last_log = ev_now(loop);
			log_warnx("regexp match limit reached on %.*s: counted as "
			    "not matching (a costly route regexp?)", (int)len, name);
		}
	}
}

long
table_match(struct live_table *t, const char *name, size_t len)
{
	long r = matcher_first(t->m, name, len, accept_any, NULL);

	count_matcher(t, name, len);
	return r;
}

enum route_status
table_route(struct live_table *t, const char *name, size_t len, uint32_t *route)
{
	struct pick_ctx c = { t, 0 };
	long r = matcher_first(t->m, name, len, accept_healthy, &c);

	count_matcher(t, name, len);
	if (r >= 0) {
		*route = (uint32_t)r;
		return ROUTE_FOUND;
	}
	return c.matched ? ROUTE_DOWN : ROUTE_NONE;
}

int
table_pick(struct live_table *t, uint32_t route, int exclude)
{
	const struct rt_route *r = &t->rt->routes[route];
	uint32_t k, start;

	if (r->nbackends == 0)
		return -1;
	/* A retry does not move the rotation: the next query gets its turn. */
	start = exclude < 0 ? t->rr[route]++ : t->rr[route];
	for (k = 0; k < r->nbackends; k++) {
		uint32_t b = r->backends[(start + k) % r->nbackends];

		if ((int)b != exclude && (t->rt->backends[b].flags & RT_FLAG_UP))
			return (int)b;
	}
	return -1;
}

static void
become_ready(void)
{
	if (ready)
		return;
	ready = 1;
	ev_timer_stop(loop, &dbwait_w);
	on_first();
}

static void
dbwait_cb(struct ev_loop *l, ev_timer *w, int revents)
{
	(void)l; (void)w; (void)revents;
	log_warnx("no Hyperscan database from the controller after %.1fs: "
	    "serving with the patterns matched one by one", DBWAIT);
	become_ready();
}

/*
 * Each route's signature: its regexp's hash plus its backends' (a sum, so
 * their order does not count).
 */
static void
route_signatures(struct live_table *t)
{
	const struct rt_table *rt = t->rt;
	uint32_t i, j;

	t->rsig = xcalloc(rt->nroutes ? rt->nroutes : 1, sizeof(*t->rsig));
	for (i = 0; i < rt->nroutes; i++) {
		const struct rt_route *r = &rt->routes[i];
		uint64_t h = siphash13(rsig_k0, rsig_k1, r->pattern, r->patlen);

		for (j = 0; j < r->nbackends; j++) {
			const struct rt_backend *b = &rt->backends[r->backends[j]];

			h += siphash13(rsig_k0, rsig_k1, &b->addr, b->addrlen);
		}
		t->rsig[i] = h;
	}
}

/*
 * The controller's recent purges: those newer than the last applied. A
 * router that missed more than the list holds (or whose controller
 * restarted with purges of its own) cannot tell what it missed: it
 * empties its cache.
 */
static void
purge_apply(const uint8_t *buf, size_t len)
{
	static struct purge_list l;
	struct cache *c = pcache;
	const char *why;
	uint64_t first;
	size_t n = 0;
	uint16_t i;

	if (purge_decode(buf, len, &l, &why) != 0) {
		log_warnx("%s: bad purge list from controller dropped: %s",
		    __func__, why);
		return;
	}
	if (l.epoch != purge_epoch) {
		purge_epoch = l.epoch;
		purge_seq = 0;
	}
	if (l.seq <= purge_seq)
		return;
	first = l.seq - l.n + 1;
	if (c != NULL && first > purge_seq + 1 && purge_seq != 0) {
		log_info("%s: purges %llu to %llu missed: cache emptied",
		    __func__, (unsigned long long)purge_seq + 1,
		    (unsigned long long)first - 1);
		cache_flush(c);
	}
	for (i = 0; i < l.n && c != NULL; i++)
		if (first + i > purge_seq)
			n += cache_purge(c, l.p[i].name, l.p[i].len,
			    l.p[i].qtype);
	if (c != NULL)
		log_info("%s: purge %llu: %zu entries dropped", __func__,
		    (unsigned long long)l.seq, n);
	purge_seq = l.seq;
}

static void
table_apply(const uint8_t *buf, size_t len)
{
	struct rt_table *rt;
	struct live_table *t;
	const char **pats;
	const char *why;
	char err[512];
	uint32_t i, j, rr0;
	uint64_t epoch, gen;

	/* A repeat of the table in use: not worth decoding. */
	if (current != NULL && rt_peek(buf, len, &epoch, &gen) == 0 &&
	    epoch == current->rt->epoch && gen <= current->rt->generation)
		return;
	if ((rt = rt_decode(buf, len, &why)) == NULL) {
		log_warnx("%s: bad table from controller dropped: %s", __func__, why);
		return;
	}
	if (current != NULL && rt->epoch == current->rt->epoch &&
	    rt->generation <= current->rt->generation) {
		rt_free(rt);	/* a periodic repeat, or older */
		return;
	}
	t = xcalloc(1, sizeof(*t));
	t->rt = rt;
	pats = xcalloc(rt->nroutes ? rt->nroutes : 1, sizeof(*pats));
	for (i = 0; i < rt->nroutes; i++)
		pats[i] = rt->routes[i].pattern;
	t->m = matcher_build(pats, rt->nroutes, latest_db,
	    current != NULL ? current->m : NULL, err, sizeof(err));
	free(pats);
	if (t->m == NULL) {
		log_warnx("%s: table generation %llu kept out: %s", __func__,
		    (unsigned long long)rt->generation, err);
		rt_free(rt);
		free(t);
		return;
	}
	t->rr = xcalloc(rt->nroutes ? rt->nroutes : 1, sizeof(*t->rr));
	t->nup = xcalloc(rt->nroutes ? rt->nroutes : 1, sizeof(*t->nup));
	t->bc = xcalloc(rt->nbackends ? rt->nbackends : 1, sizeof(*t->bc));
	t->rq = xcalloc(rt->nroutes ? rt->nroutes : 1, sizeof(*t->rq));
	t->touched = xcalloc(rt->nroutes ? rt->nroutes : 1, sizeof(*t->touched));
	/*
	 * Start round robin at a different backend in each router: one
	 * random number per table, spread over the routes (a Weyl sequence),
	 * not one per route.
	 */
	rr0 = rnd32();
	for (i = 0; i < rt->nroutes; i++) {
		t->rr[i] = rr0 + i * 0x9e3779b9u;
		for (j = 0; j < rt->routes[i].nbackends; j++)
			if (rt->backends[rt->routes[i].backends[j]].flags & RT_FLAG_UP)
				t->nup[i]++;
	}
	if (want_rsig)
		route_signatures(t);
	t->refs = 1;
	log_debug("%s: table generation %llu: %u routes, %u backends", __func__,
	    (unsigned long long)rt->generation, rt->nroutes, rt->nbackends);
	if (current != NULL)
		table_unref(current);
	current = t;
	if (matcher_pending(t->m) > 0)
		dbfetch_want();
	if (!have_table) {
		have_table = 1;
		ev_timer_stop(loop, &snap_w);
		log_info("first route table received (generation %llu, %u routes)",
		    (unsigned long long)rt->generation, rt->nroutes);
		/*
		 * Matching thousands of patterns one by one is slow: wait a
		 * moment for the database (it is on its way), while queries
		 * queue in this router's sockets.
		 */
		if (matcher_pending(t->m) > DBWAIT_PENDING && dbfetch_coming())
			ev_timer_start(loop, &dbwait_w);
		else
			become_ready();
	}
}

/*
 * A database finished: the current table takes it at once (rebuilding its
 * matcher is cheap: no compiling but for patterns the database lacks).
 * If the table changed meanwhile, build again.
 */
static void
compiled(struct hsdb *db)
{
	struct matcher *m;
	const char **pats;
	char err[512];
	uint32_t i;

	hsdb_unref(latest_db);
	latest_db = db;
	if (current == NULL)
		return;
	pats = xcalloc(current->rt->nroutes + 1, sizeof(*pats));
	for (i = 0; i < current->rt->nroutes; i++)
		pats[i] = current->rt->routes[i].pattern;
	m = matcher_build(pats, current->rt->nroutes, db, current->m, err,
	    sizeof(err));
	free(pats);
	if (m == NULL) {
		log_warnx("%s: %s", __func__, err);
		return;
	}
	matcher_free(current->m);
	current->m = m;
	if (have_table && !ready && matcher_pending(m) <= DBWAIT_PENDING)
		become_ready();
	if (matcher_pending(m) > 0)
		dbfetch_want();
}

/* The controller is compiling (it has none to give yet): serve meanwhile. */
static void
no_db_soon(void)
{
	if (have_table && !ready) {
		log_info("the controller is still compiling the Hyperscan "
		    "database: serving with the patterns matched one by one");
		become_ready();
	}
}

/* The controller's database does not reach us or does not fit. */
static void
compile_here(void)
{
	if (current != NULL)
		compile_start(current->rt);
}

/* Drain a socket; only the newest table matters, every purge does. */
static void
drain(nng_socket s)
{
	nng_msg *msg, *last = NULL;
	const char *why;
	int rv;

	while ((rv = nng_recvmsg(s, &msg, NNG_FLAG_NONBLOCK)) == 0) {
		if (proto_check_hdr(nng_msg_body(msg), nng_msg_len(msg),
		    &why) == PROTO_PURGE) {
			purge_apply(nng_msg_body(msg), nng_msg_len(msg));
			nng_msg_free(msg);
			continue;
		}
		if (last != NULL)
			nng_msg_free(last);
		last = msg;
	}
	/* ESTATE: a req socket with its one reply already taken. */
	if (rv != NNG_EAGAIN && rv != NNG_ESTATE)
		log_warnx("%s: nng_recvmsg: %s", __func__, nng_strerror(rv));
	if (last != NULL) {
		table_apply(nng_msg_body(last), nng_msg_len(last));
		nng_msg_free(last);
	}
}

static void
sub_cb(struct ev_loop *l, ev_io *w, int revents)
{
	(void)l; (void)w; (void)revents;
	drain(sub_sock);
}

static void
req_cb(struct ev_loop *l, ev_io *w, int revents)
{
	(void)l; (void)w; (void)revents;
	drain(req_sock);
}

static void
snap_cb(struct ev_loop *l, ev_timer *w, int revents)
{
	uint8_t hdr[PROTO_HDRLEN];
	int rv;

	(void)l; (void)w; (void)revents;
	proto_put_hdr(hdr, PROTO_SNAPSHOT_REQ, PROTO_HDRLEN);
	/* A new request replaces one still unanswered. */
	rv = nng_send(req_sock, hdr, sizeof(hdr), NNG_FLAG_NONBLOCK);
	if (rv != 0 && rv != NNG_EAGAIN)
		log_debug("%s: nng_send: %s", __func__, nng_strerror(rv));
}

/* nng can give up on a dialer: see endpoint_check. */
static void
redial_cb(struct ev_loop *l, ev_timer *w, int revents)
{
	(void)l; (void)w; (void)revents;
	endpoint_check();
}

static void
open_endpoint(nng_socket *s, int (*opener)(nng_socket *), const char *ep,
    ev_io *w, void (*cb)(struct ev_loop *, ev_io *, int))
{
	int rv;

	if ((rv = opener(s)) != 0)
		fatalx("%s: open %s: %s", __func__, ep, nng_strerror(rv));
	ev_io_init(w, cb, endpoint_dial(*s, ep_dir, ep, 1), EV_READ);
	ev_io_start(loop, w);
}

void
table_init(const struct router *r, void (*first)(void),
    void (*released)(struct live_table *))
{
	int rv;

	loop = r->loop;
	rcount = r->count;
	ep_dir = r->endpoint_dir;
	on_first = first;
	on_released = released;
	if ((want_rsig = r->conf->cache_size > 0)) {
		rnd_fill(&rsig_k0, sizeof(rsig_k0));
		rnd_fill(&rsig_k1, sizeof(rsig_k1));
	}
	ev_prepare_init(&retire_w, retire_cb);
	compile_init(r, compiled);
	ev_timer_init(&dbwait_w, dbwait_cb, DBWAIT, 0.);
	dbfetch_init(r, compiled, compile_here, no_db_soon);
	open_endpoint(&sub_sock, nng_sub0_open, PROTO_EP_TABLE, &sub_w, sub_cb);
	if ((rv = nng_socket_set(sub_sock, NNG_OPT_SUB_SUBSCRIBE, "", 0)) != 0)
		fatalx("%s: subscribe: %s", __func__, nng_strerror(rv));
	open_endpoint(&req_sock, nng_req0_open, PROTO_EP_SNAPSHOT, &req_w, req_cb);
	nng_socket_set_ms(req_sock, NNG_OPT_REQ_RESENDTIME, 1000);
	ev_timer_init(&snap_w, snap_cb, 0., 0.01);
	ev_timer_start(loop, &snap_w);
	ev_timer_init(&redial_w, redial_cb, 1., 1.);
	ev_timer_start(loop, &redial_w);
}

void
table_purges_to(struct cache *c)
{
	pcache = c;
}

void
table_shutdown(void)
{
	ev_prepare_stop(loop, &retire_w);
	retire_all();
	ev_io_stop(loop, &sub_w);
	ev_io_stop(loop, &req_w);
	ev_timer_stop(loop, &snap_w);
	ev_timer_stop(loop, &redial_w);
	nng_close(sub_sock);
	nng_close(req_sock);
	ev_timer_stop(loop, &dbwait_w);
	dbfetch_shutdown();
	compile_shutdown();
	hsdb_unref(latest_db);
	latest_db = NULL;
}
