/*
 * The controller's Hyperscan database: each table's patterns compiled once,
 * in a thread while the loop runs, and served serialized to routers over
 * req/rep (proto/hsdbmsg.h), so that no router compiles and one that starts
 * matches at full speed from its first query.
 */
#ifndef DNSROUTER_DBCOMPILE_H
#define DNSROUTER_DBCOMPILE_H

#include <ev.h>

#include "routetable.h"

/* The newest database, kept beside the endpoints for the next start. */
#define DBCOMPILE_CACHE		"hsdb.cache"

/* Listen on the run directory's database endpoint; read the last run's database. */
void dbcompile_init(struct ev_loop *loop, const char *rundir);
/* A table goes out: compile its patterns when the newest database lacks them and that pays. */
void dbcompile_table(const struct rt_table *t);
/*
 * For /metrics: compiles done and failed, the last one's seconds and size,
 * and the latest table's patterns the newest database lacks (routers match
 * them one by one until a compile pays: dbcompile.c).
 */
struct dbcompile_stats {
	unsigned long long	 compiles, failures;
	double			 seconds;
	size_t			 bytes, patterns, pending;
};
void dbcompile_stats(struct dbcompile_stats *st);

/* Stop (a running compile is waited for) and close the endpoint. */
void dbcompile_shutdown(void);

#endif
