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
#include <netinet/in.h>

#include "addr.h"
#include "etcd.h"
#include "health.h"
#include "log.h"
#include "metrics.h"
#include "stall.h"
#include "util.h"

#define KEYLEN	19	/* family, port, address: a backend's sort key */

struct bstat {
	uint8_t			 key[KEYLEN];
	struct sockaddr_storage	 addr;
	char			 name[ADDR_STRLEN];
	uint64_t		 queries, failed;
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
static uint64_t			 global[REPORT_NGLOBAL];
static uint64_t			 reports, bad_reports;
static size_t			 left_out;
static uint64_t			 epoch, generation;
static struct bstat		*bs;		/* sorted by key */
static size_t			 nbs;
static struct rstat		*rs;		/* the table's route order */
static size_t			 nrs;

static const char *const rcode_names[REPORT_NRCODE] = {
	"NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED",
	"other",
};

void
metrics_init(const struct config *cf)
{
	mcf = cf;
	enabled = cf->metricslen != 0;
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

static int
bstat_cmp(const void *a, const void *b)
{
	return memcmp(((const struct bstat *)a)->key,
	    ((const struct bstat *)b)->key, KEYLEN);
}

static struct bstat *
bstat_find(struct bstat *v, size_t n, const struct sockaddr *sa)
{
	struct bstat k;

	if (n == 0)
		return NULL;
	make_key(sa, k.key);
	return bsearch(&k, v, n, sizeof(*v), bstat_cmp);
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

void
metrics_table(const struct rt_table *t)
{
	struct bstat *nb, *old;
	struct rstat *nr, **idx = NULL;
	uint32_t i;

	if (!enabled)
		return;
	epoch = t->epoch;
	generation = t->generation;

	nb = xcalloc(t->nbackends + 1, sizeof(*nb));
	for (i = 0; i < t->nbackends; i++) {
		const struct sockaddr *sa =
		    (const struct sockaddr *)&t->backends[i].addr;

		make_key(sa, nb[i].key);
		memcpy(&nb[i].addr, &t->backends[i].addr, sizeof(nb[i].addr));
		if ((old = bstat_find(bs, nbs, sa)) == NULL)
			addr_format(sa, nb[i].name, sizeof(nb[i].name));
		else {
			memcpy(nb[i].name, old->name, sizeof(nb[i].name));
			nb[i].queries = old->queries;
			nb[i].failed = old->failed;
			memcpy(nb[i].rcode, old->rcode, sizeof(nb[i].rcode));
			memcpy(nb[i].bucket, old->bucket, sizeof(nb[i].bucket));
			nb[i].latency_us = old->latency_us;
		}
	}
	qsort(nb, t->nbackends, sizeof(*nb), bstat_cmp);
	free(bs);
	bs = nb;
	nbs = t->nbackends;

	/* Routes: old totals found by (priority, regexp) through a sorted index. */
	if (nrs > 0) {
		idx = xcalloc(nrs, sizeof(*idx));
		for (i = 0; i < nrs; i++)
			idx[i] = &rs[i];
		qsort(idx, nrs, sizeof(*idx), rstat_cmp);
	}
	nr = xcalloc(t->nroutes + 1, sizeof(*nr));
	for (i = 0; i < t->nroutes; i++) {
		struct rstat k, *kp = &k, **found;

		nr[i].pattern = xstrdup(t->routes[i].pattern);
		nr[i].priority = t->routes[i].priority;
		k.pattern = nr[i].pattern;
		k.priority = nr[i].priority;
		if (idx != NULL && (found = bsearch(&kp, idx, nrs, sizeof(*idx),
		    rstat_cmp)) != NULL)
			nr[i].queries = (*found)->queries;
	}
	free(idx);
	for (i = 0; i < nrs; i++)
		free(rs[i].pattern);
	free(rs);
	rs = nr;
	nrs = t->nroutes;
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
	uint32_t i, k;

	if (!enabled)
		return;
	reports++;
	for (i = 0; i < REPORT_NGLOBAL; i++)
		global[i] += r->global[i];
	for (i = 0; i < r->n; i++) {
		const struct report_entry *e = &r->e[i];

		/* A backend that left the table: its series went with it. */
		if ((b = bstat_find(bs, nbs, (const struct sockaddr *)&e->addr)) == NULL)
			continue;
		b->queries += e->queries;
		b->failed += e->failed;
		for (k = 0; k < REPORT_NRCODE; k++)
			b->rcode[k] += e->rcode[k];
		for (k = 0; k < REPORT_NBUCKET; k++)
			b->bucket[k] += e->bucket[k];
		b->latency_us += e->latency_us;
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

static void
render_global(FILE *f)
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
	};
	size_t i;

	head(f, "dnsrouter_queries_total", "counter",
	    "DNS messages received from clients, by transport.");
	fprintf(f, "dnsrouter_queries_total{protocol=\"udp\"} %llu\n",
	    (unsigned long long)global[RG_QUERIES_UDP]);
	fprintf(f, "dnsrouter_queries_total{protocol=\"tcp\"} %llu\n",
	    (unsigned long long)global[RG_QUERIES_TCP]);
	for (i = 0; i < sizeof(simple) / sizeof(simple[0]); i++) {
		head(f, simple[i].name, "counter", simple[i].help);
		fprintf(f, "%s %llu\n", simple[i].name,
		    (unsigned long long)global[simple[i].g]);
	}
}

static void
render_backends(FILE *f)
{
	size_t i;
	unsigned k;

	head(f, "dnsrouter_backend_up", "gauge",
	    "1 while the backend is in rotation, 0 while health checks keep it out.");
	for (i = 0; i < nbs; i++)
		fprintf(f, "dnsrouter_backend_up{backend=\"%s\"} %d\n", bs[i].name,
		    health_up(NULL, (const struct sockaddr *)&bs[i].addr) ? 1 : 0);
	head(f, "dnsrouter_backend_queries_total", "counter",
	    "Queries sent to the backend (every attempt, retries included).");
	for (i = 0; i < nbs; i++)
		fprintf(f, "dnsrouter_backend_queries_total{backend=\"%s\"} %llu\n",
		    bs[i].name, (unsigned long long)bs[i].queries);
	head(f, "dnsrouter_backend_responses_total", "counter",
	    "Replies accepted from the backend, by rcode.");
	for (i = 0; i < nbs; i++)
		for (k = 0; k < REPORT_NRCODE; k++)
			fprintf(f, "dnsrouter_backend_responses_total{backend=\"%s\","
			    "rcode=\"%s\"} %llu\n", bs[i].name, rcode_names[k],
			    (unsigned long long)bs[i].rcode[k]);
	head(f, "dnsrouter_backend_failures_total", "counter",
	    "Attempts to the backend that timed out or could not be sent.");
	for (i = 0; i < nbs; i++)
		fprintf(f, "dnsrouter_backend_failures_total{backend=\"%s\"} %llu\n",
		    bs[i].name, (unsigned long long)bs[i].failed);
	head(f, "dnsrouter_backend_response_seconds", "histogram",
	    "Time from sending a query to the backend to accepting its reply.");
	for (i = 0; i < nbs; i++) {
		uint64_t cum = 0;

		for (k = 0; k < REPORT_NBUCKET; k++) {
			cum += bs[i].bucket[k];
			if (k < REPORT_NBUCKET - 1)
				fprintf(f, "dnsrouter_backend_response_seconds_bucket"
				    "{backend=\"%s\",le=\"%g\"} %llu\n", bs[i].name,
				    report_bucket_us[k] / 1e6, (unsigned long long)cum);
			else
				fprintf(f, "dnsrouter_backend_response_seconds_bucket"
				    "{backend=\"%s\",le=\"+Inf\"} %llu\n", bs[i].name,
				    (unsigned long long)cum);
		}
		fprintf(f, "dnsrouter_backend_response_seconds_sum{backend=\"%s\"} "
		    "%.6f\n", bs[i].name, bs[i].latency_us / 1e6);
		fprintf(f, "dnsrouter_backend_response_seconds_count{backend=\"%s\"} "
		    "%llu\n", bs[i].name, (unsigned long long)cum);
	}
}

static void
render_routes(FILE *f)
{
	size_t i;

	head(f, "dnsrouter_route_queries_total", "counter",
	    "Queries that matched the route (its regexp and priority) first.");
	for (i = 0; i < nrs; i++) {
		fputs("dnsrouter_route_queries_total{route=\"", f);
		put_label(f, rs[i].pattern);
		fprintf(f, "\",priority=\"%d\"} %llu\n", (int)rs[i].priority,
		    (unsigned long long)rs[i].queries);
	}
}

static void
render_state(FILE *f)
{
	int etcd = mcf->netcd > 0;

	head(f, "dnsrouter_table_generation", "gauge",
	    "Generation of the route table last published to the routers.");
	fprintf(f, "dnsrouter_table_generation %llu\n",
	    (unsigned long long)generation);
	head(f, "dnsrouter_routes", "gauge", "Routes in the current table.");
	fprintf(f, "dnsrouter_routes %zu\n", nrs);
	head(f, "dnsrouter_backends", "gauge",
	    "Distinct backends in the current table.");
	fprintf(f, "dnsrouter_backends %zu\n", nbs);
	head(f, "dnsrouter_registrations_left_out", "gauge",
	    "Registrations the route table leaves out because it is full "
	    "(a limit of the table format); 0 normally.");
	fprintf(f, "dnsrouter_registrations_left_out %zu\n", left_out);
	head(f, "dnsrouter_etcd_connected", "gauge",
	    "1 while the etcd watch is established; 0 otherwise or without etcd.");
	fprintf(f, "dnsrouter_etcd_connected %d\n",
	    etcd && etcd_connected() ? 1 : 0);
	head(f, "dnsrouter_etcd_revision", "gauge",
	    "The last etcd revision the controller has seen (0: none, or no etcd).");
	fprintf(f, "dnsrouter_etcd_revision %lld\n",
	    etcd ? (long long)etcd_revision() : 0LL);
	head(f, "dnsrouter_controller_stalls_total", "counter",
	    "Passes of the controller's event loop that took more than 100 ms "
	    "of CPU: everything else (etcd, health checks, reports) waited.");
	fprintf(f, "dnsrouter_controller_stalls_total %llu\n",
	    (unsigned long long)stall_count());
	head(f, "dnsrouter_reports_total", "counter",
	    "Traffic reports received from routers.");
	fprintf(f, "dnsrouter_reports_total %llu\n", (unsigned long long)reports);
	head(f, "dnsrouter_bad_reports_total", "counter",
	    "Reports from routers dropped because they did not decode.");
	fprintf(f, "dnsrouter_bad_reports_total %llu\n",
	    (unsigned long long)bad_reports);
}

char *
metrics_render(size_t *len)
{
	char *buf = NULL;
	FILE *f;

	if ((f = open_memstream(&buf, len)) == NULL) {
		log_warn("%s: open_memstream", __func__);
		return NULL;
	}
	render_global(f);
	render_backends(f);
	render_routes(f);
	render_state(f);
	if (ferror(f)) {
		fclose(f);
		free(buf);
		log_warnx("%s: out of memory", __func__);
		return NULL;
	}
	if (fclose(f) != 0) {
		free(buf);
		return NULL;
	}
	return buf;
}

void
metrics_free(void)
{
	size_t i;

	for (i = 0; i < nrs; i++)
		free(rs[i].pattern);
	free(rs);
	free(bs);
	rs = NULL;
	bs = NULL;
	nrs = nbs = 0;
}
