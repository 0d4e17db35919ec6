/* The route tables from the controller, as the router uses them (table.c). */
#ifndef DNSROUTER_TABLE_H
#define DNSROUTER_TABLE_H

#include <stddef.h>
#include <stdint.h>

#include "report.h"	/* REPORT_NRCODE, REPORT_NBUCKET */

struct cache;
struct matcher;
struct router;
struct rt_table;

/*
 * What one backend saw since the last report: plain integers, bumped on
 * the query path and sent and zeroed every REPORT_INTERVAL. A failed
 * attempt is counted when its query ends (answered by the retry, or not
 * at all), so that unanswered can tell the two apart.
 */
struct bcount {
	uint32_t	queries;	/* attempts sent */
	uint32_t	answered;
	uint32_t	failed;		/* attempts timed out or broken */
	uint32_t	unanswered;	/* of failed: queries no backend answered */
	uint32_t	rcode[REPORT_NRCODE];
	uint32_t	bucket[REPORT_NBUCKET];	/* latency, see report.h */
	uint64_t	latency_us;
};

/* A decoded route table with what the router derives from it. */
struct live_table {
	struct rt_table	*rt;
	struct matcher	*m;
	uint32_t	*rr;		/* round-robin position per route */
	uint32_t	*nup;		/* healthy backends per route */
	struct bcount	*bc;		/* per backend, since the last report */
	uint32_t	*rq;		/* queries per route, since the last report */
	uint32_t	*touched;	/* routes with rq > 0, ntouched of them */
	uint32_t	 ntouched;
	int		 refs;		/* queries using it, +1 while current */
	struct live_table *retired_next;	/* table.c's, once refs reached 0 */
	/*
	 * Per route, with the packet cache on: a hash of its regexp and of
	 * its backends' addresses (not their health), which a cached answer
	 * keeps; registrations that change make it another, and the
	 * answers of before misses.
	 */
	uint64_t	*rsig;
};

enum route_status {
	ROUTE_FOUND,		/* *route set */
	ROUTE_NONE,		/* no route matched: REFUSED */
	ROUTE_DOWN,		/* matched, none healthy, or no table: SERVFAIL */
};

/*
 * Receive tables from the controller. first() is called once,
 * when the first table can serve; released(t) when a table that was
 * replaced has ended its last query, from the loop (never inside
 * table_unref), just before t is freed.
 */
void table_init(const struct router *r, void (*first)(void),
    void (*released)(struct live_table *t));
void table_shutdown(void);
/* The controller's purges (dnsrouterctl purge) apply to c from now on. */
void table_purges_to(struct cache *c);
/* The table new queries use, or NULL before the first one arrived. */
struct live_table *table_current(void);
void table_ref(struct live_table *t);
void table_unref(struct live_table *t);
/*
 * The first route a lower-cased name matches, healthy or not, or -1: the
 * route that holds the name (transfers and updates ask it of records).
 */
long table_match(struct live_table *t, const char *name, size_t len);
/* Match a lower-cased name to the first route with a healthy backend. */
enum route_status table_route(struct live_table *t, const char *name, size_t len,
    uint32_t *route);
/*
 * Next healthy backend of route in round-robin order, or -1. With exclude
 * (a retry), any healthy backend but that one, without moving the rotation.
 */
int table_pick(struct live_table *t, uint32_t route, int exclude);

#endif
