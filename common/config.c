/* Config file parsing, defaults, environment overrides and canonical output. */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "addr.h"
#include "config.h"
#include "dnswire.h"

void
config_defaults(struct config *cf)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	const char *why;

	memset(cf, 0, sizeof(*cf));
	cf->nlisten = 1;
	addr_parse("127.0.0.1:53", 12, 53, &cf->listen[0].addr,
	    &cf->listen[0].addrlen, &why);
	cf->workers = n < 1 ? 1 : (n > CONFIG_MAX_WORKERS ? CONFIG_MAX_WORKERS : (int)n);
	strcpy(cf->user, "dnsrouter");
	strcpy(cf->rundir, "/run/dnsrouter");
	strcpy(cf->etcd_prefix, "/dnsrouter/");
	cf->timeout_ms = 1000;
	cf->health_interval_ms = 5000;
	strcpy(cf->health_qname, "id.server.");
	cf->health_qclass = DNS_CLASS_CH;
	cf->health_qtype = DNS_TYPE_TXT;
	cf->health_rise = 2;
	cf->health_fall = 2;
	cf->health_passive_window_ms = 1000;
	cf->health_passive_min_attempts = 20;
	cf->health_passive_failure_percent = 80;
	strcpy(cf->pidfile, "/run/dnsrouter.pid");
	cf->allow_query.any = 1;
	cf->tcp_clients = 1024;
	cf->tcp_clients_per_ip = 16;
	cf->tcp_initial_timeout_ms = 5000;
	cf->tcp_idle_timeout_ms = 10000;
	cf->rrl_window = 15;
	cf->rrl_slip = 2;
	cf->rrl_ipv4_prefix = 24;
	cf->rrl_ipv6_prefix = 56;
	cf->cache_max_ttl_ms = 300000;
	cf->cache_negative_ttl_ms = 60000;
	cf->dnstap_messages = CONFIG_DNSTAP_CLIENT_QUERY |
	    CONFIG_DNSTAP_CLIENT_RESPONSE;
}

int
config_acl_match(const struct config_acl *acl, const struct sockaddr *sa)
{
	return acl->any || netmask_match(acl->m, acl->n, sa);
}

int
config_duration(const char *s, unsigned *ms)
{
	char *end;
	unsigned long long v;
	unsigned long long mult;

	if (!isdigit((unsigned char)s[0]))
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0)
		return -1;
	if (strcmp(end, "ms") == 0 || (v == 0 && *end == '\0'))
		mult = 1;		/* zero needs no unit */
	else if (strcmp(end, "s") == 0)
		mult = 1000;
	else if (strcmp(end, "m") == 0)
		mult = 60000;
	else if (strcmp(end, "h") == 0)
		mult = 3600000;
	else
		return -1;
	if (v > UINT32_MAX / mult)
		return -1;
	*ms = (unsigned)(v * mult);
	return 0;
}

static int
parse_uint(const char *s, unsigned lo, unsigned hi, unsigned *out)
{
	char *end;
	unsigned long v;

	if (!isdigit((unsigned char)s[0]))
		return -1;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < lo || v > hi)
		return -1;
	*out = (unsigned)v;
	return 0;
}

static int
copy_str(char *dst, size_t dstlen, const char *src)
{
	size_t n = strlen(src);

	if (n >= dstlen)
		return -1;
	memcpy(dst, src, n + 1);
	return 0;
}

/* Split s in place into at most max words; returns the count. */
static int
split_words(char *s, char **words, int max)
{
	int n = 0;

	while (*s != '\0') {
		while (isspace((unsigned char)*s))
			s++;
		if (*s == '\0')
			break;
		if (n == max)
			return max + 1;
		words[n++] = s;
		while (*s != '\0' && !isspace((unsigned char)*s))
			s++;
		if (*s != '\0')
			*s++ = '\0';
	}
	return n;
}

/* "yes" or "no" into *out. */
static int
parse_bool(const char *s, int *out, const char **why)
{
	if (strcmp(s, "yes") == 0)
		*out = 1;
	else if (strcmp(s, "no") == 0)
		*out = 0;
	else {
		*why = "must be yes or no";
		return -1;
	}
	return 0;
}

/*
 * Prefixes separated by white space, added to acl; "any" and "none" alone
 * set it to every client or to none. Later lines add to earlier ones.
 */
static int
parse_acl(struct config_acl *acl, char *value, const char **why)
{
	char *w[CONFIG_MAX_ACL + 1];
	int n = split_words(value, w, CONFIG_MAX_ACL), i;

	if (n == 1 && (strcmp(w[0], "any") == 0 || strcmp(w[0], "none") == 0)) {
		acl->any = w[0][0] == 'a';
		acl->n = 0;
		return 0;
	}
	for (i = 0; i < n; i++) {
		if (acl->n == CONFIG_MAX_ACL || i == CONFIG_MAX_ACL) {
			*why = "too many prefixes (at most 64 per list)";
			return -1;
		}
		if (strcmp(w[i], "any") == 0 || strcmp(w[i], "none") == 0) {
			*why = "any and none stand alone on their line";
			return -1;
		}
		if (netmask_parse(w[i], &acl->m[acl->n], why) != 0)
			return -1;
		acl->n++;
	}
	acl->any = 0;
	return 0;
}

static void
write_acl(FILE *fp, const char *key, const struct config_acl *acl)
{
	char b[NETMASK_STRLEN];
	int i;

	fprintf(fp, "%s", key);
	if (acl->any)
		fprintf(fp, " any");
	else if (acl->n == 0)
		fprintf(fp, " none");
	for (i = 0; i < acl->n; i++)
		fprintf(fp, " %s", netmask_format(&acl->m[i], b, sizeof(b)));
	fprintf(fp, "\n");
}

static int
parse_health_query(struct config *cf, char *value, const char **why)
{
	char *w[4];
	int n = split_words(value, w, 3);
	int i, have_type = 0;
	size_t len;

	if (n < 1 || n > 3) {
		*why = "expected: NAME [CLASS] [TYPE], e.g. id.server. CH TXT";
		return -1;
	}
	len = strlen(w[0]);
	if (len + 2 > sizeof(cf->health_qname) || len > DNS_NAME_TEXT_MAX - 2) {
		*why = "name too long";
		return -1;
	}
	if (dns_name_check_text(w[0]) != 0) {
		*why = "bad query name";
		return -1;
	}
	memcpy(cf->health_qname, w[0], len + 1);
	if (len == 0 || cf->health_qname[len - 1] != '.')
		strcat(cf->health_qname, ".");
	cf->health_qclass = DNS_CLASS_IN;
	cf->health_qtype = DNS_TYPE_A;
	for (i = 1; i < n; i++) {
		int c = dns_class_from_name(w[i]);
		int t = dns_type_from_name(w[i]);

		/* ANY is a class and a type: the class only before a type. */
		if (c >= 0 && t >= 0 && !have_type &&
		    (i + 1 == n || dns_type_from_name(w[i + 1]) < 0))
			c = -1;
		if (c >= 0)
			cf->health_qclass = (uint16_t)c;
		else if (t >= 0) {
			cf->health_qtype = (uint16_t)t;
			have_type = 1;
		} else {
			*why = "unknown class or type (use e.g. CH, IN, TXT, SOA, TYPE65)";
			return -1;
		}
	}
	return 0;
}

/* What config_parse remembers across lines: repeatable keys start over. */
struct parse_state {
	int	seen_listen, seen_etcd;
};

struct config_key;
typedef int	(*key_parse_fn)(struct config *, const struct config_key *,
		    char *, struct parse_state *, const char **);
typedef void	(*key_write_fn)(const struct config *, const struct config_key *,
		    FILE *);

enum key_kind {
	K_UINT,		/* unsigned in [lo, hi] */
	K_DURATION,	/* milliseconds in [lo, hi], written with "ms" */
	K_STR,		/* a string of at most size - 1 bytes */
	K_PATH,		/* the same, absolute */
	K_BOOL,		/* yes or no */
	K_ACL,		/* prefixes, or any, or none; later lines add */
	K_CUSTOM,	/* parse and write say */
};

/*
 * Every key, in the order config_write writes them: its readers (what a
 * change of it restarts on reload), how its value is parsed and written,
 * where it goes in struct config, and what an error says.
 */
struct config_key {
	const char	*name;
	int		 readers;
	enum key_kind	 kind;
	size_t		 off, size;	/* field; size for strings */
	unsigned	 lo, hi;	/* K_UINT, K_DURATION */
	int		 words;		/* the value may hold several words */
	int		 omit_empty;	/* K_STR, K_PATH: not written when empty */
	const char	*why;		/* a bad value */
	const char	*why_long;	/* K_STR, K_PATH: one too long */
	key_parse_fn	 parse;		/* K_CUSTOM */
	key_write_fn	 write;		/* K_CUSTOM */
};

#define R	CONFIG_FOR_ROUTERS
#define C	CONFIG_FOR_CONTROLLER
#define F(f)	offsetof(struct config, f), sizeof(((struct config *)0)->f)

static int
parse_listen(struct config *cf, const struct config_key *k, char *value,
    struct parse_state *st, const char **why)
{
	(void)k;
	if (!st->seen_listen) {
		cf->nlisten = 0;	/* the file's addresses replace the default */
		st->seen_listen = 1;
	}
	if (cf->nlisten == CONFIG_MAX_LISTEN) {
		*why = "too many listen addresses";
		return -1;
	}
	if (addr_parse(value, strlen(value), 53, &cf->listen[cf->nlisten].addr,
	    &cf->listen[cf->nlisten].addrlen, why) != 0)
		return -1;
	cf->nlisten++;
	return 0;
}

static void
write_listen(const struct config *cf, const struct config_key *k, FILE *fp)
{
	char a[ADDR_STRLEN];
	int i;

	for (i = 0; i < cf->nlisten; i++)
		fprintf(fp, "%s %s\n", k->name, addr_format((const struct
		    sockaddr *)&cf->listen[i].addr, a, sizeof(a)));
}

static int
parse_rundir(struct config *cf, const struct config_key *k, char *value,
    struct parse_state *st, const char **why)
{
	(void)k; (void)st;
	if (value[0] != '/') {
		*why = "rundir must be an absolute path";
		return -1;
	}
	/* nng ipc paths are limited by sun_path (108 bytes). */
	if (strlen(value) > 80) {
		*why = "rundir path too long (at most 80 characters)";
		return -1;
	}
	copy_str(cf->rundir, sizeof(cf->rundir), value);
	return 0;
}

static void
write_rundir(const struct config *cf, const struct config_key *k, FILE *fp)
{
	fprintf(fp, "%s %s\n", k->name, cf->rundir);
}

static int
parse_etcd(struct config *cf, const struct config_key *k, char *value,
    struct parse_state *st, const char **why)
{
	(void)k;
	if (!st->seen_etcd) {
		cf->netcd = 0;
		st->seen_etcd = 1;
	}
	if (cf->netcd == CONFIG_MAX_ETCD) {
		*why = "too many etcd endpoints";
		return -1;
	}
	if (strncmp(value, "http://", 7) != 0 &&
	    strncmp(value, "https://", 8) != 0) {
		*why = "etcd endpoint must be an http:// or https:// URL";
		return -1;
	}
	if (copy_str(cf->etcd[cf->netcd], CONFIG_STRLEN, value) != 0) {
		*why = "etcd URL too long";
		return -1;
	}
	cf->netcd++;
	return 0;
}

static void
write_etcd(const struct config *cf, const struct config_key *k, FILE *fp)
{
	int i;

	for (i = 0; i < cf->netcd; i++)
		fprintf(fp, "%s %s\n", k->name, cf->etcd[i]);
}

static int
parse_health_query_key(struct config *cf, const struct config_key *k,
    char *value, struct parse_state *st, const char **why)
{
	(void)k; (void)st;
	return parse_health_query(cf, value, why);
}

static void
write_health_query(const struct config *cf, const struct config_key *k,
    FILE *fp)
{
	char cls[16], typ[16];

	fprintf(fp, "%s %s %s %s\n", k->name, cf->health_qname,
	    dns_class_name(cf->health_qclass, cls, sizeof(cls)),
	    dns_type_name(cf->health_qtype, typ, sizeof(typ)));
}

static int
parse_metrics(struct config *cf, const struct config_key *k, char *value,
    struct parse_state *st, const char **why)
{
	(void)k; (void)st;
	if (strcmp(value, "off") == 0 || strcmp(value, "none") == 0) {
		cf->metricslen = 0;
		return 0;
	}
	return addr_parse(value, strlen(value), 9153, &cf->metrics,
	    &cf->metricslen, why);
}

static void
write_metrics(const struct config *cf, const struct config_key *k, FILE *fp)
{
	char a[ADDR_STRLEN];

	if (cf->metricslen != 0)
		fprintf(fp, "%s %s\n", k->name, addr_format((const struct
		    sockaddr *)&cf->metrics, a, sizeof(a)));
}

static int
parse_seccomp(struct config *cf, const struct config_key *k, char *value,
    struct parse_state *st, const char **why)
{
	(void)k; (void)st;
	if (strcmp(value, "on") == 0 || strcmp(value, "yes") == 0)
		cf->seccomp = CONFIG_SECCOMP_ON;
	else if (strcmp(value, "off") == 0 || strcmp(value, "no") == 0)
		cf->seccomp = CONFIG_SECCOMP_OFF;
	else if (strcmp(value, "log") == 0)
		cf->seccomp = CONFIG_SECCOMP_LOG;
	else {
		*why = "must be on, off or log";
		return -1;
	}
	return 0;
}

static void
write_seccomp(const struct config *cf, const struct config_key *k, FILE *fp)
{
	fprintf(fp, "%s %s\n", k->name, cf->seccomp == CONFIG_SECCOMP_ON ? "on" :
	    cf->seccomp == CONFIG_SECCOMP_LOG ? "log" : "off");
}

static int
parse_log_format(struct config *cf, const struct config_key *k, char *value,
    struct parse_state *st, const char **why)
{
	(void)k; (void)st;
	if (strcmp(value, "text") == 0)
		cf->log_json = 0;
	else if (strcmp(value, "json") == 0)
		cf->log_json = 1;
	else {
		*why = "must be text or json";
		return -1;
	}
	return 0;
}

static void
write_log_format(const struct config *cf, const struct config_key *k,
    FILE *fp)
{
	fprintf(fp, "%s %s\n", k->name, cf->log_json ? "json" : "text");
}

/*
 * dnstap unix:/path (absolute, inside rundir: config_validate) or
 * dnstap tcp:ip:port.
 */
static int
parse_dnstap(struct config *cf, const struct config_key *k, char *value,
    struct parse_state *st, const char **why)
{
	struct sockaddr_storage ss;
	socklen_t sslen;

	(void)k; (void)st;
	if (strncmp(value, "unix:", 5) == 0) {
		if (value[5] != '/') {
			*why = "unix: needs an absolute path, e.g. "
			    "unix:/run/dnsrouter/dnstap.sock";
			return -1;
		}
		if (strlen(value + 5) > CONFIG_DNSTAP_PATH_MAX) {
			*why = "socket path too long (at most 107 characters)";
			return -1;
		}
	} else if (strncmp(value, "tcp:", 4) == 0) {
		if (addr_parse(value + 4, strlen(value + 4), 0, &ss, &sslen,
		    why) != 0)
			return -1;
		if (((struct sockaddr_in *)&ss)->sin_port == 0) {
			*why = "tcp: needs an address and a port, e.g. "
			    "tcp:127.0.0.1:6000";
			return -1;
		}
	} else {
		*why = "must be unix:/path or tcp:ip:port";
		return -1;
	}
	copy_str(cf->dnstap, sizeof(cf->dnstap), value);
	return 0;
}

static void
write_dnstap(const struct config *cf, const struct config_key *k, FILE *fp)
{
	if (cf->dnstap[0] != '\0')
		fprintf(fp, "%s %s\n", k->name, cf->dnstap);
}

static const struct {
	const char	*name;
	unsigned	 bit;
} dnstap_names[] = {
	{ "client-query", CONFIG_DNSTAP_CLIENT_QUERY },
	{ "client-response", CONFIG_DNSTAP_CLIENT_RESPONSE },
	{ "forwarder-query", CONFIG_DNSTAP_FORWARDER_QUERY },
	{ "forwarder-response", CONFIG_DNSTAP_FORWARDER_RESPONSE },
};

/* dnstap-messages client-query,client-response,...: the schema's names. */
static int
parse_dnstap_messages(struct config *cf, const struct config_key *k,
    char *value, struct parse_state *st, const char **why)
{
	unsigned bits = 0;
	char *s, *name;
	size_t i;

	(void)k; (void)st;
	for (s = value; (name = strsep(&s, ",")) != NULL;) {
		for (i = 0; i < sizeof(dnstap_names) / sizeof(dnstap_names[0]); i++)
			if (strcmp(name, dnstap_names[i].name) == 0)
				break;
		if (i == sizeof(dnstap_names) / sizeof(dnstap_names[0])) {
			*why = "must be a comma-separated list of client-query, "
			    "client-response, forwarder-query, forwarder-response";
			return -1;
		}
		bits |= dnstap_names[i].bit;
	}
	cf->dnstap_messages = bits;
	return 0;
}

static void
write_dnstap_messages(const struct config *cf, const struct config_key *k,
    FILE *fp)
{
	const char *sep = "";
	size_t i;

	fprintf(fp, "%s ", k->name);
	for (i = 0; i < sizeof(dnstap_names) / sizeof(dnstap_names[0]); i++)
		if (cf->dnstap_messages & dnstap_names[i].bit) {
			fprintf(fp, "%s%s", sep, dnstap_names[i].name);
			sep = ",";
		}
	fprintf(fp, "\n");
}

#define CUSTOM(p, w)	K_CUSTOM, 0, 0, 0, 0, 0, 0, NULL, NULL, p, w
#define CUSTOM_WORDS(p, w) K_CUSTOM, 0, 0, 0, 0, 1, 0, NULL, NULL, p, w
#define UINT(f, lo, hi, why)	K_UINT, F(f), lo, hi, 0, 0, why, NULL, NULL, NULL
#define DURATION(f, lo, hi, why) K_DURATION, F(f), lo, hi, 0, 0, why, NULL, NULL, NULL
#define STR(f, omit, why)	K_STR, F(f), 0, 0, 0, omit, NULL, why, NULL, NULL
#define PATH(f, omit, why, why_long) K_PATH, F(f), 0, 0, 0, omit, why, why_long, NULL, NULL
#define BOOL(f)		K_BOOL, F(f), 0, 0, 0, 0, NULL, NULL, NULL, NULL
#define ACL(f)		K_ACL, F(f), 0, 0, 1, 0, NULL, NULL, NULL, NULL

static const struct config_key keys[] = {
	/* both: listen, for the controller spots routes pointing back at us */
	{ "listen", R | C, CUSTOM(parse_listen, write_listen) },
	{ "workers", R, UINT(workers, 1, CONFIG_MAX_WORKERS,
	    "workers must be a number from 1 to 64") },
	{ "user", R | C, STR(user, 0, "user name too long") },
	{ "router-user", R, STR(router_user, 1, "user name too long") },
	{ "rundir", R | C, CUSTOM(parse_rundir, write_rundir) },
	{ "etcd", C, CUSTOM(parse_etcd, write_etcd) },
	{ "etcd-prefix", C, PATH(etcd_prefix, 0, "etcd-prefix must start with '/'",
	    "etcd-prefix too long") },
	{ "etcd-user", C, STR(etcd_user, 1, "user name too long") },
	{ "etcd-password", C, STR(etcd_password, 1, "password too long") },
	{ "etcd-cacert", C, PATH(etcd_cacert, 1, "must be an absolute path",
	    "path too long") },
	{ "etcd-cert", C, PATH(etcd_cert, 1, "must be an absolute path",
	    "path too long") },
	{ "etcd-key", C, PATH(etcd_key, 1, "must be an absolute path",
	    "path too long") },
	{ "routes", C, STR(routes, 1, "path too long") },
	{ "timeout", R | C, DURATION(timeout_ms, 10, 60000,
	    "timeout must be a duration from 10ms to 60s, e.g. 1000ms") },
	{ "health-interval", C, DURATION(health_interval_ms, 100, 3600000,
	    "health-interval must be a duration from 100ms to 1h, e.g. 5s") },
	{ "health-query", C, CUSTOM_WORDS(parse_health_query_key,
	    write_health_query) },
	{ "health-rise", C, UINT(health_rise, 1, 100,
	    "must be a number from 1 to 100") },
	{ "health-fall", C, UINT(health_fall, 1, 100,
	    "must be a number from 1 to 100") },
	{ "health-passive-window", C, DURATION(health_passive_window_ms, 100,
	    10000, "must be a duration from 100ms to 10s, e.g. 1s") },
	{ "health-passive-min-attempts", C, UINT(health_passive_min_attempts, 0,
	    1000000, "must be a number from 0 (no passive health) to 1000000") },
	{ "health-passive-failure-percent", C, UINT(
	    health_passive_failure_percent, 1, 100,
	    "must be a number from 1 to 100") },
	{ "metrics", C, CUSTOM(parse_metrics, write_metrics) },
	{ "pidfile", 0, PATH(pidfile, 0, "pidfile must be an absolute path",
	    "path too long") },
	{ "lameduck", 0, DURATION(lameduck_ms, 0, 60000,
	    "must be a duration from 0s (stop at once) to 60s") },
	{ "allow-query", R, ACL(allow_query) },
	{ "allow-transfer", R, ACL(allow_transfer) },
	{ "acl-drop", R, BOOL(acl_drop) },
	{ "tcp-clients", R, UINT(tcp_clients, 1, 65536,
	    "must be a number from 1 to 65536") },
	{ "tcp-clients-per-ip", R, UINT(tcp_clients_per_ip, 0, 65536,
	    "must be a number from 0 (no limit) to 65536") },
	{ "tcp-initial-timeout", R, DURATION(tcp_initial_timeout_ms, 100, 300000,
	    "must be a duration from 100ms to 300s, e.g. 5s") },
	{ "tcp-idle-timeout", R, DURATION(tcp_idle_timeout_ms, 100, 3600000,
	    "must be a duration from 100ms to 1h, e.g. 10s") },
	{ "rrl-responses-per-second", R, UINT(rrl_responses, 0, 1000000,
	    "must be a number from 0 (off) to 1000000") },
	{ "rrl-errors-per-second", R, UINT(rrl_errors, 0, 1000000,
	    "must be a number from 0 (as rrl-responses-per-second) to 1000000") },
	{ "rrl-nxdomains-per-second", R, UINT(rrl_nxdomains, 0, 1000000,
	    "must be a number from 0 (as rrl-responses-per-second) to 1000000") },
	{ "rrl-window", R, UINT(rrl_window, 1, 3600,
	    "must be a number of seconds from 1 to 3600") },
	{ "rrl-slip", R, UINT(rrl_slip, 0, 10, "must be a number from 0 (never) "
	    "to 10") },
	{ "rrl-ipv4-prefix-length", R, UINT(rrl_ipv4_prefix, 0, 32,
	    "must be a number from 0 to 32") },
	{ "rrl-ipv6-prefix-length", R, UINT(rrl_ipv6_prefix, 0, 128,
	    "must be a number from 0 to 128") },
	{ "rrl-exempt", R, ACL(rrl_exempt) },
	{ "rrl-log-only", R, BOOL(rrl_log_only) },
	{ "cache-size", R, UINT(cache_size, 0, CONFIG_MAX_CACHE,
	    "must be a number of entries from 0 (no cache) to 16777216") },
	{ "cache-max-ttl", R, DURATION(cache_max_ttl_ms, 1000, 604800000,
	    "must be a duration from 1s to 168h") },
	{ "cache-min-ttl", R, DURATION(cache_min_ttl_ms, 0, 86400000,
	    "must be a duration from 0s to 24h") },
	{ "cache-negative-ttl", R, DURATION(cache_negative_ttl_ms, 0, 86400000,
	    "must be a duration from 0s (negative answers not cached) to 24h") },
	{ "cache-stale", R, DURATION(cache_stale_ms, 0, 604800000,
	    "must be a duration from 0s (off) to 168h") },
	{ "seccomp", R | C, CUSTOM(parse_seccomp, write_seccomp) },
	{ "log-format", R | C, CUSTOM(parse_log_format, write_log_format) },
	{ "log-queries", R, UINT(log_queries, 0, 1000000000,
	    "must be a number from 0 (none) to 1000000000: one query in N logged") },
	{ "dnstap", R, CUSTOM(parse_dnstap, write_dnstap) },
	{ "dnstap-messages", R, CUSTOM(parse_dnstap_messages,
	    write_dnstap_messages) },
	{ "dnstap-identity", R, STR(dnstap_identity, 1, "identity too long") },
	{ "dnstap-version", R, STR(dnstap_version, 1, "version too long") },
};

#undef R
#undef C

#define NKEYS	(sizeof(keys) / sizeof(keys[0]))

static const struct config_key *
key_find(const char *name)
{
	size_t i;

	for (i = 0; i < NKEYS; i++)
		if (strcmp(keys[i].name, name) == 0)
			return &keys[i];
	return NULL;
}

/* The field of k in cf. */
#define FIELD(cf, k)	((void *)((char *)(cf) + (k)->off))
#define CFIELD(cf, k)	((const void *)((const char *)(cf) + (k)->off))

static int
key_parse(struct config *cf, const struct config_key *k, char *value,
    struct parse_state *st, const char **why)
{
	unsigned u;

	switch (k->kind) {
	case K_UINT:
	case K_DURATION:
		if ((k->kind == K_DURATION ? config_duration(value, &u) :
		    parse_uint(value, 0, UINT32_MAX, &u)) != 0 ||
		    u < k->lo || u > k->hi) {
			*why = k->why;
			return -1;
		}
		/* workers is an int: the same bits for these values */
		*(unsigned *)FIELD(cf, k) = u;
		return 0;
	case K_PATH:
		if (value[0] != '/') {
			*why = k->why;
			return -1;
		}
		/* FALLTHROUGH */
	case K_STR:
		if (copy_str(FIELD(cf, k), k->size, value) != 0) {
			*why = k->why_long;
			return -1;
		}
		return 0;
	case K_BOOL:
		return parse_bool(value, FIELD(cf, k), why);
	case K_ACL:
		return parse_acl(FIELD(cf, k), value, why);
	case K_CUSTOM:
		return k->parse(cf, k, value, st, why);
	}
	*why = "unknown key";
	return -1;
}

static void
key_write(const struct config *cf, const struct config_key *k, FILE *fp)
{
	const char *s;

	switch (k->kind) {
	case K_UINT:
	case K_DURATION:
		fprintf(fp, "%s %u%s\n", k->name, *(const unsigned *)CFIELD(cf, k),
		    k->kind == K_DURATION ? "ms" : "");
		return;
	case K_STR:
	case K_PATH:
		s = CFIELD(cf, k);
		if (s[0] != '\0' || !k->omit_empty)
			fprintf(fp, "%s %s\n", k->name, s);
		return;
	case K_BOOL:
		fprintf(fp, "%s %s\n", k->name, *(const int *)CFIELD(cf, k) ?
		    "yes" : "no");
		return;
	case K_ACL:
		write_acl(fp, k->name, CFIELD(cf, k));
		return;
	case K_CUSTOM:
		k->write(cf, k, fp);
		return;
	}
}

int
config_parse(struct config *cf, const char *name, const char *text, size_t len,
    char *err, size_t errlen)
{
	const char *p = text, *end = text + len;
	struct parse_state st = { 0, 0 };
	const struct config_key *k;
	int lineno = 0;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
		char line[4096], *key, *value, *s, *hash;
		const char *why = NULL;

		lineno++;
		if (n >= sizeof(line)) {
			snprintf(err, errlen, "%s:%d: line too long", name, lineno);
			return -1;
		}
		memcpy(line, p, n);
		line[n] = '\0';
		p = nl ? nl + 1 : end;
		if (memchr(line, '\0', n) != NULL) {
			snprintf(err, errlen, "%s:%d: NUL byte in line", name, lineno);
			return -1;
		}

		/* A '#' starts a comment at line start or after white space. */
		for (hash = line; (hash = strchr(hash, '#')) != NULL; hash++)
			if (hash == line || isspace((unsigned char)hash[-1])) {
				*hash = '\0';
				break;
			}
		s = line;
		while (isspace((unsigned char)*s))
			s++;
		if (*s == '\0')
			continue;
		key = s;
		while (*s != '\0' && !isspace((unsigned char)*s))
			s++;
		if (*s != '\0')
			*s++ = '\0';
		while (isspace((unsigned char)*s))
			s++;
		value = s;
		s = value + strlen(value);
		while (s > value && isspace((unsigned char)s[-1]))
			*--s = '\0';
		if (*value == '\0') {
			snprintf(err, errlen, "%s:%d: %s: missing value", name,
			    lineno, key);
			return -1;
		}
		if ((k = key_find(key)) == NULL) {
			snprintf(err, errlen, "%s:%d: unknown key '%s'", name,
			    lineno, key);
			return -1;
		}
		if (!k->words && strpbrk(value, " \t")) {
			snprintf(err, errlen, "%s:%d: %s: expected one value, got '%s'",
			    name, lineno, key, value);
			return -1;
		}
		if (key_parse(cf, k, value, &st, &why) != 0) {
			snprintf(err, errlen, "%s:%d: %s '%s': %s", name, lineno,
			    key, value, why);
			return -1;
		}
	}
	return 0;
}

int
config_key_line(const char *path, const char *key)
{
	FILE *fp;
	char *line = NULL, *s;
	size_t cap = 0, klen = strlen(key);
	int lineno = 0, found = 0;

	if ((fp = fopen(path, "r")) == NULL)
		return 0;
	while (getline(&line, &cap, fp) != -1) {
		lineno++;
		for (s = line; isspace((unsigned char)*s); s++)
			;
		if (strncmp(s, key, klen) == 0 &&
		    isspace((unsigned char)s[klen]))
			found = lineno;
	}
	free(line);
	fclose(fp);
	return found;
}

int
config_load(struct config *cf, const char *path, char *err, size_t errlen)
{
	FILE *fp;
	char *buf = NULL;
	size_t cap = 0, len = 0, n;
	int rc;

	if ((fp = fopen(path, "r")) == NULL) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	for (;;) {
		if (len == cap) {
			char *nb;

			if (cap >= (1 << 20)) {
				snprintf(err, errlen, "%s: file too large", path);
				free(buf);
				fclose(fp);
				return -1;
			}
			cap = cap ? cap * 2 : 4096;
			if ((nb = realloc(buf, cap)) == NULL) {
				snprintf(err, errlen, "%s: out of memory", path);
				free(buf);
				fclose(fp);
				return -1;
			}
			buf = nb;
		}
		n = fread(buf + len, 1, cap - len, fp);
		len += n;
		if (n == 0)
			break;
	}
	if (ferror(fp)) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		free(buf);
		fclose(fp);
		return -1;
	}
	fclose(fp);
	rc = config_parse(cf, path, buf, len, err, errlen);
	free(buf);
	return rc;
}

int
config_apply_env(struct config *cf, char *err, size_t errlen)
{
	const char *v, *why;

	if ((v = getenv("DNS_ADDR")) != NULL && *v != '\0') {
		if (addr_parse(v, strlen(v), 53, &cf->listen[0].addr,
		    &cf->listen[0].addrlen, &why) != 0) {
			snprintf(err, errlen, "DNS_ADDR '%s': %s", v, why);
			return -1;
		}
		cf->nlisten = 1;
	}
	if ((v = getenv("ETCD_MACHINES")) != NULL && *v != '\0') {
		const char *p = v;

		cf->netcd = 0;
		while (*p != '\0') {
			const char *comma = strchr(p, ',');
			size_t n = comma ? (size_t)(comma - p) : strlen(p);

			if (n > 0) {
				if (cf->netcd == CONFIG_MAX_ETCD ||
				    n >= CONFIG_STRLEN) {
					snprintf(err, errlen,
					    "ETCD_MACHINES: too many or too long URLs");
					return -1;
				}
				if (strncmp(p, "http://", 7) != 0 &&
				    strncmp(p, "https://", 8) != 0) {
					snprintf(err, errlen, "ETCD_MACHINES '%.*s': "
					    "must be an http:// or https:// URL",
					    (int)n, p);
					return -1;
				}
				memcpy(cf->etcd[cf->netcd], p, n);
				cf->etcd[cf->netcd][n] = '\0';
				cf->netcd++;
			}
			p += n + (comma ? 1 : 0);
		}
	}
	return 0;
}

int
config_validate(const struct config *cf, char *err, size_t errlen)
{
	int i, j;

	if ((cf->etcd_user[0] != '\0') != (cf->etcd_password[0] != '\0')) {
		snprintf(err, errlen, "etcd-user and etcd-password go together");
		return -1;
	}
	if ((cf->etcd_cert[0] != '\0') != (cf->etcd_key[0] != '\0')) {
		snprintf(err, errlen, "etcd-cert and etcd-key go together");
		return -1;
	}

	if (cf->nlisten == 0) {
		snprintf(err, errlen, "no listen address: set 'listen' or DNS_ADDR");
		return -1;
	}
	if (strncmp(cf->dnstap, "unix:", 5) == 0) {
		const char *path = cf->dnstap + 5;
		size_t n = strlen(cf->rundir);

		/* Routers are chrooted into rundir: the socket must be there. */
		if (strncmp(path, cf->rundir, n) != 0 || path[n] != '/' ||
		    path[n + 1] == '\0') {
			snprintf(err, errlen, "dnstap %.120s: the socket must be "
			    "inside rundir %.100s (the routers' chroot)", path,
			    cf->rundir);
			return -1;
		}
	}
	for (i = 0; i < cf->nlisten; i++)
		for (j = i + 1; j < cf->nlisten; j++)
			if (addr_equal((const struct sockaddr *)&cf->listen[i].addr,
			    (const struct sockaddr *)&cf->listen[j].addr)) {
				char a[ADDR_STRLEN];

				snprintf(err, errlen, "listen address %s given twice",
				    addr_format((const struct sockaddr *)
				    &cf->listen[i].addr, a, sizeof(a)));
				return -1;
			}
	return 0;
}

int
config_write(const struct config *cf, FILE *fp)
{
	size_t i;

	for (i = 0; i < NKEYS; i++)
		key_write(cf, &keys[i], fp);
	return ferror(fp) ? -1 : 0;
}

int
config_key_readers(const char *key)
{
	const struct config_key *k = key_find(key);

	return k != NULL ? k->readers : CONFIG_FOR_ROUTERS | CONFIG_FOR_CONTROLLER;
}

char *
config_text_for(const struct config *cf, int readers)
{
	char *buf = NULL, *line, *next, *out, key[64];
	size_t len = 0, n;
	FILE *fp;

	if ((fp = open_memstream(&buf, &len)) == NULL)
		return NULL;
	if (config_write(cf, fp) != 0) {
		fclose(fp);
		free(buf);
		return NULL;
	}
	if (fclose(fp) != 0) {
		free(buf);
		return NULL;
	}
	out = buf;
	for (line = buf; *line != '\0'; line = next) {
		next = strchr(line, '\n');
		next = next != NULL ? next + 1 : line + strlen(line);
		n = strcspn(line, " \n");
		snprintf(key, sizeof(key), "%.*s", (int)(n < 63 ? n : 63), line);
		if ((config_key_readers(key) & readers) == 0)
			continue;
		n = (size_t)(next - line);
		memmove(out, line, n);
		out += n;
	}
	*out = '\0';
	return buf;
}

int
config_read_fd(struct config *cf, int fd, char *err, size_t errlen)
{
	char *buf = NULL, *nb;
	size_t len = 0, cap = 0;
	ssize_t n;
	int rc;

	/* pread: siblings share this file description and its offset. */
	for (;;) {
		if (len == cap) {
			cap = cap ? cap * 2 : 4096;
			if ((nb = realloc(buf, cap)) == NULL) {
				free(buf);
				snprintf(err, errlen, "out of memory");
				return -1;
			}
			buf = nb;
		}
		if ((n = pread(fd, buf + len, cap - len, (off_t)len)) < 0) {
			if (errno == EINTR)
				continue;
			snprintf(err, errlen, "config fd %d: %s", fd, strerror(errno));
			free(buf);
			return -1;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	config_defaults(cf);
	rc = config_parse(cf, "<config from master>", buf, len, err, errlen);
	free(buf);
	return rc;
}
