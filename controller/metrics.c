/*
 * The numbers behind /metrics. Routers send deltas every 100 ms; this
 * keeps the totals since the controller started: global counters, per
 * backend of the current table (by address) and per route of the current
 * table (by regexp and priority). When a table replaces another, totals
 * of backends and routes that stay carry over and those of the ones that
 * left go, so memory follows the table, not its history. Route counts
 * come by index into the router's table: they count only when that table
 * is the current one (same epoch and generation), else they are dropped.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <netinet/in.h>

#include "addr.h"
#include "dbcompile.h"
#include "etcd.h"
#include "health.h"
#include "log.h"
#include "metrics.h"
#include "routes_etcd.h"
#include "stall.h"
#include "strmap.h"
#include "util.h"
#include "zones.h"

#define KEYLEN	19	/* family, port, address: a backend's sort key */

struct bstat {
	uint8_t			 key[KEYLEN];
	struct sockaddr_storage	 addr;
	char			 name[ADDR_STRLEN];
	uint64_t		 queries, failed, unanswered;
	uint64_t		 rcode[REPORT_NRCODE];
	uint64_t		 bucket[REPORT_NBUCKET];
	uint64_t		 latency_us;
};

struct rstat {
	char		*pattern;
	int32_t		 priority;
	uint64_t	 queries;
};

static const struct config	*mcf;
static int			 enabled;
/*
 * Liveness: when each router last reported (they do at least every second)
 * and whether it had a table then; the master is our parent as it was.
 */
#define ROUTER_SILENT_MAX	3.0	/* seconds without a report: not alive */
static double			 seen[CONFIG_MAX_WORKERS];
static int			 tabled[CONFIG_MAX_WORKERS];
static pid_t			 master_pid;
static int			 draining;
static uint64_t			 global[REPORT_NGLOBAL];
static uint64_t			 reports, bad_reports;
/* Each router's packet cache entries, as its last report said. */
static uint32_t			 cache_entries[CONFIG_MAX_WORKERS];
static size_t			 left_out;
static uint64_t			 epoch, generation;
/*
 * The table's backends in its order, found by key through a hash index:
 * sorting the 400-byte entries took 44 ms of one loop pass at 40,000
 * backends, and pointers sorted by key still cost a cache miss a step.
 */
static struct bstat		*bs;
static struct strmap		 bidx;	/* key -> index into bs */
static size_t			 nbs;
static struct rstat		*rs;		/* the table's route order */
static size_t			 nrs;
static char			*rs_text;	/* their patterns, one block */
/*
 * Before this controller's first table, reports still come (routers that
 * outlived the last controller, or fast ones at start): their backends'
 * counts wait here, by key, for the first table's copy to take them over.
 * Each bstat is its own allocation (the index holds pointers to keys).
 */
#define PENDING_MAX	65536
static struct bstat		**pend;
static struct strmap		 pidx;	/* key -> index into pend */
static size_t			 npend;
static int			 had_table;	/* a first table was copied */
static uint64_t			 pend_dropped;

static const char *const rcode_names[REPORT_NRCODE] = {
	"NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED",
	"other",
};

void
metrics_init(const struct config *cf)
{
	mcf = cf;
	enabled = cf->metricslen != 0;
	master_pid = getppid();
}

static double
mono_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

void
metrics_draining(void)
{
	draining = 1;
}

int
metrics_health(int ready, char *why, size_t len)
{
	double now = mono_now();
	int i;

	if (getppid() != master_pid) {
		snprintf(why, len, "the master is gone");
		return 0;
	}
	if (ready && draining) {
		snprintf(why, len, "stopping (lameduck)");
		return 0;
	}
	/* First, as the routers wait for it to have a table. */
	if (ready && mcf->netcd > 0 && !routes_etcd_listed()) {
		snprintf(why, len, "the first etcd listing is not in yet");
		return 0;
	}
	for (i = 0; i < mcf->workers && i < CONFIG_MAX_WORKERS; i++) {
		if (seen[i] == 0) {
			snprintf(why, len, "router %d has not reported yet", i);
			return 0;
		}
		if (now - seen[i] > ROUTER_SILENT_MAX) {
			snprintf(why, len, "router %d has not reported for %.0fs",
			    i, now - seen[i]);
			return 0;
		}
		if (ready && !tabled[i]) {
			snprintf(why, len, "router %d has no route table yet", i);
			return 0;
		}
	}
	snprintf(why, len, "ok");
	return 1;
}

static void
make_key(const struct sockaddr *sa, uint8_t *key)
{
	memset(key, 0, KEYLEN);
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *s = (const struct sockaddr_in *)sa;

		key[0] = 4;
		memcpy(key + 1, &s->sin_port, 2);
		memcpy(key + 3, &s->sin_addr, 4);
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *s = (const struct sockaddr_in6 *)sa;

		key[0] = 6;
		memcpy(key + 1, &s->sin6_port, 2);
		memcpy(key + 3, &s->sin6_addr, 16);
	}
}

static struct bstat *
bstat_find(const struct sockaddr *sa)
{
	uint8_t key[KEYLEN];
	size_t i;

	make_key(sa, key);
	return strmap_get(&bidx, key, KEYLEN, &i) ? &bs[i] : NULL;
}

static int
rstat_cmp(const void *a, const void *b)
{
	const struct rstat *x = *(const struct rstat *const *)a;
	const struct rstat *y = *(const struct rstat *const *)b;

	if (x->priority != y->priority)
		return x->priority < y->priority ? -1 : 1;
	return strcmp(x->pattern, y->pattern);
}

/*
 * A new table's copy is made METRICS_CHUNK backends per loop pass (one
 * pass of 40,000 took 45 ms): reports that come meanwhile are added to
 * the old entries and to the new ones already copied (bstat_add twice).
 */
#define METRICS_CHUNK	8192

static struct {
	const struct rt_table	*t;	/* being copied, or NULL */
	struct bstat		*nb;
	struct strmap		 nidx;
	uint32_t		 done;	/* backends copied */
} copy;

static void
bstat_add(struct bstat *b, const struct report_entry *e)
{
	uint32_t k;

	b->queries += e->queries;
	b->failed += e->failed;
	b->unanswered += e->unanswered;
	for (k = 0; k < REPORT_NRCODE; k++)
		b->rcode[k] += e->rcode[k];
	for (k = 0; k < REPORT_NBUCKET; k++)
		b->bucket[k] += e->bucket[k];
	b->latency_us += e->latency_us;
}

static struct bstat *
pending_find(const struct sockaddr *sa)
{
	uint8_t key[KEYLEN];
	size_t i;

	make_key(sa, key);
	return strmap_get(&pidx, key, KEYLEN, &i) ? pend[i] : NULL;
}

static void
pending_add(const struct report_entry *e)
{
	const struct sockaddr *sa = (const struct sockaddr *)&e->addr;
	struct bstat *b;

	if ((b = pending_find(sa)) == NULL) {
		if (npend == PENDING_MAX) {
			if (pend_dropped++ == 0)
				log_warnx("metrics: more than %d backends "
				    "reported before the first table: the "
				    "rest go uncounted", PENDING_MAX);
			return;
		}
		b = xcalloc(1, sizeof(*b));
		make_key(sa, b->key);
		memcpy(&b->addr, &e->addr, sizeof(b->addr));
		pend = xreallocarray(pend, npend + 1, sizeof(*pend));
		pend[npend] = b;
		strmap_put(&pidx, b->key, KEYLEN, npend++);
	}
	bstat_add(b, e);
}

static void
pending_free(void)
{
	size_t i;

	for (i = 0; i < npend; i++)
		free(pend[i]);
	free(pend);
	pend = NULL;
	npend = 0;
	strmap_free(&pidx);
	memset(&pidx, 0, sizeof(pidx));
}

/*
 * A new table's routes take the old totals by (priority, regexp), unique
 * in a table. A table follows the last with a route added or removed here
 * and there, so a walk of the two lists side by side finds nearly all of
 * them (align_next, common/util.h; before, a sort
 * and a binary search of every route cost milliseconds per change at
 * 10,000 routes); the few left on either side meet through a sorted index
 * of the old routes the walk did not take.
 */
static int
same_route(const void *ctx, size_t k)
{
	const struct rstat *r = ctx;

	return rs[k].priority == r->priority &&
	    strcmp(rs[k].pattern, r->pattern) == 0;
}

static void
routes_carry(const struct rt_table *t)
{
	struct rstat *nr, **idx;
	uint32_t *miss;
	uint8_t *used;
	size_t i, j = 0, k, nmiss = 0, nidx = 0, len = 0;
	char *text, *p;

	for (i = 0; i < t->nroutes; i++)
		len += (size_t)t->routes[i].patlen + 1;
	p = text = xmalloc(len + 1);
	nr = xcalloc(t->nroutes + 1, sizeof(*nr));
	miss = xcalloc(t->nroutes + 1, sizeof(*miss));
	used = xcalloc(nrs + 1, 1);
	for (i = 0; i < t->nroutes; i++) {
		nr[i].pattern = memcpy(p, t->routes[i].pattern,
		    (size_t)t->routes[i].patlen + 1);
		p += (size_t)t->routes[i].patlen + 1;
		nr[i].priority = t->routes[i].priority;
		if ((k = align_next(&j, nrs, same_route, &nr[i])) !=
		    ALIGN_NONE) {
			nr[i].queries = rs[k].queries;
			used[k] = 1;	/* the index below is of the rest */
		} else
			miss[nmiss++] = (uint32_t)i;
	}
	if (nmiss > 0) {
		idx = xcalloc(nrs + 1, sizeof(*idx));
		for (k = 0; k < nrs; k++)
			if (!used[k])
				idx[nidx++] = &rs[k];
		qsort(idx, nidx, sizeof(*idx), rstat_cmp);
		for (i = 0; i < nmiss && nidx > 0; i++) {
			struct rstat *kp = &nr[miss[i]], **found;

			if ((found = bsearch(&kp, idx, nidx, sizeof(*idx),
			    rstat_cmp)) != NULL)
				kp->queries = (*found)->queries;
		}
		free(idx);
	}
	free(miss);
	free(used);
	free(rs);
	free(rs_text);
	rs = nr;
	rs_text = text;
	nrs = t->nroutes;
}

int
metrics_table(const struct rt_table *t)
{
	struct bstat *old;
	uint32_t i, end;

	if (!enabled)
		return 1;
	if (copy.t != t) {
		if (copy.t != NULL) {
			free(copy.nb);
			strmap_free(&copy.nidx);
		}
		copy.t = t;
		copy.nb = xcalloc(t->nbackends + 1, sizeof(*copy.nb));
		strmap_init(&copy.nidx, t->nbackends);
		copy.done = 0;
	}
	end = t->nbackends - copy.done > METRICS_CHUNK ?
	    copy.done + METRICS_CHUNK : t->nbackends;
	for (i = copy.done; i < end; i++) {
		const struct sockaddr *sa =
		    (const struct sockaddr *)&t->backends[i].addr;
		struct bstat *nb = &copy.nb[i];

		/* The same key is the same address: name and totals kept. */
		if ((old = bstat_find(sa)) != NULL ||
		    (old = pending_find(sa)) != NULL)
			*nb = *old;
		else {
			make_key(sa, nb->key);
			memcpy(&nb->addr, &t->backends[i].addr, sizeof(nb->addr));
			/* Its name is formatted when a page first needs it. */
		}
		strmap_put(&copy.nidx, nb->key, KEYLEN, i);
	}
	copy.done = end;
	if (copy.done < t->nbackends)
		return 0;

	epoch = t->epoch;
	generation = t->generation;
	free(bs);
	strmap_free(&bidx);
	bs = copy.nb;
	bidx = copy.nidx;
	nbs = t->nbackends;
	had_table = 1;
	pending_free();
	memset(&copy, 0, sizeof(copy));

	routes_carry(t);
	return 1;
}

void
metrics_left_out(size_t n)
{
	left_out = n;
}

void
metrics_report(const struct report *r)
{
	struct bstat *b;
	uint32_t i;

	if (r->router < CONFIG_MAX_WORKERS) {
		seen[r->router] = mono_now();
		tabled[r->router] = r->generation != 0;
	}
	if (!enabled)
		return;
	reports++;
	for (i = 0; i < REPORT_NGLOBAL; i++)
		global[i] += r->global[i];
	if (r->router < CONFIG_MAX_WORKERS)
		cache_entries[r->router] = r->cache_entries;
	for (i = 0; i < r->n; i++) {
		const struct report_entry *e = &r->e[i];

		/* A backend that left the table: its series went with it. */
		if ((b = bstat_find((const struct sockaddr *)&e->addr)) != NULL)
			bstat_add(b, e);
		else if (!had_table)
			pending_add(e);
		if (copy.t != NULL) {
			/* Copied already into the table's copy under way? */
			uint8_t key[KEYLEN];
			size_t j;

			make_key((const struct sockaddr *)&e->addr, key);
			if (strmap_get(&copy.nidx, key, KEYLEN, &j))
				bstat_add(&copy.nb[j], e);
		}
	}
	if (r->epoch != epoch || r->generation != generation)
		return;		/* indexes into another table */
	for (i = 0; i < r->nroutes; i++)
		if (r->routes[i].index < nrs)
			rs[r->routes[i].index].queries += r->routes[i].queries;
}

void
metrics_bad_report(void)
{
	bad_reports++;
}

/* A label value: backslash, double quote and newline escaped. */
static void
put_label(FILE *f, const char *s)
{
	for (; *s != '\0'; s++) {
		if (*s == '\\')
			fputs("\\\\", f);
		else if (*s == '"')
			fputs("\\\"", f);
		else if (*s == '\n')
			fputs("\\n", f);
		else
			fputc(*s, f);
	}
}

static void
head(FILE *f, const char *name, const char *type, const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/*
 * A page of /metrics: a copy of the numbers taken when it was asked for,
 * rendered a piece at a time as the client reads (metrics_page_read), so
 * that the 28 series of each of 40,000 backends (~90 MB) never hold the
 * loop for long and a table change meanwhile cannot tear the page.
 */
struct page_backend {
	char		 name[ADDR_STRLEN];
	int		 up;
	uint64_t	 queries, failed, unanswered;
	uint64_t	 rcode[REPORT_NRCODE];
	uint64_t	 bucket[REPORT_NBUCKET];
	uint64_t	 latency_us;
};

struct page_route {
	size_t		 pat;		/* offset into pats */
	int32_t		 priority;
	uint64_t	 queries;
};

enum page_part {
	P_GLOBAL, P_UP, P_QUERIES, P_RESPONSES, P_FAILURES, P_UNANSWERED,
	P_LATENCY, P_ROUTES, P_ZONES, P_STATE, P_DONE
};

struct metrics_page {
	uint64_t		 global[REPORT_NGLOBAL];
	uint64_t		 cache_entries;
	uint64_t		 generation, reports, bad_reports, stalls;
	size_t			 left_out;
	struct dbcompile_stats	 hs;
	int			 etcd, etcd_connected;
	long long		 etcd_revision;
	struct page_backend	*b;
	size_t			 nb;
	struct page_route	*r;
	size_t			 nr;
	char			*pats;
	char			*zones;		/* the zones' series, rendered */
	size_t			 zoneslen;
	enum page_part		 part;
	size_t			 i;		/* next backend or route of part */
	char			*chunk;		/* rendered, not yet read */
	size_t			 chunklen, chunkoff;
};

struct metrics_page *
metrics_page_new(void)
{
	struct metrics_page *p = xcalloc(1, sizeof(*p));
	size_t i, plen = 0, off = 0, n;
	FILE *f;

	memcpy(p->global, global, sizeof(p->global));
	for (i = 0; i < CONFIG_MAX_WORKERS; i++)
		p->cache_entries += cache_entries[i];
	p->generation = generation;
	p->reports = reports;
	p->bad_reports = bad_reports;
	p->stalls = stall_count();
	p->left_out = left_out;
	dbcompile_stats(&p->hs);
	p->etcd = mcf->netcd > 0;
	p->etcd_connected = p->etcd && etcd_connected();
	p->etcd_revision = p->etcd ? (long long)etcd_revision() : 0LL;
	p->b = xcalloc(nbs + 1, sizeof(*p->b));
	for (i = 0; i < nbs; i++) {
		struct page_backend *d = &p->b[i];
		struct bstat *b = &bs[i];

		if (b->name[0] == '\0')
			addr_format((const struct sockaddr *)&b->addr,
			    b->name, sizeof(b->name));
		memcpy(d->name, b->name, sizeof(d->name));
		d->up = health_up(NULL, (const struct sockaddr *)&b->addr);
		d->queries = b->queries;
		d->failed = b->failed;
		d->unanswered = b->unanswered;
		memcpy(d->rcode, b->rcode, sizeof(d->rcode));
		memcpy(d->bucket, b->bucket, sizeof(d->bucket));
		d->latency_us = b->latency_us;
	}
	p->nb = nbs;
	for (i = 0; i < nrs; i++)
		plen += strlen(rs[i].pattern) + 1;
	p->pats = xmalloc(plen + 1);
	p->r = xcalloc(nrs + 1, sizeof(*p->r));
	for (i = 0; i < nrs; i++) {
		n = strlen(rs[i].pattern) + 1;
		memcpy(p->pats + off, rs[i].pattern, n);
		p->r[i].pat = off;
		p->r[i].priority = rs[i].priority;
		p->r[i].queries = rs[i].queries;
		off += n;
	}
	p->nr = nrs;
	/* A few zones of a few shards: rendered now, whole. */
	if (zones_count() > 0 && (f = open_memstream(&p->zones,
	    &p->zoneslen)) != NULL) {
		zones_metrics(f, health_up);
		if (fclose(f) != 0) {
			free(p->zones);
			p->zones = NULL;
			p->zoneslen = 0;
		}
	}
	return p;
}

void
metrics_page_free(struct metrics_page *p)
{
	if (p == NULL)
		return;
	free(p->b);
	free(p->r);
	free(p->pats);
	free(p->zones);
	free(p->chunk);
	free(p);
}

static void
render_global(FILE *f, const uint64_t *g, uint64_t entries)
{
	static const struct {
		enum report_global	 g;
		const char		*name, *help;
	} simple[] = {
		{ RG_REFUSED, "dnsrouter_refused_total",
		    "Queries answered REFUSED because no route matched." },
		{ RG_SERVFAIL, "dnsrouter_servfail_total",
		    "Queries answered SERVFAIL by dnsrouter: no healthy backend, "
		    "no backend answered in time, or no route table yet." },
		{ RG_FORMERR, "dnsrouter_formerr_total",
		    "Malformed queries answered FORMERR." },
		{ RG_NOTIMP, "dnsrouter_notimp_total",
		    "Queries with an opcode other than QUERY, answered NOTIMP." },
		{ RG_DROPPED, "dnsrouter_dropped_total",
		    "Messages from clients dropped unanswered (responses, "
		    "shorter than a DNS header)." },
		{ RG_BOGUS, "dnsrouter_backend_bogus_replies_total",
		    "Replies from the backend side that were not accepted: late, "
		    "or failing the address, ID or question checks." },
		{ RG_TCP_LIMITED, "dnsrouter_tcp_refused_total",
		    "TCP connections closed at accept: tcp-clients-per-ip "
		    "reached, or tcp-clients reached with no connection to evict." },
		{ RG_TCP_EVICTED, "dnsrouter_tcp_evicted_total",
		    "TCP connections closed to make room for a new client (the "
		    "longest without a complete message, owing nothing)." },
		{ RG_TCP_TIMEOUT, "dnsrouter_tcp_timeouts_total",
		    "TCP connections closed by tcp-initial-timeout or "
		    "tcp-idle-timeout (including output that made no progress)." },
		{ RG_TCP_OUTPUT, "dnsrouter_tcp_output_overflows_total",
		    "TCP connections closed because the client left too many "
		    "answers unread." },
		{ RG_ACL_REFUSED, "dnsrouter_acl_refused_total",
		    "Queries from clients outside allow-query, refused or "
		    "dropped (acl-drop)." },
		{ RG_RRL_DROPPED, "dnsrouter_rrl_dropped_total",
		    "UDP answers dropped by response rate limiting." },
		{ RG_RRL_SLIPPED, "dnsrouter_rrl_slipped_total",
		    "UDP answers sent truncated (TC) by response rate limiting." },
		{ RG_RRL_LOGONLY, "dnsrouter_rrl_would_limit_total",
		    "UDP answers that rate limiting would have limited "
		    "(rrl-log-only yes)." },
		{ RG_MATCH_LIMIT, "dnsrouter_match_limit_total",
		    "Route matches cut off by the regexp match limit (counted as "
		    "not matching that route)." },
		{ RG_CACHE_HITS, "dnsrouter_cache_hits_total",
		    "Queries answered from the packet cache (cache-size)." },
		{ RG_CACHE_MISSES, "dnsrouter_cache_misses_total",
		    "Cacheable queries the packet cache had no fresh answer "
		    "for, forwarded." },
		{ RG_CACHE_STALE, "dnsrouter_cache_stale_answers_total",
		    "Queries answered from an expired cache entry (cache-stale) "
		    "because their route had no healthy backend or none "
		    "answered in time." },
		{ RG_CACHE_EVICTIONS, "dnsrouter_cache_evictions_total",
		    "Packet cache entries pushed out to make room for others." },
		{ RG_DNSTAP_SENT, "dnsrouter_dnstap_messages_total",
		    "dnstap messages queued for the collector." },
		{ RG_DNSTAP_DROPPED, "dnsrouter_dnstap_dropped_total",
		    "dnstap messages dropped: the collector was not connected "
		    "or the router's queue to it was full." },
		{ RG_PENDING_TRIED, "dnsrouter_pending_pattern_matches_total",
		    "Route regexps matched one by one (PCRE2) because the "
		    "routers' Hyperscan database did not hold them yet: the "
		    "work a compile saves." },
	};
	size_t i;

	head(f, "dnsrouter_queries_total", "counter",
	    "DNS messages received from clients, by transport.");
	fprintf(f, "dnsrouter_queries_total{protocol=\"udp\"} %llu\n",
	    (unsigned long long)g[RG_QUERIES_UDP]);
	fprintf(f, "dnsrouter_queries_total{protocol=\"tcp\"} %llu\n",
	    (unsigned long long)g[RG_QUERIES_TCP]);
	for (i = 0; i < sizeof(simple) / sizeof(simple[0]); i++) {
		head(f, simple[i].name, "counter", simple[i].help);
		fprintf(f, "%s %llu\n", simple[i].name,
		    (unsigned long long)g[simple[i].g]);
	}
	head(f, "dnsrouter_cache_entries", "gauge",
	    "Answers held in the routers' packet caches, summed.");
	fprintf(f, "dnsrouter_cache_entries %llu\n", (unsigned long long)entries);
}

/* The head of a backend family (i == 0) and backend i's lines of it. */
static void
render_backend(FILE *f, enum page_part part, size_t i,
    const struct page_backend *b)
{
	uint64_t cum = 0;
	unsigned k;

	switch (part) {
	case P_UP:
		if (i == 0)
			head(f, "dnsrouter_backend_up", "gauge",
			    "1 while the backend is in rotation, 0 while health "
			    "checks keep it out.");
		fprintf(f, "dnsrouter_backend_up{backend=\"%s\"} %d\n", b->name,
		    b->up ? 1 : 0);
		break;
	case P_QUERIES:
		if (i == 0)
			head(f, "dnsrouter_backend_queries_total", "counter",
			    "Queries sent to the backend (every attempt, retries "
			    "included).");
		fprintf(f, "dnsrouter_backend_queries_total{backend=\"%s\"} %llu\n",
		    b->name, (unsigned long long)b->queries);
		break;
	case P_RESPONSES:
		if (i == 0)
			head(f, "dnsrouter_backend_responses_total", "counter",
			    "Replies accepted from the backend, by rcode.");
		for (k = 0; k < REPORT_NRCODE; k++)
			fprintf(f, "dnsrouter_backend_responses_total{backend=\"%s\","
			    "rcode=\"%s\"} %llu\n", b->name, rcode_names[k],
			    (unsigned long long)b->rcode[k]);
		break;
	case P_FAILURES:
		if (i == 0)
			head(f, "dnsrouter_backend_failures_total", "counter",
			    "Attempts to the backend that timed out or could not be "
			    "sent (counted when the query ends, after its retry).");
		fprintf(f, "dnsrouter_backend_failures_total{backend=\"%s\"} %llu\n",
		    b->name, (unsigned long long)b->failed);
		break;
	case P_UNANSWERED:
		if (i == 0)
			head(f, "dnsrouter_backend_unanswered_failures_total",
			    "counter", "Of the failures, those of queries that no "
			    "backend answered, the retry included (never held "
			    "against the backend by themselves).");
		fprintf(f, "dnsrouter_backend_unanswered_failures_total"
		    "{backend=\"%s\"} %llu\n", b->name,
		    (unsigned long long)b->unanswered);
		break;
	case P_LATENCY:
		if (i == 0)
			head(f, "dnsrouter_backend_response_seconds", "histogram",
			    "Time from sending a query to the backend to accepting "
			    "its reply.");
		for (k = 0; k < REPORT_NBUCKET; k++) {
			cum += b->bucket[k];
			if (k < REPORT_NBUCKET - 1)
				fprintf(f, "dnsrouter_backend_response_seconds_bucket"
				    "{backend=\"%s\",le=\"%g\"} %llu\n", b->name,
				    report_bucket_us[k] / 1e6, (unsigned long long)cum);
			else
				fprintf(f, "dnsrouter_backend_response_seconds_bucket"
				    "{backend=\"%s\",le=\"+Inf\"} %llu\n", b->name,
				    (unsigned long long)cum);
		}
		fprintf(f, "dnsrouter_backend_response_seconds_sum{backend=\"%s\"} "
		    "%.6f\n", b->name, b->latency_us / 1e6);
		fprintf(f, "dnsrouter_backend_response_seconds_count{backend=\"%s\"} "
		    "%llu\n", b->name, (unsigned long long)cum);
		break;
	default:
		break;
	}
}

static void
render_route(FILE *f, const struct metrics_page *p, size_t i)
{
	if (i == 0)
		head(f, "dnsrouter_route_queries_total", "counter",
		    "Queries that matched the route (its regexp and priority) "
		    "first.");
	fputs("dnsrouter_route_queries_total{route=\"", f);
	put_label(f, p->pats + p->r[i].pat);
	fprintf(f, "\",priority=\"%d\"} %llu\n", (int)p->r[i].priority,
	    (unsigned long long)p->r[i].queries);
}

static void
render_state(FILE *f, const struct metrics_page *p)
{
	head(f, "dnsrouter_table_generation", "gauge",
	    "Generation of the route table last published to the routers.");
	fprintf(f, "dnsrouter_table_generation %llu\n",
	    (unsigned long long)p->generation);
	head(f, "dnsrouter_routes", "gauge", "Routes in the current table.");
	fprintf(f, "dnsrouter_routes %zu\n", p->nr);
	head(f, "dnsrouter_backends", "gauge",
	    "Distinct backends in the current table.");
	fprintf(f, "dnsrouter_backends %zu\n", p->nb);
	head(f, "dnsrouter_registrations_left_out", "gauge",
	    "Registrations the route table leaves out because it is full "
	    "(a limit of the table format); 0 normally.");
	fprintf(f, "dnsrouter_registrations_left_out %zu\n", p->left_out);
	head(f, "dnsrouter_etcd_connected", "gauge",
	    "1 while the etcd watch is established; 0 otherwise or without etcd.");
	fprintf(f, "dnsrouter_etcd_connected %d\n", p->etcd_connected);
	head(f, "dnsrouter_etcd_revision", "gauge",
	    "The last etcd revision the controller has seen (0: none, or no etcd).");
	fprintf(f, "dnsrouter_etcd_revision %lld\n", p->etcd_revision);
	head(f, "dnsrouter_controller_stalls_total", "counter",
	    "Passes of the controller's event loop that took more than 100 ms "
	    "of CPU: everything else (etcd, health checks, reports) waited.");
	fprintf(f, "dnsrouter_controller_stalls_total %llu\n",
	    (unsigned long long)p->stalls);
	head(f, "dnsrouter_hyperscan_compiles_total", "counter",
	    "Hyperscan databases of the table's patterns compiled by the "
	    "controller for the routers.");
	fprintf(f, "dnsrouter_hyperscan_compiles_total %llu\n", p->hs.compiles);
	head(f, "dnsrouter_hyperscan_compile_failures_total", "counter",
	    "Compiles that failed or could not be sent: routers then compile "
	    "for themselves.");
	fprintf(f, "dnsrouter_hyperscan_compile_failures_total %llu\n",
	    p->hs.failures);
	head(f, "dnsrouter_hyperscan_compile_seconds", "gauge",
	    "Wall-clock seconds of the last compile.");
	fprintf(f, "dnsrouter_hyperscan_compile_seconds %.3f\n", p->hs.seconds);
	head(f, "dnsrouter_hyperscan_database_bytes", "gauge",
	    "Size of the last database as sent to routers (serialized).");
	fprintf(f, "dnsrouter_hyperscan_database_bytes %zu\n", p->hs.bytes);
	head(f, "dnsrouter_hyperscan_pending_patterns", "gauge",
	    "Patterns of the table the newest database lacks: routers match "
	    "them one by one until a compile pays.");
	fprintf(f, "dnsrouter_hyperscan_pending_patterns %zu\n", p->hs.pending);
	head(f, "dnsrouter_reports_total", "counter",
	    "Traffic reports received from routers.");
	fprintf(f, "dnsrouter_reports_total %llu\n",
	    (unsigned long long)p->reports);
	head(f, "dnsrouter_bad_reports_total", "counter",
	    "Reports from routers dropped because they did not decode.");
	fprintf(f, "dnsrouter_bad_reports_total %llu\n",
	    (unsigned long long)p->bad_reports);
}

/* Render the next piece of p: a backend's or route's lines, or a whole small part. */
static void
render_next(FILE *f, struct metrics_page *p)
{
	switch (p->part) {
	case P_GLOBAL:
		render_global(f, p->global, p->cache_entries);
		p->part++;
		return;
	case P_UP:
	case P_QUERIES:
	case P_RESPONSES:
	case P_FAILURES:
	case P_UNANSWERED:
	case P_LATENCY:
		if (p->i < p->nb) {
			render_backend(f, p->part, p->i, &p->b[p->i]);
			p->i++;
			return;
		}
		break;
	case P_ROUTES:
		if (p->i < p->nr) {
			render_route(f, p, p->i);
			p->i++;
			return;
		}
		break;
	case P_ZONES:
		if (p->zones != NULL)
			fwrite(p->zones, 1, p->zoneslen, f);
		break;
	case P_STATE:
		render_state(f, p);
		break;
	case P_DONE:
		return;
	}
	p->part++;
	p->i = 0;
}

ssize_t
metrics_page_read(struct metrics_page *p, char *buf, size_t max)
{
	FILE *f;
	size_t n;

	while (p->chunkoff == p->chunklen) {
		free(p->chunk);
		p->chunk = NULL;
		p->chunklen = p->chunkoff = 0;
		if (p->part == P_DONE)
			return 0;
		if ((f = open_memstream(&p->chunk, &p->chunklen)) == NULL) {
			log_warn("%s: open_memstream", __func__);
			return -1;
		}
		while (p->part != P_DONE && (size_t)ftell(f) < max)
			render_next(f, p);
		if (ferror(f)) {
			fclose(f);
			log_warnx("%s: out of memory", __func__);
			return -1;
		}
		if (fclose(f) != 0)
			return -1;
	}
	n = p->chunklen - p->chunkoff < max ? p->chunklen - p->chunkoff : max;
	memcpy(buf, p->chunk + p->chunkoff, n);
	p->chunkoff += n;
	return (ssize_t)n;
}

void
metrics_free(void)
{
	free(rs);
	free(rs_text);
	rs_text = NULL;
	free(bs);
	strmap_free(&bidx);
	free(copy.nb);
	strmap_free(&copy.nidx);
	memset(&copy, 0, sizeof(copy));
	pending_free();
	rs = NULL;
	bs = NULL;
	nrs = nbs = 0;
}
