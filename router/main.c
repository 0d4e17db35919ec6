/*
 * dnsrouter-router: started by the master as root with its config on fd 3,
 * a readiness pipe on fd 4 and its listening sockets from fd 5 (UDP, TCP
 * for each listen address). It chroots into the run directory and drops to
 * router-user (else user) before it reads anything from the network.
 */
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "child.h"
#include "child_start.h"
#include "config.h"
#include "dnstap.h"
#include "endpoint.h"
#include "log.h"
#include "query.h"
#include "querylog.h"
#include "router.h"
#include "sendbatch.h"
#include "shards.h"
#include "stats.h"
#include "table.h"
#include "tcp.h"
#include "udp.h"
#include "update.h"
#include "upstream.h"
#include "upstream_tcp.h"
#include "util.h"
#include "xfr.h"

#define DRAIN_MAX	2.0	/* seconds to finish in-flight queries on stop */

static struct ev_loop	*loop;
static struct config	 conf;
static struct router	 router;	/* what each module's init is given */

#define TABLE_WAIT	3.0	/* then answer SERVFAIL rather than nothing */

static int	 nsets = 1;	/* socket sets this router serves (-s) */
static ev_timer	 drain_w, table_wait_w;
static double	 drain_until;
static int	 serving, stopping;

/*
 * Read queries only once there is a table: until then queries wait in the
 * socket (a restarted router takes over its queue, a rolled one shares it
 * with its predecessor) instead of getting SERVFAIL.
 */
static void
start_serving(void)
{
	if (serving || stopping)
		return;
	serving = 1;
	ev_timer_stop(loop, &table_wait_w);
	udp_start();
	tcp_start();
}

/* The first table is in hand: serve, and tell the master. */
static void
router_ready(void)
{
	start_serving();
	child_ready();
}

static void
table_wait_cb(struct ev_loop *l, ev_timer *w, int revents)
{
	(void)l; (void)w; (void)revents;
	log_warnx("no route table from the controller after %.0fs: answering "
	    "SERVFAIL until one arrives", TABLE_WAIT);
	start_serving();
}

static void
drain_cb(struct ev_loop *l, ev_timer *w, int revents)
{
	(void)w; (void)revents;
	if (query_inflight() == 0 || ev_now(l) >= drain_until) {
		/* Answers wait for the loop to block: send the last ones now. */
		udp_flush();
		ev_break(l, EVBREAK_ALL);
	}
}

/* Stop taking queries; answer those in flight, for at most DRAIN_MAX. */
static void
stop_cb(struct ev_loop *l, ev_signal *w, int revents)
{
	(void)w; (void)revents;
	stopping = 1;
	ev_timer_stop(l, &table_wait_w);
	udp_stop();
	tcp_stop();
	drain_until = ev_now(l) + DRAIN_MAX;
	ev_timer_init(&drain_w, drain_cb, 0., 0.01);
	ev_timer_start(l, &drain_w);
}

static int
option(struct child_proc *p, int ch, const char *arg)
{
	(void)p;
	switch (ch) {
	case 'i':
		router.index = atoi(arg);
		return 0;
	case 's':
		nsets = atoi(arg);
		return 0;
	}
	return -1;
}

static int
options_done(struct child_proc *p)
{
	static char name[32];

	if (router.index < 0 || nsets < 1 || nsets > CONFIG_MAX_WORKERS)
		return -1;
	snprintf(name, sizeof(name), "dnsrouter-router#%d", router.index);
	p->name = name;
	return 0;
}

/* As root, with the config: what the drop needs. */
static void
outside(struct child_proc *p)
{
	static char epdir[PATH_MAX];

	/* Reloading is the master's and the controller's: a router keeps on. */
	signal(SIGHUP, SIG_IGN);
	unblock_signal(SIGHUP);
	signal(SIGUSR1, SIG_IGN);	/* lameduck is the controller's */
	unblock_signal(SIGUSR1);
	/*
	 * Room for every TCP client and the sockets toward backends (a soft
	 * limit of 1024 would cap tcp-clients below its default); no cores.
	 */
	p->nofile = (rlim_t)conf.tcp_clients + 1024;
	/*
	 * Everything from the file system is in hand: lock ourselves in. The
	 * controller's endpoints are in its directory, which router-user
	 * can reach but not write.
	 */
	if (p->chrooted)
		router.endpoint_dir = "/" ENDPOINT_DIR;
	else {
		snprintf(epdir, sizeof(epdir), "%.100s/%s", conf.rundir,
		    ENDPOINT_DIR);
		router.endpoint_dir = epdir;
	}
	p->user = conf.router_user[0] != '\0' ? conf.router_user : conf.user;
	p->root = conf.rundir;
}

int
main(int argc, char *argv[])
{
	struct child_proc p = {
		.usage = "usage: dnsrouter-router -i index [-s sets] [-dv]",
		.options = "i:s:",
		.option = option,
		.options_done = options_done,
		.sandbox = SANDBOX_ROUTER,
		.conf = &conf,
		.outside = outside,
	};
	ev_signal sigterm, sigint;
	int i, k;

	router.index = -1;
	child_start(&p, argc, argv);
	loop = p.loop;
	router.loop = loop;
	router.conf = &conf;
	router.count = stats_counters();
	query_init(&router);
	querylog_init(&router);
	dnstap_init(&router, p.chrooted);
	sendbatch_init();
	upstream_init(&router, udp_flush);
	upstream_tcp_init(&router);
	xfr_init(&router);
	update_init(&router);
	for (i = 0; i < conf.nlisten; i++)
		for (k = 0; k < nsets; k++) {
			udp_init(&router, child_listen_fd(i, k, nsets, 0));
			tcp_init(&router, child_listen_fd(i, k, nsets, 1));
		}
	ev_timer_init(&table_wait_w, table_wait_cb, TABLE_WAIT, 0.);
	ev_timer_start(loop, &table_wait_w);
	table_init(&router, router_ready, stats_table_done);
	table_purges_to(query_cache());
	stats_init(&router);

	ev_signal_init(&sigterm, stop_cb, SIGTERM);
	ev_signal_init(&sigint, stop_cb, SIGINT);
	ev_signal_start(loop, &sigterm);
	ev_signal_start(loop, &sigint);
	log_debug("router %d on %d listen address(es), as uid %d", router.index,
	    conf.nlisten, (int)getuid());
	/* The master hears it serves once the first table is in (router_ready). */
	child_run(&p, 1);

	xfr_shutdown();
	dnstap_shutdown();
	shards_cache_free();
	/* Tables that ended report first, then the current one. */
	table_shutdown();
	stats_shutdown();
	sendbatch_shutdown();
	return 0;
}
