/* proto/report: router reports of traffic per backend, decoded as hostile input. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "addr.h"
#include "proto.h"
#include "report.h"

static void
make(struct report *r, struct report_entry *e)
{
	const char *why;
	socklen_t len;

	memset(e, 0, 2 * sizeof(*e));
	assert_int_equal(addr_parse("192.0.2.1:53", 12, 53, &e[0].addr, &len, &why), 0);
	assert_int_equal(addr_parse("[2001:db8::1]:5300", 18, 53, &e[1].addr, &len, &why), 0);
	e[0].answered = 10;
	e[0].failed = 2;
	e[1].answered = 0;
	e[1].failed = 7;
	r->router = 3;
	r->n = 2;
	r->e = e;
}

static void
test_round_trip_keeps_addresses_and_counts(void **state)
{
	struct report r, d;
	struct report_entry e[2];
	uint8_t *buf;
	size_t len;
	const char *why;

	(void)state;
	make(&r, e);
	assert_int_equal(report_encode(&r, &buf, &len), 0);
	assert_int_equal(report_decode(buf, len, &d, &why), 0);
	assert_int_equal(d.router, 3);
	assert_int_equal(d.n, 2);
	assert_true(addr_equal((struct sockaddr *)&d.e[0].addr, (struct sockaddr *)&e[0].addr));
	assert_true(addr_equal((struct sockaddr *)&d.e[1].addr, (struct sockaddr *)&e[1].addr));
	assert_int_equal(d.e[0].answered, 10);
	assert_int_equal(d.e[0].failed, 2);
	assert_int_equal(d.e[1].failed, 7);
	free(d.e);
	free(buf);
}

static void
test_every_truncation_is_rejected(void **state)
{
	struct report r, d;
	struct report_entry e[2];
	uint8_t *buf, *copy;
	size_t len, n;
	const char *why;

	(void)state;
	make(&r, e);
	assert_int_equal(report_encode(&r, &buf, &len), 0);
	for (n = 0; n < len; n++) {
		copy = malloc(n ? n : 1);
		memcpy(copy, buf, n);
		if (n >= PROTO_HDRLEN)
			proto_put32(copy + 8, (uint32_t)n);	/* consistent header */
		assert_int_equal(report_decode(copy, n, &d, &why), -1);
		assert_null(d.e);
		free(copy);
	}
	free(buf);
}

static void
test_bad_family_and_wrong_type_are_rejected(void **state)
{
	struct report r, d;
	struct report_entry e[2];
	uint8_t *buf;
	size_t len;
	const char *why;

	(void)state;
	make(&r, e);
	assert_int_equal(report_encode(&r, &buf, &len), 0);
	buf[PROTO_HDRLEN + 8] = 5;
	assert_int_equal(report_decode(buf, len, &d, &why), -1);
	assert_string_equal(why, "bad address family");
	buf[PROTO_HDRLEN + 8] = 4;
	proto_put16(buf + 6, PROTO_TABLE);
	assert_int_equal(report_decode(buf, len, &d, &why), -1);
	free(buf);
}

static void
test_huge_count_in_short_message_is_rejected(void **state)
{
	struct report r, d;
	struct report_entry e[2];
	uint8_t *buf;
	size_t len;
	const char *why;

	(void)state;
	make(&r, e);
	assert_int_equal(report_encode(&r, &buf, &len), 0);
	proto_put32(buf + PROTO_HDRLEN + 4, 0xffffffffu);
	assert_int_equal(report_decode(buf, len, &d, &why), -1);
	free(buf);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip_keeps_addresses_and_counts),
		cmocka_unit_test(test_every_truncation_is_rejected),
		cmocka_unit_test(test_bad_family_and_wrong_type_are_rejected),
		cmocka_unit_test(test_huge_count_in_short_message_is_rejected),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
