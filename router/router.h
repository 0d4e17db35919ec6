/*
 * The router process (dnsrouter-router): forwards queries from its
 * inherited listeners to the backends chosen by the current route table.
 * One libev loop does all the query work; no allocation, no ldns and no
 * formatted logging per UDP query (dnstap's messages and log-queries'
 * sampled lines, when configured, are the exceptions; dnstap's writing
 * is its own thread's). Each module has its header (query.h, table.h,
 * udp.h, tcp.h, upstream.h, upstream_tcp.h, sendbatch.h, stats.h,
 * compile.h, dbfetch.h, xfr.h, update.h, shards.h, matcher.h, rrl.h,
 * cache.h, dnstap.h, querylog.h);
 * this one holds only what main.c hands them all.
 */
#ifndef DNSROUTER_ROUTER_H
#define DNSROUTER_ROUTER_H

#include <ev.h>
#include <stdint.h>

struct config;

/*
 * The router's state that every module needs, filled in by main.c and
 * handed to each module's init, which keeps what it uses: no module but
 * main.c reads a router-wide global.
 */
struct router {
	struct ev_loop		*loop;
	const struct config	*conf;
	const char		*endpoint_dir;	/* the controller's: "/controller" in the chroot */
	uint32_t		*count;		/* stats.c's counters (enum report_global) */
	int			 index;		/* this router's slot */
};

#endif
