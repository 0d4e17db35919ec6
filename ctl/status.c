/*
 * status: ask the running controller over rundir/controller/control.ipc what the
 * routers see (routes in match order, each backend's health, the table's
 * generation and epoch, the etcd watch) and print it.
 */
#include <getopt.h>
#include <jansson.h>
#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "ctl.h"
#include "endpoint.h"
#include "proto.h"
#include "error.h"
#include "statusmsg.h"

static const char status_help[] =
    "usage: dnsrouterctl status [-f file] [--json]\n"
    "\n"
    "Ask the running dnsrouter's controller (through controller/control.ipc\n"
    "in the config's rundir) what its routers see: the route table's epoch and\n"
    "generation, whether the etcd watch is up and at which revision, every\n"
    "backend with its health, the routes in the order they are tried, and\n"
    "each zone's shards with their SOA serials and whether they agree.\n"
    "\n"
    "  --json   print it as one JSON object\n";

/* Decode the controller's answer into st; -1 after saying why. */
static int
decode(const uint8_t *buf, size_t len, struct status *st)
{
	const char *why;

	if (ctl_answer_check(buf, len, "status") != 0)
		return -1;
	if (status_decode(buf, len, st, &why) != 0) {
		fprintf(stderr, "dnsrouterctl: status: bad answer from the "
		    "controller: %s\n", why);
		return -1;
	}
	return 0;
}

static const char *
backend_name(const struct rt_table *t, uint32_t i, char *buf, size_t len)
{
	return addr_format((const struct sockaddr *)&t->backends[i].addr, buf,
	    len);
}

static const char *
agree_text(int agree)
{
	return agree > 0 ? "agree" : agree == 0 ? "DIFFER" : "unknown";
}

static void
print_zones_text(const struct status *st)
{
	size_t i, j;
	unsigned s;

	for (i = 0; i < st->nzones; i++) {
		const struct status_zone *z = &st->zones[i];

		printf("zone %s: %u shard%s, SOA serials %s\n", z->name,
		    z->nshards, z->nshards == 1 ? "" : "s", agree_text(z->agree));
		for (s = 1; s <= z->nshards; s++)
			for (j = 0; j < z->nm; j++) {
				const struct status_member *m = &z->m[j];

				if (m->shard != s)
					continue;
				if (m->have)
					printf("  shard %-3u %-24s serial %u\n", s,
					    m->addr, m->serial);
				else
					printf("  shard %-3u %-24s no serial: %s\n",
					    s, m->addr, m->why);
			}
	}
}

static json_t *
zones_json(const struct status *st)
{
	json_t *a = json_array(), *ms;
	size_t i, j;

	for (i = 0; i < st->nzones; i++) {
		const struct status_zone *z = &st->zones[i];

		ms = json_array();
		for (j = 0; j < z->nm; j++) {
			const struct status_member *m = &z->m[j];

			json_array_append_new(ms, m->have ?
			    json_pack("{s:s,s:i,s:I}", "addr", m->addr, "shard",
			    (int)m->shard, "serial", (json_int_t)m->serial) :
			    json_pack("{s:s,s:i,s:n,s:s}", "addr", m->addr,
			    "shard", (int)m->shard, "serial", "why", m->why));
		}
		json_array_append_new(a, json_pack("{s:s,s:i,s:o,s:o}", "zone",
		    z->name, "shards", (int)z->nshards, "serials_agree",
		    z->agree < 0 ? json_null() : json_boolean(z->agree),
		    "backends", ms));
	}
	return a;
}

static void
print_text(const struct status *st)
{
	const struct rt_table *t = st->table;
	char name[ADDR_STRLEN];
	uint32_t i, j;

	if (t == NULL)
		printf("route table: none published yet\n");
	else
		printf("route table: epoch %016llx generation %llu\n",
		    (unsigned long long)t->epoch,
		    (unsigned long long)t->generation);
	if (!(st->flags & STATUS_ETCD_CONFIGURED))
		printf("etcd: not configured\n");
	else
		printf("etcd: %s %s, revision %lld\n", st->endpoint,
		    st->flags & STATUS_ETCD_CONNECTED ? "watching" :
		    "not connected", (long long)st->etcd_revision);
	if (t == NULL)
		return;
	printf("backends: %u\n", t->nbackends);
	for (i = 0; i < t->nbackends; i++)
		printf("  %-24s %s%s\n", backend_name(t, i, name, sizeof(name)),
		    t->backends[i].flags & RT_FLAG_UP ? "up" : "down",
		    t->backends[i].flags & RT_FLAG_PRIMARY ? ", primary" : "");
	printf("routes, in match order: %u\n", t->nroutes);
	for (i = 0; i < t->nroutes; i++) {
		const struct rt_route *r = &t->routes[i];

		printf("  %3u  priority %-4d %s\n", i + 1, r->priority,
		    r->pattern);
		for (j = 0; j < r->nbackends; j++)
			printf("         %-24s %s\n", backend_name(t,
			    r->backends[j], name, sizeof(name)),
			    t->backends[r->backends[j]].flags & RT_FLAG_UP ?
			    "up" : "down");
	}
	print_zones_text(st);
}

static void
print_json(const struct status *st)
{
	const struct rt_table *t = st->table;
	char name[ADDR_STRLEN], epoch[32];
	json_t *o, *a, *ra, *bs;
	uint32_t i, j;
	char *s;

	o = json_object();
	json_object_set_new(o, "etcd", json_pack("{s:b,s:b,s:s,s:I}",
	    "configured", (st->flags & STATUS_ETCD_CONFIGURED) != 0,
	    "connected", (st->flags & STATUS_ETCD_CONNECTED) != 0,
	    "endpoint", st->endpoint, "revision", (json_int_t)st->etcd_revision));
	if (t == NULL) {
		json_object_set_new(o, "table", json_null());
		goto out;
	}
	snprintf(epoch, sizeof(epoch), "%016llx", (unsigned long long)t->epoch);
	json_object_set_new(o, "epoch", json_string(epoch));
	json_object_set_new(o, "generation", json_integer((json_int_t)t->generation));
	a = json_array();
	for (i = 0; i < t->nbackends; i++)
		json_array_append_new(a, json_pack("{s:s,s:b,s:b}", "addr",
		    backend_name(t, i, name, sizeof(name)), "up",
		    (t->backends[i].flags & RT_FLAG_UP) != 0, "primary",
		    (t->backends[i].flags & RT_FLAG_PRIMARY) != 0));
	json_object_set_new(o, "backends", a);
	ra = json_array();
	for (i = 0; i < t->nroutes; i++) {
		const struct rt_route *r = &t->routes[i];

		bs = json_array();
		for (j = 0; j < r->nbackends; j++)
			json_array_append_new(bs, json_string(backend_name(t,
			    r->backends[j], name, sizeof(name))));
		json_array_append_new(ra, json_pack("{s:s,s:i,s:o}", "match",
		    r->pattern, "priority", (int)r->priority, "backends", bs));
	}
	json_object_set_new(o, "routes", ra);
	json_object_set_new(o, "zones", zones_json(st));
out:
	if ((s = json_dumps(o, JSON_INDENT(2))) != NULL)
		puts(s);
	free(s);
	json_decref(o);
}

int
cmd_status(int argc, char *argv[])
{
	static const struct option longopts[] = {
		CTL_COMMON_LONG,
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 }
	};
	struct config cf;
	struct status st;
	uint8_t req[PROTO_HDRLEN], *buf;
	size_t len;
	int ch, json = 0, rc;

	while ((ch = getopt_long(argc, argv, CTL_COMMON_SHORT "j", longopts,
	    NULL)) != -1) {
		if (ctl_common_opt(ch, optarg, status_help))
			continue;
		if (ch == 'j')
			json = 1;
		else
			ctl_usage(status_help);
	}
	if (argc != optind)
		ctl_usage(status_help);
	ctl_config(&cf);
	if ((buf = ctl_ask(cf.rundir, "status", req, status_request(req),
	    &len)) == NULL)
		return CTL_EXIT_FAIL;
	rc = decode(buf, len, &st);
	nng_free(buf, len);
	if (rc != 0)
		return CTL_EXIT_FAIL;
	if (json)
		print_json(&st);
	else
		print_text(&st);
	status_free(&st);
	return 0;
}
