/* A Hyperscan compile in a thread, its result handed to an event loop. */
#include <sys/resource.h>
#include <malloc.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "hsdb.h"
#include "hsjob.h"
#include "log.h"
#include "util.h"

struct hsjob {
	struct ev_loop	 *loop;
	ev_async	  done_w;
	pthread_t	  thread;
	int		  busy;
	void		(*done)(struct hsdb *, double, void *);
	void		 *arg;
	/* Owned by the thread while busy, read by the loop once done_w fires. */
	char		**pat;
	size_t		  n;
	struct hsdb	 *result;
	double		  seconds;	/* wall clock */
	double		  cpu;		/* the thread's CPU time */
};

static double
mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/*
 * Niceness of the compiling thread: queries come first on a busy machine;
 * the compile still gets its share (weight 110 of a normal thread's 1024).
 */
#define HSJOB_NICE	10

static double
thread_cpu(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void *
run(void *arg)
{
	struct hsjob *j = arg;
	double t0 = mono(), c0;

	(void)setpriority(PRIO_PROCESS, (id_t)gettid(), HSJOB_NICE);
	c0 = thread_cpu();
	j->result = hsdb_compile((const char *const *)j->pat, j->n);
	j->cpu = thread_cpu() - c0;
	j->seconds = mono() - t0;
	ev_async_send(j->loop, &j->done_w);
	return NULL;
}

static void
release(struct hsjob *j)
{
	size_t i;

	pthread_join(j->thread, NULL);
	j->busy = 0;
	for (i = 0; i < j->n; i++)
		free(j->pat[i]);
	free(j->pat);
	j->pat = NULL;
	j->n = 0;
}

static void
done_cb(struct ev_loop *l, ev_async *w, int revents)
{
	struct hsjob *j = w->data;
	struct hsdb *db;

	(void)l; (void)revents;
	if (!j->busy)
		return;
	release(j);
	db = j->result;
	j->result = NULL;
	/* Compiling takes far more memory than the result: give it back. */
	malloc_trim(0);
	j->done(db, j->seconds, j->arg);
}

struct hsjob *
hsjob_new(struct ev_loop *loop, void (*done)(struct hsdb *, double, void *),
    void *arg)
{
	struct hsjob *j = xcalloc(1, sizeof(*j));

	/* One arena: the compile thread's garbage then returns to the system. */
	mallopt(M_ARENA_MAX, 1);
	j->loop = loop;
	j->done = done;
	j->arg = arg;
	ev_async_init(&j->done_w, done_cb);
	j->done_w.data = j;
	ev_async_start(loop, &j->done_w);
	return j;
}

int
hsjob_start(struct hsjob *j, const char *const *patterns, size_t n)
{
	size_t i;

	if (j->busy)
		return -1;
	j->n = n;
	j->pat = xcalloc(n + 1, sizeof(char *));
	for (i = 0; i < n; i++)
		j->pat[i] = xstrdup(patterns[i]);
	if (pthread_create(&j->thread, NULL, run, j) != 0) {
		log_warn("%s: pthread_create", __func__);
		for (i = 0; i < n; i++)
			free(j->pat[i]);
		free(j->pat);
		j->pat = NULL;
		return -1;
	}
	j->busy = 1;
	return 0;
}

int
hsjob_busy(const struct hsjob *j)
{
	return j->busy;
}

double
hsjob_cpu(const struct hsjob *j)
{
	return j->cpu;
}

void
hsjob_free(struct hsjob *j)
{
	if (j == NULL)
		return;
	ev_async_stop(j->loop, &j->done_w);
	if (j->busy) {
		/*
		 * A compile cannot be interrupted and can take many seconds:
		 * leave it to die with the process, which is exiting, rather
		 * than hold up its stop (the master kills a child that takes
		 * more than 3 s). j stays for the thread to write into.
		 */
		pthread_detach(j->thread);
		return;
	}
	free(j);
}
