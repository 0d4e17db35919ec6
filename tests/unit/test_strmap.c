/*
 * common/strmap: a hash index from byte strings to numbers. Checked
 * against a plain array over a long random mix of puts and deletes, so
 * that deletion's backward shift never loses a key behind it.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "strmap.h"

static void
test_put_get_replace_delete(void **state)
{
	struct strmap m;
	size_t v = 0;

	(void)state;
	strmap_init(&m, 0);
	assert_int_equal(strmap_get(&m, "a", 1, &v), 0);
	assert_int_equal(strmap_del(&m, "a", 1), -1);
	strmap_put(&m, "a", 1, 7);
	strmap_put(&m, "ab", 2, 8);
	assert_int_equal(strmap_get(&m, "a", 1, &v), 1);
	assert_int_equal(v, 7);
	strmap_put(&m, "a", 1, 9);
	assert_int_equal(m.n, 2);
	assert_int_equal(strmap_get(&m, "a", 1, &v), 1);
	assert_int_equal(v, 9);
	assert_int_equal(strmap_del(&m, "a", 1), 0);
	assert_int_equal(strmap_get(&m, "a", 1, &v), 0);
	assert_int_equal(strmap_get(&m, "ab", 2, &v), 1);
	assert_int_equal(v, 8);
	strmap_clear(&m);
	assert_int_equal(strmap_get(&m, "ab", 2, &v), 0);
	strmap_free(&m);
}

static void
test_keys_are_bytes_not_strings(void **state)
{
	struct strmap m;
	static const char k1[] = { 'x', '\0', 'y' }, k2[] = { 'x', '\0', 'z' };
	size_t v;

	(void)state;
	strmap_init(&m, 4);
	strmap_put(&m, k1, 3, 1);
	strmap_put(&m, k2, 3, 2);
	strmap_put(&m, k1, 1, 3);	/* "x" alone */
	assert_int_equal(m.n, 3);
	assert_true(strmap_get(&m, k2, 3, &v) && v == 2);
	assert_true(strmap_get(&m, k1, 1, &v) && v == 3);
	strmap_free(&m);
}

#define NKEYS	5000

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
test_random_puts_and_deletes_match_a_plain_array(void **state)
{
	static char keys[NKEYS][12];
	static size_t want[NKEYS];	/* 0: absent, else value + 1 */
	struct strmap m;
	uint32_t seed = 0x5ca1e;
	size_t i, v, n = 0;
	int op;

	(void)state;
	for (i = 0; i < NKEYS; i++)
		snprintf(keys[i], sizeof(keys[i]), "k%zu", i);
	strmap_init(&m, 0);
	for (op = 0; op < 200000; op++) {
		i = next_random(&seed) % NKEYS;
		if (next_random(&seed) % 3 == 0) {
			assert_int_equal(strmap_del(&m, keys[i], strlen(keys[i])),
			    want[i] ? 0 : -1);
			n -= want[i] != 0;
			want[i] = 0;
		} else {
			n += want[i] == 0;
			want[i] = (size_t)op + 1;
			strmap_put(&m, keys[i], strlen(keys[i]), (size_t)op);
		}
		if (op % 1000 == 0 || op == 199999) {
			assert_int_equal(m.n, n);
			for (i = 0; i < NKEYS; i++) {
				int found = strmap_get(&m, keys[i], strlen(keys[i]), &v);

				assert_int_equal(found, want[i] != 0);
				if (found)
					assert_int_equal(v + 1, want[i]);
			}
		}
	}
	strmap_free(&m);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_put_get_replace_delete),
		cmocka_unit_test(test_keys_are_bytes_not_strings),
		cmocka_unit_test(test_random_puts_and_deletes_match_a_plain_array),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
