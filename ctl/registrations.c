/*
 * add, del and list: registrations under the etcd prefix. A registration
 * made by add lives under PREFIX + "ADDR-HASH" (HASH: eight hex digits of
 * the regexp), so adding the same backend and regexp again replaces it.
 */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "addr.h"
#include "ctl.h"
#include "etcd_api.h"
#include "etcdc.h"
#include "log.h"
#include "route_value.h"
#include "util.h"

static const char add_help[] =
    "usage: dnsrouterctl add [-f file] ADDR REGEXP [--priority N] [--primary]\n"
    "           [--ttl S]\n"
    "\n"
    "Register backend ADDR (ip:port or [ipv6]:port) for query names matching\n"
    "REGEXP, under the config's etcd-prefix. Without --priority and --primary\n"
    "the value has the 2014 form 'ADDR,REGEXP'; with either, JSON. Adding the\n"
    "same ADDR and REGEXP again replaces the registration.\n"
    "\n"
    "  --priority N  routes are tried by priority, lower first (default 0)\n"
    "  --primary     ADDR takes the dynamic updates (RFC 2136) of its shard\n"
    "  --ttl S       hold the registration with an etcd lease of S seconds\n"
    "                and keep it alive while dnsrouterctl runs; on SIGINT or\n"
    "                SIGTERM revoke it and exit 0. A registrant that dies\n"
    "                disappears within S seconds.\n";

static const char del_help[] =
    "usage: dnsrouterctl del [-f file] ADDR [REGEXP]\n"
    "\n"
    "Delete every registration under the etcd-prefix of backend ADDR (and\n"
    "only those with regexp REGEXP, if given), whoever wrote it. Exits 1 if\n"
    "none matched.\n";

static const char list_help[] =
    "usage: dnsrouterctl list [-f file]\n"
    "\n"
    "Print every key under the etcd-prefix with its value, one per line:\n"
    "KEY, a tab, VALUE; then '# lease ID' for a key held by a lease and\n"
    "'# bad: REASON' for a value dnsrouter skips.\n";

static volatile sig_atomic_t stop_flag;

/* FNV-1a: stable across runs and machines, which is all a key needs. */
static uint32_t
fnv1a(const char *s)
{
	uint32_t h = 0x811c9dc5u;

	while (*s != '\0')
		h = (h ^ (uint8_t)*s++) * 0x01000193u;
	return h;
}

/* Run getopt for a subcommand that takes only the common options. */
static void
common_opts_only(int argc, char *argv[], const char *help)
{
	static const struct option longopts[] = {
		CTL_COMMON_LONG, { NULL, 0, NULL, 0 }
	};
	int ch;

	while ((ch = getopt_long(argc, argv, CTL_COMMON_SHORT, longopts,
	    NULL)) != -1)
		if (!ctl_common_opt(ch, optarg, help))
			ctl_usage(help);
}

static void
fail_call(const char *what, const char *err)
{
	fprintf(stderr, "dnsrouterctl: %s: %s\n", what, err);
}

/* Put key=value, with lease (0: none). 0, or -1 after saying why. */
static int
put(const char *key, const char *value, int64_t lease)
{
	char err[512], *body = etcd_body_put(key, strlen(key), value,
	    strlen(value), lease);
	json_t *r = etcdc_call(ETCD_PATH_PUT, body, err, sizeof(err));

	free(body);
	if (r == NULL) {
		fail_call("put", err);
		return -1;
	}
	json_decref(r);
	return 0;
}

static int64_t
lease_grant(long ttl)
{
	char err[512], *body = etcd_body_lease_grant(ttl);
	json_t *r = etcdc_call(ETCD_PATH_GRANT, body, err, sizeof(err));
	int64_t id;

	free(body);
	if (r == NULL) {
		fail_call("lease grant", err);
		return 0;
	}
	id = etcd_json_int64(json_object_get(r, "ID"));
	json_decref(r);
	if (id == 0)
		fail_call("lease grant", "no lease ID in the reply");
	return id;
}

/* Remaining TTL of lease id after a keepalive; 0 if it is gone, -1 if etcd could not be asked. */
static int64_t
lease_keepalive(int64_t id)
{
	char err[512], *body = etcd_body_lease(id);
	json_t *r = etcdc_call(ETCD_PATH_KEEPALIVE, body, err, sizeof(err)), *o;
	int64_t ttl;

	free(body);
	if (r == NULL) {
		fail_call("lease keepalive", err);
		return -1;
	}
	if ((o = json_object_get(r, "result")) == NULL)
		o = r;
	ttl = etcd_json_int64(json_object_get(o, "TTL"));
	json_decref(r);
	return ttl > 0 ? ttl : 0;
}

static void
lease_revoke(int64_t id)
{
	char err[512], *body = etcd_body_lease(id);
	json_t *r = etcdc_call(ETCD_PATH_REVOKE, body, err, sizeof(err));

	free(body);
	if (r == NULL)
		fail_call("lease revoke", err);
	json_decref(r);
}

static void
on_signal(int sig)
{
	(void)sig;
	stop_flag = 1;
}

/* Sleep up to secs, returning early once a signal set stop_flag. */
static void
nap(double secs)
{
	struct timespec ts;

	ts.tv_sec = (time_t)secs;
	ts.tv_nsec = (long)((secs - (double)ts.tv_sec) * 1e9);
	while (!stop_flag && nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

/*
 * Hold key=value with a lease of ttl seconds until a signal: keepalive
 * every ttl/3; a lease lost meanwhile (etcd unreachable for longer than
 * ttl) is granted again and the key written again.
 */
static int
hold(const char *key, const char *value, long ttl)
{
	struct sigaction sa;
	int64_t id;
	double every = ttl / 3.0;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;	/* no SA_RESTART: nanosleep returns */
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	if ((id = lease_grant(ttl)) == 0 || put(key, value, id) != 0)
		return CTL_EXIT_FAIL;
	printf("%s\t%s\t# lease %llx, ttl %lds: kept alive until SIGINT or "
	    "SIGTERM\n", key, value, (unsigned long long)id, ttl);
	fflush(stdout);
	while (!stop_flag) {
		nap(every);
		if (stop_flag)
			break;
		if (id != 0) {
			/* Alive, or etcd unreachable: ask again next time. */
			if (lease_keepalive(id) != 0)
				continue;
			fprintf(stderr, "dnsrouterctl: lease %llx expired\n",
			    (unsigned long long)id);
		}
		/* No lease: grant one and write the key again. */
		if ((id = lease_grant(ttl)) != 0 && put(key, value, id) != 0) {
			lease_revoke(id);
			id = 0;
		}
		if (id != 0)
			fprintf(stderr, "dnsrouterctl: %s registered again with "
			    "lease %llx\n", key, (unsigned long long)id);
	}
	if (id != 0)
		lease_revoke(id);
	fprintf(stderr, "dnsrouterctl: %s revoked\n", key);
	return 0;
}

int
cmd_add(int argc, char *argv[])
{
	static const struct option longopts[] = {
		CTL_COMMON_LONG,
		{ "priority", required_argument, NULL, 'p' },
		{ "primary", no_argument, NULL, 'P' },
		{ "ttl", required_argument, NULL, 't' },
		{ NULL, 0, NULL, 0 }
	};
	struct route_value rv;
	struct config cf;
	char err[512], addrbuf[ADDR_STRLEN], *key, *value, *end;
	const char *addr, *regexp;
	long priority = 0, ttl = 0;
	int ch, have_prio = 0, primary = 0, rc;

	while ((ch = getopt_long(argc, argv, CTL_COMMON_SHORT "p:Pt:", longopts,
	    NULL)) != -1) {
		if (ctl_common_opt(ch, optarg, add_help))
			continue;
		switch (ch) {
		case 'p':
			errno = 0;
			priority = strtol(optarg, &end, 10);
			if (errno != 0 || *end != '\0' || end == optarg ||
			    priority < -1000000 || priority > 1000000) {
				fprintf(stderr, "dnsrouterctl: add: --priority "
				    "takes a number from -1000000 to 1000000\n");
				return CTL_EXIT_USAGE;
			}
			have_prio = 1;
			break;
		case 'P':
			primary = 1;
			break;
		case 't':
			errno = 0;
			ttl = strtol(optarg, &end, 10);
			if (errno != 0 || *end != '\0' || end == optarg ||
			    ttl < 1 || ttl > 86400) {
				fprintf(stderr, "dnsrouterctl: add: --ttl takes "
				    "seconds, from 1 to 86400\n");
				return CTL_EXIT_USAGE;
			}
			break;
		default:
			ctl_usage(add_help);
		}
	}
	if (argc - optind != 2)
		ctl_usage(add_help);
	addr = argv[optind];
	regexp = argv[optind + 1];

	if (have_prio || primary) {
		json_t *o = json_pack("{s:s,s:s}", "addr", addr, "match", regexp);

		if (o != NULL && have_prio)
			json_object_set_new(o, "priority",
			    json_integer((json_int_t)priority));
		if (o != NULL && primary)
			json_object_set_new(o, "primary", json_true());
		if (o == NULL || (value = json_dumps(o, JSON_COMPACT)) == NULL)
			fatalx("add: cannot build JSON");
		json_decref(o);
	} else {
		value = xmalloc(strlen(addr) + strlen(regexp) + 2);
		sprintf(value, "%s,%s", addr, regexp);
	}
	/* What dnsrouter would reject is not written. */
	if (route_value_parse(value, strlen(value), &rv, err, sizeof(err)) != 0) {
		fprintf(stderr, "dnsrouterctl: add: %s\n", err);
		free(value);
		return CTL_EXIT_FAIL;
	}
	ctl_config_etcd(&cf);
	addr_format((struct sockaddr *)&rv.addr, addrbuf, sizeof(addrbuf));
	key = xmalloc(strlen(cf.etcd_prefix) + sizeof(addrbuf) + 16);
	sprintf(key, "%s%s-%08x", cf.etcd_prefix, addrbuf, fnv1a(regexp));
	etcdc_init(&cf);
	if (ttl > 0)
		rc = hold(key, value, ttl);
	else if ((rc = put(key, value, 0) == 0 ? 0 : CTL_EXIT_FAIL) == 0)
		printf("%s\t%s\n", key, value);
	etcdc_shutdown();
	free(key);
	free(value);
	return rc;
}

/*
 * The backend and regexp of a value, without compiling the regexp (so
 * that del can remove a registration dnsrouter skips). -1 if no address.
 */
static int
value_parts(const char *val, size_t vlen, struct sockaddr_storage *ss,
    char **pattern)
{
	struct route_value rv;
	socklen_t sslen;
	const char *why, *comma;
	char err[256];
	json_error_t jerr;
	json_t *root, *a, *m;
	int rc = -1;

	*pattern = NULL;
	if (route_value_parse(val, vlen, &rv, err, sizeof(err)) == 0) {
		*ss = rv.addr;
		*pattern = xstrdup(rv.pattern);
		return 0;
	}
	while (vlen > 0 && (*val == ' ' || *val == '\t')) {
		val++;
		vlen--;
	}
	if (vlen > 0 && *val == '{') {
		if ((root = json_loadb(val, vlen, 0, &jerr)) == NULL)
			return -1;
		a = json_object_get(root, "addr");
		m = json_object_get(root, "match");
		if (json_is_string(a) && addr_parse(json_string_value(a),
		    json_string_length(a), 53, ss, &sslen, &why) == 0) {
			*pattern = xstrdup(json_is_string(m) ?
			    json_string_value(m) : "");
			rc = 0;
		}
		json_decref(root);
		return rc;
	}
	if ((comma = memchr(val, ',', vlen)) == NULL ||
	    addr_parse(val, (size_t)(comma - val), 53, ss, &sslen, &why) != 0)
		return -1;
	*pattern = xmalloc(vlen - (size_t)(comma - val));
	memcpy(*pattern, comma + 1, vlen - (size_t)(comma - val) - 1);
	(*pattern)[vlen - (size_t)(comma - val) - 1] = '\0';
	return 0;
}

/* List the prefix: the decoded reply, or NULL after saying why. */
static json_t *
range_prefix(const struct config *cf)
{
	char err[512], *body = etcd_body_range_prefix(cf->etcd_prefix, 0);
	json_t *r = etcdc_call(ETCD_PATH_RANGE, body, err, sizeof(err));

	free(body);
	if (r == NULL)
		fail_call("range", err);
	return r;
}

int
cmd_del(int argc, char *argv[])
{
	struct sockaddr_storage want, got;
	struct config cf;
	socklen_t wantlen;
	const char *why, *regexp = NULL;
	char err[512], *pattern, *body;
	json_t *r, *j, *d;
	size_t i;
	int matched = 0, failed = 0;

	common_opts_only(argc, argv, del_help);
	if (argc - optind < 1 || argc - optind > 2)
		ctl_usage(del_help);
	if (addr_parse(argv[optind], strlen(argv[optind]), 53, &want, &wantlen,
	    &why) != 0) {
		fprintf(stderr, "dnsrouterctl: del: address '%s': %s\n",
		    argv[optind], why);
		return CTL_EXIT_USAGE;
	}
	if (argc - optind == 2)
		regexp = argv[optind + 1];
	ctl_config_etcd(&cf);
	etcdc_init(&cf);
	if ((r = range_prefix(&cf)) == NULL) {
		etcdc_shutdown();
		return CTL_EXIT_FAIL;
	}
	json_array_foreach(json_object_get(r, "kvs"), i, j) {
		struct etcd_kv kv;

		if (etcd_kv_decode(j, 0, &kv) != 0)
			continue;
		if (value_parts(kv.val, kv.vlen, &got, &pattern) == 0 &&
		    addr_equal((struct sockaddr *)&want, (struct sockaddr *)&got) &&
		    (regexp == NULL || strcmp(regexp, pattern) == 0)) {
			matched++;
			body = etcd_body_delete(kv.key, kv.klen);
			if ((d = etcdc_call(ETCD_PATH_DELETE, body, err,
			    sizeof(err))) == NULL) {
				fail_call("delete", err);
				failed++;
			} else
				printf("deleted %.*s\n", (int)kv.klen, kv.key);
			json_decref(d);
			free(body);
		}
		free(pattern);
		etcd_kv_clear(&kv);
	}
	json_decref(r);
	etcdc_shutdown();
	if (matched == 0) {
		fprintf(stderr, "dnsrouterctl: del: no registration of %s%s%s "
		    "under %s\n", argv[optind], regexp ? " with " : "",
		    regexp ? regexp : "", cf.etcd_prefix);
		return CTL_EXIT_FAIL;
	}
	return failed ? CTL_EXIT_FAIL : 0;
}

/* Print n bytes of s with control characters escaped (a value is one line). */
static void
print_escaped(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c < 0x20 || c == 0x7f)
			printf("\\x%02x", c);
		else
			putchar(c);
	}
}

int
cmd_list(int argc, char *argv[])
{
	struct route_value rv;
	struct config cf;
	char err[512];
	json_t *r, *j;
	size_t i;

	common_opts_only(argc, argv, list_help);
	if (argc != optind)
		ctl_usage(list_help);
	ctl_config_etcd(&cf);
	etcdc_init(&cf);
	if ((r = range_prefix(&cf)) == NULL) {
		etcdc_shutdown();
		return CTL_EXIT_FAIL;
	}
	json_array_foreach(json_object_get(r, "kvs"), i, j) {
		struct etcd_kv kv;

		if (etcd_kv_decode(j, 0, &kv) != 0) {
			printf("?\t?\t# bad: key or value not base64\n");
			continue;
		}
		fwrite(kv.key, 1, kv.klen, stdout);
		putchar('\t');
		print_escaped(kv.val, kv.vlen);
		if (kv.lease != 0)
			printf("\t# lease %llx", (unsigned long long)kv.lease);
		if (route_value_parse(kv.val, kv.vlen, &rv, err, sizeof(err)) != 0)
			printf("\t# bad: %s", err);
		putchar('\n');
		etcd_kv_clear(&kv);
	}
	json_decref(r);
	etcdc_shutdown();
	return 0;
}
