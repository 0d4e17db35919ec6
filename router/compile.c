/*
 * Background compilation of the route table's patterns into a Hyperscan
 * database: a thread per job, the result handed to the loop through an
 * ev_async. The router keeps answering meanwhile (new patterns are matched
 * with PCRE2 until the database holds them).
 */
#include <malloc.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "hsdb.h"
#include "log.h"
#include "router.h"
#include "util.h"

static ev_async		 done_w;
static pthread_t	 thread;
static int		 busy;
static void		(*on_done)(struct hsdb *);

/* Owned by the job while busy, read by the loop once done_w fires. */
static char		**job_pat;
static size_t		 job_n;
static struct hsdb	*job_result;
static double		 job_started;

static void *
job(void *arg)
{
	(void)arg;
	job_result = hsdb_compile((const char *const *)job_pat, job_n);
	ev_async_send(loop, &done_w);
	return NULL;
}

static void
done_cb(struct ev_loop *l, ev_async *w, int revents)
{
	struct hsdb *db;
	size_t i;

	(void)w; (void)revents;
	if (!busy)
		return;
	pthread_join(thread, NULL);
	busy = 0;
	db = job_result;
	job_result = NULL;
	for (i = 0; i < job_n; i++)
		free(job_pat[i]);
	free(job_pat);
	job_pat = NULL;
	if (db == NULL) {
		log_warnx("%s: Hyperscan compile of %zu patterns failed: "
		    "matching them one by one", __func__, job_n);
		return;
	}
	log_debug("%s: %zu patterns in a Hyperscan database in %.3fs", __func__,
	    job_n, ev_now(l) - job_started);
	on_done(db);
	/* Compiling takes far more memory than the result: give it back. */
	malloc_trim(0);
}

void
compile_init(void (*done)(struct hsdb *))
{
	/* One arena: the compile thread's garbage then returns to the system. */
	mallopt(M_ARENA_MAX, 1);
	on_done = done;
	ev_async_init(&done_w, done_cb);
	ev_async_start(loop, &done_w);
}

void
compile_start(const struct rt_table *rt)
{
	size_t i;

	if (busy || !hsdb_available())
		return;
	job_n = rt->nroutes;
	job_pat = xcalloc(job_n + 1, sizeof(char *));
	for (i = 0; i < job_n; i++)
		job_pat[i] = xstrdup(rt->routes[i].pattern);
	job_started = ev_now(loop);
	if (pthread_create(&thread, NULL, job, NULL) != 0) {
		log_warn("%s: pthread_create", __func__);
		for (i = 0; i < job_n; i++)
			free(job_pat[i]);
		free(job_pat);
		job_pat = NULL;
		return;
	}
	busy = 1;
}

void
compile_shutdown(void)
{
	if (busy) {
		pthread_join(thread, NULL);
		busy = 0;
		for (size_t i = 0; i < job_n; i++)
			free(job_pat[i]);
		free(job_pat);
		hsdb_unref(job_result);
	}
	ev_async_stop(loop, &done_w);
}
