/* proto/report: router reports of traffic per backend and route, decoded as hostile input. */
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

/* Offsets after the header: fixed part, then the first entry. */
#define FIXED		(32 + 4 * REPORT_NGLOBAL)
#define ENTRY0		(PROTO_HDRLEN + FIXED)

static void
make(struct report *r, struct report_entry *e, struct report_route *rt)
{
	const char *why;
	socklen_t len;
	unsigned k;

	memset(r, 0, sizeof(*r));
	memset(e, 0, 2 * sizeof(*e));
	assert_int_equal(addr_parse("192.0.2.1:53", 12, 53, &e[0].addr, &len, &why), 0);
	assert_int_equal(addr_parse("[2001:db8::1]:5300", 18, 53, &e[1].addr, &len, &why), 0);
	e[0].queries = 13;
	e[0].failed = 2;
	e[0].unanswered = 1;
	e[0].rcode[RR_NOERROR] = 8;
	e[0].rcode[RR_NXDOMAIN] = 1;
	e[0].rcode[RR_OTHER] = 1;
	e[0].bucket[0] = 6;
	e[0].bucket[REPORT_NBUCKET - 1] = 4;
	e[0].latency_us = 40000123456ULL;	/* more than 32 bits */
	e[1].queries = 7;
	e[1].failed = 7;
	e[1].unanswered = 7;
	for (k = 0; k < REPORT_NGLOBAL; k++)
		r->global[k] = 100 + k;
	rt[0].index = 0;
	rt[0].queries = 5;
	rt[1].index = 999999;
	rt[1].queries = 0xffffffffu;
	r->router = 3;
	r->epoch = 0x0102030405060708ULL;
	r->generation = 42;
	r->n = 2;
	r->e = e;
	r->nroutes = 2;
	r->routes = rt;
}

static void
test_round_trip_keeps_every_counter(void **state)
{
	struct report r, d;
	struct report_entry e[2];
	struct report_route rt[2];
	uint8_t *buf;
	size_t len;
	const char *why;
	unsigned k;

	(void)state;
	make(&r, e, rt);
	assert_int_equal(report_encode(&r, &buf, &len), 0);
	assert_int_equal(report_decode(buf, len, &d, &why), 0);
	assert_int_equal(d.router, 3);
	assert_true(d.epoch == r.epoch);
	assert_int_equal(d.generation, 42);
	for (k = 0; k < REPORT_NGLOBAL; k++)
		assert_int_equal(d.global[k], 100 + k);
	assert_int_equal(d.n, 2);
	assert_true(addr_equal((struct sockaddr *)&d.e[0].addr, (struct sockaddr *)&e[0].addr));
	assert_true(addr_equal((struct sockaddr *)&d.e[1].addr, (struct sockaddr *)&e[1].addr));
	assert_int_equal(d.e[0].queries, 13);
	assert_int_equal(d.e[0].failed, 2);
	assert_int_equal(d.e[0].unanswered, 1);
	assert_memory_equal(d.e[0].rcode, e[0].rcode, sizeof(e[0].rcode));
	assert_memory_equal(d.e[0].bucket, e[0].bucket, sizeof(e[0].bucket));
	assert_true(d.e[0].latency_us == 40000123456ULL);
	/* answered is not sent: it is the sum of the replies by rcode. */
	assert_int_equal(d.e[0].answered, 10);
	assert_int_equal(d.e[1].answered, 0);
	assert_int_equal(d.e[1].failed, 7);
	assert_int_equal(d.e[1].unanswered, 7);
	assert_int_equal(d.nroutes, 2);
	assert_int_equal(d.routes[0].index, 0);
	assert_int_equal(d.routes[0].queries, 5);
	assert_int_equal(d.routes[1].index, 999999);
	assert_int_equal(d.routes[1].queries, 0xffffffffu);
	report_free(&d);
	assert_null(d.e);
	free(buf);
}

static void
test_empty_report_carries_global_counters(void **state)
{
	struct report r, d;
	uint8_t *buf;
	size_t len;
	const char *why;

	(void)state;
	memset(&r, 0, sizeof(r));
	r.global[RG_REFUSED] = 3;
	assert_int_equal(report_encode(&r, &buf, &len), 0);
	assert_int_equal(len, PROTO_HDRLEN + FIXED);
	assert_int_equal(report_decode(buf, len, &d, &why), 0);
	assert_int_equal(d.global[RG_REFUSED], 3);
	assert_int_equal(d.n, 0);
	assert_int_equal(d.nroutes, 0);
	assert_null(d.e);
	assert_null(d.routes);
	free(buf);
}

static void
test_every_truncation_is_rejected(void **state)
{
	struct report r, d;
	struct report_entry e[2];
	struct report_route rt[2];
	uint8_t *buf, *copy;
	size_t len, n;
	const char *why;

	(void)state;
	make(&r, e, rt);
	assert_int_equal(report_encode(&r, &buf, &len), 0);
	for (n = 0; n < len; n++) {
		copy = malloc(n ? n : 1);
		memcpy(copy, buf, n);
		if (n >= PROTO_HDRLEN)
			proto_put32(copy + 8, (uint32_t)n);	/* consistent header */
		assert_int_equal(report_decode(copy, n, &d, &why), -1);
		assert_null(d.e);
		assert_null(d.routes);
		free(copy);
	}
	free(buf);
}

static void
test_trailing_bytes_are_rejected(void **state)
{
	struct report r, d;
	struct report_entry e[2];
	struct report_route rt[2];
	uint8_t *buf, *big;
	size_t len;
	const char *why;

	(void)state;
	make(&r, e, rt);
	assert_int_equal(report_encode(&r, &buf, &len), 0);
	big = calloc(1, len + 4);
	memcpy(big, buf, len);
	proto_put32(big + 8, (uint32_t)len + 4);
	assert_int_equal(report_decode(big, len + 4, &d, &why), -1);
	free(big);
	free(buf);
}

static void
test_bad_family_and_wrong_type_are_rejected(void **state)
{
	struct report r, d;
	struct report_entry e[2];
	struct report_route rt[2];
	uint8_t *buf;
	size_t len;
	const char *why;

	(void)state;
	make(&r, e, rt);
	assert_int_equal(report_encode(&r, &buf, &len), 0);
	buf[ENTRY0] = 5;
	assert_int_equal(report_decode(buf, len, &d, &why), -1);
	assert_string_equal(why, "bad address family");
	assert_null(d.e);
	assert_null(d.routes);
	buf[ENTRY0] = 4;
	proto_put16(buf + 6, PROTO_TABLE);
	assert_int_equal(report_decode(buf, len, &d, &why), -1);
	free(buf);
}

/* Unanswered failures are some of the failures, never more. */
static void
test_more_unanswered_than_failed_is_rejected(void **state)
{
	struct report r, d;
	struct report_entry e[2];
	struct report_route rt[2];
	uint8_t *buf;
	size_t len;
	const char *why;

	(void)state;
	make(&r, e, rt);
	assert_int_equal(report_encode(&r, &buf, &len), 0);
	/* Entry 0: address (20), queries, failed, unanswered. */
	assert_int_equal(proto_get32(buf + ENTRY0 + 28), 1);
	proto_put32(buf + ENTRY0 + 28, 3);
	assert_int_equal(report_decode(buf, len, &d, &why), -1);
	assert_string_equal(why, "more unanswered failures than failures");
	assert_null(d.e);
	proto_put32(buf + ENTRY0 + 28, 2);
	assert_int_equal(report_decode(buf, len, &d, &why), 0);
	assert_int_equal(d.e[0].unanswered, 2);
	report_free(&d);
	free(buf);
}

static void
test_huge_counts_in_short_message_are_rejected(void **state)
{
	struct report r, d;
	struct report_entry e[2];
	struct report_route rt[2];
	uint8_t *buf;
	size_t len;
	const char *why;

	(void)state;
	make(&r, e, rt);
	assert_int_equal(report_encode(&r, &buf, &len), 0);
	proto_put32(buf + PROTO_HDRLEN + 4, 0xffffffffu);
	assert_int_equal(report_decode(buf, len, &d, &why), -1);
	proto_put32(buf + PROTO_HDRLEN + 4, 2);
	proto_put32(buf + PROTO_HDRLEN + 8, 0xffffffffu);
	assert_int_equal(report_decode(buf, len, &d, &why), -1);
	/* One entry fewer than the bytes hold. */
	proto_put32(buf + PROTO_HDRLEN + 4, 1);
	proto_put32(buf + PROTO_HDRLEN + 8, 2);
	assert_int_equal(report_decode(buf, len, &d, &why), -1);
	assert_null(d.e);
	proto_put32(buf + PROTO_HDRLEN + 4, 2);
	assert_int_equal(report_decode(buf, len, &d, &why), 0);
	report_free(&d);
	free(buf);
}

static void
test_latency_buckets_and_rcodes(void **state)
{
	(void)state;
	assert_int_equal(report_bucket(0), 0);
	assert_int_equal(report_bucket(500), 0);
	assert_int_equal(report_bucket(501), 1);
	assert_int_equal(report_bucket(1000000), 10);
	assert_int_equal(report_bucket(10000000), REPORT_NBUCKET - 2);
	assert_int_equal(report_bucket(10000001), REPORT_NBUCKET - 1);
	assert_int_equal(report_bucket(UINT32_MAX), REPORT_NBUCKET - 1);
	assert_int_equal(report_rcode(0), RR_NOERROR);
	assert_int_equal(report_rcode(5), RR_REFUSED);
	assert_int_equal(report_rcode(9), RR_OTHER);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip_keeps_every_counter),
		cmocka_unit_test(test_empty_report_carries_global_counters),
		cmocka_unit_test(test_every_truncation_is_rejected),
		cmocka_unit_test(test_trailing_bytes_are_rejected),
		cmocka_unit_test(test_bad_family_and_wrong_type_are_rejected),
		cmocka_unit_test(test_more_unanswered_than_failed_is_rejected),
		cmocka_unit_test(test_huge_counts_in_short_message_are_rejected),
		cmocka_unit_test(test_latency_buckets_and_rcodes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
