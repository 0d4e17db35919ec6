/*
 * common/route_value: route registrations as backends write them into
 * etcd or the routes file, in the 2014 form "ip:port,regexp" or as JSON.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "addr.h"
#include "route_value.h"

#define ERRLEN 512

static struct route_value rv;

static void
parse_ok(const char *s)
{
	char err[ERRLEN];

	err[0] = '\0';
	if (route_value_parse(s, strlen(s), &rv, err, sizeof(err)) != 0)
		fail_msg("'%s' rejected: %s", s, err);
}

static void
parse_fails(const char *s, const char *reason)
{
	char err[ERRLEN];

	err[0] = '\0';
	if (route_value_parse(s, strlen(s), &rv, err, sizeof(err)) != -1)
		fail_msg("'%s' accepted", s);
	if (strstr(err, reason) == NULL)
		fail_msg("'%s': error '%s' lacks '%s'", s, err, reason);
}

static void
assert_addr(const char *want)
{
	char buf[ADDR_STRLEN];

	assert_string_equal(addr_format((const struct sockaddr *)&rv.addr, buf,
	    sizeof(buf)), want);
	assert_int_equal(rv.addrlen, rv.addr.ss_family == AF_INET6 ?
	    sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in));
}

/* The 2014 form */

static void
test_2014_form(void **state)
{
	(void)state;
	parse_ok("127.0.0.1:5300,^[ab]\\.miek");
	assert_addr("127.0.0.1:5300");
	assert_string_equal(rv.pattern, "^[ab]\\.miek");
	assert_int_equal(rv.priority, 0);
}

static void
test_2014_seed_value(void **state)
{
	(void)state;
	parse_ok("172.17.0.2:53,^[ab]\\.miek");
	assert_addr("172.17.0.2:53");
	assert_string_equal(rv.pattern, "^[ab]\\.miek");
}

static void
test_regexp_may_hold_commas(void **state)
{
	(void)state;
	parse_ok("127.0.0.1:53,^a{1,3}\\.x");
	assert_addr("127.0.0.1:53");
	assert_string_equal(rv.pattern, "^a{1,3}\\.x");
	parse_ok("127.0.0.1:53,,");
	assert_string_equal(rv.pattern, ",");
}

static void
test_ipv6_backend(void **state)
{
	(void)state;
	parse_ok("[::1]:53,^x");
	assert_addr("[::1]:53");
	assert_string_equal(rv.pattern, "^x");
	parse_ok("[2001:db8::53]:5353,\\.nl\\.$");
	assert_addr("[2001:db8::53]:5353");
}

static void
test_reads_only_len_bytes(void **state)
{
	const char *s = "127.0.0.1:53,^ab\nGARBAGE";
	char err[ERRLEN];

	(void)state;
	assert_int_equal(route_value_parse(s, 16, &rv, err, sizeof(err)), 0);
	assert_string_equal(rv.pattern, "^ab");
}

static void
test_longest_regexp_is_accepted(void **state)
{
	char *s = malloc(32 + RT_MAX_PATTERN);

	(void)state;
	assert_non_null(s);
	strcpy(s, "127.0.0.1:53,");
	memset(s + 13, 'x', RT_MAX_PATTERN);
	s[13 + RT_MAX_PATTERN] = '\0';
	parse_ok(s);
	assert_int_equal(strlen(rv.pattern), RT_MAX_PATTERN);
	free(s);
}

/* Cost: regexps written to backtrack are refused, real ones are not. */

static void
test_backtracking_regexps_are_refused(void **state)
{
	(void)state;
	parse_fails("127.0.0.1:53,^(a|a)+$", "too costly");
	parse_fails("127.0.0.1:53,^(\\w|\\w)*(?<!x)$", "too costly");
	parse_fails("{\"addr\":\"127.0.0.1:53\",\"match\":\"^(b|b)+$\"}",
	    "too costly");
}

static void
test_usual_regexps_pass_the_cost_probe(void **state)
{
	(void)state;
	parse_ok("127.0.0.1:53,^[ab]\\.miek");
	parse_ok("127.0.0.1:53,(^|\\.)[cd][^.]*\\.$");
	parse_ok("127.0.0.1:53,^[^c-z][^.]*\\.miek\\.nl\\.$");
	parse_ok("127.0.0.1:53,^(www|mail|ns[0-9]+)\\.example\\.(com|org)\\.$");
	parse_ok("127.0.0.1:53,[0-9]+\\.in-addr\\.arpa\\.$");
}

/* Trimming */

static void
test_trailing_newline_and_crlf_are_trimmed(void **state)
{
	(void)state;
	parse_ok("127.0.0.1:53,^x\n");
	assert_string_equal(rv.pattern, "^x");
	parse_ok("127.0.0.1:53,^x \t\r\n");
	assert_string_equal(rv.pattern, "^x");
}

static void
test_leading_white_space_is_trimmed(void **state)
{
	(void)state;
	parse_ok(" \t127.0.0.1:53,^x");
	assert_addr("127.0.0.1:53");
	parse_ok("\n127.0.0.1:53,^x\n");
	assert_addr("127.0.0.1:53");
	assert_string_equal(rv.pattern, "^x");
	parse_ok("\r\n  {\"addr\":\"127.0.0.1:53\",\"match\":\"^x\"}\n");
	assert_string_equal(rv.pattern, "^x");
}

static void
test_empty_or_blank_value_is_an_error(void **state)
{
	(void)state;
	parse_fails("", "empty");
	parse_fails("  \t\r\n", "empty");
}

/* JSON */

static void
test_json_primary(void **state)
{
	(void)state;
	parse_ok("{\"addr\":\"192.0.2.1:53\",\"match\":\"^miek\\\\.nl\\\\.$\","
	    "\"primary\":true}");
	assert_int_equal(rv.primary, 1);
	assert_int_equal(rv.priority, 0);
	parse_ok("{\"addr\":\"192.0.2.1:53\",\"match\":\"x\",\"primary\":false}");
	assert_int_equal(rv.primary, 0);
	parse_ok("192.0.2.1:53,x");
	assert_int_equal(rv.primary, 0);
	parse_fails("{\"addr\":\"192.0.2.1:53\",\"match\":\"x\",\"primary\":1}",
	    "'primary' must be true or false");
	parse_fails("{\"addr\":\"192.0.2.1:53\",\"match\":\"x\","
	    "\"primary\":\"yes\"}", "'primary' must be true or false");
}

static void
test_json_with_priority(void **state)
{
	(void)state;
	parse_ok("{\"addr\":\"192.0.2.1:53\",\"match\":\"^[ab]\\\\.miek\","
	    "\"priority\":-5}");
	assert_addr("192.0.2.1:53");
	assert_string_equal(rv.pattern, "^[ab]\\.miek");
	assert_int_equal(rv.priority, -5);
	parse_ok("{\"priority\": 1000000, \"match\": \"x\", \"addr\": \"[::1]:53\"}");
	assert_int_equal(rv.priority, 1000000);
	assert_addr("[::1]:53");
}

static void
test_json_without_priority_is_0(void **state)
{
	(void)state;
	parse_ok("{\"addr\":\"[2001:db8::1]:5300\",\"match\":\"^a{1,3}\\\\.x\"}");
	assert_addr("[2001:db8::1]:5300");
	assert_string_equal(rv.pattern, "^a{1,3}\\.x");
	assert_int_equal(rv.priority, 0);
}

static void
test_json_pretty_printed(void **state)
{
	(void)state;
	parse_ok("{\n  \"addr\": \"10.0.0.1:53\",\n  \"match\": \"\\\\.nl\\\\.$\",\n"
	    "  \"priority\": 10\n}\n");
	assert_addr("10.0.0.1:53");
	assert_string_equal(rv.pattern, "\\.nl\\.$");
	assert_int_equal(rv.priority, 10);
}

static void
test_json_bad_syntax(void **state)
{
	(void)state;
	parse_fails("{\"addr\":", "bad JSON");
	parse_fails("{\"addr\":\"127.0.0.1:53\",\"match\":\"x\"} trailing",
	    "bad JSON");
	parse_fails("{'addr':'127.0.0.1:53','match':'x'}", "bad JSON");
	parse_fails("{\"addr\":\"127.0.0.1:53\",\"addr\":\"127.0.0.2:53\","
	    "\"match\":\"x\"}", "bad JSON");
}

static void
test_json_missing_addr(void **state)
{
	(void)state;
	parse_fails("{\"match\":\"x\"}", "'addr'");
	parse_fails("{\"addr\":53,\"match\":\"x\"}", "'addr'");
}

static void
test_json_missing_match(void **state)
{
	(void)state;
	parse_fails("{\"addr\":\"127.0.0.1:53\"}", "'match'");
	parse_fails("{\"addr\":\"127.0.0.1:53\",\"match\":null}", "'match'");
}

static void
test_json_priority_must_be_an_integer_in_range(void **state)
{
	(void)state;
	parse_fails("{\"addr\":\"127.0.0.1:53\",\"match\":\"x\",\"priority\":\"1\"}",
	    "priority");
	parse_fails("{\"addr\":\"127.0.0.1:53\",\"match\":\"x\",\"priority\":1.5}",
	    "priority");
	parse_fails("{\"addr\":\"127.0.0.1:53\",\"match\":\"x\",\"priority\":null}",
	    "priority");
	parse_fails("{\"addr\":\"127.0.0.1:53\",\"match\":\"x\","
	    "\"priority\":1000001}", "priority");
	parse_fails("{\"addr\":\"127.0.0.1:53\",\"match\":\"x\","
	    "\"priority\":-9223372036854775808}", "priority");
}

static void
test_json_unknown_member(void **state)
{
	(void)state;
	parse_fails("{\"addr\":\"127.0.0.1:53\",\"match\":\"x\",\"weight\":1}",
	    "unknown JSON member 'weight'");
}

static void
test_json_bad_address_and_regexp(void **state)
{
	(void)state;
	parse_fails("{\"addr\":\"127.0.0.1\",\"match\":\"x\"}", "port");
	parse_fails("{\"addr\":\"ns1.example:53\",\"match\":\"x\"}", "address");
	parse_fails("{\"addr\":\"127.0.0.1:53\",\"match\":\"(\"}",
	    "does not compile");
	parse_fails("{\"addr\":\"127.0.0.1:53\",\"match\":\"\"}", "empty regexp");
}

static void
test_json_nul_escapes_are_rejected(void **state)
{
	(void)state;
	parse_fails("{\"addr\":\"127.0.0.1:53\",\"match\":\"a\\u0000b\"}",
	    "bad JSON");
	parse_fails("{\"addr\":\"127.0.0.1\\u0000x:53\",\"match\":\"x\"}",
	    "bad JSON");
}

/* Errors in the 2014 form */

static void
test_no_comma(void **state)
{
	(void)state;
	parse_fails("127.0.0.1:53", "ip:port,regexp");
	parse_fails("127.0.0.1:53 ^x", "ip:port,regexp");
}

static void
test_no_port(void **state)
{
	(void)state;
	parse_fails("127.0.0.1,^x", "needs a port");
	parse_fails("[::1],^x", "needs a port");
	parse_fails(",^x", "needs a port");
}

static void
test_bad_address(void **state)
{
	(void)state;
	parse_fails("300.0.0.1:53,^x", "IPv4");
	parse_fails("localhost:53,^x", "IPv4");
	parse_fails("::1:53,^x", "brackets");
	parse_fails("127.0.0.1:0,^x", "1-65535");
	parse_fails("127.0.0.1:65536,^x", "1-65535");
	parse_fails("127.0.0.1:,^x", "port");
}

static void
test_regexp_that_does_not_compile(void **state)
{
	(void)state;
	parse_fails("127.0.0.1:53,^[ab\\.miek", "does not compile");
	parse_fails("127.0.0.1:53,a)", "does not compile");
	parse_fails("127.0.0.1:53,*x", "does not compile");
}

/* The syntax half leaves the regexp to route_value_check_regexp, which says the same. */
static void
test_syntax_alone_does_not_compile_the_regexp(void **state)
{
	const char *v = "127.0.0.1:53,^[ab\\.miek";
	char err[ERRLEN];

	(void)state;
	assert_int_equal(route_value_parse_syntax(v, strlen(v), &rv, err,
	    sizeof(err)), 0);
	assert_string_equal(rv.pattern, "^[ab\\.miek");
	assert_int_equal(route_value_check_regexp(rv.pattern,
	    strlen(rv.pattern), err, sizeof(err)), -1);
	assert_non_null(strstr(err, "does not compile"));
	assert_int_equal(route_value_check_regexp("(a+)+$", 6, err,
	    sizeof(err)), -1);
	assert_non_null(strstr(err, "too costly"));
	/* An empty regexp or a bad address is syntax. */
	v = "127.0.0.1:53,";
	assert_int_equal(route_value_parse_syntax(v, strlen(v), &rv, err,
	    sizeof(err)), -1);
	v = "{\"addr\":\"1.2.3.4\",\"match\":\"(\"}";
	assert_int_equal(route_value_parse_syntax(v, strlen(v), &rv, err,
	    sizeof(err)), -1);
	assert_non_null(strstr(err, "needs a port"));
	v = "{\"addr\":\"1.2.3.4:5\",\"match\":\"(\"}";
	assert_int_equal(route_value_parse_syntax(v, strlen(v), &rv, err,
	    sizeof(err)), 0);
}

static void
test_empty_regexp(void **state)
{
	(void)state;
	parse_fails("127.0.0.1:53,", "empty regexp");
	parse_fails("127.0.0.1:53,\n", "empty regexp");
}

static void
test_regexp_longer_than_limit(void **state)
{
	char *s = malloc(32 + RT_MAX_PATTERN);

	(void)state;
	assert_non_null(s);
	strcpy(s, "127.0.0.1:53,");
	memset(s + 13, 'x', RT_MAX_PATTERN + 1);
	s[14 + RT_MAX_PATTERN] = '\0';
	parse_fails(s, "longer than");
	free(s);
}

static void
test_nul_byte_in_regexp(void **state)
{
	static const char s[] = "127.0.0.1:53,^a\0b";
	char err[ERRLEN];

	(void)state;
	assert_int_equal(route_value_parse(s, sizeof(s) - 1, &rv, err,
	    sizeof(err)), -1);
	assert_non_null(strstr(err, "NUL"));
}

static void
test_nul_byte_in_address(void **state)
{
	/* etcd values are bytes: "127.0.0.1\0x:53" is not 127.0.0.1:53. */
	static const char s[] = "127.0.0.1\0x:53,^x";
	char err[ERRLEN];

	(void)state;
	assert_int_equal(route_value_parse(s, sizeof(s) - 1, &rv, err,
	    sizeof(err)), -1);
	assert_non_null(strstr(err, "NUL"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_2014_form),
		cmocka_unit_test(test_json_primary),
		cmocka_unit_test(test_syntax_alone_does_not_compile_the_regexp),
		cmocka_unit_test(test_2014_seed_value),
		cmocka_unit_test(test_regexp_may_hold_commas),
		cmocka_unit_test(test_ipv6_backend),
		cmocka_unit_test(test_reads_only_len_bytes),
		cmocka_unit_test(test_longest_regexp_is_accepted),
		cmocka_unit_test(test_backtracking_regexps_are_refused),
		cmocka_unit_test(test_usual_regexps_pass_the_cost_probe),
		cmocka_unit_test(test_trailing_newline_and_crlf_are_trimmed),
		cmocka_unit_test(test_leading_white_space_is_trimmed),
		cmocka_unit_test(test_empty_or_blank_value_is_an_error),
		cmocka_unit_test(test_json_with_priority),
		cmocka_unit_test(test_json_without_priority_is_0),
		cmocka_unit_test(test_json_pretty_printed),
		cmocka_unit_test(test_json_bad_syntax),
		cmocka_unit_test(test_json_missing_addr),
		cmocka_unit_test(test_json_missing_match),
		cmocka_unit_test(test_json_priority_must_be_an_integer_in_range),
		cmocka_unit_test(test_json_unknown_member),
		cmocka_unit_test(test_json_bad_address_and_regexp),
		cmocka_unit_test(test_json_nul_escapes_are_rejected),
		cmocka_unit_test(test_no_comma),
		cmocka_unit_test(test_no_port),
		cmocka_unit_test(test_bad_address),
		cmocka_unit_test(test_regexp_that_does_not_compile),
		cmocka_unit_test(test_empty_regexp),
		cmocka_unit_test(test_regexp_longer_than_limit),
		cmocka_unit_test(test_nul_byte_in_regexp),
		cmocka_unit_test(test_nul_byte_in_address),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
