/* proto/status: what dnsrouterctl asks the controller and what it answers. */
#include <netinet/in.h>
#include <arpa/inet.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "proto.h"
#include "routetable.h"
#include "error.h"
#include "statusmsg.h"

/* A two-backend, one-route table, encoded. */
static void
table(uint8_t **buf, size_t *len)
{
	struct rt_backend b[2];
	struct rt_route r;
	struct rt_table t;
	uint32_t idx[2] = { 0, 1 };
	struct sockaddr_in *s;
	int i;

	memset(b, 0, sizeof(b));
	for (i = 0; i < 2; i++) {
		s = (struct sockaddr_in *)&b[i].addr;
		s->sin_family = AF_INET;
		s->sin_port = htons((uint16_t)(5300 + i));
		inet_pton(AF_INET, "127.0.0.1", &s->sin_addr);
		b[i].addrlen = sizeof(*s);
	}
	b[0].flags = RT_FLAG_UP;
	memset(&r, 0, sizeof(r));
	r.priority = -3;
	r.nbackends = 2;
	r.backends = idx;
	r.pattern = (char *)(uintptr_t)"^miek\\.nl\\.$";
	r.patlen = (uint16_t)strlen(r.pattern);
	memset(&t, 0, sizeof(t));
	t.epoch = 0x0123456789abcdefULL;
	t.generation = 42;
	t.nbackends = 2;
	t.nroutes = 1;
	t.backends = b;
	t.routes = &r;
	assert_int_equal(rt_encode(&t, buf, len), 0);
}

static void
test_round_trip_carries_table_etcd_state_and_endpoint(void **state)
{
	uint8_t *tb, *buf;
	size_t tlen, len;
	struct status st;
	const char *why;

	(void)state;
	table(&tb, &tlen);
	assert_int_equal(status_encode(STATUS_ETCD_CONFIGURED |
	    STATUS_ETCD_CONNECTED, 1234567890123LL, "http://127.0.0.1:2379",
	    tb, tlen, NULL, 0, &buf, &len), 0);
	assert_int_equal(proto_check_hdr(buf, len, &why), PROTO_STATUS);
	assert_int_equal(status_decode(buf, len, &st, &why), 0);
	assert_int_equal(st.flags, STATUS_ETCD_CONFIGURED | STATUS_ETCD_CONNECTED);
	assert_true(st.etcd_revision == 1234567890123LL);
	assert_string_equal(st.endpoint, "http://127.0.0.1:2379");
	assert_non_null(st.table);
	assert_true(st.table->epoch == 0x0123456789abcdefULL);
	assert_true(st.table->generation == 42);
	assert_int_equal(st.table->nbackends, 2);
	assert_int_equal(st.table->backends[0].flags & RT_FLAG_UP, RT_FLAG_UP);
	assert_int_equal(st.table->backends[1].flags & RT_FLAG_UP, 0);
	assert_int_equal(st.table->nroutes, 1);
	assert_int_equal(st.table->routes[0].priority, -3);
	assert_string_equal(st.table->routes[0].pattern, "^miek\\.nl\\.$");
	status_free(&st);
	free(buf);
	free(tb);
}

static void
test_before_the_first_table_there_is_none_and_no_etcd(void **state)
{
	uint8_t *buf;
	size_t len;
	struct status st;
	const char *why;

	(void)state;
	assert_int_equal(status_encode(0, 0, NULL, NULL, 0, NULL, 0, &buf, &len), 0);
	assert_int_equal(status_decode(buf, len, &st, &why), 0);
	assert_null(st.table);
	assert_int_equal(st.flags, 0);
	assert_string_equal(st.endpoint, "");
	assert_int_equal(st.nzones, 0);
	status_free(&st);
	free(buf);
}

static struct status_member zm[3] = {
	{ "127.0.0.1:5301", 1, 1, 2024010101, "" },
	{ "[2001:db8::1]:53", 2, 0, 0, "not authoritative for the zone" },
	{ "127.0.0.1:5303", 2, 1, 2024010101, "" },
};
static struct status_zone zs[2];

static void
zones_fixture(void)
{
	memset(zs, 0, sizeof(zs));
	snprintf(zs[0].name, sizeof(zs[0].name), "miek.nl.");
	zs[0].nshards = 2;
	zs[0].agree = 1;
	zs[0].m = zm;
	zs[0].nm = 3;
	snprintf(zs[1].name, sizeof(zs[1].name), "empty.test.");
	zs[1].agree = -1;
}

static void
test_zones_round_trip(void **state)
{
	uint8_t *buf;
	size_t len;
	struct status st;
	const char *why;

	(void)state;
	zones_fixture();
	assert_int_equal(status_encode(0, 0, NULL, NULL, 0, zs, 2, &buf, &len),
	    0);
	assert_int_equal(status_decode(buf, len, &st, &why), 0);
	assert_int_equal(st.nzones, 2);
	assert_string_equal(st.zones[0].name, "miek.nl.");
	assert_int_equal(st.zones[0].nshards, 2);
	assert_int_equal(st.zones[0].agree, 1);
	assert_int_equal(st.zones[0].nm, 3);
	assert_string_equal(st.zones[0].m[1].addr, "[2001:db8::1]:53");
	assert_int_equal(st.zones[0].m[1].have, 0);
	assert_string_equal(st.zones[0].m[1].why,
	    "not authoritative for the zone");
	assert_int_equal(st.zones[0].m[2].serial, 2024010101);
	assert_int_equal(st.zones[1].agree, -1);
	assert_int_equal(st.zones[1].nm, 0);
	/* A member's shard past the zone's shards is a lie: rejected. */
	{
		/* The second zone: name, nshards, agree, nm. */
		size_t z2 = 1 + strlen("empty.test.") + 2 + 1 + 2;
		/* The last member: shard, have, serial, addr, why (empty). */
		size_t m3 = 2 + 1 + 4 + 1 + strlen("127.0.0.1:5303") + 1;

		buf[len - z2 - m3 + 1] = 9;	/* the shard's low byte */
	}
	status_free(&st);
	assert_int_equal(status_decode(buf, len, &st, &why), -1);
	assert_int_equal(st.nzones, 0);
	free(buf);
}

static void
test_every_truncation_is_rejected(void **state)
{
	uint8_t *tb, *buf;
	size_t tlen, len, n;
	struct status st;
	const char *why;

	(void)state;
	table(&tb, &tlen);
	zones_fixture();
	assert_int_equal(status_encode(1, 7, "http://e:1", tb, tlen, zs, 2,
	    &buf, &len), 0);
	for (n = 0; n < len; n++) {
		/* Keep the length field honest so that the body checks run. */
		uint8_t *cut = malloc(len);

		memcpy(cut, buf, n);
		if (n >= PROTO_HDRLEN)
			proto_put32(cut + 8, (uint32_t)n);
		assert_int_equal(status_decode(cut, n, &st, &why), -1);
		assert_null(st.table);
		free(cut);
	}
	free(buf);
	free(tb);
}

static void
test_endpoint_length_beyond_the_message_is_rejected(void **state)
{
	uint8_t *buf;
	size_t len;
	struct status st;
	const char *why;

	(void)state;
	assert_int_equal(status_encode(1, 7, "http://e:1", NULL, 0, NULL, 0,
	    &buf, &len), 0);
	proto_put16(buf + PROTO_HDRLEN + 16, 0xffff);
	assert_int_equal(status_decode(buf, len, &st, &why), -1);
	free(buf);
}

static void
test_another_protocol_version_is_named(void **state)
{
	uint8_t req[PROTO_HDRLEN];
	const char *why;

	(void)state;
	assert_int_equal(status_request(req), PROTO_HDRLEN);
	assert_int_equal(proto_check_hdr(req, sizeof(req), &why),
	    PROTO_STATUS_REQ);
	proto_put16(req + 4, 1);
	assert_int_equal(proto_check_hdr(req, sizeof(req), &why), -1);
	assert_string_equal(why, "protocol version mismatch");
	assert_int_equal(proto_hdr_version(req, sizeof(req)), 1);
	proto_put32(req, 0);
	assert_int_equal(proto_hdr_version(req, sizeof(req)), -1);
	assert_int_equal(proto_hdr_version(req, 3), -1);
}

static void
test_error_message_round_trip_and_rejects(void **state)
{
	uint8_t *buf;
	size_t len;
	char msg[64];
	const char *why;

	(void)state;
	assert_int_equal(error_encode("unexpected request type", &buf, &len), 0);
	assert_int_equal(error_decode(buf, len, msg, sizeof(msg), &why), 0);
	assert_string_equal(msg, "unexpected request type");
	/* A message too long for the caller's buffer is cut, not overrun. */
	assert_int_equal(error_decode(buf, len, msg, 8, &why), 0);
	assert_string_equal(msg, "unexpec");
	buf[PROTO_HDRLEN + 3] = '\0';
	assert_int_equal(error_decode(buf, len, msg, sizeof(msg), &why), -1);
	free(buf);
	assert_int_equal(status_encode(0, 0, NULL, NULL, 0, NULL, 0, &buf, &len), 0);
	assert_int_equal(error_decode(buf, len, msg, sizeof(msg), &why), -1);
	free(buf);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip_carries_table_etcd_state_and_endpoint),
		cmocka_unit_test(test_before_the_first_table_there_is_none_and_no_etcd),
		cmocka_unit_test(test_zones_round_trip),
		cmocka_unit_test(test_every_truncation_is_rejected),
		cmocka_unit_test(test_endpoint_length_beyond_the_message_is_rejected),
		cmocka_unit_test(test_another_protocol_version_is_named),
		cmocka_unit_test(test_error_message_round_trip_and_rejects),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
