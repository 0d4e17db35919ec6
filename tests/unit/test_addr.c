/* common/addr: socket addresses as operators write them. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <arpa/inet.h>
#include <cmocka.h>

#include "addr.h"

static int
parse(const char *s, int defport, struct sockaddr_storage *ss,
    socklen_t *len, const char **why)
{
	*why = NULL;
	memset(ss, 0xa5, sizeof(*ss));
	*len = 0;
	return addr_parse(s, strlen(s), defport, ss, len, why);
}

static void
assert_v4(const struct sockaddr_storage *ss, socklen_t len, const char *ip,
    unsigned port)
{
	const struct sockaddr_in *sin = (const struct sockaddr_in *)ss;
	struct in_addr want;

	assert_int_equal(inet_pton(AF_INET, ip, &want), 1);
	assert_int_equal(ss->ss_family, AF_INET);
	assert_int_equal(len, sizeof(struct sockaddr_in));
	assert_int_equal(ntohs(sin->sin_port), port);
	assert_memory_equal(&sin->sin_addr, &want, sizeof(want));
}

static void
assert_v6(const struct sockaddr_storage *ss, socklen_t len, const char *ip,
    unsigned port)
{
	const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)ss;
	struct in6_addr want;

	assert_int_equal(inet_pton(AF_INET6, ip, &want), 1);
	assert_int_equal(ss->ss_family, AF_INET6);
	assert_int_equal(len, sizeof(struct sockaddr_in6));
	assert_int_equal(ntohs(sin6->sin6_port), port);
	assert_memory_equal(&sin6->sin6_addr, &want, sizeof(want));
	assert_int_equal(sin6->sin6_scope_id, 0);
	assert_int_equal(sin6->sin6_flowinfo, 0);
}

/* s must fail to parse, with a reason that contains reason. */
static void
assert_rejected(const char *s, const char *reason)
{
	struct sockaddr_storage ss;
	socklen_t len;
	const char *why;

	if (parse(s, 53, &ss, &len, &why) != -1)
		fail_msg("'%s' was accepted", s);
	if (why == NULL || strstr(why, reason) == NULL)
		fail_msg("'%s': reason '%s' lacks '%s'", s, why ? why : "(null)",
		    reason);
}

/* Parsing */

static void
test_parse_ipv4_with_port(void **state)
{
	struct sockaddr_storage ss;
	socklen_t len;
	const char *why;

	(void)state;
	assert_int_equal(parse("192.0.2.1:5353", 53, &ss, &len, &why), 0);
	assert_v4(&ss, len, "192.0.2.1", 5353);
}

static void
test_parse_ipv6_with_port(void **state)
{
	struct sockaddr_storage ss;
	socklen_t len;
	const char *why;

	(void)state;
	assert_int_equal(parse("[2001:db8::1]:53", 99, &ss, &len, &why), 0);
	assert_v6(&ss, len, "2001:db8::1", 53);
}

static void
test_parse_ipv4_without_port_uses_default(void **state)
{
	struct sockaddr_storage ss;
	socklen_t len;
	const char *why;

	(void)state;
	assert_int_equal(parse("127.0.0.1", 9153, &ss, &len, &why), 0);
	assert_v4(&ss, len, "127.0.0.1", 9153);
}

static void
test_parse_ipv6_without_port_uses_default(void **state)
{
	struct sockaddr_storage ss;
	socklen_t len;
	const char *why;

	(void)state;
	assert_int_equal(parse("[::1]", 53, &ss, &len, &why), 0);
	assert_v6(&ss, len, "::1", 53);
}

static void
test_parse_port_extremes(void **state)
{
	struct sockaddr_storage ss;
	socklen_t len;
	const char *why;

	(void)state;
	assert_int_equal(parse("10.0.0.1:1", 53, &ss, &len, &why), 0);
	assert_v4(&ss, len, "10.0.0.1", 1);
	assert_int_equal(parse("[::]:65535", 53, &ss, &len, &why), 0);
	assert_v6(&ss, len, "::", 65535);
}

static void
test_parse_reads_only_len_bytes(void **state)
{
	const char *s = "192.0.2.7:53,^[ab]\\.miek";
	struct sockaddr_storage ss;
	socklen_t len;
	const char *why;

	(void)state;
	assert_int_equal(addr_parse(s, 12, 1, &ss, &len, &why), 0);
	assert_v4(&ss, len, "192.0.2.7", 53);
}

static void
test_parse_ipv4_mapped_ipv6_stays_ipv6(void **state)
{
	struct sockaddr_storage ss;
	socklen_t len;
	const char *why;

	(void)state;
	assert_int_equal(parse("[::ffff:192.0.2.1]:53", 53, &ss, &len, &why), 0);
	assert_v6(&ss, len, "::ffff:192.0.2.1", 53);
}

static void
test_parse_rejects_unbracketed_ipv6(void **state)
{
	(void)state;
	assert_rejected("2001:db8::1", "brackets");
	assert_rejected("::1:53", "brackets");
}

static void
test_parse_rejects_bad_brackets(void **state)
{
	(void)state;
	assert_rejected("[::1", "']'");
	assert_rejected("[::1]53", "':port'");
	assert_rejected("[]:53", "host");
}

static void
test_parse_rejects_port_out_of_range(void **state)
{
	(void)state;
	assert_rejected("192.0.2.1:0", "1-65535");
	assert_rejected("192.0.2.1:65536", "1-65535");
	assert_rejected("[::1]:0", "1-65535");
	assert_rejected("[::1]:99999", "1-65535");
}

static void
test_parse_rejects_malformed_port(void **state)
{
	(void)state;
	assert_rejected("192.0.2.1:", "port");
	assert_rejected("192.0.2.1:5x", "port");
	assert_rejected("192.0.2.1:+53", "port");
	assert_rejected("192.0.2.1:-1", "port");
	assert_rejected("192.0.2.1: 53", "port");
	assert_rejected("192.0.2.1:123456789", "port");
	assert_rejected("[::1]:", "port");
}

static void
test_parse_rejects_garbage_hosts(void **state)
{
	(void)state;
	assert_rejected("", "empty");
	assert_rejected(":53", "host");
	assert_rejected("localhost:53", "IPv4");
	assert_rejected("192.0.2:53", "IPv4");
	assert_rejected("192.0.2.1.5:53", "IPv4");
	assert_rejected("256.0.0.1:53", "IPv4");
	assert_rejected(" 192.0.2.1:53", "IPv4");
	assert_rejected("[1::2::3]:53", "IPv6");
	assert_rejected("[::1%lo]:53", "IPv6");
	assert_rejected("[0000:0000:0000:0000:0000:0000:0000:0000:0000:0000]:53",
	    "host");
}

static void
test_parse_rejects_embedded_nul(void **state)
{
	/* Values from etcd may hold NUL bytes: "1.2.3.4\0junk" is not 1.2.3.4. */
	static const char v4[] = "192.0.2.1\0junk:53";
	static const char v6[] = "[::1\0junk]:53";
	struct sockaddr_storage ss;
	socklen_t len;
	const char *why = NULL;

	(void)state;
	assert_int_equal(addr_parse(v4, sizeof(v4) - 1, 53, &ss, &len, &why), -1);
	assert_non_null(why);
	why = NULL;
	assert_int_equal(addr_parse(v6, sizeof(v6) - 1, 53, &ss, &len, &why), -1);
	assert_non_null(why);
}

/* Formatting */

static void
test_format_ipv4(void **state)
{
	struct sockaddr_storage ss;
	socklen_t len;
	const char *why;
	char buf[ADDR_STRLEN];

	(void)state;
	assert_int_equal(parse("192.0.2.1:5300", 53, &ss, &len, &why), 0);
	assert_ptr_equal(addr_format((struct sockaddr *)&ss, buf, sizeof(buf)), buf);
	assert_string_equal(buf, "192.0.2.1:5300");
}

static void
test_format_ipv6_in_brackets_canonical(void **state)
{
	struct sockaddr_storage ss;
	socklen_t len;
	const char *why;
	char buf[ADDR_STRLEN];

	(void)state;
	assert_int_equal(parse("[2001:0DB8:0:0::1]:53", 53, &ss, &len, &why), 0);
	assert_string_equal(addr_format((struct sockaddr *)&ss, buf, sizeof(buf)),
	    "[2001:db8::1]:53");
}

static void
test_format_longest_address_fits_addr_strlen(void **state)
{
	const char *s = "[ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255]:65535";
	struct sockaddr_storage ss;
	socklen_t len;
	const char *why;
	char buf[ADDR_STRLEN];

	(void)state;
	assert_int_equal(parse(s, 53, &ss, &len, &why), 0);
	addr_format((struct sockaddr *)&ss, buf, sizeof(buf));
	assert_string_equal(buf,
	    "[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:65535");
}

static void
test_format_then_parse_gives_same_address(void **state)
{
	static const char *const in[] = { "127.0.0.1:53", "[::1]:5353",
	    "[fe80::1:2:3:4]:1", "0.0.0.0:65535", "[::ffff:10.0.0.1]:53" };
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(in) / sizeof(in[0]); i++) {
		struct sockaddr_storage a, b;
		socklen_t alen, blen;
		const char *why;
		char buf[ADDR_STRLEN];

		assert_int_equal(parse(in[i], 53, &a, &alen, &why), 0);
		addr_format((struct sockaddr *)&a, buf, sizeof(buf));
		assert_int_equal(parse(buf, 53, &b, &blen, &why), 0);
		assert_int_equal(alen, blen);
		assert_true(addr_equal((struct sockaddr *)&a, (struct sockaddr *)&b));
	}
}

/* Comparing */

static int
equal(const char *x, const char *y)
{
	struct sockaddr_storage a, b;
	socklen_t alen, blen;
	const char *why;

	assert_int_equal(parse(x, 53, &a, &alen, &why), 0);
	assert_int_equal(parse(y, 53, &b, &blen, &why), 0);
	return addr_equal((struct sockaddr *)&a, (struct sockaddr *)&b);
}

static void
test_equal_same_address_and_port(void **state)
{
	(void)state;
	assert_true(equal("192.0.2.1:53", "192.0.2.1"));
	assert_true(equal("[2001:db8::1]:53", "[2001:DB8:0::1]"));
}

static void
test_equal_differs_on_port(void **state)
{
	(void)state;
	assert_false(equal("192.0.2.1:53", "192.0.2.1:54"));
	assert_false(equal("[::1]:53", "[::1]:54"));
}

static void
test_equal_differs_on_address(void **state)
{
	(void)state;
	assert_false(equal("192.0.2.1:53", "192.0.2.2:53"));
	assert_false(equal("[::1]:53", "[::2]:53"));
}

static void
test_equal_differs_on_family(void **state)
{
	(void)state;
	assert_false(equal("192.0.2.1:53", "[::ffff:192.0.2.1]:53"));
	assert_false(equal("0.0.0.0:53", "[::]:53"));
}

static void
test_equal_is_false_for_unknown_family(void **state)
{
	struct sockaddr_storage a, b;

	(void)state;
	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	a.ss_family = b.ss_family = AF_UNIX;
	assert_false(addr_equal((struct sockaddr *)&a, (struct sockaddr *)&b));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_ipv4_with_port),
		cmocka_unit_test(test_parse_ipv6_with_port),
		cmocka_unit_test(test_parse_ipv4_without_port_uses_default),
		cmocka_unit_test(test_parse_ipv6_without_port_uses_default),
		cmocka_unit_test(test_parse_port_extremes),
		cmocka_unit_test(test_parse_reads_only_len_bytes),
		cmocka_unit_test(test_parse_ipv4_mapped_ipv6_stays_ipv6),
		cmocka_unit_test(test_parse_rejects_unbracketed_ipv6),
		cmocka_unit_test(test_parse_rejects_bad_brackets),
		cmocka_unit_test(test_parse_rejects_port_out_of_range),
		cmocka_unit_test(test_parse_rejects_malformed_port),
		cmocka_unit_test(test_parse_rejects_garbage_hosts),
		cmocka_unit_test(test_parse_rejects_embedded_nul),
		cmocka_unit_test(test_format_ipv4),
		cmocka_unit_test(test_format_ipv6_in_brackets_canonical),
		cmocka_unit_test(test_format_longest_address_fits_addr_strlen),
		cmocka_unit_test(test_format_then_parse_gives_same_address),
		cmocka_unit_test(test_equal_same_address_and_port),
		cmocka_unit_test(test_equal_differs_on_port),
		cmocka_unit_test(test_equal_differs_on_address),
		cmocka_unit_test(test_equal_differs_on_family),
		cmocka_unit_test(test_equal_is_false_for_unknown_family),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
