/*
 * controller/passive: when real traffic shows a backend failing. A backend
 * fails when its newest attempts, at least min_attempts of them within the
 * window, failed at the ratio or more; failures of queries no backend
 * answered count only while it answers nothing at all, and then only as a
 * suspicion for a health check to confirm.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "passive.h"

#define T0	17000000000ULL	/* a tick of today: time / 100 ms */

static struct passive_params pp;
static struct passive p;

static int
setup(void **state)
{
	(void)state;
	passive_params(&pp, 1000, 20, 80);	/* the defaults */
	memset(&p, 0, sizeof(p));
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	passive_free(&p);
	return 0;
}

static int
failing(uint64_t tick, struct passive_count *c)
{
	return passive_judge(&p, &pp, tick, c) == PASSIVE_FAILING;
}

static int
suspect(uint64_t tick, struct passive_count *c)
{
	return passive_judge(&p, &pp, tick, c) == PASSIVE_SUSPECT;
}

static void
test_params_round_the_window_up_to_slots(void **state)
{
	struct passive_params q;

	(void)state;
	assert_int_equal(pp.nslots, 10);
	passive_params(&q, 150, 5, 50);
	assert_int_equal(q.nslots, 2);
	passive_params(&q, 100, 5, 50);
	assert_int_equal(q.nslots, 1);
}

static void
test_nothing_reported_is_not_failing(void **state)
{
	struct passive_count c;

	(void)state;
	assert_false(failing(T0, &c));
	passive_add(&p, &pp, T0, 0, 0, 0);
	assert_null(p.slot);		/* nothing kept for nothing seen */
	assert_false(failing(T0, &c));
}

/* Failures others answered, below the minimum: no verdict either way. */
static void
test_fewer_attempts_than_the_minimum_decide_nothing(void **state)
{
	struct passive_count c;
	int i;

	(void)state;
	for (i = 0; i < 10; i++)
		passive_add(&p, &pp, T0 + (uint64_t)i, 0, 1, 0);
	assert_false(failing(T0 + 9, &c));
	assert_int_equal(c.attempts, 0);
	passive_add(&p, &pp, T0 + 9, 0, 9, 0);
	assert_false(failing(T0 + 9, &c));
	passive_add(&p, &pp, T0 + 9, 0, 1, 0);
	assert_true(failing(T0 + 9, &c));
	assert_int_equal(c.attempts, 20);
	assert_int_equal(c.counted, 20);
	assert_int_equal(c.slots, 10);
}

/* A dead backend under load: its newest attempts decide, not the window. */
static void
test_newest_attempts_decide_under_load(void **state)
{
	struct passive_count c;
	int i;

	(void)state;
	for (i = 0; i < 7; i++)
		passive_add(&p, &pp, T0 + (uint64_t)i, 10, 0, 0);
	/* The timeout: a slot without answers or failures. */
	passive_add(&p, &pp, T0 + 8, 0, 10, 0);
	assert_false(failing(T0 + 8, &c));	/* 10 failures, 10 answers */
	assert_int_equal(c.attempts, 20);
	assert_int_equal(c.slots, 3);
	passive_add(&p, &pp, T0 + 9, 0, 10, 0);
	assert_true(failing(T0 + 9, &c));
	assert_int_equal(c.attempts, 20);
	assert_int_equal(c.failed, 20);
	assert_int_equal(c.slots, 2);
}

/* 80 % is enough, 79 % is not. */
static void
test_the_ratio_is_inclusive(void **state)
{
	struct passive_count c;

	(void)state;
	passive_add(&p, &pp, T0, 21, 79, 0);
	assert_false(failing(T0, &c));
	passive_clear(&p, &pp);
	passive_add(&p, &pp, T0, 20, 80, 0);
	assert_true(failing(T0, &c));
	assert_int_equal(c.attempts, 100);
}

/*
 * The case: names that no backend answers fail on every backend
 * while the backends answer everything else. However many there are, a
 * backend that answered anything in the window is neither failing nor
 * suspect.
 */
static void
test_unanswered_names_do_not_count_against_a_backend_that_answers(void **state)
{
	struct passive_count c;

	(void)state;
	passive_add(&p, &pp, T0, 1, 0, 0);
	passive_add(&p, &pp, T0 + 9, 0, 100, 100);
	assert_int_equal(passive_judge(&p, &pp, T0 + 9, &c), PASSIVE_OK);
	assert_int_equal(c.attempts, 100);
	assert_int_equal(c.unanswered, 100);
	assert_int_equal(c.counted, 0);
	/* Once that answer is older than the window, a check is to tell. */
	passive_add(&p, &pp, T0 + 10, 0, 1, 1);
	assert_true(suspect(T0 + 10, &c));
	assert_int_equal(c.counted, 101);
}

/*
 * Alone on its route (no retry), a dead backend answers nothing and every
 * failure is unanswered: suspect, never failing on traffic alone.
 */
static void
test_a_backend_that_answers_nothing_is_suspect_on_unanswered_queries(
    void **state)
{
	struct passive_count c;

	(void)state;
	passive_add(&p, &pp, T0, 0, 20, 20);
	assert_false(failing(T0, &c));
	assert_true(suspect(T0, &c));
	assert_int_equal(c.counted, 20);
	/* Failures others answered decide by themselves, before suspicion. */
	passive_clear(&p, &pp);
	passive_add(&p, &pp, T0, 0, 20, 4);
	assert_true(failing(T0, &c));
	assert_int_equal(c.counted, 16);
	/* Neither alone is enough; together, and no answer: suspect. */
	passive_clear(&p, &pp);
	passive_add(&p, &pp, T0, 0, 20, 10);
	assert_true(suspect(T0, &c));
	passive_clear(&p, &pp);
	passive_add(&p, &pp, T0, 5, 15, 10);
	assert_int_equal(passive_judge(&p, &pp, T0, &c), PASSIVE_OK);
}

/* Failures the other backend answered count while this one answers others. */
static void
test_failures_others_answered_count_despite_answers(void **state)
{
	struct passive_count c;

	(void)state;
	passive_add(&p, &pp, T0, 4, 16, 0);
	assert_true(failing(T0, &c));
	passive_clear(&p, &pp);
	/* Mixed: 10 answered, 70 others answered, 20 nobody answered. */
	passive_add(&p, &pp, T0, 10, 90, 20);
	assert_false(failing(T0, &c));
	assert_int_equal(c.counted, 70);
}

static void
test_old_slots_fall_out_of_the_window(void **state)
{
	struct passive_count c;

	(void)state;
	passive_add(&p, &pp, T0, 0, 15, 0);
	passive_add(&p, &pp, T0 + 10, 0, 5, 0);	/* T0's slot, reused */
	assert_false(failing(T0 + 10, &c));
	passive_add(&p, &pp, T0 + 11, 0, 15, 0);
	assert_true(failing(T0 + 11, &c));
	/* Nothing for a whole window: the next report starts afresh. */
	passive_add(&p, &pp, T0 + 30, 0, 5, 0);
	assert_false(failing(T0 + 30, &c));
}

static void
test_zero_minimum_is_off(void **state)
{
	struct passive_count c;

	(void)state;
	passive_params(&pp, 1000, 0, 80);
	passive_add(&p, &pp, T0, 0, 1000, 0);
	assert_int_equal(passive_judge(&p, &pp, T0, &c), PASSIVE_OK);
}

static void
test_counts_saturate(void **state)
{
	struct passive_count c;

	(void)state;
	passive_add(&p, &pp, T0, 0, UINT32_MAX, UINT32_MAX);
	passive_add(&p, &pp, T0, UINT32_MAX, UINT32_MAX, 5);
	assert_int_equal(p.slot[T0 % pp.nslots].failed, UINT32_MAX);
	assert_int_equal(p.slot[T0 % pp.nslots].unanswered, UINT32_MAX);
	assert_int_equal(p.slot[T0 % pp.nslots].answered, UINT32_MAX);
	assert_int_equal(passive_judge(&p, &pp, T0, &c), PASSIVE_OK);
	assert_int_equal(c.counted, 0);		/* it answered */
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
#define T(f)	cmocka_unit_test_setup_teardown(f, setup, teardown)
		T(test_params_round_the_window_up_to_slots),
		T(test_nothing_reported_is_not_failing),
		T(test_fewer_attempts_than_the_minimum_decide_nothing),
		T(test_newest_attempts_decide_under_load),
		T(test_the_ratio_is_inclusive),
		T(test_unanswered_names_do_not_count_against_a_backend_that_answers),
		T(test_a_backend_that_answers_nothing_is_suspect_on_unanswered_queries),
		T(test_failures_others_answered_count_despite_answers),
		T(test_old_slots_fall_out_of_the_window),
		T(test_zero_minimum_is_off),
		T(test_counts_saturate),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
