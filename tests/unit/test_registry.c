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
	t = registry_build(&r, NULL, NULL);
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
	t = registry_build(&r, NULL, NULL);
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
	t = registry_build(&r, NULL, NULL);
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
	t = registry_build(&r, NULL, NULL);
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
	t = registry_build(&r, NULL, NULL);
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
	t = registry_build(&r, only_port_5301_up, NULL);
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
	t = registry_build(&r, NULL, NULL);
	assert_int_equal(t->nroutes, 10000);
	assert_int_equal(t->nbackends, 10000);
	assert_string_equal(pat(t, 9999), "^n9999\\.");
	rt_free(t);
	registry_free(&r);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_same_regexp_makes_one_route_with_both_backends),
		cmocka_unit_test(test_priority_then_registration_order),
		cmocka_unit_test(test_backend_shared_by_routes_appears_once),
		cmocka_unit_test(test_changed_value_replaces_and_delete_removes),
		cmocka_unit_test(test_delete_by_prefix_keeps_the_others),
		cmocka_unit_test(test_given_order_beats_arrival_order_and_follows_the_file),
		cmocka_unit_test(test_health_callback_sets_up_flags),
		cmocka_unit_test(test_ten_thousand_routes_build),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
