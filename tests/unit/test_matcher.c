/*
 * router/matcher: which route a query name goes to. The lowest matching
 * index wins unless the caller's accept() skips it (all backends down).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "hsdb.h"
#include "matcher.h"

/*
 * Every test runs three times: patterns matched one by one (no database),
 * all of them in a Hyperscan database, and every other one in it. The
 * answers must not depend on which.
 */
enum db_mode { DB_NONE, DB_ALL, DB_HALF };
static enum db_mode db_mode;

#define MAXCALLS 16

/* Records every accept() call; rejects the indexes marked in reject[]. */
struct acceptor {
	size_t	calls[MAXCALLS];
	size_t	ncalls;
	int	reject[MAXCALLS];
};

static int
accept_cb(void *ctx, size_t index)
{
	struct acceptor *a = ctx;

	assert_true(a->ncalls < MAXCALLS);
	a->calls[a->ncalls++] = index;
	return index < MAXCALLS ? !a->reject[index] : 1;
}

static struct matcher *
build(const char *const *patterns, size_t n)
{
	char err[256];
	struct matcher *m;

	struct hsdb *db = NULL;
	const char *half[64];
	size_t i, k = 0;

	err[0] = '\0';
	if (db_mode == DB_ALL && hsdb_available())
		db = hsdb_compile(patterns, n);
	else if (db_mode == DB_HALF && hsdb_available()) {
		for (i = 0; i < n && k < 64; i += 2)
			half[k++] = patterns[i];
		db = hsdb_compile(half, k);
	}
	m = matcher_build(patterns, n, db, NULL, err, sizeof(err));
	hsdb_unref(db);
	if (m == NULL)
		fail_msg("matcher_build: %s", err);
	return m;
}

/* First accepted index for a NUL-terminated name, accepting everything. */
static long
first(struct matcher *m, const char *name)
{
	struct acceptor a;

	memset(&a, 0, sizeof(a));
	return matcher_first(m, name, strlen(name), accept_cb, &a);
}

static void
test_lowest_matching_index_wins(void **state)
{
	static const char *const p[] = { "\\.org\\.$", "miek", "\\.nl\\.$",
	    "^a\\." };
	struct matcher *m;

	(void)state;
	m = build(p, 4);
	assert_int_equal(first(m, "a.miek.nl."), 1);
	assert_int_equal(first(m, "a.example.nl."), 2);
	assert_int_equal(first(m, "a.example.com."), 3);
	assert_int_equal(first(m, "a.miek.org."), 0);
	matcher_free(m);
}

static void
test_no_match_is_minus_1_without_calling_accept(void **state)
{
	static const char *const p[] = { "^[ab]\\.miek", "\\.nl\\.$" };
	struct matcher *m;
	struct acceptor a;

	(void)state;
	m = build(p, 2);
	memset(&a, 0, sizeof(a));
	assert_int_equal(matcher_first(m, "c.example.org.", 14, accept_cb, &a),
	    -1);
	assert_int_equal(a.ncalls, 0);
	matcher_free(m);
}

static void
test_accept_called_only_for_matches_in_order(void **state)
{
	static const char *const p[] = { "org", "miek", "xyz", "nl\\.$",
	    "^a\\." };
	struct matcher *m;
	struct acceptor a;

	(void)state;
	m = build(p, 5);
	memset(&a, 0, sizeof(a));
	a.reject[1] = a.reject[3] = a.reject[4] = 1;
	assert_int_equal(matcher_first(m, "a.miek.nl.", 10, accept_cb, &a), -1);
	assert_int_equal(a.ncalls, 3);
	assert_int_equal(a.calls[0], 1);
	assert_int_equal(a.calls[1], 3);
	assert_int_equal(a.calls[2], 4);
	matcher_free(m);
}

static void
test_rejected_match_is_skipped_for_next_match(void **state)
{
	static const char *const p[] = { "^[ab]\\.miek", "org", "miek\\.nl\\.$",
	    "." };
	struct matcher *m;
	struct acceptor a;

	(void)state;
	m = build(p, 4);
	memset(&a, 0, sizeof(a));
	a.reject[0] = 1;
	assert_int_equal(matcher_first(m, "a.miek.nl.", 10, accept_cb, &a), 2);
	/* Stops at the first accepted match: index 3 is never offered. */
	assert_int_equal(a.ncalls, 2);
	assert_int_equal(a.calls[0], 0);
	assert_int_equal(a.calls[1], 2);
	matcher_free(m);
}

static void
test_accepted_first_match_stops_the_scan(void **state)
{
	static const char *const p[] = { "miek", "miek", "miek" };
	struct matcher *m;
	struct acceptor a;

	(void)state;
	m = build(p, 3);
	memset(&a, 0, sizeof(a));
	assert_int_equal(matcher_first(m, "a.miek.nl.", 10, accept_cb, &a), 0);
	assert_int_equal(a.ncalls, 1);
	matcher_free(m);
}

static void
test_patterns_are_caseless(void **state)
{
	static const char *const p[] = { "^[AB]\\.MIEK\\.NL\\.$" };
	static const char *const q[] = { "^[ab]\\.miek" };
	struct matcher *m;

	(void)state;
	m = build(p, 1);
	assert_int_equal(first(m, "a.miek.nl."), 0);
	assert_int_equal(first(m, "B.Miek.NL."), 0);
	matcher_free(m);
	m = build(q, 1);
	assert_int_equal(first(m, "A.MIEK.NL."), 0);
	matcher_free(m);
}

static void
test_unanchored_pattern_matches_anywhere(void **state)
{
	static const char *const p[] = { "miek" };
	struct matcher *m;

	(void)state;
	m = build(p, 1);
	assert_int_equal(first(m, "miek.nl."), 0);
	assert_int_equal(first(m, "a.miek.nl."), 0);
	assert_int_equal(first(m, "www.xmiekx.org."), 0);
	assert_int_equal(first(m, "mie.k."), -1);
	matcher_free(m);
}

static void
test_anchored_pattern_matches_only_at_start(void **state)
{
	static const char *const p[] = { "^[ab]\\.miek" };
	struct matcher *m;

	(void)state;
	m = build(p, 1);
	assert_int_equal(first(m, "a.miek.nl."), 0);
	assert_int_equal(first(m, "b.miek.nl."), 0);
	assert_int_equal(first(m, "xa.miek.nl."), -1);
	assert_int_equal(first(m, "c.miek.nl."), -1);
	assert_int_equal(first(m, "x.a.miek.nl."), -1);
	matcher_free(m);
}

static void
test_end_anchor_sees_the_trailing_dot(void **state)
{
	static const char *const p[] = { "\\.nl\\.$" };
	struct matcher *m;

	(void)state;
	m = build(p, 1);
	assert_int_equal(first(m, "a.miek.nl."), 0);
	assert_int_equal(first(m, "a.nl.miek."), -1);
	assert_int_equal(first(m, "a.miek.nl"), -1);
	matcher_free(m);
}

static void
test_only_len_bytes_of_the_name_are_matched(void **state)
{
	static const char *const p[] = { "\\.nl\\.$", "junk" };
	const char name[] = "a.miek.nl.junk";
	struct matcher *m;
	struct acceptor a;

	(void)state;
	m = build(p, 2);
	memset(&a, 0, sizeof(a));
	assert_int_equal(matcher_first(m, name, 10, accept_cb, &a), 0);
	memset(&a, 0, sizeof(a));
	a.reject[0] = 1;
	assert_int_equal(matcher_first(m, name, 10, accept_cb, &a), -1);
	matcher_free(m);
}

static void
test_escaped_name_text_matches_literally(void **state)
{
	/* The name text escapes dots inside labels: "a\.b.nl." is one label. */
	static const char *const p[] = { "^a\\\\\\.b\\.nl\\.$" };
	struct matcher *m;

	(void)state;
	m = build(p, 1);
	assert_int_equal(first(m, "a\\.b.nl."), 0);
	assert_int_equal(first(m, "a.b.nl."), -1);
	matcher_free(m);
}

static void
test_bad_pattern_fails_with_its_index(void **state)
{
	static const char *const p[] = { "^ok\\.", "miek", "^a(b", "fine" };
	char err[256];

	(void)state;
	err[0] = '\0';
	assert_null(matcher_build(p, 4, NULL, NULL, err, sizeof(err)));
	assert_non_null(strstr(err, "pattern 2"));
	assert_non_null(strstr(err, "^a(b"));
}

static void
test_bad_first_pattern_fails_with_index_0(void **state)
{
	static const char *const p[] = { "[unclosed", "fine" };
	char err[256];

	(void)state;
	err[0] = '\0';
	assert_null(matcher_build(p, 2, NULL, NULL, err, sizeof(err)));
	assert_non_null(strstr(err, "pattern 0"));
}

static void
test_zero_patterns_match_nothing(void **state)
{
	struct matcher *m;
	struct acceptor a;

	(void)state;
	m = build(NULL, 0);
	assert_int_equal(matcher_count(m), 0);
	memset(&a, 0, sizeof(a));
	assert_int_equal(matcher_first(m, "a.miek.nl.", 10, accept_cb, &a), -1);
	assert_int_equal(a.ncalls, 0);
	matcher_free(m);
}

static void
test_count_is_number_of_patterns(void **state)
{
	static const char *const p[] = { "a", "b", "c" };
	struct matcher *m;

	(void)state;
	m = build(p, 3);
	assert_int_equal(matcher_count(m), 3);
	matcher_free(m);
}

static void
test_free_null_is_harmless(void **state)
{
	(void)state;
	matcher_free(NULL);
}

static void
test_many_patterns_pick_the_only_match(void **state)
{
	static char text[1000][32];
	static const char *p[1000];
	struct matcher *m;
	char name[64];
	size_t i;

	(void)state;
	for (i = 0; i < 1000; i++) {
		snprintf(text[i], sizeof(text[i]), "^shard%zu\\.example\\.", i);
		p[i] = text[i];
	}
	m = build(p, 1000);
	for (i = 0; i < 1000; i += 111) {
		snprintf(name, sizeof(name), "shard%zu.example.org.", i);
		assert_int_equal(first(m, name), (long)i);
	}
	assert_int_equal(first(m, "shard1000.example.org."), -1);
	matcher_free(m);
}

static void
test_pattern_hyperscan_lacks_is_matched_by_pcre2(void **state)
{
	/* A backreference: Hyperscan refuses it, PCRE2 takes it. */
	static const char *const p[] = { "^(a)\\1\\.", "^x\\." };
	struct hsdb *db;
	struct matcher *m;
	char err[256];

	(void)state;
	if (!hsdb_available())
		skip();
	db = hsdb_compile(p, 2);
	assert_non_null(db);
	assert_int_equal(hsdb_find(db, p[0]), HSDB_UNSUPPORTED);
	assert_true(hsdb_find(db, p[1]) >= 0);
	m = matcher_build(p, 2, db, NULL, err, sizeof(err));
	hsdb_unref(db);
	assert_non_null(m);
	assert_int_equal(matcher_pending(m), 0);	/* nothing a rebuild would add */
	assert_int_equal(first(m, "aa.miek.nl."), 0);
	assert_int_equal(first(m, "x.miek.nl."), 1);
	assert_int_equal(first(m, "ab.miek.nl."), -1);
	matcher_free(m);
}

static void
test_new_patterns_are_pending_until_a_database_holds_them(void **state)
{
	static const char *const p[] = { "^a\\.", "^b\\.", "^c\\." };
	struct hsdb *db;
	struct matcher *m;
	char err[256];

	(void)state;
	if (!hsdb_available())
		skip();
	db = hsdb_compile(p, 2);	/* older database: no "^c" */
	m = matcher_build(p, 3, db, NULL, err, sizeof(err));
	assert_non_null(m);
	assert_int_equal(matcher_pending(m), 1);
	assert_int_equal(first(m, "c.x."), 2);
	assert_int_equal(first(m, "a.x."), 0);
	/* Tried once: for "a.x." it comes after the route that matched. */
	assert_int_equal(matcher_take_tried(m), 1);
	assert_int_equal(first(m, "z.x."), -1);
	assert_int_equal(matcher_take_tried(m), 1);
	assert_int_equal(matcher_take_tried(m), 0);
	matcher_free(m);
	hsdb_unref(db);
}

static void
test_same_text_twice_keeps_both_places(void **state)
{
	/* Same regexp at two priorities: two routes, the first wins, the second when it is skipped. */
	static const char *const p[] = { "^m", "^z", "^m" };
	struct acceptor a;
	struct matcher *m = build(p, 3);

	(void)state;
	memset(&a, 0, sizeof(a));
	a.reject[0] = 1;
	assert_int_equal(matcher_first(m, "miek.", 5, accept_cb, &a), 2);
	assert_int_equal(a.ncalls, 2);
	assert_int_equal(a.calls[0], 0);
	assert_int_equal(a.calls[1], 2);
	/* A database of all of them would hold no more: nothing to compile. */
	if (db_mode == DB_ALL && hsdb_available())
		assert_int_equal(matcher_pending(m), 0);
	matcher_free(m);
}

static void
test_only_refused_patterns_are_not_pending(void **state)
{
	/* Hyperscan refuses every pattern: its database is empty, not stale. */
	static const char *const p[] = { "^(a)\\1\\.", "^(b)\\1\\." };
	struct hsdb *db;
	struct matcher *m;
	char err[256];

	(void)state;
	if (!hsdb_available())
		skip();
	db = hsdb_compile(p, 2);
	assert_non_null(db);
	assert_int_equal(hsdb_count(db), 0);
	m = matcher_build(p, 2, db, NULL, err, sizeof(err));
	hsdb_unref(db);
	assert_non_null(m);
	assert_int_equal(matcher_pending(m), 0);
	assert_int_equal(first(m, "bb.miek.nl."), 1);
	matcher_free(m);
}

/*
 * A regexp written to backtrack (Hyperscan refuses the lookbehind, so it
 * stays on PCRE2) costs PCRE2's default 10 million steps, ~50 ms, on a
 * 61-byte name; with the match limit it counts as no match, quickly, and
 * the next route answers.
 */
static void
test_backtracking_regexp_is_cut_off_as_no_match(void **state)
{
	const char *p[] = { "^(\\w|\\w)*(?<!x)$", "^(a|a)+$", "miek" };
	char name[80], err[256];
	struct matcher *m;
	struct timespec t0, t1;
	long r;
	double ms;

	(void)state;
	memset(name, 'a', 61);
	strcpy(name + 61, ".miek.nl.");
	m = matcher_build(p, 3, NULL, NULL, err, sizeof(err));
	assert_non_null(m);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	r = first(m, name);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 +
	    (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
	assert_int_equal(r, 2);
	assert_int_equal(matcher_take_limited(m), 2);
	assert_int_equal(matcher_take_limited(m), 0);
	assert_true(ms < 5.0);
	/* Names the regexps are meant for still match. */
	assert_int_equal(first(m, "aaa"), 0);
	assert_int_equal(first(m, "b.miek.nl."), 2);
	assert_int_equal(matcher_take_limited(m), 0);
	matcher_free(m);
}

/*
 * A matcher built on the last table's (prev) answers every name as one
 * built alone, for a run of tables as churn makes them: a route added, one
 * removed, two removed side by side, two swapped, a text twice, a pattern
 * Hyperscan refuses; the database holds the first table's patterns, then
 * a new database arrives (the same table, prev built on the old one). prev
 * is freed before its successor is used: what they share is counted.
 */
#define CHURN_N		40
#define CHURN_STEPS	8

static void
churn_table(int step, char (*text)[32], const char **p, size_t *n)
{
	size_t i, k = 0;

	for (i = 0; i < CHURN_N; i++) {
		if ((step >= 2 && i == 7) || (step >= 3 && (i == 20 || i == 21)))
			continue;		/* removed */
		if (step >= 1 && i == 10)
			snprintf(text[k], sizeof(text[k]), "^new%d\\.", step);
		else if (step >= 4 && i == 30)
			snprintf(text[k], sizeof(text[k]), "^r%02d\\.", 31);
		else if (step >= 4 && i == 31)
			snprintf(text[k], sizeof(text[k]), "^r%02d\\.", 30);
		else if (step >= 5 && i == 35)
			snprintf(text[k], sizeof(text[k]), "^r%02d\\.", 2);
		else if (step >= 6 && i == 36)
			snprintf(text[k], sizeof(text[k]), "^(r)\\1%zu", i);
		else
			snprintf(text[k], sizeof(text[k]), "^r%02zu\\.", i);
		p[k] = text[k];
		k++;
		if (step >= 1 && i == 10) {	/* the one added */
			snprintf(text[k], sizeof(text[k]), "^r%02zu\\.", i);
			p[k] = text[k];
			k++;
		}
	}
	*n = k;
}

static void
test_built_on_the_last_table_matches_as_built_alone(void **state)
{
	static char text[2][CHURN_N + 2][32];
	const char *p[2][CHURN_N + 2];
	struct matcher *prev, *m, *alone;
	struct hsdb *db = NULL, *db2 = NULL;
	char err[256], name[64];
	size_t n[2], i;
	int step, cur = 0;

	(void)state;
	churn_table(0, text[0], p[0], &n[0]);
	if (hsdb_available())
		db = hsdb_compile(p[0], n[0]);
	prev = matcher_build(p[0], n[0], db, NULL, err, sizeof(err));
	assert_non_null(prev);
	for (step = 1; step <= CHURN_STEPS; step++) {
		int nxt = step == CHURN_STEPS ? cur : !cur;
		struct hsdb *use = db;

		if (step == CHURN_STEPS) {	/* the new database */
			if (hsdb_available())
				db2 = hsdb_compile(p[cur], n[cur]);
			use = db2;
		} else
			churn_table(step, text[nxt], p[nxt], &n[nxt]);
		m = matcher_build(p[nxt], n[nxt], use, prev, err, sizeof(err));
		alone = matcher_build(p[nxt], n[nxt], use, NULL, err,
		    sizeof(err));
		assert_non_null(m);
		assert_non_null(alone);
		matcher_free(prev);
		assert_int_equal(matcher_pending(m), matcher_pending(alone));
		for (i = 0; i < CHURN_N + 2; i++) {
			snprintf(name, sizeof(name), "r%02zu.miek.nl.", i);
			assert_int_equal(first(m, name), first(alone, name));
			snprintf(name, sizeof(name), "rr%zu.miek.nl.", i);
			assert_int_equal(first(m, name), first(alone, name));
			snprintf(name, sizeof(name), "new%zu.miek.nl.", i);
			assert_int_equal(first(m, name), first(alone, name));
		}
		/* A name that only the new route takes, at its place. */
		snprintf(name, sizeof(name), "new%d.miek.nl.", step);
		if (step < CHURN_STEPS) {
			long r = first(m, name);

			assert_true(r >= 0);
			assert_memory_equal(p[nxt][r], "^new", 4);
		}
		matcher_free(alone);
		prev = m;
		cur = nxt;
	}
	if (db2 != NULL)
		assert_int_equal(matcher_pending(prev), 0);
	matcher_free(prev);
	hsdb_unref(db);
	hsdb_unref(db2);
}

static int
mode_none(void **state)
{
	(void)state;
	db_mode = DB_NONE;
	return 0;
}

static int
mode_all(void **state)
{
	(void)state;
	db_mode = DB_ALL;
	return 0;
}

static int
mode_half(void **state)
{
	(void)state;
	db_mode = DB_HALF;
	return 0;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lowest_matching_index_wins),
		cmocka_unit_test(test_no_match_is_minus_1_without_calling_accept),
		cmocka_unit_test(test_accept_called_only_for_matches_in_order),
		cmocka_unit_test(test_rejected_match_is_skipped_for_next_match),
		cmocka_unit_test(test_accepted_first_match_stops_the_scan),
		cmocka_unit_test(test_patterns_are_caseless),
		cmocka_unit_test(test_unanchored_pattern_matches_anywhere),
		cmocka_unit_test(test_anchored_pattern_matches_only_at_start),
		cmocka_unit_test(test_end_anchor_sees_the_trailing_dot),
		cmocka_unit_test(test_only_len_bytes_of_the_name_are_matched),
		cmocka_unit_test(test_escaped_name_text_matches_literally),
		cmocka_unit_test(test_bad_pattern_fails_with_its_index),
		cmocka_unit_test(test_bad_first_pattern_fails_with_index_0),
		cmocka_unit_test(test_zero_patterns_match_nothing),
		cmocka_unit_test(test_count_is_number_of_patterns),
		cmocka_unit_test(test_free_null_is_harmless),
		cmocka_unit_test(test_many_patterns_pick_the_only_match),
	};

	const struct CMUnitTest hybrid[] = {
		cmocka_unit_test(test_pattern_hyperscan_lacks_is_matched_by_pcre2),
		cmocka_unit_test(test_new_patterns_are_pending_until_a_database_holds_them),
		cmocka_unit_test(test_same_text_twice_keeps_both_places),
		cmocka_unit_test(test_only_refused_patterns_are_not_pending),
		cmocka_unit_test(test_backtracking_regexp_is_cut_off_as_no_match),
		cmocka_unit_test(test_built_on_the_last_table_matches_as_built_alone),
	};
	int failed = 0;

	failed += cmocka_run_group_tests_name("matcher, PCRE2 only", tests,
	    mode_none, NULL);
	failed += cmocka_run_group_tests_name("matcher, all in Hyperscan", tests,
	    mode_all, NULL);
	failed += cmocka_run_group_tests_name("matcher, half in Hyperscan", tests,
	    mode_half, NULL);
	failed += cmocka_run_group_tests_name("matcher, Hyperscan and PCRE2",
	    hybrid, mode_all, NULL);
	return failed;
}
