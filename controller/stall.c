/*
 * Loop iterations timed between an ev_check watcher of the highest
 * priority (the loop has just polled: the iteration's callbacks follow)
 * and an ev_prepare watcher (they are done: the loop is about to poll).
 */
#include <time.h>

#include "log.h"
#include "stall.h"

static struct ev_loop	*sloop;
static ev_check		 check_w;
static ev_prepare	 prepare_w;
static double		 start_cpu, start_wall;
static int		 started;
static uint64_t		 stalls, unlogged;
static double		 logged_at = -1e9, worst;

static double
cpu_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void
check_cb(struct ev_loop *l, ev_check *w, int revents)
{
	(void)l; (void)w; (void)revents;
	start_cpu = cpu_now();
	start_wall = ev_time();
	started = 1;
}

static void
prepare_cb(struct ev_loop *l, ev_prepare *w, int revents)
{
	double cpu, wall;

	(void)w; (void)revents;
	if (!started)
		return;
	started = 0;
	if ((cpu = cpu_now() - start_cpu) <= STALL_CPU)
		return;
	wall = ev_time() - start_wall;
	stalls++;
	if (cpu > worst)
		worst = cpu;
	if (ev_now(l) - logged_at < STALL_LOG_GAP) {
		unlogged++;
		return;
	}
	if (unlogged > 0)
		log_warnx("controller loop busy for %.0f ms of CPU (%.0f ms in "
		    "all) in one pass, and %llu more passes over %.0f ms since "
		    "the last warning (the worst %.0f ms)", cpu * 1e3, wall * 1e3,
		    (unsigned long long)unlogged, STALL_CPU * 1e3, worst * 1e3);
	else
		log_warnx("controller loop busy for %.0f ms of CPU (%.0f ms in "
		    "all) in one pass: everything else waited", cpu * 1e3,
		    wall * 1e3);
	logged_at = ev_now(l);
	unlogged = 0;
	worst = 0;
}

void
stall_init(struct ev_loop *loop)
{
	sloop = loop;
	ev_check_init(&check_w, check_cb);
	ev_set_priority(&check_w, EV_MAXPRI);
	ev_check_start(loop, &check_w);
	ev_prepare_init(&prepare_w, prepare_cb);
	ev_set_priority(&prepare_w, EV_MINPRI);
	ev_prepare_start(loop, &prepare_w);
}

uint64_t
stall_count(void)
{
	return stalls;
}

void
stall_shutdown(void)
{
	ev_check_stop(sloop, &check_w);
	ev_prepare_stop(sloop, &prepare_w);
}
