/*
 * The router's counters and its reports to the controller. The global
 * counters live here and are handed to the modules that bump them (struct
 * router's count); per backend and per route ones live in each table.
 * Every 100 ms a report carries the router's own counters and,
 * for each backend of the current table that saw traffic, its attempts,
 * replies by rcode, latency buckets and failures, and the queries of each
 * route that had any. The counters are plain integers bumped on the query
 * path; all the work happens here, ten times a second. A table that is
 * replaced reports once more when its last query ends, so nothing counted
 * against it is lost. A dead backend under load thus leaves rotation
 * within a few reports, long before the next health check. A report nng
 * does not take (no controller to take it, the pipe busy) leaves its
 * counts to the next one; a replaced table's last one waits in a stash.
 */
#include <nng/nng.h>
#include <nng/protocol/pipeline0/push.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "endpoint.h"
#include "log.h"
#include "proto.h"
#include "query.h"
#include "report.h"
#include "router.h"
#include "routetable.h"
#include "stats.h"
#include "table.h"
#include "util.h"

#define REPORT_INTERVAL	0.1
/* A router with nothing to report still reports this often: /health. */
#define REPORT_HEARTBEAT	1.0

/* A table's routes all fit in one report: only backends need chunks. */
_Static_assert(REPORT_MAX_ROUTES >= RT_MAX_ROUTES, "routes per report");

static uint32_t		rcount[REPORT_NGLOBAL];	/* since the last report */
static struct ev_loop	*loop;
static nng_socket	push_sock;
static int		push_open;
static ev_timer		report_w;
static uint32_t		router_index;
static uint32_t		cache_sent = UINT32_MAX;	/* entries last reported */
static double		last_sent;		/* ev_now of the last report */

static int
backend_active(const struct bcount *c)
{
	return c->queries || c->answered || c->failed;
}

/*
 * The last report of a replaced table, when nng cannot take it: its
 * table's counters are about to be freed, so the encoded message waits
 * here and goes before the next report. Bounded; past that it is lost
 * (logged).
 */
#define STASH_MAX	16
static struct {
	uint8_t		*buf;
	size_t		 len;
} stash[STASH_MAX];
static unsigned		 nstash;
static unsigned long	 stash_lost;

static int
try_send(const uint8_t *buf, size_t len)
{
	int rv;

	if ((rv = nng_send(push_sock, (void *)(uintptr_t)buf, len,
	    NNG_FLAG_NONBLOCK)) != 0 && rv != NNG_EAGAIN)
		log_debug("%s: nng_send: %s", __func__, nng_strerror(rv));
	return rv;
}

/* 0 once the stash is empty. */
static int
stash_flush(void)
{
	while (nstash > 0) {
		if (try_send(stash[0].buf, stash[0].len) != 0)
			return -1;
		free(stash[0].buf);
		memmove(&stash[0], &stash[1], --nstash * sizeof(stash[0]));
	}
	return 0;
}

/*
 * 0 once the report is taken: sent, or (final) stashed. -1 leaves its
 * counts to the caller.
 */
static int
send_one(const struct report *r, int final)
{
	uint8_t *buf;
	size_t len;

	if (report_encode(r, &buf, &len) != 0) {
		log_warnx("%s: report cannot be encoded", __func__);
		return -1;
	}
	if (nstash == 0 && try_send(buf, len) == 0) {
		free(buf);
		return 0;
	}
	if (!final) {
		free(buf);
		return -1;
	}
	if (nstash == STASH_MAX) {
		free(buf);
		if (stash_lost++ % 100 == 0)
			log_warnx("the controller takes no reports: the counts "
			    "of a replaced table are lost (%lu so far)",
			    stash_lost);
		return 0;
	}
	stash[nstash].buf = buf;
	stash[nstash++].len = len;
	return 0;
}

/*
 * A report holds at most REPORT_MAX_ENTRIES backends (the controller's
 * bound on a message it takes); a table may have more with traffic in
 * one interval. The first message carries the global counters, the
 * routes and the first entries, the next ones the rest: every count is
 * a delta, so the controller adds them up the same. Returns how many
 * entries went, or -1 if the first message did not (nothing went).
 */
static long
send_chunks(const struct report *r, int final)
{
	struct report part = *r;
	uint32_t done = 0;

	do {
		part.e = r->e + done;
		part.n = r->n - done > REPORT_MAX_ENTRIES ? REPORT_MAX_ENTRIES :
		    r->n - done;
		if (send_one(&part, final) != 0)
			return done == 0 ? -1 : (long)done;
		done += part.n;
		memset(part.global, 0, sizeof(part.global));
		part.nroutes = 0;
		part.routes = NULL;
	} while (done < r->n);
	return (long)done;
}

/*
 * Send the global counters and t's (t may be NULL; final when t is being
 * freed). A counter is zeroed only once a report carrying it was taken:
 * while the controller is away (not yet listening at start, restarting)
 * or the pipe is busy, the counts wait for the next report, so none is
 * lost; a final report waits in the stash.
 */
static void
report_send(struct live_table *t, int final)
{
	struct report r;
	uint32_t i, n = 0, *idx = NULL;
	long sent;
	int any = 0;

	if (!push_open)
		return;
	if (stash_flush() != 0 && !final)
		return;		/* the counts wait; the stash goes first */
	memset(&r, 0, sizeof(r));
	r.router = router_index;
	if (query_cache() != NULL)
		r.cache_entries = cache_entries(query_cache());
	for (i = 0; i < REPORT_NGLOBAL; i++) {
		r.global[i] = rcount[i];
		any |= rcount[i] != 0;
	}
	if (t != NULL) {
		r.epoch = t->rt->epoch;
		r.generation = t->rt->generation;
		for (i = 0; i < t->rt->nbackends; i++)
			if (backend_active(&t->bc[i]))
				n++;
	}
	/*
	 * The entries are a gauge: a change is news, and so is the first.
	 * With no news a report still goes out every REPORT_HEARTBEAT: the
	 * controller's /health and /ready go by them.
	 */
	if (n == 0 && (t == NULL || t->ntouched == 0) && !any &&
	    (query_cache() == NULL || r.cache_entries == cache_sent) &&
	    ev_now(loop) - last_sent < REPORT_HEARTBEAT)
		return;
	if (n > 0) {
		r.e = xcalloc(n, sizeof(*r.e));
		idx = xcalloc(n, sizeof(*idx));
		for (i = 0; i < t->rt->nbackends; i++) {
			struct bcount *c = &t->bc[i];
			struct report_entry *e = &r.e[r.n];

			if (!backend_active(c))
				continue;
			memcpy(&e->addr, &t->rt->backends[i].addr,
			    sizeof(e->addr));
			e->queries = c->queries;
			e->answered = c->answered;
			e->failed = c->failed;
			e->unanswered = c->unanswered;
			memcpy(e->rcode, c->rcode, sizeof(e->rcode));
			memcpy(e->bucket, c->bucket, sizeof(e->bucket));
			e->latency_us = c->latency_us;
			idx[r.n++] = i;
		}
	}
	if (t != NULL && t->ntouched > 0) {
		r.routes = xcalloc(t->ntouched, sizeof(*r.routes));
		for (i = 0; i < t->ntouched; i++) {
			uint32_t k = t->touched[i];

			r.routes[i].index = k;
			r.routes[i].queries = t->rq[k];
		}
		r.nroutes = t->ntouched;
	}
	if ((sent = send_chunks(&r, final)) >= 0) {
		cache_sent = r.cache_entries;
		last_sent = ev_now(loop);
		/* Bumped only by this thread, so nothing came in meanwhile. */
		memset(rcount, 0, sizeof(rcount));
		for (i = 0; i < (uint32_t)sent; i++)
			memset(&t->bc[idx[i]], 0, sizeof(t->bc[idx[i]]));
		for (i = 0; i < r.nroutes; i++)
			t->rq[r.routes[i].index] = 0;
		if (t != NULL)
			t->ntouched = 0;
	}
	free(idx);
	free(r.e);
	free(r.routes);
}

static void
report_cb(struct ev_loop *l, ev_timer *w, int revents)
{
	(void)l; (void)w; (void)revents;
	report_send(table_current(), 0);
}

uint32_t *
stats_counters(void)
{
	return rcount;
}

void
stats_table_done(struct live_table *t)
{
	report_send(t, 1);
}

void
stats_init(const struct router *r)
{
	int rv;

	loop = r->loop;
	router_index = (uint32_t)r->index;
	if ((rv = nng_push0_open(&push_sock)) != 0)
		fatalx("%s: open: %s", __func__, nng_strerror(rv));
	nng_socket_set_ms(push_sock, NNG_OPT_SENDTIMEO, 0);
	endpoint_dial(push_sock, r->endpoint_dir, PROTO_EP_REPORT, 0);
	push_open = 1;
	ev_timer_init(&report_w, report_cb, REPORT_INTERVAL, REPORT_INTERVAL);
	ev_timer_start(loop, &report_w);
}

void
stats_shutdown(void)
{
	ev_timer_stop(loop, &report_w);
	/* What the drain answered: nng delivers it if the pipe lets it. */
	report_send(table_current(), 0);
	push_open = 0;
	nng_close(push_sock);
	while (nstash > 0)
		free(stash[--nstash].buf);
}
