/*
 * controller/zones: zones are found from their apex routes, a shard is the
 * set of backends registered with the same regexps, and the shards of a
 * zone agree when they hold one serial.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "addr.h"
#include "registry.h"
#include "route_value.h"
#include "zones.h"

static void
put(struct registry *r, const char *key, const char *value)
{
	struct route_value rv;
	char err[256];

	assert_int_equal(route_value_parse(value, strlen(value), &rv, err,
	    sizeof(err)), 0);
	registry_set(r, key, &rv);
}

/* s as a socket address (two at a time: a ring of buffers). */
static const struct sockaddr *
SA(const char *s)
{
	static struct sockaddr_storage ring[4];
	static int next;
	struct sockaddr_storage *ss = &ring[next++ % 4];
	socklen_t len;
	const char *why;

	assert_int_equal(addr_parse(s, strlen(s), 53, ss, &len, &why), 0);
	return (const struct sockaddr *)ss;
}

static void
apex_names(void **state)
{
	char n[ZONE_NAME_MAX];

	(void)state;
	assert_int_equal(zones_apex_name("^miek\\.nl\\.$", n), 0);
	assert_string_equal(n, "miek.nl.");
	assert_int_equal(zones_apex_name("^Ex-1_a\\.NL\\.$", n), 0);
	assert_string_equal(n, "ex-1_a.nl.");
	/* What matches more than one name, or no name, is no apex. */
	assert_int_equal(zones_apex_name("(^|\\.)[a-m][^.]*\\.miek\\.nl\\.$", n),
	    -1);
	assert_int_equal(zones_apex_name("^miek\\.nl\\.", n), -1);
	assert_int_equal(zones_apex_name("miek\\.nl\\.$", n), -1);
	assert_int_equal(zones_apex_name("^miek.nl\\.$", n), -1);
	assert_int_equal(zones_apex_name("^miek\\.nl$", n), -1);
	assert_int_equal(zones_apex_name("^\\.$", n), -1);
	assert_int_equal(zones_apex_name("^a\\.\\.b\\.$", n), -1);
	assert_int_equal(zones_apex_name("^a*\\.$", n), -1);
}

static void
shards_are_sets_of_regexps(void **state)
{
	struct registry r;
	const struct zone *z;

	(void)state;
	memset(&r, 0, sizeof(r));
	/* Shard 1 on two replicas, shard 2 on one; registered in any order. */
	put(&r, "a1", "127.0.0.1:5301,(^|\\.)[a-m][^.]*\\.miek\\.nl\\.$");
	put(&r, "a2", "127.0.0.1:5301,^miek\\.nl\\.$");
	put(&r, "b2", "127.0.0.1:5302,^miek\\.nl\\.$");
	put(&r, "c1", "127.0.0.1:5303,^miek\\.nl\\.$");
	put(&r, "c2", "127.0.0.1:5303,(^|\\.)[n-z][^.]*\\.miek\\.nl\\.$");
	put(&r, "b1", "127.0.0.1:5302,(^|\\.)[a-m][^.]*\\.miek\\.nl\\.$");
	put(&r, "x", "127.0.0.1:5309,^www\\.other\\.$");
	zones_sync(&r);
	assert_int_equal(zones_count(), 2);
	z = zones_get(0);
	assert_string_equal(z->name, "miek.nl.");
	assert_int_equal(z->nshards, 2);
	assert_int_equal(z->nm, 3);
	assert_int_equal(z->m[0].shard, 1);
	assert_int_equal(z->m[1].shard, 1);
	assert_int_equal(z->m[2].shard, 2);
	assert_int_equal(zones_agree(z, NULL), -1);

	zones_serial(SA("127.0.0.1:5301"), "miek.nl.", 1, 7, NULL);
	assert_int_equal(zones_agree(zones_get(0), NULL), -1);
	zones_serial(SA("127.0.0.1:5303"), "miek.nl.", 1, 7, NULL);
	assert_int_equal(zones_agree(zones_get(0), NULL), 1);
	/* A replica behind its shard: the zone does not agree. */
	zones_serial(SA("127.0.0.1:5302"), "miek.nl.", 1, 6, NULL);
	assert_int_equal(zones_agree(zones_get(0), NULL), 0);
	zones_serial(SA("127.0.0.1:5302"), "miek.nl.", 1, 7, NULL);
	assert_int_equal(zones_agree(zones_get(0), NULL), 1);

	/* Serials survive a sync; a backend that leaves takes its own. */
	registry_del(&r, "c1");
	registry_del(&r, "c2");
	zones_sync(&r);
	z = zones_get(0);
	assert_int_equal(z->nshards, 1);
	assert_int_equal(z->nm, 2);
	assert_int_equal(z->m[0].serial, 7);
	assert_int_equal(zones_agree(z, NULL), 1);

	/* Names of a backend's zones, for its checks. */
	{
		char names[ZONES_PER_BACKEND][ZONE_NAME_MAX];

		assert_int_equal(zones_of(SA("127.0.0.1:5309"), names,
		    ZONES_PER_BACKEND), 1);
		assert_string_equal(names[0], "www.other.");
		assert_int_equal(zones_of(SA("127.0.0.1:5303"), names,
		    ZONES_PER_BACKEND), 0);
	}
	zones_free();
	registry_free(&r);
}

static int
down_5301(void *ctx, const struct sockaddr *addr)
{
	(void)ctx;
	return !addr_equal(addr, SA("127.0.0.1:5301"));
}

static void
only_backends_in_rotation_count(void **state)
{
	struct registry r;

	(void)state;
	memset(&r, 0, sizeof(r));
	put(&r, "a", "127.0.0.1:5301,^t\\.$");
	put(&r, "b", "127.0.0.1:5302,^t\\.$");
	zones_sync(&r);
	zones_serial(SA("127.0.0.1:5301"), "t.", 1, 1, NULL);
	zones_serial(SA("127.0.0.1:5302"), "t.", 1, 2, NULL);
	assert_int_equal(zones_agree(zones_get(0), NULL), 0);
	assert_int_equal(zones_agree(zones_get(0), down_5301), 1);
	zones_serial(SA("127.0.0.1:5302"), "t.", 0, 0, "not authoritative");
	assert_int_equal(zones_agree(zones_get(0), down_5301), -1);
	zones_free();
	registry_free(&r);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(apex_names),
		cmocka_unit_test(shards_are_sets_of_regexps),
		cmocka_unit_test(only_backends_in_rotation_count),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
