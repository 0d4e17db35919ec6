/*
 * A router's own Hyperscan compile, the fallback when the controller's
 * database does not reach it or does not fit (another Hyperscan version or
 * CPU): the table's patterns compiled in a thread (common/hsjob.c) while
 * the router keeps answering (new patterns are matched with PCRE2 until a
 * database holds them).
 */
#include <stdlib.h>

#include "compile.h"
#include "hsdb.h"
#include "hsjob.h"
#include "log.h"
#include "router.h"
#include "routetable.h"
#include "util.h"

static struct hsjob	*job;
static void		(*on_done)(struct hsdb *);

static void
done(struct hsdb *db, double seconds, void *arg)
{
	(void)arg;
	if (db == NULL) {
		log_warnx("%s: Hyperscan compile failed: matching the patterns "
		    "one by one", __func__);
		return;
	}
	log_info("%s: %zu patterns compiled by this router in %.3fs", __func__,
	    hsdb_count(db) + hsdb_nbad(db), seconds);
	on_done(db);
}

void
compile_init(const struct router *r, void (*cb)(struct hsdb *))
{
	on_done = cb;
	job = hsjob_new(r->loop, done, NULL);
}

void
compile_start(const struct rt_table *rt)
{
	const char **pats;
	size_t i;

	if (hsjob_busy(job) || !hsdb_available())
		return;
	pats = xcalloc(rt->nroutes + 1, sizeof(*pats));
	for (i = 0; i < rt->nroutes; i++)
		pats[i] = rt->routes[i].pattern;
	(void)hsjob_start(job, pats, rt->nroutes);
	free(pats);
}

void
compile_shutdown(void)
{
	hsjob_free(job);
	job = NULL;
}
