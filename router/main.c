/*
 * dnsrouter-router: started by the master as root with its config on fd 3,
 * a readiness pipe on fd 4 and its listening sockets from fd 5 (UDP, TCP
 * for each listen address). It chroots into the run directory and drops to
 * router-user (else user) before it reads anything from the network.
 */
#include <sys/resource.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "child.h"
#include "config.h"
#include "endpoint.h"
#include "log.h"
#include "privsep.h"
#include "query.h"
#include "router.h"
#include "sandbox.h"
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

static void
usage(void)
{
	fprintf(stderr, "usage: dnsrouter-router -i index [-s sets] [-dv]\n"
	    "(started by dnsrouter, not by hand)\n");
	exit(1);
}

int
main(int argc, char *argv[])
{
	static char name[32], epdir[PATH_MAX];
	char err[512];
	ev_signal sigterm, sigint;
	int ch, i, k, idx = -1, nsets = 1, verbose = 0, foreground = 0;

	while ((ch = getopt(argc, argv, "di:s:v")) != -1) {
		switch (ch) {
		case 'd':
			foreground = 1;
			break;
		case 'i':
			idx = atoi(optarg);
			break;
		case 's':
			nsets = atoi(optarg);
			break;
		case 'v':
			verbose++;
			break;
		default:
			usage();
		}
	}
	if (idx < 0 || nsets < 1 || nsets > CONFIG_MAX_WORKERS)
		usage();
	snprintf(name, sizeof(name), "dnsrouter-router#%d", idx);
	log_init(foreground, verbose, name);
	if (config_read_fd(&conf, CHILD_FD_CONFIG, err, sizeof(err)) != 0)
		fatalx("%s", err);
	close(CHILD_FD_CONFIG);
	signal(SIGPIPE, SIG_IGN);
	/* Reloading is the master's and the controller's: a router keeps on. */
	signal(SIGHUP, SIG_IGN);
	unblock_signal(SIGHUP);

	/*
	 * Room for every TCP client and the sockets toward backends (a soft
	 * limit of 1024 would cap tcp-clients below its default); no cores.
	 */
	priv_rlimits((rlim_t)conf.tcp_clients + 1024);
	/*
	 * Everything from the file system is in hand: lock ourselves in. The
	 * controller's endpoints are in its directory, which router-user
	 * can reach but not write.
	 */
	if (geteuid() == 0)
		router.endpoint_dir = "/" ENDPOINT_DIR;
	else {
		snprintf(epdir, sizeof(epdir), "%.100s/%s", conf.rundir,
		    ENDPOINT_DIR);
		router.endpoint_dir = epdir;
	}
	priv_drop(conf.router_user[0] != '\0' ? conf.router_user : conf.user,
	    geteuid() == 0 ? conf.rundir : NULL);

	if ((loop = ev_default_loop(EVFLAG_AUTO)) == NULL)
		fatalx("cannot start libev");
	router.loop = loop;
	router.conf = &conf;
	router.count = stats_counters();
	router.index = idx;
	query_init(&router);
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
	stats_init(&router);

	ev_signal_init(&sigterm, stop_cb, SIGTERM);
	ev_signal_init(&sigint, stop_cb, SIGINT);
	ev_signal_start(loop, &sigterm);
	ev_signal_start(loop, &sigint);
	log_debug("router %d on %d listen address(es), as uid %d", idx,
	    conf.nlisten, (int)getuid());
	sandbox_enter(SANDBOX_ROUTER, conf.seccomp);
	ev_run(loop, 0);

	xfr_shutdown();
	shards_cache_free();
	/* Tables that ended report first, then the current one. */
	table_shutdown();
	stats_shutdown();
	sendbatch_shutdown();
	return 0;
}
