/*
 * common/config: defaults, every key, every error with file:line and a
 * reason, environment overrides, validation, and the written form that
 * the master hands to its children.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <cmocka.h>

#include "addr.h"
#include "config.h"
#include "dnswire.h"

#define ERRLEN 512

static int
parse(struct config *cf, const char *text, char *err)
{
	config_defaults(cf);
	err[0] = '\0';
	return config_parse(cf, "t.conf", text, strlen(text), err, ERRLEN);
}

/* cf must have been parsed without error. */
static void
parse_ok(struct config *cf, const char *text)
{
	char err[ERRLEN];

	if (parse(cf, text, err) != 0)
		fail_msg("'%s' rejected: %s", text, err);
}

/* text must be rejected with an error that starts with prefix and holds reason. */
static void
parse_fails(const char *text, const char *prefix, const char *reason)
{
	struct config cf;
	char err[ERRLEN];

	if (parse(&cf, text, err) != -1)
		fail_msg("'%s' accepted", text);
	if (strncmp(err, prefix, strlen(prefix)) != 0)
		fail_msg("'%s': error '%s' does not start with '%s'", text, err,
		    prefix);
	if (strstr(err, reason) == NULL)
		fail_msg("'%s': error '%s' lacks '%s'", text, err, reason);
}

static void
assert_addr(const struct sockaddr_storage *ss, const char *want)
{
	char buf[ADDR_STRLEN];

	assert_string_equal(addr_format((const struct sockaddr *)ss, buf,
	    sizeof(buf)), want);
}

/* Defaults */

static void
test_defaults_match_design(void **state)
{
	struct config cf;
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);

	(void)state;
	config_defaults(&cf);
	assert_int_equal(cf.nlisten, 1);
	assert_addr(&cf.listen[0].addr, "127.0.0.1:53");
	assert_int_equal(cf.listen[0].addrlen, sizeof(struct sockaddr_in));
	assert_int_equal(cf.workers, ncpu < 1 ? 1 :
	    ncpu > CONFIG_MAX_WORKERS ? CONFIG_MAX_WORKERS : ncpu);
	assert_string_equal(cf.user, "dnsrouter");
	assert_string_equal(cf.rundir, "/run/dnsrouter");
	assert_int_equal(cf.netcd, 0);
	assert_string_equal(cf.etcd_prefix, "/dnsrouter/");
	assert_string_equal(cf.routes, "");
	assert_int_equal(cf.timeout_ms, 1000);
	assert_int_equal(cf.health_interval_ms, 5000);
	assert_string_equal(cf.health_qname, "id.server.");
	assert_int_equal(cf.health_qclass, DNS_CLASS_CH);
	assert_int_equal(cf.health_qtype, DNS_TYPE_TXT);
	assert_int_equal(cf.health_rise, 2);
	assert_int_equal(cf.health_fall, 2);
	assert_int_equal(cf.health_passive_window_ms, 1000);
	assert_int_equal(cf.health_passive_min_attempts, 20);
	assert_int_equal(cf.health_passive_failure_percent, 80);
	assert_int_equal(cf.metricslen, 0);
	assert_string_equal(cf.pidfile, "/run/dnsrouter.pid");
}

static void
test_empty_file_keeps_defaults(void **state)
{
	struct config a, b;

	(void)state;
	config_defaults(&a);
	parse_ok(&b, "");
	assert_memory_equal(&a, &b, sizeof(a));
	parse_ok(&b, "\n\n   \n\t\n# only a comment\n");
	assert_memory_equal(&a, &b, sizeof(a));
}

/* Every key */

static const char design_example[] =
	"listen 127.0.0.1:53            # repeatable; IPv4 or [IPv6]:port\n"
	"workers 2\n"
	"user dnsrouter                 # routers and controller run as this user\n"
	"rundir /run/dnsrouter          # nng endpoints live here\n"
	"etcd http://127.0.0.1:2379     # repeatable endpoints; none = no etcd\n"
	"etcd-prefix /dnsrouter/\n"
	"routes /etc/dnsrouter/routes   # optional static routes file\n"
	"timeout 1000ms                 # per attempt to a backend\n"
	"health-interval 5s\n"
	"health-query id.server. CH TXT\n"
	"health-rise 2                  # consecutive passes to come back\n"
	"health-fall 2                  # consecutive failures to go down\n"
	"metrics 127.0.0.1:9153         # Prometheus text at /metrics\n"
	"pidfile /run/dnsrouter.pid     # daemon mode only\n";

static void
test_design_example_parses(void **state)
{
	struct config cf;

	(void)state;
	parse_ok(&cf, design_example);
	assert_int_equal(cf.nlisten, 1);
	assert_addr(&cf.listen[0].addr, "127.0.0.1:53");
	assert_int_equal(cf.workers, 2);
	assert_int_equal(cf.netcd, 1);
	assert_string_equal(cf.etcd[0], "http://127.0.0.1:2379");
	assert_string_equal(cf.routes, "/etc/dnsrouter/routes");
	assert_int_equal(cf.timeout_ms, 1000);
	assert_int_equal(cf.health_interval_ms, 5000);
	assert_string_equal(cf.health_qname, "id.server.");
	assert_int_equal(cf.health_qclass, DNS_CLASS_CH);
	assert_int_equal(cf.health_qtype, DNS_TYPE_TXT);
	assert_int_not_equal(cf.metricslen, 0);
	assert_addr(&cf.metrics, "127.0.0.1:9153");
}

static void
test_every_key_sets_its_field(void **state)
{
	struct config cf;

	(void)state;
	parse_ok(&cf,
	    "listen 192.0.2.1:5300\n"
	    "workers 7\n"
	    "user nobody\n"
	    "rundir /var/run/dr\n"
	    "etcd https://etcd.example:2379\n"
	    "etcd-prefix /skydns/routes/\n"
	    "routes /etc/dr/routes\n"
	    "timeout 250ms\n"
	    "health-interval 2m\n"
	    "health-query version.bind. CH TXT\n"
	    "health-rise 3\n"
	    "health-fall 5\n"
	    "metrics [::1]:9100\n"
	    "pidfile /var/run/dr.pid\n");
	assert_int_equal(cf.nlisten, 1);
	assert_addr(&cf.listen[0].addr, "192.0.2.1:5300");
	assert_int_equal(cf.workers, 7);
	assert_string_equal(cf.user, "nobody");
	assert_string_equal(cf.rundir, "/var/run/dr");
	assert_int_equal(cf.netcd, 1);
	assert_string_equal(cf.etcd[0], "https://etcd.example:2379");
	assert_string_equal(cf.etcd_prefix, "/skydns/routes/");
	assert_string_equal(cf.routes, "/etc/dr/routes");
	assert_int_equal(cf.timeout_ms, 250);
	assert_int_equal(cf.health_interval_ms, 120000);
	assert_string_equal(cf.health_qname, "version.bind.");
	assert_int_equal(cf.health_qclass, DNS_CLASS_CH);
	assert_int_equal(cf.health_qtype, DNS_TYPE_TXT);
	assert_int_equal(cf.health_rise, 3);
	assert_int_equal(cf.health_fall, 5);
	assert_int_equal(cf.metricslen, sizeof(struct sockaddr_in6));
	assert_addr(&cf.metrics, "[::1]:9100");
	assert_string_equal(cf.pidfile, "/var/run/dr.pid");
}

static void
test_first_listen_replaces_default_and_listen_repeats(void **state)
{
	struct config cf;

	(void)state;
	parse_ok(&cf, "listen 192.0.2.1:53\nworkers 1\nlisten [2001:db8::53]:5353\n"
	    "listen 0.0.0.0\n");
	assert_int_equal(cf.nlisten, 3);
	assert_addr(&cf.listen[0].addr, "192.0.2.1:53");
	assert_int_equal(cf.listen[0].addrlen, sizeof(struct sockaddr_in));
	assert_addr(&cf.listen[1].addr, "[2001:db8::53]:5353");
	assert_int_equal(cf.listen[1].addrlen, sizeof(struct sockaddr_in6));
	assert_addr(&cf.listen[2].addr, "0.0.0.0:53");
}

static void
test_listen_without_port_means_53(void **state)
{
	struct config cf;

	(void)state;
	parse_ok(&cf, "listen [::1]\n");
	assert_int_equal(cf.nlisten, 1);
	assert_addr(&cf.listen[0].addr, "[::1]:53");
}

static void
test_listen_more_than_max_is_an_error(void **state)
{
	char text[CONFIG_MAX_LISTEN * 32 + 64], *p = text;
	int i;

	(void)state;
	for (i = 0; i <= CONFIG_MAX_LISTEN; i++)
		p += sprintf(p, "listen 127.0.0.1:%d\n", 5300 + i);
	parse_fails(text, "t.conf:17:", "too many");
}

static void
test_etcd_repeats_in_order(void **state)
{
	struct config cf;

	(void)state;
	parse_ok(&cf, "etcd http://10.0.0.1:2379\netcd https://10.0.0.2:2379\n"
	    "etcd http://[2001:db8::1]:2379\n");
	assert_int_equal(cf.netcd, 3);
	assert_string_equal(cf.etcd[0], "http://10.0.0.1:2379");
	assert_string_equal(cf.etcd[1], "https://10.0.0.2:2379");
	assert_string_equal(cf.etcd[2], "http://[2001:db8::1]:2379");
}

static void
test_workers_bounds_1_and_64_are_accepted(void **state)
{
	struct config cf;

	(void)state;
	parse_ok(&cf, "workers 1\n");
	assert_int_equal(cf.workers, 1);
	parse_ok(&cf, "workers 64\n");
	assert_int_equal(cf.workers, 64);
}

static void
test_durations_take_ms_s_m_units(void **state)
{
	struct config cf;

	(void)state;
	parse_ok(&cf, "timeout 10ms\nhealth-interval 100ms\n");
	assert_int_equal(cf.timeout_ms, 10);
	assert_int_equal(cf.health_interval_ms, 100);
	parse_ok(&cf, "timeout 60s\nhealth-interval 1m\n");
	assert_int_equal(cf.timeout_ms, 60000);
	assert_int_equal(cf.health_interval_ms, 60000);
	parse_ok(&cf, "timeout 1m\nhealth-interval 60m\n");
	assert_int_equal(cf.timeout_ms, 60000);
	assert_int_equal(cf.health_interval_ms, 3600000);
}

static void
test_config_duration_converts_to_ms(void **state)
{
	unsigned ms = 0;

	(void)state;
	assert_int_equal(config_duration("1000ms", &ms), 0);
	assert_int_equal(ms, 1000);
	assert_int_equal(config_duration("5s", &ms), 0);
	assert_int_equal(ms, 5000);
	assert_int_equal(config_duration("2m", &ms), 0);
	assert_int_equal(ms, 120000);
	assert_int_equal(config_duration("0ms", &ms), 0);
	assert_int_equal(ms, 0);
	assert_int_equal(config_duration("4294967295ms", &ms), 0);
	assert_int_equal(ms, 4294967295u);
}

static void
test_config_duration_rejects_bad_text(void **state)
{
	static const char *const bad[] = { "", "5", "ms", "s5", "-5s", "+5s",
	    " 5s", "5 s", "5S", "5sec", "1.5s", "5ms ", "0x10ms", "4294968s",
	    "99999999999999999999999ms", "4294967296ms" };
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		unsigned ms = 12345;

		if (config_duration(bad[i], &ms) != -1)
			fail_msg("duration '%s' accepted as %u ms", bad[i], ms);
		assert_int_equal(ms, 12345);
	}
}

static void
test_health_query_defaults_class_in_type_a(void **state)
{
	struct config cf;

	(void)state;
	parse_ok(&cf, "health-query example.org\n");
	assert_string_equal(cf.health_qname, "example.org.");
	assert_int_equal(cf.health_qclass, DNS_CLASS_IN);
	assert_int_equal(cf.health_qtype, DNS_TYPE_A);
}

static void
test_health_query_type_only(void **state)
{
	struct config cf;

	(void)state;
	parse_ok(&cf, "health-query example.org. SOA\n");
	assert_string_equal(cf.health_qname, "example.org.");
	assert_int_equal(cf.health_qclass, DNS_CLASS_IN);
	assert_int_equal(cf.health_qtype, 6);
}

static void
test_health_query_class_only(void **state)
{
	struct config cf;

	(void)state;
	parse_ok(&cf, "health-query hostname.bind. CH\n");
	assert_int_equal(cf.health_qclass, DNS_CLASS_CH);
	assert_int_equal(cf.health_qtype, DNS_TYPE_A);
}

static void
test_health_query_lower_case_and_either_order(void **state)
{
	struct config cf;

	(void)state;
	parse_ok(&cf, "health-query id.server. ch txt\n");
	assert_int_equal(cf.health_qclass, DNS_CLASS_CH);
	assert_int_equal(cf.health_qtype, DNS_TYPE_TXT);
	parse_ok(&cf, "health-query id.server. TXT CH\n");
	assert_int_equal(cf.health_qclass, DNS_CLASS_CH);
	assert_int_equal(cf.health_qtype, DNS_TYPE_TXT);
}

static void
test_health_query_generic_type_and_class(void **state)
{
	struct config cf;

	(void)state;
	parse_ok(&cf, "health-query x. CLASS254 TYPE65534\n");
	assert_int_equal(cf.health_qclass, 254);
	assert_int_equal(cf.health_qtype, 65534);
}

static void
test_health_query_any_is_type_after_class(void **state)
{
	/* ANY names both a class and a type: after a class it is the type. */
	struct config cf;

	(void)state;
	parse_ok(&cf, "health-query example.org. IN ANY\n");
	assert_int_equal(cf.health_qclass, DNS_CLASS_IN);
	assert_int_equal(cf.health_qtype, 255);
}

static void
test_health_query_any_is_class_before_type(void **state)
{
	struct config cf;

	(void)state;
	parse_ok(&cf, "health-query example.org. ANY TXT\n");
	assert_int_equal(cf.health_qclass, 255);
	assert_int_equal(cf.health_qtype, DNS_TYPE_TXT);
}

static void
test_health_query_any_alone_is_the_type(void **state)
{
	struct config cf;

	(void)state;
	parse_ok(&cf, "health-query example.org. ANY\n");
	assert_int_equal(cf.health_qclass, DNS_CLASS_IN);
	assert_int_equal(cf.health_qtype, 255);
	parse_ok(&cf, "health-query example.org. TXT ANY\n");
	assert_int_equal(cf.health_qclass, 255);
	assert_int_equal(cf.health_qtype, DNS_TYPE_TXT);
}

static void
test_health_query_root_name(void **state)
{
	struct config cf;

	(void)state;
	parse_ok(&cf, "health-query . NS\n");
	assert_string_equal(cf.health_qname, ".");
	assert_int_equal(cf.health_qtype, 2);
}

static void
test_health_query_extra_spaces_between_words(void **state)
{
	struct config cf;

	(void)state;
	parse_ok(&cf, "health-query   id.server.\t CH   TXT  \n");
	assert_string_equal(cf.health_qname, "id.server.");
	assert_int_equal(cf.health_qclass, DNS_CLASS_CH);
	assert_int_equal(cf.health_qtype, DNS_TYPE_TXT);
}

static void
test_metrics_off_and_default_port(void **state)
{
	struct config cf;

	(void)state;
	parse_ok(&cf, "metrics 127.0.0.1:9153\nmetrics off\n");
	assert_int_equal(cf.metricslen, 0);
	parse_ok(&cf, "metrics 0.0.0.0\n");
	assert_addr(&cf.metrics, "0.0.0.0:9153");
}

static void
test_comments_blank_lines_and_crlf(void **state)
{
	struct config cf;

	(void)state;
	parse_ok(&cf,
	    "# dnsrouter\n"
	    "\n"
	    "   # indented comment\n"
	    "\t\n"
	    "workers 3 # three\r\n"
	    "user web#admin\n"
	    "\tetcd-prefix\t/x/#not-a-comment\t\n"
	    "health-rise 4");		/* no final newline */
	assert_int_equal(cf.workers, 3);
	assert_string_equal(cf.user, "web#admin");
	assert_string_equal(cf.etcd_prefix, "/x/#not-a-comment");
	assert_int_equal(cf.health_rise, 4);
}

static void
test_later_line_overrides_earlier(void **state)
{
	struct config cf;

	(void)state;
	parse_ok(&cf, "workers 3\nworkers 5\n");
	assert_int_equal(cf.workers, 5);
}

/* Errors: file:line and a reason */

static void
test_error_unknown_key(void **state)
{
	(void)state;
	parse_fails("workers 2\n\n# c\nfrobnicate yes\n", "t.conf:4:",
	    "unknown key 'frobnicate'");
	parse_fails("Workers 2\n", "t.conf:1:", "unknown key");
}

static void
test_error_missing_value(void **state)
{
	(void)state;
	parse_fails("workers 2\nuser\n", "t.conf:2:", "missing value");
	parse_fails("listen   # nothing\n", "t.conf:1:", "missing value");
}

static void
test_error_two_values(void **state)
{
	(void)state;
	parse_fails("workers 2 3\n", "t.conf:1:", "one value");
	parse_fails("listen 127.0.0.1:53 [::1]:53\n", "t.conf:1:", "one value");
}

static void
test_error_bad_listen_address(void **state)
{
	(void)state;
	parse_fails("listen 127.0.0:53\n", "t.conf:1:", "IPv4");
	parse_fails("listen localhost:53\n", "t.conf:1:", "IPv4");
	parse_fails("listen ::1\n", "t.conf:1:", "brackets");
	parse_fails("\nlisten [::1\n", "t.conf:2:", "']'");
}

static void
test_error_listen_port_0_and_65536(void **state)
{
	(void)state;
	parse_fails("listen 127.0.0.1:0\n", "t.conf:1:", "1-65535");
	parse_fails("listen 127.0.0.1:65536\n", "t.conf:1:", "1-65535");
	parse_fails("listen [::1]:0\n", "t.conf:1:", "1-65535");
}

static void
test_error_workers_out_of_range(void **state)
{
	(void)state;
	parse_fails("workers 0\n", "t.conf:1:", "1 to 64");
	parse_fails("workers 65\n", "t.conf:1:", "1 to 64");
	parse_fails("workers -1\n", "t.conf:1:", "1 to 64");
	parse_fails("workers two\n", "t.conf:1:", "1 to 64");
	parse_fails("workers 4x\n", "t.conf:1:", "1 to 64");
	parse_fails("workers 99999999999999999999\n", "t.conf:1:", "1 to 64");
}

static void
test_error_duration_without_unit_or_malformed(void **state)
{
	(void)state;
	parse_fails("timeout 1000\n", "t.conf:1:", "duration");
	parse_fails("timeout 1s5\n", "t.conf:1:", "duration");
	parse_fails("timeout fast\n", "t.conf:1:", "duration");
	parse_fails("health-interval 5\n", "t.conf:1:", "duration");
	parse_fails("health-interval 5 s\n", "t.conf:1:", "one value");
}

static void
test_error_duration_out_of_range(void **state)
{
	(void)state;
	parse_fails("timeout 9ms\n", "t.conf:1:", "10ms to 60s");
	parse_fails("timeout 60001ms\n", "t.conf:1:", "10ms to 60s");
	parse_fails("timeout 0ms\n", "t.conf:1:", "10ms to 60s");
	parse_fails("health-interval 99ms\n", "t.conf:1:", "100ms to 1h");
	parse_fails("health-interval 61m\n", "t.conf:1:", "100ms to 1h");
}

static void
test_error_relative_rundir_and_pidfile(void **state)
{
	(void)state;
	parse_fails("rundir run/dnsrouter\n", "t.conf:1:", "absolute");
	parse_fails("pidfile dnsrouter.pid\n", "t.conf:1:", "absolute");
}

static void
test_error_rundir_too_long_for_ipc_paths(void **state)
{
	char text[200];

	(void)state;
	snprintf(text, sizeof(text), "rundir /%0100d\n", 0);
	parse_fails(text, "t.conf:1:", "too long");
}

static void
test_error_bad_health_query(void **state)
{
	(void)state;
	parse_fails("health-query id.server. XX TXT\n", "t.conf:1:",
	    "unknown class or type");
	parse_fails("health-query id.server. CH BOGUS\n", "t.conf:1:",
	    "unknown class or type");
	parse_fails("health-query id.server. CH TXT IN\n", "t.conf:1:",
	    "NAME [CLASS] [TYPE]");
	parse_fails("health-query id..server.\n", "t.conf:1:", "bad query name");
}

static void
test_error_health_rise_fall_out_of_range(void **state)
{
	(void)state;
	parse_fails("health-rise 0\n", "t.conf:1:", "1 to 100");
	parse_fails("health-fall 101\n", "t.conf:1:", "1 to 100");
}

static void
test_health_passive_keys(void **state)
{
	struct config cf;

	(void)state;
	config_defaults(&cf);
	parse_ok(&cf, "health-passive-window 500ms\n"
	    "health-passive-min-attempts 0\n"
	    "health-passive-failure-percent 100\n");
	assert_int_equal(cf.health_passive_window_ms, 500);
	assert_int_equal(cf.health_passive_min_attempts, 0);
	assert_int_equal(cf.health_passive_failure_percent, 100);
	parse_fails("health-passive-window 50ms\n", "t.conf:1:", "100ms to 10s");
	parse_fails("health-passive-window 11s\n", "t.conf:1:", "100ms to 10s");
	parse_fails("health-passive-window 5\n", "t.conf:1:", "100ms to 10s");
	parse_fails("health-passive-min-attempts -1\n", "t.conf:1:",
	    "0 (no passive health)");
	parse_fails("health-passive-failure-percent 0\n", "t.conf:1:",
	    "1 to 100");
	parse_fails("health-passive-failure-percent 101\n", "t.conf:1:",
	    "1 to 100");
}

static void
test_error_etcd_without_http_scheme(void **state)
{
	(void)state;
	parse_fails("etcd 127.0.0.1:2379\n", "t.conf:1:", "http://");
	parse_fails("etcd ftp://127.0.0.1:2379\n", "t.conf:1:", "http://");
}

static void
test_error_etcd_prefix_not_absolute(void **state)
{
	(void)state;
	parse_fails("etcd-prefix dnsrouter/\n", "t.conf:1:", "'/'");
}

static void
test_error_bad_metrics_address(void **state)
{
	(void)state;
	parse_fails("metrics localhost:9153\n", "t.conf:1:", "IPv4");
	parse_fails("metrics 127.0.0.1:0\n", "t.conf:1:", "1-65535");
}

static void
test_error_nul_byte_and_overlong_line(void **state)
{
	static const char nul[] = "workers 2\nuser a\0b\n";
	char *big;
	struct config cf;
	char err[ERRLEN];

	(void)state;
	config_defaults(&cf);
	assert_int_equal(config_parse(&cf, "t.conf", nul, sizeof(nul) - 1, err,
	    sizeof(err)), -1);
	assert_non_null(strstr(err, "t.conf:2:"));
	assert_non_null(strstr(err, "NUL"));

	big = malloc(10000);
	assert_non_null(big);
	memcpy(big, "user ", 5);
	memset(big + 5, 'u', 9000);
	strcpy(big + 9005, "\n");
	parse_fails(big, "t.conf:1:", "too long");
	free(big);
}

static void
test_error_names_the_file(void **state)
{
	struct config cf;
	char err[ERRLEN];
	const char *text = "workers 2\nworkers 0\n";

	(void)state;
	config_defaults(&cf);
	assert_int_equal(config_parse(&cf, "/etc/dnsrouter/dnsrouter.conf", text,
	    strlen(text), err, sizeof(err)), -1);
	assert_int_equal(strncmp(err, "/etc/dnsrouter/dnsrouter.conf:2: ", 33), 0);
}

/* config_load */

static void
test_load_reads_a_file(void **state)
{
	char path[] = "/tmp/test_config.XXXXXX";
	struct config cf;
	char err[ERRLEN];
	int fd;
	FILE *fp;

	(void)state;
	assert_true((fd = mkstemp(path)) >= 0);
	assert_non_null(fp = fdopen(fd, "w"));
	fputs("workers 3\nlisten [::1]:5353\n", fp);
	fclose(fp);
	config_defaults(&cf);
	assert_int_equal(config_load(&cf, path, err, sizeof(err)), 0);
	assert_int_equal(cf.workers, 3);
	assert_addr(&cf.listen[0].addr, "[::1]:5353");

	fp = fopen(path, "w");
	assert_non_null(fp);
	fputs("workers 3\nbogus 1\n", fp);
	fclose(fp);
	config_defaults(&cf);
	assert_int_equal(config_load(&cf, path, err, sizeof(err)), -1);
	assert_int_equal(strncmp(err, path, strlen(path)), 0);
	assert_non_null(strstr(err, ":2: unknown key"));
	unlink(path);
}

static void
test_load_missing_file_names_it(void **state)
{
	struct config cf;
	char err[ERRLEN];

	(void)state;
	config_defaults(&cf);
	assert_int_equal(config_load(&cf, "/nonexistent/dnsrouter.conf", err,
	    sizeof(err)), -1);
	assert_non_null(strstr(err, "/nonexistent/dnsrouter.conf"));
}

/* config_apply_env */

static int
clear_env(void **state)
{
	(void)state;
	unsetenv("DNS_ADDR");
	unsetenv("ETCD_MACHINES");
	return 0;
}

static void
test_env_dns_addr_replaces_every_listen(void **state)
{
	struct config cf;
	char err[ERRLEN];

	(void)state;
	parse_ok(&cf, "listen 192.0.2.1:53\nlisten 192.0.2.2:53\n");
	setenv("DNS_ADDR", "127.0.0.1:5353", 1);
	assert_int_equal(config_apply_env(&cf, err, sizeof(err)), 0);
	assert_int_equal(cf.nlisten, 1);
	assert_addr(&cf.listen[0].addr, "127.0.0.1:5353");
}

static void
test_env_dns_addr_ipv6_and_default_port(void **state)
{
	struct config cf;
	char err[ERRLEN];

	(void)state;
	config_defaults(&cf);
	setenv("DNS_ADDR", "[::1]", 1);
	assert_int_equal(config_apply_env(&cf, err, sizeof(err)), 0);
	assert_int_equal(cf.nlisten, 1);
	assert_addr(&cf.listen[0].addr, "[::1]:53");
}

static void
test_env_etcd_machines_comma_list_replaces_etcd(void **state)
{
	struct config cf;
	char err[ERRLEN];

	(void)state;
	parse_ok(&cf, "etcd http://192.0.2.9:2379\n");
	setenv("ETCD_MACHINES", "http://10.0.0.1:2379,https://10.0.0.2:2379", 1);
	assert_int_equal(config_apply_env(&cf, err, sizeof(err)), 0);
	assert_int_equal(cf.netcd, 2);
	assert_string_equal(cf.etcd[0], "http://10.0.0.1:2379");
	assert_string_equal(cf.etcd[1], "https://10.0.0.2:2379");
}

static void
test_env_etcd_machines_skips_empty_items(void **state)
{
	struct config cf;
	char err[ERRLEN];

	(void)state;
	config_defaults(&cf);
	setenv("ETCD_MACHINES", ",http://10.0.0.1:2379,,", 1);
	assert_int_equal(config_apply_env(&cf, err, sizeof(err)), 0);
	assert_int_equal(cf.netcd, 1);
	assert_string_equal(cf.etcd[0], "http://10.0.0.1:2379");
}

static void
test_env_unset_or_empty_changes_nothing(void **state)
{
	struct config a, b;
	char err[ERRLEN];

	(void)state;
	parse_ok(&a, "listen 192.0.2.1:53\netcd http://192.0.2.9:2379\n");
	b = a;
	assert_int_equal(config_apply_env(&b, err, sizeof(err)), 0);
	assert_memory_equal(&a, &b, sizeof(a));
	setenv("DNS_ADDR", "", 1);
	setenv("ETCD_MACHINES", "", 1);
	assert_int_equal(config_apply_env(&b, err, sizeof(err)), 0);
	assert_memory_equal(&a, &b, sizeof(a));
}

static void
test_env_bad_dns_addr_is_an_error(void **state)
{
	struct config cf;
	char err[ERRLEN];

	(void)state;
	config_defaults(&cf);
	setenv("DNS_ADDR", "dns.example:53", 1);
	assert_int_equal(config_apply_env(&cf, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "DNS_ADDR"));
	assert_non_null(strstr(err, "dns.example:53"));
	setenv("DNS_ADDR", "127.0.0.1:0", 1);
	assert_int_equal(config_apply_env(&cf, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "1-65535"));
}

static void
test_env_bad_etcd_machines_is_an_error(void **state)
{
	struct config cf;
	char err[ERRLEN];

	(void)state;
	config_defaults(&cf);
	setenv("ETCD_MACHINES", "http://10.0.0.1:2379,10.0.0.2:2379", 1);
	assert_int_equal(config_apply_env(&cf, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "ETCD_MACHINES"));
	assert_non_null(strstr(err, "'10.0.0.2:2379'"));
}

/* config_validate */

static void
test_validate_accepts_distinct_listens(void **state)
{
	struct config cf;
	char err[ERRLEN];

	(void)state;
	parse_ok(&cf, "listen 127.0.0.1:53\nlisten 127.0.0.1:54\nlisten [::1]:53\n"
	    "listen 0.0.0.0:53\n");
	assert_int_equal(config_validate(&cf, err, sizeof(err)), 0);
}

static void
test_validate_rejects_duplicate_listen(void **state)
{
	struct config cf;
	char err[ERRLEN];

	(void)state;
	/* The same address spelled two ways. */
	parse_ok(&cf, "listen [::1]:5353\nlisten 127.0.0.1\nlisten [0::1]:5353\n");
	assert_int_equal(config_validate(&cf, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "[::1]:5353"));
	assert_non_null(strstr(err, "twice"));
}

static void
test_validate_rejects_no_listen(void **state)
{
	struct config cf;
	char err[ERRLEN];

	(void)state;
	config_defaults(&cf);
	cf.nlisten = 0;
	assert_int_equal(config_validate(&cf, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "listen"));
}

/* config_write */

static void
assert_config_equal(const struct config *a, const struct config *b)
{
	int i;

	assert_int_equal(a->nlisten, b->nlisten);
	for (i = 0; i < a->nlisten; i++) {
		assert_int_equal(a->listen[i].addrlen, b->listen[i].addrlen);
		assert_true(addr_equal((const struct sockaddr *)&a->listen[i].addr,
		    (const struct sockaddr *)&b->listen[i].addr));
	}
	assert_int_equal(a->workers, b->workers);
	assert_string_equal(a->user, b->user);
	assert_string_equal(a->rundir, b->rundir);
	assert_int_equal(a->netcd, b->netcd);
	for (i = 0; i < a->netcd; i++)
		assert_string_equal(a->etcd[i], b->etcd[i]);
	assert_string_equal(a->etcd_prefix, b->etcd_prefix);
	assert_string_equal(a->routes, b->routes);
	assert_int_equal(a->timeout_ms, b->timeout_ms);
	assert_int_equal(a->health_interval_ms, b->health_interval_ms);
	assert_string_equal(a->health_qname, b->health_qname);
	assert_int_equal(a->health_qclass, b->health_qclass);
	assert_int_equal(a->health_qtype, b->health_qtype);
	assert_int_equal(a->health_rise, b->health_rise);
	assert_int_equal(a->health_fall, b->health_fall);
	assert_int_equal(a->metricslen, b->metricslen);
	if (a->metricslen != 0)
		assert_true(addr_equal((const struct sockaddr *)&a->metrics,
		    (const struct sockaddr *)&b->metrics));
	assert_string_equal(a->pidfile, b->pidfile);
	/* Nothing else differs either (both start from config_defaults). */
	assert_memory_equal(a, b, sizeof(*a));
}

static void
test_etcd_auth_and_tls_keys(void **state)
{
	struct config cf;
	char err[ERRLEN];

	(void)state;
	parse_ok(&cf, "etcd https://127.0.0.1:2379\netcd-user root\n"
	    "etcd-password pw\netcd-cacert /ca.pem\netcd-cert /c.pem\n"
	    "etcd-key /c.key\n");
	assert_string_equal(cf.etcd_user, "root");
	assert_string_equal(cf.etcd_password, "pw");
	assert_string_equal(cf.etcd_cacert, "/ca.pem");
	assert_string_equal(cf.etcd_cert, "/c.pem");
	assert_string_equal(cf.etcd_key, "/c.key");
	assert_int_equal(config_validate(&cf, err, sizeof(err)), 0);
	parse_fails("etcd-cacert ca.pem\n", "t.conf:1:", "absolute path");
	parse_fails("etcd-key rel/c.key\n", "t.conf:1:", "absolute path");
}

static void
test_etcd_user_without_password_is_invalid(void **state)
{
	struct config cf;
	char err[ERRLEN];

	(void)state;
	parse_ok(&cf, "etcd-user root\n");
	assert_int_equal(config_validate(&cf, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "etcd-user and etcd-password go together"));
	parse_ok(&cf, "etcd-cert /c.pem\n");
	assert_int_equal(config_validate(&cf, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "etcd-cert and etcd-key go together"));
}

/* Write cf, parse the text over fresh defaults into out. */
static void
write_and_reparse(const struct config *cf, struct config *out)
{
	char *text = NULL, err[ERRLEN];
	size_t len = 0;
	FILE *fp = open_memstream(&text, &len);

	assert_non_null(fp);
	assert_int_equal(config_write(cf, fp), 0);
	assert_int_equal(fclose(fp), 0);
	config_defaults(out);
	if (config_parse(out, "written", text, len, err, sizeof(err)) != 0)
		fail_msg("written config rejected: %s\n%s", err, text);
	free(text);
}

static void
test_write_round_trips_defaults(void **state)
{
	struct config a, b;

	(void)state;
	config_defaults(&a);
	write_and_reparse(&a, &b);
	assert_config_equal(&a, &b);
}

/*
 * Who reads each key config_write emits: the reload decision. A key that
 * config_write gains must get a line here (and in config.c's list).
 */
static void
test_every_written_key_has_its_readers(void **state)
{
	static const struct { const char *key; int readers; } want[] = {
		{ "listen", CONFIG_FOR_ROUTERS | CONFIG_FOR_CONTROLLER },
		{ "workers", CONFIG_FOR_ROUTERS },
		{ "user", CONFIG_FOR_ROUTERS | CONFIG_FOR_CONTROLLER },
		{ "router-user", CONFIG_FOR_ROUTERS },
		{ "rundir", CONFIG_FOR_ROUTERS | CONFIG_FOR_CONTROLLER },
		{ "etcd", CONFIG_FOR_CONTROLLER },
		{ "etcd-prefix", CONFIG_FOR_CONTROLLER },
		{ "etcd-user", CONFIG_FOR_CONTROLLER },
		{ "etcd-password", CONFIG_FOR_CONTROLLER },
		{ "etcd-cacert", CONFIG_FOR_CONTROLLER },
		{ "etcd-cert", CONFIG_FOR_CONTROLLER },
		{ "etcd-key", CONFIG_FOR_CONTROLLER },
		{ "routes", CONFIG_FOR_CONTROLLER },
		{ "timeout", CONFIG_FOR_ROUTERS | CONFIG_FOR_CONTROLLER },
		{ "health-interval", CONFIG_FOR_CONTROLLER },
		{ "health-query", CONFIG_FOR_CONTROLLER },
		{ "health-rise", CONFIG_FOR_CONTROLLER },
		{ "health-fall", CONFIG_FOR_CONTROLLER },
		{ "health-passive-window", CONFIG_FOR_CONTROLLER },
		{ "health-passive-min-attempts", CONFIG_FOR_CONTROLLER },
		{ "health-passive-failure-percent", CONFIG_FOR_CONTROLLER },
		{ "metrics", CONFIG_FOR_CONTROLLER },
		{ "pidfile", 0 },
		{ "lameduck", 0 },
		{ "allow-query", CONFIG_FOR_ROUTERS },
		{ "allow-transfer", CONFIG_FOR_ROUTERS },
		{ "acl-drop", CONFIG_FOR_ROUTERS },
		{ "tcp-clients", CONFIG_FOR_ROUTERS },
		{ "tcp-clients-per-ip", CONFIG_FOR_ROUTERS },
		{ "tcp-initial-timeout", CONFIG_FOR_ROUTERS },
		{ "tcp-idle-timeout", CONFIG_FOR_ROUTERS },
		{ "rrl-responses-per-second", CONFIG_FOR_ROUTERS },
		{ "rrl-errors-per-second", CONFIG_FOR_ROUTERS },
		{ "rrl-nxdomains-per-second", CONFIG_FOR_ROUTERS },
		{ "rrl-window", CONFIG_FOR_ROUTERS },
		{ "rrl-slip", CONFIG_FOR_ROUTERS },
		{ "rrl-ipv4-prefix-length", CONFIG_FOR_ROUTERS },
		{ "rrl-ipv6-prefix-length", CONFIG_FOR_ROUTERS },
		{ "rrl-exempt", CONFIG_FOR_ROUTERS },
		{ "rrl-log-only", CONFIG_FOR_ROUTERS },
		{ "cache-size", CONFIG_FOR_ROUTERS },
		{ "cache-max-ttl", CONFIG_FOR_ROUTERS },
		{ "cache-min-ttl", CONFIG_FOR_ROUTERS },
		{ "cache-negative-ttl", CONFIG_FOR_ROUTERS },
		{ "cache-stale", CONFIG_FOR_ROUTERS },
		{ "seccomp", CONFIG_FOR_ROUTERS | CONFIG_FOR_CONTROLLER },
		{ "log-format", CONFIG_FOR_ROUTERS | CONFIG_FOR_CONTROLLER },
		{ "log-queries", CONFIG_FOR_ROUTERS },
		{ "dnstap", CONFIG_FOR_ROUTERS },
		{ "dnstap-messages", CONFIG_FOR_ROUTERS },
		{ "dnstap-identity", CONFIG_FOR_ROUTERS },
		{ "dnstap-version", CONFIG_FOR_ROUTERS },
	};
	struct config cf;
	char *text, *line, *r, *c;
	size_t i, n;

	(void)state;
	parse_ok(&cf, "listen 127.0.0.1:53\netcd http://127.0.0.1:2379\n"
	    "router-user other\netcd-user u\netcd-password p\n"
	    "etcd-cacert /ca\netcd-cert /c\netcd-key /k\nroutes /r\n"
	    "metrics 127.0.0.1:9153\n");
	assert_non_null(text = config_text_for(&cf, ~0));
	for (line = text; *line != '\0'; line += strcspn(line, "\n") + 1) {
		n = strcspn(line, " \n");
		for (i = 0; i < sizeof(want) / sizeof(want[0]); i++)
			if (strlen(want[i].key) == n &&
			    strncmp(line, want[i].key, n) == 0)
				break;
		if (i == sizeof(want) / sizeof(want[0]))
			fail_msg("config_write emits '%.*s', which this test "
			    "does not know: say who reads it", (int)n, line);
		if (config_key_readers(want[i].key) != want[i].readers)
			fail_msg("%s: readers %d, want %d", want[i].key,
			    config_key_readers(want[i].key), want[i].readers);
	}
	free(text);
	/* What each child is given to compare holds its keys only. */
	assert_non_null(r = config_text_for(&cf, CONFIG_FOR_ROUTERS));
	assert_non_null(c = config_text_for(&cf, CONFIG_FOR_CONTROLLER));
	assert_non_null(strstr(r, "allow-query "));
	assert_null(strstr(r, "etcd"));
	assert_null(strstr(r, "pidfile"));
	assert_non_null(strstr(c, "etcd-prefix "));
	assert_null(strstr(c, "rrl-"));
	assert_non_null(strstr(c, "listen "));
	free(r);
	free(c);
}

static void
test_write_round_trips_every_key(void **state)
{
	struct config a, b;

	(void)state;
	parse_ok(&a,
	    "listen 192.0.2.1:5300\n"
	    "listen [2001:db8::1]:53\n"
	    "listen 0.0.0.0\n"
	    "workers 13\n"
	    "user _dnsrouter\n"
	    "router-user _dnsrouter-router\n"
	    "rundir /var/run/dr\n"
	    "etcd http://10.0.0.1:2379\n"
	    "etcd https://[2001:db8::2]:2379\n"
	    "etcd-prefix /skydns/\n"
	    "etcd-user dr\n"
	    "etcd-password s3cret\n"
	    "etcd-cacert /etc/dr/ca.pem\n"
	    "etcd-cert /etc/dr/client.pem\n"
	    "etcd-key /etc/dr/client.key\n"
	    "routes /etc/dr/routes\n"
	    "timeout 1s\n"
	    "health-interval 2m\n"
	    "health-query Version.Bind CH TXT\n"
	    "health-rise 7\n"
	    "health-fall 9\n"
	    "health-passive-window 2500ms\n"
	    "health-passive-min-attempts 7\n"
	    "health-passive-failure-percent 55\n"
	    "metrics [::]:9100\n"
	    "pidfile /var/run/dr.pid\n"
	    "allow-query 192.0.2.0/24 2001:db8::/32\n"
	    "allow-query 10.1.2.3\n"
	    "allow-transfer 192.0.2.53/32\n"
	    "acl-drop yes\n"
	    "tcp-clients 77\n"
	    "tcp-clients-per-ip 0\n"
	    "tcp-initial-timeout 2500ms\n"
	    "tcp-idle-timeout 1m\n"
	    "rrl-responses-per-second 5\n"
	    "rrl-errors-per-second 6\n"
	    "rrl-nxdomains-per-second 7\n"
	    "rrl-window 30\n"
	    "rrl-slip 0\n"
	    "rrl-ipv4-prefix-length 32\n"
	    "rrl-ipv6-prefix-length 64\n"
	    "rrl-exempt 127.0.0.0/8 ::1\n"
	    "rrl-log-only yes\n"
	    "log-queries 100\n"
	    "dnstap tcp:[::1]:6000\n"
	    "dnstap-messages forwarder-response,client-query\n"
	    "dnstap-identity edge-1\n"
	    "dnstap-version none\n");
	write_and_reparse(&a, &b);
	assert_config_equal(&a, &b);
}

/* dnstap: where, which messages; a unix socket inside rundir. */
static void
test_dnstap_keys(void **state)
{
	struct config cf;
	char err[ERRLEN];

	(void)state;
	config_defaults(&cf);
	assert_string_equal(cf.dnstap, "");
	assert_int_equal(cf.dnstap_messages, CONFIG_DNSTAP_CLIENT_QUERY |
	    CONFIG_DNSTAP_CLIENT_RESPONSE);
	parse_ok(&cf, "dnstap unix:/run/dnsrouter/dnstap.sock\n"
	    "dnstap-messages client-response,forwarder-query,forwarder-response\n");
	assert_string_equal(cf.dnstap, "unix:/run/dnsrouter/dnstap.sock");
	assert_int_equal(cf.dnstap_messages, CONFIG_DNSTAP_CLIENT_RESPONSE |
	    CONFIG_DNSTAP_FORWARDER_QUERY | CONFIG_DNSTAP_FORWARDER_RESPONSE);
	assert_int_equal(config_validate(&cf, err, sizeof(err)), 0);
	parse_ok(&cf, "rundir /var/run/dr\ndnstap unix:/run/dnstap.sock\n");
	assert_int_equal(config_validate(&cf, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "inside rundir /var/run/dr"));
	parse_ok(&cf, "dnstap unix:/run/dnsrouterx/d.sock\n");
	assert_int_equal(config_validate(&cf, err, sizeof(err)), -1);
	parse_ok(&cf, "dnstap tcp:127.0.0.1:6000\n");
	assert_int_equal(config_validate(&cf, err, sizeof(err)), 0);
	parse_fails("dnstap /run/dnsrouter/d.sock\n", "t.conf:1:",
	    "unix:/path or tcp:ip:port");
	parse_fails("dnstap unix:run/d.sock\n", "t.conf:1:", "absolute path");
	parse_fails("dnstap tcp:127.0.0.1\n", "t.conf:1:", "and a port");
	parse_fails("dnstap tcp:nowhere:6000\n", "t.conf:1:", "");
	parse_fails("dnstap-messages client-query,auth-query\n", "t.conf:1:",
	    "client-query, client-response, forwarder-query");
	parse_fails("log-queries -1\n", "t.conf:1:", "one query in N");
}

/* Access lists: any by default for queries, none for transfers; lines add. */
static void
test_acl_lists(void **state)
{
	struct sockaddr_in in = { .sin_family = AF_INET };
	struct sockaddr_in6 in6 = { .sin6_family = AF_INET6 };
	struct config cf;

	(void)state;
	config_defaults(&cf);
	in.sin_addr.s_addr = htonl(0xc0000201);		/* 192.0.2.1 */
	assert_true(config_acl_match(&cf.allow_query, (struct sockaddr *)&in));
	assert_false(config_acl_match(&cf.allow_transfer, (struct sockaddr *)&in));
	parse_ok(&cf, "allow-query 192.0.2.0/25\nallow-query 2001:db8::/32\n");
	assert_int_equal(cf.allow_query.n, 2);
	assert_true(config_acl_match(&cf.allow_query, (struct sockaddr *)&in));
	in.sin_addr.s_addr = htonl(0xc0000281);		/* 192.0.2.129 */
	assert_false(config_acl_match(&cf.allow_query, (struct sockaddr *)&in));
	assert_int_equal(inet_pton(AF_INET6, "2001:db8:ffff::1", &in6.sin6_addr), 1);
	assert_true(config_acl_match(&cf.allow_query, (struct sockaddr *)&in6));
	/* An IPv4-mapped client matches the IPv4 prefix. */
	assert_int_equal(inet_pton(AF_INET6, "::ffff:192.0.2.2", &in6.sin6_addr), 1);
	assert_true(config_acl_match(&cf.allow_query, (struct sockaddr *)&in6));
	parse_ok(&cf, "allow-query none\n");
	assert_false(config_acl_match(&cf.allow_query, (struct sockaddr *)&in6));
	parse_ok(&cf, "allow-query any\n");
	assert_true(config_acl_match(&cf.allow_query, (struct sockaddr *)&in));
}

static void
test_write_round_trips_unusual_health_queries(void **state)
{
	static const char *const q[] = {
		"health-query example.org. IN ANY\n",
		"health-query example.org. ANY TXT\n",
		"health-query example.org. ANY ANY\n",
		"health-query example.org. CLASS254 TYPE65534\n",
		"health-query . IN NS\n",
	};
	struct config a, b;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(q) / sizeof(q[0]); i++) {
		parse_ok(&a, q[i]);
		write_and_reparse(&a, &b);
		assert_int_equal(a.health_qclass, b.health_qclass);
		assert_int_equal(a.health_qtype, b.health_qtype);
		assert_string_equal(a.health_qname, b.health_qname);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults_match_design),
		cmocka_unit_test(test_empty_file_keeps_defaults),
		cmocka_unit_test(test_design_example_parses),
		cmocka_unit_test(test_every_key_sets_its_field),
		cmocka_unit_test(test_first_listen_replaces_default_and_listen_repeats),
		cmocka_unit_test(test_listen_without_port_means_53),
		cmocka_unit_test(test_listen_more_than_max_is_an_error),
		cmocka_unit_test(test_etcd_repeats_in_order),
		cmocka_unit_test(test_workers_bounds_1_and_64_are_accepted),
		cmocka_unit_test(test_durations_take_ms_s_m_units),
		cmocka_unit_test(test_config_duration_converts_to_ms),
		cmocka_unit_test(test_config_duration_rejects_bad_text),
		cmocka_unit_test(test_health_query_defaults_class_in_type_a),
		cmocka_unit_test(test_health_query_type_only),
		cmocka_unit_test(test_health_query_class_only),
		cmocka_unit_test(test_health_query_lower_case_and_either_order),
		cmocka_unit_test(test_health_query_generic_type_and_class),
		cmocka_unit_test(test_health_query_any_is_type_after_class),
		cmocka_unit_test(test_health_query_any_is_class_before_type),
		cmocka_unit_test(test_health_query_any_alone_is_the_type),
		cmocka_unit_test(test_health_query_root_name),
		cmocka_unit_test(test_health_query_extra_spaces_between_words),
		cmocka_unit_test(test_metrics_off_and_default_port),
		cmocka_unit_test(test_comments_blank_lines_and_crlf),
		cmocka_unit_test(test_later_line_overrides_earlier),
		cmocka_unit_test(test_error_unknown_key),
		cmocka_unit_test(test_error_missing_value),
		cmocka_unit_test(test_error_two_values),
		cmocka_unit_test(test_error_bad_listen_address),
		cmocka_unit_test(test_error_listen_port_0_and_65536),
		cmocka_unit_test(test_error_workers_out_of_range),
		cmocka_unit_test(test_error_duration_without_unit_or_malformed),
		cmocka_unit_test(test_error_duration_out_of_range),
		cmocka_unit_test(test_error_relative_rundir_and_pidfile),
		cmocka_unit_test(test_error_rundir_too_long_for_ipc_paths),
		cmocka_unit_test(test_error_bad_health_query),
		cmocka_unit_test(test_error_health_rise_fall_out_of_range),
		cmocka_unit_test(test_health_passive_keys),
		cmocka_unit_test(test_error_etcd_without_http_scheme),
		cmocka_unit_test(test_error_etcd_prefix_not_absolute),
		cmocka_unit_test(test_error_bad_metrics_address),
		cmocka_unit_test(test_error_nul_byte_and_overlong_line),
		cmocka_unit_test(test_error_names_the_file),
		cmocka_unit_test(test_load_reads_a_file),
		cmocka_unit_test(test_load_missing_file_names_it),
		cmocka_unit_test_teardown(test_env_dns_addr_replaces_every_listen,
		    clear_env),
		cmocka_unit_test_teardown(test_env_dns_addr_ipv6_and_default_port,
		    clear_env),
		cmocka_unit_test_teardown(test_env_etcd_machines_comma_list_replaces_etcd,
		    clear_env),
		cmocka_unit_test_teardown(test_env_etcd_machines_skips_empty_items,
		    clear_env),
		cmocka_unit_test_teardown(test_env_unset_or_empty_changes_nothing,
		    clear_env),
		cmocka_unit_test_teardown(test_env_bad_dns_addr_is_an_error,
		    clear_env),
		cmocka_unit_test_teardown(test_env_bad_etcd_machines_is_an_error,
		    clear_env),
		cmocka_unit_test(test_validate_accepts_distinct_listens),
		cmocka_unit_test(test_validate_rejects_duplicate_listen),
		cmocka_unit_test(test_validate_rejects_no_listen),
		cmocka_unit_test(test_etcd_auth_and_tls_keys),
		cmocka_unit_test(test_etcd_user_without_password_is_invalid),
		cmocka_unit_test(test_write_round_trips_defaults),
		cmocka_unit_test(test_write_round_trips_every_key),
		cmocka_unit_test(test_every_written_key_has_its_readers),
		cmocka_unit_test(test_acl_lists),
		cmocka_unit_test(test_dnstap_keys),
		cmocka_unit_test(test_write_round_trips_unusual_health_queries),
	};

	clear_env(NULL);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
