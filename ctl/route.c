/*
 * route: which route answers a name, and why. The table is the one the
 * running controller last sent the routers (asked for as `status` does);
 * the name is matched here by router/matcher.c, the routers' own matcher
 * (PCRE2 for every pattern: Hyperscan databases match the same), in the
 * routers' order and with their rule: the first route whose regexp
 * matches and which has a backend up answers; a matching route with every
 * backend down is passed over.
 */
#include <getopt.h>
#include <ldns/ldns.h>
#include <nng/nng.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "ctl.h"
#include "dnswire.h"
#include "matcher.h"
#include "proto.h"
#include "statusmsg.h"

static const char route_help[] =
    "usage: dnsrouterctl route [-f file] NAME [TYPE]\n"
    "\n"
    "Tell which route of the running dnsrouter answers NAME: the routes whose\n"
    "regexp matches it, in the order the routers try them, with priority and\n"
    "backends and their health, and the one that answers (the first matching\n"
    "route with a backend up). Exit 0 when a route answers, 1 when NAME gets\n"
    "REFUSED (no route matches) or SERVFAIL (every matching route is down).\n";

struct seen {
	size_t		*idx;
	size_t		 n;
};

static int
collect(void *ctx, size_t index)
{
	struct seen *s = ctx;

	s->idx[s->n++] = index;
	return 0;		/* every match, in order */
}

static int
route_up(const struct rt_table *t, const struct rt_route *r)
{
	uint32_t k;

	for (k = 0; k < r->nbackends; k++)
		if (t->backends[r->backends[k]].flags & RT_FLAG_UP)
			return 1;
	return 0;
}

static void
print_route(const struct rt_table *t, size_t i, const char *verdict)
{
	const struct rt_route *r = &t->routes[i];
	char a[ADDR_STRLEN];
	uint32_t k;

	printf("  route %zu: %s  priority %d  %s\n", i + 1, r->pattern,
	    (int)r->priority, verdict);
	for (k = 0; k < r->nbackends; k++) {
		const struct rt_backend *b = &t->backends[r->backends[k]];

		printf("    %s %s%s\n", addr_format((const struct sockaddr *)
		    &b->addr, a, sizeof(a)), b->flags & RT_FLAG_UP ? "up" :
		    "down", b->flags & RT_FLAG_PRIMARY ? " primary" : "");
	}
}

int
cmd_route(int argc, char *argv[])
{
	static const struct option longopts[] = {
		CTL_COMMON_LONG,
		{ NULL, 0, NULL, 0 }
	};
	struct config cf;
	struct status st;
	struct matcher *m;
	struct seen s = { NULL, 0 };
	const char **pats;
	char text[DNS_NAME_TEXT_MAX], err[256];
	const char *why, *qtype = NULL;
	uint8_t req[PROTO_HDRLEN], *buf;
	ldns_rdf *d = NULL;
	size_t len, i, tlen, answering = (size_t)-1;
	int ch, rc;

	while ((ch = getopt_long(argc, argv, CTL_COMMON_SHORT, longopts,
	    NULL)) != -1) {
		if (!ctl_common_opt(ch, optarg, route_help))
			ctl_usage(route_help);
	}
	if (argc - optind < 1 || argc - optind > 2)
		ctl_usage(route_help);
	if (ldns_str2rdf_dname(&d, argv[optind]) != LDNS_STATUS_OK ||
	    d == NULL || ldns_rdf_size(d) > DNS_NAME_WIRE_MAX) {
		fprintf(stderr, "dnsrouterctl: route: '%s' is not a domain "
		    "name\n", argv[optind]);
		ldns_rdf_deep_free(d);
		return CTL_EXIT_USAGE;
	}
	/* The text the routers match: lower case, escaped, trailing dot. */
	tlen = dns_name_text(ldns_rdf_data(d), text);
	ldns_rdf_deep_free(d);
	if (argc - optind == 2) {
		qtype = argv[optind + 1];
		if (ldns_get_rr_type_by_name(qtype) == 0) {
			fprintf(stderr, "dnsrouterctl: route: unknown type "
			    "'%s'\n", qtype);
			return CTL_EXIT_USAGE;
		}
	}
	ctl_config(&cf);
	if ((buf = ctl_ask(cf.rundir, "route", req, status_request(req),
	    &len)) == NULL)
		return CTL_EXIT_FAIL;
	rc = ctl_answer_check(buf, len, "route");
	if (rc == 0 && status_decode(buf, len, &st, &why) != 0) {
		fprintf(stderr, "dnsrouterctl: route: bad answer from the "
		    "controller: %s\n", why);
		rc = -1;
	}
	nng_free(buf, len);
	if (rc != 0)
		return CTL_EXIT_FAIL;
	if (qtype != NULL)
		printf("%s %s (routing does not depend on the type)\n", text,
		    qtype);
	else
		printf("%s\n", text);
	if (st.table == NULL) {
		printf("no route table yet: the routers answer SERVFAIL\n");
		status_free(&st);
		return 1;
	}
	printf("table generation %llu: %u routes, tried in this order\n",
	    (unsigned long long)st.table->generation, st.table->nroutes);
	pats = calloc(st.table->nroutes + 1, sizeof(*pats));
	s.idx = calloc(st.table->nroutes + 1, sizeof(*s.idx));
	if (pats == NULL || s.idx == NULL) {
		fprintf(stderr, "dnsrouterctl: route: out of memory\n");
		exit(CTL_EXIT_FAIL);
	}
	for (i = 0; i < st.table->nroutes; i++)
		pats[i] = st.table->routes[i].pattern;
	if ((m = matcher_build(pats, st.table->nroutes, NULL, NULL, err,
	    sizeof(err))) == NULL) {
		fprintf(stderr, "dnsrouterctl: route: %s\n", err);
		exit(CTL_EXIT_FAIL);
	}
	(void)matcher_first(m, text, tlen, collect, &s);
	if (matcher_take_limited(m) > 0)
		printf("(a regexp hit the match limit on this name: counted as "
		    "not matching, as the routers do)\n");
	for (i = 0; i < s.n; i++) {
		const struct rt_route *r = &st.table->routes[s.idx[i]];

		if (answering == (size_t)-1 && route_up(st.table, r)) {
			answering = s.idx[i];
			print_route(st.table, s.idx[i], "matches: ANSWERS");
		} else if (answering == (size_t)-1)
			print_route(st.table, s.idx[i],
			    "matches, every backend down: passed over");
		else
			print_route(st.table, s.idx[i],
			    "matches too, not tried");
	}
	if (s.n == 0)
		printf("no route matches: REFUSED\n");
	else if (answering == (size_t)-1)
		printf("every matching route is down: SERVFAIL (or a stale "
		    "answer with cache-stale)\n");
	else
		printf("answered by route %zu: each router takes its up "
		    "backends in turn (round robin, its own rotation)\n",
		    answering + 1);
	matcher_free(m);
	free(pats);
	free(s.idx);
	status_free(&st);
	return answering == (size_t)-1 ? 1 : 0;
}
