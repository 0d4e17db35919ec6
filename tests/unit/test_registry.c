/*
 * controller/registry: registrations to route tables. Same regexp (and
 * priority) = one route; order by priority, then first registration;
 * each backend once; health from the callback.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <arpa/inet.h>
#include <cmocka.h>

#include "addr.h"
#include "registry.h"

static void
put(struct registry *r, const char *key, const char *value)
{
	struct route_value rv;
	char err[256];

	assert_int_equal(route_value_parse(value, strlen(value), &rv, err,
	    sizeof(err)), 0);
	registry_set(r, key, &rv);
}

static const char *
pat(const struct rt_table *t, uint32_t i)
{
	return t->routes[i].pattern;
}

static void
test_same_regexp_makes_one_route_with_both_backends(void **state)
{
	struct registry r = { 0 };
	struct rt_table *t;

	(void)state;
	put(&r, "k1", "127.0.0.1:5300,^miek");
	put(&r, "k2", "127.0.0.1:5301,^miek");
	t = registry_build(&r, NULL, NULL, NULL, NULL);
	assert_int_equal(t->nroutes, 1);
	assert_int_equal(t->nbackends, 2);
	assert_int_equal(t->routes[0].nbackends, 2);
	rt_free(t);
	registry_free(&r);
}

static void
test_priority_then_registration_order(void **state)
{
	struct registry r = { 0 };
	struct rt_table *t;

	(void)state;
	put(&r, "a", "127.0.0.1:1,^first");
	put(&r, "b", "{\"addr\":\"127.0.0.1:2\",\"match\":\"^late-but-urgent\",\"priority\":-5}");
	put(&r, "c", "127.0.0.1:3,^second");
	put(&r, "d", "{\"addr\":\"127.0.0.1:4\",\"match\":\"^last\",\"priority\":7}");
	t = registry_build(&r, NULL, NULL, NULL, NULL);
	assert_int_equal(t->nroutes, 4);
	assert_string_equal(pat(t, 0), "^late-but-urgent");
	assert_string_equal(pat(t, 1), "^first");
	assert_string_equal(pat(t, 2), "^second");
	assert_string_equal(pat(t, 3), "^last");
	rt_free(t);
	registry_free(&r);
}

static void
test_backend_shared_by_routes_appears_once(void **state)
{
	struct registry r = { 0 };
	struct rt_table *t;

	(void)state;
	put(&r, "a", "127.0.0.1:5300,^a");
	put(&r, "b", "127.0.0.1:5300,^b");
	put(&r, "c", "127.0.0.1:5300,^a");	/* same backend, same route again */
	t = registry_build(&r, NULL, NULL, NULL, NULL);
	assert_int_equal(t->nbackends, 1);
	assert_int_equal(t->nroutes, 2);
	assert_int_equal(t->routes[0].nbackends, 1);
	rt_free(t);
	registry_free(&r);
}

static void
test_changed_value_replaces_and_delete_removes(void **state)
{
	struct registry r = { 0 };
	struct rt_table *t;

	(void)state;
	put(&r, "a", "127.0.0.1:5300,^a");
	put(&r, "b", "127.0.0.1:5301,^b");
	put(&r, "a", "127.0.0.1:5302,^c");
	assert_int_equal(registry_del(&r, "b"), 0);
	assert_int_equal(registry_del(&r, "b"), -1);
	t = registry_build(&r, NULL, NULL, NULL, NULL);
	assert_int_equal(t->nroutes, 1);
	assert_string_equal(pat(t, 0), "^c");
	assert_int_equal(t->nbackends, 1);
	assert_int_equal(ntohs(((struct sockaddr_in *)&t->backends[0].addr)->sin_port), 5302);
	rt_free(t);
	registry_free(&r);
}

static void
test_delete_by_prefix_keeps_the_others(void **state)
{
	struct registry r = { 0 };

	(void)state;
	put(&r, "etcd:/x", "127.0.0.1:1,^x");
	put(&r, "routes:f:1", "127.0.0.1:2,^y");
	put(&r, "etcd:/z", "127.0.0.1:3,^z");
	registry_del_prefix(&r, "etcd:");
	assert_int_equal(r.n, 1);
	assert_string_equal(r.v[0].key, "routes:f:1");
	registry_free(&r);
}

static void
test_given_order_beats_arrival_order_and_follows_the_file(void **state)
{
	struct registry r = { 0 };
	struct route_value rv;
	struct rt_table *t;
	char err[256];

	(void)state;
	/* A listing arrives sorted by key; creation revisions say otherwise. */
	assert_int_equal(route_value_parse("127.0.0.1:1,^a-second", 21, &rv, err, sizeof(err)), 0);
	registry_set_ordered(&r, "etcd:/a", &rv, 9);
	assert_int_equal(route_value_parse("127.0.0.1:2,^z-first", 20, &rv, err, sizeof(err)), 0);
	registry_set_ordered(&r, "etcd:/z", &rv, 4);
	put(&r, "routes:f:1", "127.0.0.1:3,^file");
	t = registry_build(&r, NULL, NULL, NULL, NULL);
	assert_int_equal(t->nroutes, 3);
	assert_string_equal(pat(t, 0), "^file");
	assert_string_equal(pat(t, 1), "^z-first");
	assert_string_equal(pat(t, 2), "^a-second");
	rt_free(t);
	registry_free(&r);
}

static int
only_port_5301_up(void *ctx, const struct sockaddr *sa)
{
	(void)ctx;
	return ntohs(((const struct sockaddr_in *)sa)->sin_port) == 5301;
}

static void
test_health_callback_sets_up_flags(void **state)
{
	struct registry r = { 0 };
	struct rt_table *t;
	uint32_t i;

	(void)state;
	put(&r, "a", "127.0.0.1:5300,^m");
	put(&r, "b", "127.0.0.1:5301,^m");
	t = registry_build(&r, only_port_5301_up, NULL, NULL, NULL);
	for (i = 0; i < t->nbackends; i++)
		assert_int_equal(t->backends[i].flags & RT_FLAG_UP,
		    ntohs(((struct sockaddr_in *)&t->backends[i].addr)->sin_port) == 5301);
	rt_free(t);
	registry_free(&r);
}

static void
test_ten_thousand_routes_build(void **state)
{
	struct registry r = { 0 };
	struct rt_table *t;
	char key[32], val[64];
	int i;

	(void)state;
	for (i = 0; i < 10000; i++) {
		snprintf(key, sizeof(key), "k%d", i);
		snprintf(val, sizeof(val), "127.0.%d.%d:53,^n%d\\.", i / 250, i % 250 + 1, i);
		put(&r, key, val);
	}
	t = registry_build(&r, NULL, NULL, NULL, NULL);
	assert_int_equal(t->nroutes, 10000);
	assert_int_equal(t->nbackends, 10000);
	assert_string_equal(pat(t, 9999), "^n9999\\.");
	rt_free(t);
	registry_free(&r);
}

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/*
 * Keys are found by hash: 100,000 of them set, replaced and half deleted
 * take well under a second (a linear search took minutes), and every
 * one is where it should be afterwards.
 */
static void
test_hundred_thousand_keys_set_replaced_and_deleted_quickly(void **state)
{
	struct registry r = { 0 };
	struct rt_table *t;
	char key[32], val[64];
	double t0 = now();
	int i;

	(void)state;
	for (i = 0; i < 100000; i++) {
		snprintf(key, sizeof(key), "etcd:/k%d", i);
		snprintf(val, sizeof(val), "10.%d.%d.%d:53,^s%d\\.", i >> 16,
		    (i >> 8) & 255, i & 255, i % 100);
		put(&r, key, val);
	}
	for (i = 0; i < 100000; i += 2) {
		snprintf(key, sizeof(key), "etcd:/k%d", i);
		assert_int_equal(registry_del(&r, key), 0);
	}
	for (i = 1; i < 100000; i += 4) {
		snprintf(key, sizeof(key), "etcd:/k%d", i);
		snprintf(val, sizeof(val), "10.%d.%d.%d:53,^t\\.", i >> 16,
		    (i >> 8) & 255, i & 255);
		put(&r, key, val);
	}
	assert_true(now() - t0 < 5.0);
	assert_int_equal(r.n, 50000);
	for (i = 0; i < 100000; i++) {
		snprintf(key, sizeof(key), "etcd:/k%d", i);
		assert_int_equal(registry_del(&r, key), i % 2 ? 0 : -1);
	}
	assert_int_equal(r.n, 0);
	t = registry_build(&r, NULL, NULL, NULL, NULL);
	assert_int_equal(t->nroutes, 0);
	rt_free(t);
	registry_free(&r);
}

/* More backends in one route than a 16-bit count holds: built and encoded. */
static void
test_seventy_thousand_backends_in_one_route_encode(void **state)
{
	struct registry r = { 0 };
	struct rt_table *t, *d;
	char key[32], val[64];
	const char *why;
	uint8_t *buf;
	size_t len, left = 1;
	double t0;
	int i;

	(void)state;
	for (i = 0; i < 70000; i++) {
		snprintf(key, sizeof(key), "k%d", i);
		snprintf(val, sizeof(val), "10.%d.%d.%d:53,^shard\\.", i >> 16,
		    (i >> 8) & 255, i & 255);
		put(&r, key, val);
	}
	put(&r, "again", "10.0.0.7:53,^shard\\.");	/* no second index */
	t0 = now();
	t = registry_build(&r, NULL, NULL, NULL, &left);
	assert_true(now() - t0 < 2.0);	/* O(n): a pairwise check took seconds */
	assert_int_equal(left, 0);
	assert_int_equal(t->nroutes, 1);
	assert_int_equal(t->nbackends, 70000);
	assert_int_equal(t->routes[0].nbackends, 70000);
	assert_int_equal(rt_encode(t, &buf, &len), 0);
	assert_non_null(d = rt_decode(buf, len, &why));
	assert_int_equal(d->routes[0].nbackends, 70000);
	rt_free(d);
	free(buf);
	rt_free(t);
	registry_free(&r);
}

static void
test_backend_in_two_routes_is_named_once_in_each(void **state)
{
	struct registry r = { 0 };
	struct rt_table *t;

	(void)state;
	put(&r, "1", "127.0.0.1:1,^a");
	put(&r, "2", "127.0.0.1:2,^a");
	put(&r, "3", "127.0.0.1:1,^b");
	put(&r, "4", "127.0.0.1:1,^b");		/* its second route, again */
	put(&r, "5", "127.0.0.1:2,^a");		/* its first route, again */
	put(&r, "6", "{\"addr\":\"127.0.0.1:1\",\"match\":\"^a\",\"priority\":5}");
	t = registry_build(&r, NULL, NULL, NULL, NULL);
	assert_int_equal(t->nbackends, 2);
	assert_int_equal(t->nroutes, 3);	/* ^a, ^b, ^a at priority 5 */
	assert_string_equal(pat(t, 0), "^a");
	assert_int_equal(t->routes[0].nbackends, 2);
	assert_string_equal(pat(t, 1), "^b");
	assert_int_equal(t->routes[1].nbackends, 1);
	assert_string_equal(pat(t, 2), "^a");
	assert_int_equal(t->routes[2].priority, 5);
	assert_int_equal(t->routes[2].nbackends, 1);
	rt_free(t);
	registry_free(&r);
}

/*
 * A table that would pass a limit leaves out the registrations that need
 * a new backend, route or bytes past it, the latest first; those that fit
 * in what is there still count, and the table always encodes.
 */
static void
test_limits_leave_out_the_latest_and_keep_what_fits(void **state)
{
	struct registry r = { 0 };
	struct registry_limits lim = { 2, 2, RT_MAX_TABLE_LEN };
	struct rt_table *t;
	uint8_t *buf;
	size_t len, left;

	(void)state;
	put(&r, "1", "127.0.0.1:1,^a");
	put(&r, "2", "127.0.0.1:2,^a");
	put(&r, "3", "127.0.0.1:3,^a");		/* a third backend: out */
	put(&r, "4", "127.0.0.1:1,^b");		/* second route: in */
	put(&r, "5", "127.0.0.1:2,^c");		/* third route: out */
	put(&r, "6", "127.0.0.1:2,^b");		/* fits: in */
	t = registry_build(&r, NULL, NULL, &lim, &left);
	assert_int_equal(left, 2);
	assert_int_equal(t->nbackends, 2);
	assert_int_equal(t->nroutes, 2);
	assert_int_equal(t->routes[1].nbackends, 2);
	assert_int_equal(rt_encode(t, &buf, &len), 0);
	free(buf);
	rt_free(t);

	/* Bytes: room for the fixed part, one backend and one route of ^a. */
	lim.backends = lim.routes = 100;
	lim.len = RT_WIRE_FIXED + RT_WIRE_BACKEND + RT_WIRE_ROUTE + 2 +
	    RT_WIRE_INDEX;
	t = registry_build(&r, NULL, NULL, &lim, &left);
	assert_int_equal(left, 5);
	assert_int_equal(t->nbackends, 1);
	assert_int_equal(t->nroutes, 1);
	assert_int_equal(rt_encode(t, &buf, &len), 0);
	assert_int_equal(len, lim.len);
	free(buf);
	rt_free(t);

	/* Deleting makes room: what waited comes in. */
	assert_int_equal(registry_del(&r, "1"), 0);
	assert_int_equal(registry_del(&r, "4"), 0);
	lim.backends = lim.routes = 2;
	lim.len = RT_MAX_TABLE_LEN;
	t = registry_build(&r, NULL, NULL, &lim, &left);
	assert_int_equal(left, 1);			/* ^c: a third route */
	assert_int_equal(t->nbackends, 2);		/* :2 and :3 */
	rt_free(t);
	registry_free(&r);
}

/* A listing built aside replaces the etcd part in one go. */
static void
test_replace_prefix_swaps_in_a_listing(void **state)
{
	struct registry r = { 0 }, l = { 0 };
	struct route_value rv;
	struct rt_table *t;
	char err[256];

	(void)state;
	put(&r, "routes:f:1", "127.0.0.1:1,^file");
	put(&r, "etcd:/old", "127.0.0.1:2,^old");
	put(&r, "etcd:/kept", "127.0.0.1:3,^kept");
	assert_int_equal(route_value_parse("127.0.0.1:4,^kept", 17, &rv, err,
	    sizeof(err)), 0);
	registry_set_ordered(&l, "etcd:/kept", &rv, 3);
	assert_int_equal(route_value_parse("127.0.0.1:5,^new", 16, &rv, err,
	    sizeof(err)), 0);
	registry_set_ordered(&l, "etcd:/new", &rv, 2);
	registry_replace_prefix(&r, "etcd:", &l);
	assert_int_equal(l.n, 0);
	assert_int_equal(r.n, 3);
	assert_int_equal(registry_del(&r, "etcd:/old"), -1);
	t = registry_build(&r, NULL, NULL, NULL, NULL);
	assert_int_equal(t->nroutes, 3);
	assert_string_equal(pat(t, 0), "^file");
	assert_string_equal(pat(t, 1), "^new");		/* order 2 before 3 */
	assert_string_equal(pat(t, 2), "^kept");
	assert_int_equal(ntohs(((struct sockaddr_in *)
	    &t->backends[t->routes[2].backends[0]].addr)->sin_port), 4);
	rt_free(t);
	assert_int_equal(registry_del(&r, "etcd:/new"), 0);
	assert_int_equal(registry_del(&r, "etcd:/kept"), 0);
	assert_int_equal(r.n, 1);
	registry_free(&l);
	registry_free(&r);
}

static void
test_a_primary_registration_marks_its_backend(void **state)
{
	struct registry r;
	struct rt_table *t;

	(void)state;
	memset(&r, 0, sizeof(r));
	put(&r, "a1", "127.0.0.1:5301,^[a-m]");
	put(&r, "a2", "{\"addr\":\"127.0.0.1:5301\",\"match\":\"^miek\\\\.nl\\\\.$\","
	    "\"primary\":true}");
	put(&r, "b1", "127.0.0.1:5302,^[a-m]");
	put(&r, "b2", "127.0.0.1:5302,^miek\\.nl\\.$");
	t = registry_build(&r, NULL, NULL, NULL, NULL);
	assert_int_equal(t->nbackends, 2);
	/* Its second registration says so: the backend is primary. */
	assert_int_equal(t->backends[0].flags, RT_FLAG_UP | RT_FLAG_PRIMARY);
	assert_int_equal(t->backends[1].flags, RT_FLAG_UP);
	rt_free(t);
	registry_free(&r);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_same_regexp_makes_one_route_with_both_backends),
		cmocka_unit_test(test_a_primary_registration_marks_its_backend),
		cmocka_unit_test(test_priority_then_registration_order),
		cmocka_unit_test(test_backend_shared_by_routes_appears_once),
		cmocka_unit_test(test_changed_value_replaces_and_delete_removes),
		cmocka_unit_test(test_delete_by_prefix_keeps_the_others),
		cmocka_unit_test(test_given_order_beats_arrival_order_and_follows_the_file),
		cmocka_unit_test(test_health_callback_sets_up_flags),
		cmocka_unit_test(test_ten_thousand_routes_build),
		cmocka_unit_test(test_hundred_thousand_keys_set_replaced_and_deleted_quickly),
		cmocka_unit_test(test_seventy_thousand_backends_in_one_route_encode),
		cmocka_unit_test(test_backend_in_two_routes_is_named_once_in_each),
		cmocka_unit_test(test_limits_leave_out_the_latest_and_keep_what_fits),
		cmocka_unit_test(test_replace_prefix_swaps_in_a_listing),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
