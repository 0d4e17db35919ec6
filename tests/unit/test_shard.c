/* ctl/shard: balancing names over shards by first character, and their regexps. */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "shard.h"

static void
weigh(uint64_t w[SHARD_NCHARS], const char *chars)
{
	memset(w, 0, SHARD_NCHARS * sizeof(*w));
	for (; *chars != '\0'; chars++)
		w[shard_char_index(*chars)]++;
}

/* Does the regexp (as dnsrouter compiles it: caseless) match name? */
static int
matches(const char *re, const char *name)
{
	pcre2_code *c;
	pcre2_match_data *md;
	PCRE2_SIZE eo;
	int ec, rc;

	c = pcre2_compile((PCRE2_SPTR)re, PCRE2_ZERO_TERMINATED, PCRE2_CASELESS,
	    &ec, &eo, NULL);
	assert_non_null(c);
	md = pcre2_match_data_create_from_pattern(c, NULL);
	rc = pcre2_match(c, (PCRE2_SPTR)name, strlen(name), 0, 0, md, NULL);
	pcre2_match_data_free(md);
	pcre2_code_free(c);
	return rc >= 0;
}

static void
test_the_2014_split_ab_and_cd(void **state)
{
	uint64_t w[SHARD_NCHARS];
	int first[SHARD_MAX];
	char buf[256];

	(void)state;
	weigh(w, "abcd");
	assert_int_equal(shard_partition(w, 0, 2, first), 2);
	assert_int_equal(shard_of_char(first, 2, 'a'), 0);
	assert_int_equal(shard_of_char(first, 2, 'B'), 0);
	assert_int_equal(shard_of_char(first, 2, 'c'), 1);
	assert_int_equal(shard_of_char(first, 2, 'd'), 1);
	shard_class(first, 2, 0, buf, sizeof(buf));
	assert_string_equal(buf, "[^c-z]");
	shard_class(first, 2, 1, buf, sizeof(buf));
	assert_string_equal(buf, "[c-z]");
}

static void
test_partition_minimises_the_heaviest_shard(void **state)
{
	uint64_t w[SHARD_NCHARS];
	int first[SHARD_MAX], k;

	(void)state;
	weigh(w, "aaaaaaaabbbbccccdddd");	/* 8, 4, 4, 4 */
	assert_int_equal(shard_partition(w, 0, 3, first), 8);
	assert_int_equal(shard_of_char(first, 3, 'a'), 0);
	assert_int_equal(shard_of_char(first, 3, 'b'), 1);
	assert_int_equal(shard_of_char(first, 3, 'c'), 1);
	assert_int_equal(shard_of_char(first, 3, 'd'), 2);
	/* More shards than characters with names: every shard still gets some. */
	weigh(w, "a");
	assert_int_equal(shard_partition(w, 0, SHARD_MAX, first), 1);
	for (k = 1; k < SHARD_MAX; k++)
		assert_true(first[k] > first[k - 1]);
	assert_int_equal(shard_partition(w, 0, 0, first), -1);
	assert_int_equal(shard_partition(w, 0, SHARD_MAX + 1, first), -1);
}

static void
test_other_characters_go_to_shard_zero(void **state)
{
	uint64_t w[SHARD_NCHARS];
	int first[SHARD_MAX];

	(void)state;
	weigh(w, "mz");
	assert_int_equal(shard_partition(w, 5, 2, first), 5);
	assert_int_equal(shard_char_index('*'), -1);
	assert_int_equal(shard_char_index('\\'), -1);
	assert_int_equal(shard_of_char(first, 2, '*'), 0);
	assert_int_equal(shard_of_char(first, 2, '\\'), 0);
	assert_int_equal(shard_of_char(first, 2, 'z'), 1);
}

/* Every shard's regexp matches its own names and no other shard's. */
static void
test_regexps_partition_every_name_below_the_origin(void **state)
{
	static const char *names[] = { "a.miek.nl.", "www.b.miek.nl.",
	    "x.y.c.miek.nl.", "-dash.miek.nl.", "9lives.miek.nl.",
	    "_sip._tcp.miek.nl.", "zed.miek.nl.", "m.miek.nl.",
	    "\\042odd.miek.nl.", "*.miek.nl.", "n.m.miek.nl." };
	uint64_t w[SHARD_NCHARS];
	int first[SHARD_MAX], n, k, hits;
	char re[SHARD_MAX][512], apex[128];
	size_t i;

	(void)state;
	weigh(w, "abcdefghijklmnopqrstuvwxyz0123456789");
	for (n = 1; n <= 5; n++) {
		assert_true(shard_partition(w, 1, n, first) >= 0);
		for (k = 0; k < n; k++)
			assert_true(shard_regexp(first, n, k, "miek.nl.", re[k],
			    sizeof(re[k])) > 0);
		for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
			int want;
			const char *label = names[i];
			const char *end = strstr(label, ".miek.nl.");

			/* The label just below the origin. */
			while (strchr(label, '.') != end)
				label = strchr(label, '.') + 1;
			want = shard_of_char(first, n, label[0]);
			hits = 0;
			for (k = 0; k < n; k++)
				if (matches(re[k], names[i])) {
					hits++;
					assert_int_equal(k, want);
				}
			assert_int_equal(hits, 1);
		}
		for (k = 0; k < n; k++) {
			assert_false(matches(re[k], "miek.nl."));
			assert_false(matches(re[k], "a.example.nl."));
			assert_false(matches(re[k], "a.miek.nl.evil."));
		}
	}
	assert_true(shard_apex_regexp("miek.nl.", apex, sizeof(apex)) > 0);
	assert_string_equal(apex, "^miek\\.nl\\.$");
	assert_true(matches(apex, "miek.nl."));
	assert_true(matches(apex, "MIEK.nl."));
	assert_false(matches(apex, "a.miek.nl."));
	assert_false(matches(apex, "miekxnl."));
}

static void
test_regexp_text_for_two_shards(void **state)
{
	uint64_t w[SHARD_NCHARS];
	int first[SHARD_MAX];
	char re[256];

	(void)state;
	weigh(w, "abcd");
	shard_partition(w, 0, 2, first);
	shard_regexp(first, 2, 1, "miek.nl.", re, sizeof(re));
	assert_string_equal(re, "(^|\\.)[c-z][^.]*\\.miek\\.nl\\.$");
	shard_regexp(first, 1, 0, "miek.nl.", re, sizeof(re));
	assert_string_equal(re, "(^|\\.)[^.][^.]*\\.miek\\.nl\\.$");
	/* Below the root, the label ends at the final dot. */
	shard_regexp(first, 2, 1, ".", re, sizeof(re));
	assert_string_equal(re, "(^|\\.)[c-z][^.]*\\.$");
	assert_true(matches(re, "com."));
	assert_false(matches(re, "a."));
	/* A dash in a class is escaped; short runs are listed. */
	weigh(w, "-0a");
	shard_partition(w, 0, 3, first);
	shard_class(first, 3, 1, re, sizeof(re));
	assert_true(matches(re, "0"));
	assert_false(matches(re, "-"));
	assert_int_equal(shard_of_char(first, 3, '0'), 1);
	assert_int_equal(shard_of_char(first, 3, '-'), 0);
	shard_class(first, 3, 0, re, sizeof(re));
	assert_int_equal(re[0], '[');
	assert_int_equal(re[1], '^');
	/* Too small a buffer is refused, not overrun. */
	assert_int_equal(shard_regexp(first, 3, 1, "miek.nl.", re, 10), -1);
	assert_int_equal(shard_apex_regexp("miek.nl.", re, 5), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_the_2014_split_ab_and_cd),
		cmocka_unit_test(test_partition_minimises_the_heaviest_shard),
		cmocka_unit_test(test_other_characters_go_to_shard_zero),
		cmocka_unit_test(test_regexps_partition_every_name_below_the_origin),
		cmocka_unit_test(test_regexp_text_for_two_shards),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
