/*
 * proto/routetable: what the controller sends routers. Encoding round trips;
 * decoding treats the bytes as hostile: every corruption is rejected with a
 * reason, without leaks or reads outside the message (run under ASan).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <cmocka.h>

#include "addr.h"
#include "proto.h"
#include "routetable.h"

/* Offsets in the message of a table with one backend and one route. */
#define OFF_NBACKENDS	(PROTO_HDRLEN + 16)
#define OFF_NROUTES	(PROTO_HDRLEN + 20)
#define OFF_BACKEND0	(PROTO_HDRLEN + 24)
#define OFF_ROUTE0	(OFF_BACKEND0 + 20)
/* In a route: priority, backend count (u32), pattern length, indexes. */
#define ROUTE_NBACKENDS	4
#define ROUTE_PATLEN	8
#define ROUTE_INDEX0	10

static void
set_backend(struct rt_backend *b, const char *addr, uint8_t flags)
{
	const char *why;

	memset(b, 0, sizeof(*b));
	if (addr_parse(addr, strlen(addr), 53, &b->addr, &b->addrlen, &why) != 0)
		fail_msg("%s: %s", addr, why);
	b->flags = flags;
}

static void
set_route(struct rt_route *r, int32_t priority, const char *pattern,
    uint32_t n, const uint32_t *idx)
{
	r->priority = priority;
	r->nbackends = n;
	r->backends = n ? malloc(n * sizeof(*idx)) : NULL;
	if (n)
		memcpy(r->backends, idx, n * sizeof(*idx));
	r->pattern = strdup(pattern);
	assert_non_null(r->pattern);
	r->patlen = (uint16_t)strlen(pattern);
}

/*
 * Three backends (v4 up, v6 down, v4 up) and three routes with negative,
 * zero and positive priority, naming backends in an order of their own.
 */
static struct rt_table *
sample_table(void)
{
	struct rt_table *t = calloc(1, sizeof(*t));
	static const uint32_t r0[] = { 0, 1 }, r1[] = { 2 }, r2[] = { 2, 0, 1 };

	assert_non_null(t);
	t->epoch = 0x0123456789abcdefULL;
	t->generation = 0xfedcba9876543210ULL;
	t->nbackends = 3;
	t->backends = calloc(3, sizeof(*t->backends));
	set_backend(&t->backends[0], "172.17.0.2:53", RT_FLAG_UP);
	set_backend(&t->backends[1], "[2001:db8::1]:5353", 0);
	set_backend(&t->backends[2], "192.0.2.1:65535", RT_FLAG_UP);
	t->nroutes = 3;
	t->routes = calloc(3, sizeof(*t->routes));
	set_route(&t->routes[0], -5, "^[ab]\\.miek", 2, r0);
	set_route(&t->routes[1], 0, "^a{1,3}\\.x", 1, r1);
	set_route(&t->routes[2], 2000000000, "\\.nl\\.$", 3, r2);
	return t;
}

/* One v4 backend and one route naming it: offsets above apply. */
static struct rt_table *
small_table(void)
{
	struct rt_table *t = calloc(1, sizeof(*t));
	static const uint32_t r0[] = { 0 };

	assert_non_null(t);
	t->epoch = 1;
	t->generation = 2;
	t->nbackends = 1;
	t->backends = calloc(1, sizeof(*t->backends));
	set_backend(&t->backends[0], "127.0.0.1:5300", RT_FLAG_UP);
	t->nroutes = 1;
	t->routes = calloc(1, sizeof(*t->routes));
	set_route(&t->routes[0], 0, "miek", 1, r0);
	return t;
}

static void
encode(struct rt_table *t, uint8_t **buf, size_t *len)
{
	assert_int_equal(rt_encode(t, buf, len), 0);
	rt_free(t);
}

/* Decode a copy of buf[0..len) in a block of exactly len bytes. */
static struct rt_table *
decode_exact(const uint8_t *buf, size_t len, const char **why)
{
	uint8_t *copy = malloc(len ? len : 1);
	struct rt_table *t;

	assert_non_null(copy);
	memcpy(copy, buf, len);
	*why = NULL;
	t = rt_decode(copy, len, why);
	free(copy);
	return t;
}

/* The message must be rejected with a reason holding reason. */
static void
assert_rejected(const uint8_t *buf, size_t len, const char *reason)
{
	const char *why;
	struct rt_table *t = decode_exact(buf, len, &why);

	if (t != NULL) {
		rt_free(t);
		fail_msg("corrupt table accepted (expected '%s')", reason);
	}
	if (why == NULL || strstr(why, reason) == NULL)
		fail_msg("reason '%s' lacks '%s'", why ? why : "(null)", reason);
}

static void
assert_tables_equal(const struct rt_table *a, const struct rt_table *b)
{
	uint32_t i;

	assert_int_equal(a->epoch, b->epoch);
	assert_int_equal(a->generation, b->generation);
	assert_int_equal(a->nbackends, b->nbackends);
	assert_int_equal(a->nroutes, b->nroutes);
	for (i = 0; i < a->nbackends; i++) {
		assert_int_equal(a->backends[i].flags, b->backends[i].flags);
		assert_int_equal(a->backends[i].addrlen, b->backends[i].addrlen);
		assert_true(addr_equal((const struct sockaddr *)&a->backends[i].addr,
		    (const struct sockaddr *)&b->backends[i].addr));
	}
	for (i = 0; i < a->nroutes; i++) {
		const struct rt_route *x = &a->routes[i], *y = &b->routes[i];

		assert_int_equal(x->priority, y->priority);
		assert_int_equal(x->nbackends, y->nbackends);
		if (x->nbackends)
			assert_memory_equal(x->backends, y->backends,
			    x->nbackends * sizeof(*x->backends));
		assert_int_equal(x->patlen, y->patlen);
		assert_string_equal(x->pattern, y->pattern);
		assert_int_equal(strlen(y->pattern), y->patlen);
	}
}

/* Round trips */

static void
test_round_trip_keeps_every_field(void **state)
{
	struct rt_table *a = sample_table(), *b;
	uint8_t *buf;
	size_t len;
	const char *why = NULL;

	(void)state;
	assert_int_equal(rt_encode(a, &buf, &len), 0);
	b = decode_exact(buf, len, &why);
	if (b == NULL)
		fail_msg("decode: %s", why);
	assert_tables_equal(a, b);
	assert_int_equal(b->routes[0].priority, -5);
	assert_int_equal(b->routes[2].priority, 2000000000);
	assert_int_equal(b->backends[1].flags, 0);
	assert_int_equal(b->backends[1].addr.ss_family, AF_INET6);
	assert_int_equal(ntohs(((struct sockaddr_in6 *)&b->backends[1].addr)->sin6_port),
	    5353);
	assert_int_equal(ntohs(((struct sockaddr_in *)&b->backends[2].addr)->sin_port),
	    65535);
	assert_int_equal(b->routes[2].backends[0], 2);
	rt_free(a);
	rt_free(b);
	free(buf);
}

static void
test_encoded_header_names_type_version_and_length(void **state)
{
	uint8_t *buf;
	size_t len;
	const char *why = NULL;

	(void)state;
	encode(sample_table(), &buf, &len);
	/* 16 header + 24 fixed + 3 x 20 backends + routes (10 + 4n + pattern) */
	assert_int_equal(len, 16 + 24 + 60 + (10 + 8 + 11) + (10 + 4 + 10) +
	    (10 + 12 + 7));
	assert_int_equal(proto_check_hdr(buf, len, &why), PROTO_TABLE);
	assert_int_equal(proto_get32(buf), PROTO_MAGIC);
	assert_int_equal(proto_get16(buf + 4), PROTO_VERSION);
	assert_int_equal(proto_get32(buf + 8), len);
	free(buf);
}

static void
test_round_trip_empty_table(void **state)
{
	struct rt_table a, *b;
	uint8_t *buf;
	size_t len;
	const char *why = NULL;

	(void)state;
	memset(&a, 0, sizeof(a));
	a.epoch = 7;
	a.generation = 1;
	assert_int_equal(rt_encode(&a, &buf, &len), 0);
	assert_int_equal(len, PROTO_HDRLEN + 24);
	b = decode_exact(buf, len, &why);
	assert_non_null(b);
	assert_tables_equal(&a, b);
	rt_free(b);
	free(buf);
}

static void
test_round_trip_route_without_backends(void **state)
{
	struct rt_table *a = small_table(), *b;
	uint8_t *buf;
	size_t len;
	const char *why = NULL;

	(void)state;
	a->routes[0].nbackends = 0;
	assert_int_equal(rt_encode(a, &buf, &len), 0);
	b = decode_exact(buf, len, &why);
	assert_non_null(b);
	assert_tables_equal(a, b);
	rt_free(a);
	rt_free(b);
	free(buf);
}

static void
test_round_trip_longest_pattern(void **state)
{
	struct rt_table *a = small_table(), *b;
	uint8_t *buf;
	size_t len;
	const char *why = NULL;

	(void)state;
	free(a->routes[0].pattern);
	a->routes[0].pattern = malloc(RT_MAX_PATTERN + 1);
	memset(a->routes[0].pattern, 'x', RT_MAX_PATTERN);
	a->routes[0].pattern[RT_MAX_PATTERN] = '\0';
	a->routes[0].patlen = RT_MAX_PATTERN;
	assert_int_equal(rt_encode(a, &buf, &len), 0);
	b = decode_exact(buf, len, &why);
	assert_non_null(b);
	assert_tables_equal(a, b);
	rt_free(a);
	rt_free(b);
	free(buf);
}

/* Encoding refuses tables it could not describe */

static void
test_encode_rejects_backend_index_out_of_range(void **state)
{
	struct rt_table *t = small_table();
	uint8_t *buf = NULL;
	size_t len;

	(void)state;
	t->routes[0].backends[0] = 1;
	assert_int_equal(rt_encode(t, &buf, &len), -1);
	assert_null(buf);
	rt_free(t);
}

static void
test_encode_rejects_unknown_family(void **state)
{
	struct rt_table *t = small_table();
	uint8_t *buf = NULL;
	size_t len;

	(void)state;
	t->backends[0].addr.ss_family = AF_UNIX;
	assert_int_equal(rt_encode(t, &buf, &len), -1);
	assert_null(buf);
	rt_free(t);
}

static void
test_encode_rejects_empty_and_overlong_pattern(void **state)
{
	struct rt_table *t = small_table();
	uint8_t *buf = NULL;
	size_t len;

	(void)state;
	t->routes[0].patlen = 0;
	assert_int_equal(rt_encode(t, &buf, &len), -1);
	t->routes[0].patlen = RT_MAX_PATTERN + 1;
	assert_int_equal(rt_encode(t, &buf, &len), -1);
	assert_null(buf);
	t->routes[0].patlen = 4;
	rt_free(t);
}

/* Decoding rejects corrupt tables */

static void
test_decode_rejects_every_truncation(void **state)
{
	uint8_t *buf;
	size_t len, n;

	(void)state;
	encode(sample_table(), &buf, &len);
	for (n = 0; n < len; n++)
		assert_rejected(buf, n, "");
	free(buf);
}

static void
test_decode_rejects_every_truncation_with_matching_length_field(void **state)
{
	/* A liar that fixes up the length field must still be caught. */
	uint8_t *buf;
	size_t len, n;

	(void)state;
	encode(sample_table(), &buf, &len);
	for (n = PROTO_HDRLEN; n < len; n++) {
		proto_put32(buf + 8, (uint32_t)n);
		assert_rejected(buf, n, n < PROTO_HDRLEN + 24 ?
		    "shorter than its fixed part" : "");
	}
	free(buf);
}

static void
test_decode_rejects_bad_magic(void **state)
{
	uint8_t *buf;
	size_t len;

	(void)state;
	encode(small_table(), &buf, &len);
	buf[0] ^= 0x20;
	assert_rejected(buf, len, "magic");
	free(buf);
}

static void
test_decode_rejects_other_version(void **state)
{
	uint8_t *buf;
	size_t len;

	(void)state;
	encode(small_table(), &buf, &len);
	proto_put16(buf + 4, PROTO_VERSION + 1);
	assert_rejected(buf, len, "version");
	free(buf);
}

static void
test_decode_rejects_length_field_mismatch(void **state)
{
	uint8_t *buf;
	size_t len;

	(void)state;
	encode(small_table(), &buf, &len);
	proto_put32(buf + 8, (uint32_t)len + 1);
	assert_rejected(buf, len, "length");
	proto_put32(buf + 8, (uint32_t)len - 1);
	assert_rejected(buf, len, "length");
	free(buf);
}

static void
test_decode_rejects_other_message_type(void **state)
{
	uint8_t *buf;
	size_t len;

	(void)state;
	encode(small_table(), &buf, &len);
	proto_put16(buf + 6, PROTO_SNAPSHOT_REQ);
	assert_rejected(buf, len, "unexpected message type");
	proto_put16(buf + 6, 0xffff);
	assert_rejected(buf, len, "unexpected message type");
	free(buf);
}

static void
test_decode_rejects_backend_index_out_of_range(void **state)
{
	uint8_t *buf;
	size_t len;

	(void)state;
	encode(small_table(), &buf, &len);
	proto_put32(buf + OFF_ROUTE0 + ROUTE_INDEX0, 1);
	assert_rejected(buf, len, "index out of range");
	proto_put32(buf + OFF_ROUTE0 + ROUTE_INDEX0, 0xffffffff);
	assert_rejected(buf, len, "index out of range");
	free(buf);
}

static void
test_decode_rejects_huge_route_count_in_short_message(void **state)
{
	uint8_t *buf;
	size_t len;

	(void)state;
	encode(small_table(), &buf, &len);
	proto_put32(buf + OFF_NROUTES, 0xffffffff);
	assert_rejected(buf, len, "route count");
	proto_put32(buf + OFF_NROUTES, RT_MAX_ROUTES);
	assert_rejected(buf, len, "route count");
	free(buf);
}

static void
test_decode_rejects_huge_backend_count_in_short_message(void **state)
{
	uint8_t *buf;
	size_t len;

	(void)state;
	encode(small_table(), &buf, &len);
	proto_put32(buf + OFF_NBACKENDS, 0xffffffff);
	assert_rejected(buf, len, "backend count");
	proto_put32(buf + OFF_NBACKENDS, 3);
	assert_rejected(buf, len, "count");
	free(buf);
}

static void
test_decode_rejects_zero_length_pattern(void **state)
{
	uint8_t *buf;
	size_t len;

	(void)state;
	encode(small_table(), &buf, &len);
	proto_put16(buf + OFF_ROUTE0 + ROUTE_PATLEN, 0);
	assert_rejected(buf, len, "pattern length");
	proto_put16(buf + OFF_ROUTE0 + ROUTE_PATLEN, RT_MAX_PATTERN + 1);
	assert_rejected(buf, len, "pattern length");
	free(buf);
}

static void
test_decode_rejects_nul_in_pattern(void **state)
{
	uint8_t *buf;
	size_t len;

	(void)state;
	encode(small_table(), &buf, &len);
	buf[len - 2] = '\0';		/* "mi\0k" */
	assert_rejected(buf, len, "NUL");
	free(buf);
}

static void
test_decode_rejects_unknown_backend_flags(void **state)
{
	uint8_t *buf;
	size_t len;

	(void)state;
	encode(small_table(), &buf, &len);
	buf[OFF_BACKEND0 + 1] = RT_FLAG_UP | 0x04;
	assert_rejected(buf, len, "flags");
	buf[OFF_BACKEND0 + 1] = 0x80;
	assert_rejected(buf, len, "flags");
	free(buf);
}

static void
test_decode_rejects_bad_address_family(void **state)
{
	static const uint8_t bad[] = { 0, 2, 5, 10, 41, 255 };
	uint8_t *buf;
	size_t len, i;

	(void)state;
	encode(small_table(), &buf, &len);
	for (i = 0; i < sizeof(bad); i++) {
		buf[OFF_BACKEND0] = bad[i];
		assert_rejected(buf, len, "family");
	}
	free(buf);
}

static void
test_decode_rejects_port_0(void **state)
{
	uint8_t *buf;
	size_t len;

	(void)state;
	encode(small_table(), &buf, &len);
	proto_put16(buf + OFF_BACKEND0 + 2, 0);
	assert_rejected(buf, len, "port 0");
	free(buf);
}

static void
test_decode_rejects_trailing_bytes(void **state)
{
	uint8_t *buf, *longer;
	size_t len;

	(void)state;
	encode(small_table(), &buf, &len);
	longer = malloc(len + 1);
	assert_non_null(longer);
	memcpy(longer, buf, len);
	longer[len] = 'x';
	proto_put32(longer + 8, (uint32_t)len + 1);
	assert_rejected(longer, len + 1, "trailing");
	free(longer);
	free(buf);
}

static void
test_decode_rejects_route_longer_than_message(void **state)
{
	uint8_t *buf;
	size_t len;

	(void)state;
	encode(small_table(), &buf, &len);
	proto_put32(buf + OFF_ROUTE0 + ROUTE_NBACKENDS, 2);	/* two indexes, room for one */
	assert_rejected(buf, len, "truncated route");
	proto_put32(buf + OFF_ROUTE0 + ROUTE_NBACKENDS, 1);
	proto_put16(buf + OFF_ROUTE0 + ROUTE_PATLEN, 5);	/* "miek" is 4 bytes */
	assert_rejected(buf, len, "truncated route");
	free(buf);
}

static void
test_decode_rejects_route_backend_count_over_the_limit(void **state)
{
	uint8_t *buf;
	size_t len;

	(void)state;
	encode(small_table(), &buf, &len);
	proto_put32(buf + OFF_ROUTE0 + ROUTE_NBACKENDS, RT_MAX_BACKENDS + 1);
	assert_rejected(buf, len, "RT_MAX_BACKENDS");
	proto_put32(buf + OFF_ROUTE0 + ROUTE_NBACKENDS, 0xffffffff);
	assert_rejected(buf, len, "RT_MAX_BACKENDS");
	free(buf);
}

/* 70,000 backends, all in one route: past the old 16-bit count. */
#define MANY	70000

static void
test_route_of_seventy_thousand_backends_round_trips(void **state)
{
	struct rt_table *t = calloc(1, sizeof(*t)), *d;
	const char *why = NULL;
	uint8_t *buf;
	size_t len;
	uint32_t i;
	char a[32];

	(void)state;
	t->nbackends = MANY;
	t->backends = calloc(MANY, sizeof(*t->backends));
	t->nroutes = 1;
	t->routes = calloc(1, sizeof(*t->routes));
	t->routes[0].backends = malloc(MANY * sizeof(uint32_t));
	for (i = 0; i < MANY; i++) {
		snprintf(a, sizeof(a), "10.%u.%u.%u:53", i >> 16, (i >> 8) & 255,
		    i & 255);
		set_backend(&t->backends[i], a, RT_FLAG_UP);
		t->routes[0].backends[MANY - 1 - i] = i;
	}
	t->routes[0].nbackends = MANY;
	t->routes[0].pattern = strdup("^shard\\.");
	t->routes[0].patlen = (uint16_t)strlen(t->routes[0].pattern);
	assert_int_equal(rt_encode(t, &buf, &len), 0);
	assert_int_equal(len, RT_WIRE_FIXED + MANY * RT_WIRE_BACKEND +
	    RT_WIRE_ROUTE + MANY * RT_WIRE_INDEX + t->routes[0].patlen);
	assert_non_null(d = rt_decode(buf, len, &why));
	assert_int_equal(d->nbackends, MANY);
	assert_int_equal(d->routes[0].nbackends, MANY);
	assert_int_equal(d->routes[0].backends[0], MANY - 1);
	assert_int_equal(d->routes[0].backends[MANY - 1], 0);
	rt_free(d);
	rt_free(t);
	free(buf);
}

static void
test_table_over_the_length_limit_is_not_encoded(void **state)
{
	struct rt_table *t = calloc(1, sizeof(*t));
	uint8_t *buf = NULL;
	size_t len = 0;
	uint32_t i, n = RT_MAX_TABLE_LEN / (RT_WIRE_ROUTE + RT_MAX_PATTERN) + 1;

	(void)state;
	t->nroutes = n;
	t->routes = calloc(n, sizeof(*t->routes));
	t->routes[0].pattern = malloc(RT_MAX_PATTERN + 1);
	memset(t->routes[0].pattern, 'x', RT_MAX_PATTERN);
	t->routes[0].pattern[RT_MAX_PATTERN] = '\0';
	for (i = 0; i < n; i++) {
		t->routes[i].pattern = t->routes[0].pattern;
		t->routes[i].patlen = RT_MAX_PATTERN;
	}
	assert_int_equal(rt_encode(t, &buf, &len), -1);
	assert_null(buf);
	free(t->routes[0].pattern);
	free(t->routes);
	free(t);
}

/* xorshift32: a fixed sequence, so a failure can be replayed. */
static uint32_t
next_random(uint32_t *s)
{
	uint32_t x = *s;

	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	return *s = x;
}

static void
assert_sane(const struct rt_table *t)
{
	uint32_t i, j;

	for (i = 0; i < t->nbackends; i++) {
		int fam = t->backends[i].addr.ss_family;

		assert_true(fam == AF_INET || fam == AF_INET6);
		assert_int_equal(t->backends[i].flags & ~(RT_FLAG_UP | RT_FLAG_PRIMARY), 0);
	}
	for (i = 0; i < t->nroutes; i++) {
		const struct rt_route *r = &t->routes[i];

		assert_in_range(r->patlen, 1, RT_MAX_PATTERN);
		assert_int_equal(strlen(r->pattern), r->patlen);
		for (j = 0; j < r->nbackends; j++)
			assert_true(r->backends[j] < t->nbackends);
	}
}

static void
test_decode_survives_random_corruption(void **state)
{
	uint8_t *buf, *copy;
	size_t len;
	uint32_t seed = 0x2014d25u;
	int iter, accepted = 0;

	(void)state;
	encode(sample_table(), &buf, &len);
	copy = malloc(len);
	assert_non_null(copy);
	for (iter = 0; iter < 50000; iter++) {
		size_t n = len, k, nflips = 1 + next_random(&seed) % 4;
		struct rt_table *t;
		const char *why = NULL;

		memcpy(copy, buf, len);
		for (k = 0; k < nflips; k++) {
			/* Mostly past the header, so the body gets exercised. */
			size_t at = next_random(&seed) % 8 == 0 ?
			    next_random(&seed) % len :
			    PROTO_HDRLEN + next_random(&seed) % (len - PROTO_HDRLEN);

			copy[at] ^= (uint8_t)(1 + next_random(&seed) % 255);
		}
		if (next_random(&seed) % 4 == 0) {
			/* Truncate too, keeping the length field honest. */
			n = PROTO_HDRLEN + next_random(&seed) % (len - PROTO_HDRLEN);
			proto_put32(copy + 8, (uint32_t)n);
		}
		t = decode_exact(copy, n, &why);
		if (t != NULL) {
			assert_sane(t);
			rt_free(t);
			accepted++;
		} else
			assert_non_null(why);
	}
	/* Flips inside addresses, priorities and patterns stay valid. */
	assert_true(accepted > 0);
	free(copy);
	free(buf);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip_keeps_every_field),
		cmocka_unit_test(test_encoded_header_names_type_version_and_length),
		cmocka_unit_test(test_round_trip_empty_table),
		cmocka_unit_test(test_round_trip_route_without_backends),
		cmocka_unit_test(test_round_trip_longest_pattern),
		cmocka_unit_test(test_encode_rejects_backend_index_out_of_range),
		cmocka_unit_test(test_encode_rejects_unknown_family),
		cmocka_unit_test(test_encode_rejects_empty_and_overlong_pattern),
		cmocka_unit_test(test_decode_rejects_every_truncation),
		cmocka_unit_test(test_decode_rejects_every_truncation_with_matching_length_field),
		cmocka_unit_test(test_decode_rejects_bad_magic),
		cmocka_unit_test(test_decode_rejects_other_version),
		cmocka_unit_test(test_decode_rejects_length_field_mismatch),
		cmocka_unit_test(test_decode_rejects_other_message_type),
		cmocka_unit_test(test_decode_rejects_backend_index_out_of_range),
		cmocka_unit_test(test_decode_rejects_huge_route_count_in_short_message),
		cmocka_unit_test(test_decode_rejects_huge_backend_count_in_short_message),
		cmocka_unit_test(test_decode_rejects_zero_length_pattern),
		cmocka_unit_test(test_decode_rejects_nul_in_pattern),
		cmocka_unit_test(test_decode_rejects_unknown_backend_flags),
		cmocka_unit_test(test_decode_rejects_bad_address_family),
		cmocka_unit_test(test_decode_rejects_port_0),
		cmocka_unit_test(test_decode_rejects_trailing_bytes),
		cmocka_unit_test(test_decode_rejects_route_longer_than_message),
		cmocka_unit_test(test_decode_survives_random_corruption),
		cmocka_unit_test(test_decode_rejects_route_backend_count_over_the_limit),
		cmocka_unit_test(test_route_of_seventy_thousand_backends_round_trips),
		cmocka_unit_test(test_table_over_the_length_limit_is_not_encoded),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
