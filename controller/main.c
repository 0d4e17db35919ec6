/*
 * dnsrouter-controller: merges the routes file and etcd, health-checks
 * every backend, and publishes the route table to the routers. Started by
 * the master, as root, with its config on fd 3 and a readiness pipe on
 * fd 4; it takes what it needs from outside (metrics socket, TLS files,
 * etcd's addresses, the routes file's directory), chroots into the run
 * directory's controller/ (where it listens) and drops to user.
 */
#include <limits.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "child_start.h"
#include "config.h"
#include "control.h"
#include "dbcompile.h"
#include "endpoint.h"
#include "etcd_preload.h"
#include "health.h"
#include "log.h"
#include "metrics.h"
#include "outside.h"
#include "pattern_cache.h"
#include "publish.h"
#include "registry.h"
#include "reports.h"
#include "routes_etcd.h"
#include "routes_file.h"
#include "self_route.h"
#include "stall.h"
#include "util.h"
#include "zones.h"

#define COALESCE_FIRST		0.001	/* a lone change goes out at once */
#define COALESCE_GAP		0.020	/* a burst: one table per 20 ms at most */
/*
 * ... and no more often than BUILD_SHARE times what the last one took to
 * build: a table of 40,000 backends takes tens of milliseconds, and a
 * burst of changes must leave the loop most of its time.
 */
#define BUILD_SHARE		3
#define FIRST_LISTING_WAIT	3.0	/* longest hold for etcd's first listing */
/*
 * Descriptors: health checks in flight (512 at most, controller/health.c),
 * /metrics connections (64), etcd, nng and room to spare.
 */
#define CONTROLLER_NOFILE	4096

static struct ev_loop	*loop;
static struct config	 conf;
static struct registry	 reg;
/*
 * A table is made in four passes of the loop, each a timer due at once,
 * so that with 40,000 backends no pass holds the loop for long (one that
 * did all took 180 ms on a busy machine, and one of three 102 ms):
 * health_sync, the build, the publication, the metrics' copy (itself in
 * passes of 8,192 backends, see metrics_table). A change
 * meanwhile schedules the next table, which starts once this one is done.
 */
static ev_timer		 rebuild_w, build_w, publish_w, stats_w;
static struct rt_table	*built;		/* waiting for publish_w */
static struct rt_table	*published;	/* waiting for stats_w */
static double		 last_publish = -1;
static double		 build_cost;	/* seconds the last table took */
/*
 * With etcd, the first table waits for etcd's first listing: routers that
 * outlived a controller keep their complete table rather than get one
 * with only the routes file's routes.
 */
static int		 hold;
static ev_timer		 hold_w;

static size_t		 left_out;	/* by the last table built */
static double		 left_out_logged;

static void
rebuild_cb(struct ev_loop *l, ev_timer *w, int revents)
{
	double start;

	(void)w; (void)revents;
	if (hold)
		return;
	if (ev_is_active(&build_w) || ev_is_active(&publish_w) ||
	    ev_is_active(&stats_w)) {
		/* The table under way is done first; this one follows. */
		ev_timer_set(&rebuild_w, COALESCE_FIRST, 0.);
		ev_timer_start(l, &rebuild_w);
		return;
	}
	last_publish = ev_now(l);
	/* Here, not per change: a burst of etcd batches costs one pass. */
	start = ev_time();
	health_sync(&reg);
	zones_sync(&reg);
	build_cost = ev_time() - start;
	ev_timer_set(&build_w, 0., 0.);
	ev_timer_start(l, &build_w);
}

static void
stats_cb(struct ev_loop *l, ev_timer *w, int revents)
{
	double start = ev_time();

	(void)w; (void)revents;
	if (!metrics_table(published)) {
		/* More of it next pass: the loop runs in between. */
		ev_timer_set(&stats_w, 0., 0.);
		ev_timer_start(l, &stats_w);
		build_cost += ev_time() - start;
		return;
	}
	rt_free(published);
	published = NULL;
	build_cost += ev_time() - start;
}

static void
build_cb(struct ev_loop *l, ev_timer *w, int revents)
{
	struct rt_table *t;
	double start = ev_time();
	size_t n;

	(void)w; (void)revents;
	t = registry_build(&reg, health_up, NULL, NULL, &n);
	if (n != left_out) {
		/* Once per 10 s at most while the count moves. */
		if (n == 0)
			log_info("route table: every registration fits again");
		else if (left_out == 0 || ev_now(l) - left_out_logged >= 10.) {
			log_warnx("route table full: %zu registrations left out "
			    "(a table holds at most %u backends, %u routes and "
			    "%u bytes); the newest wait for room", n,
			    RT_MAX_BACKENDS, RT_MAX_ROUTES, RT_MAX_TABLE_LEN);
			left_out_logged = ev_now(l);
		}
		left_out = n;
	}
	metrics_left_out(n);
	built = t;
	ev_timer_set(&publish_w, 0., 0.);
	ev_timer_start(l, &publish_w);
	build_cost += ev_time() - start;
}

static void
publish_cb(struct ev_loop *l, ev_timer *w, int revents)
{
	double start = ev_time();

	(void)w; (void)revents;
	if (publish_table(built)) {
		published = built;
		ev_timer_set(&stats_w, 0., 0.);
		ev_timer_start(l, &stats_w);
	} else
		rt_free(built);
	built = NULL;
	build_cost += ev_time() - start;
}

/* Something changed: publish soon, but not more than once per gap. */
static void
schedule_rebuild(void)
{
	double at, gap = BUILD_SHARE * build_cost;

	if (ev_is_active(&rebuild_w))
		return;
	at = last_publish + (gap > COALESCE_GAP ? gap : COALESCE_GAP) -
	    ev_now(loop);
	ev_timer_set(&rebuild_w, at > COALESCE_FIRST ? at : COALESCE_FIRST, 0.);
	ev_timer_start(loop, &rebuild_w);
}

static void
registry_changed(void)
{
	schedule_rebuild();
}

static void
etcd_changed(void)
{
	hold = 0;
	ev_timer_stop(loop, &hold_w);
	registry_changed();
}

static void
hold_cb(struct ev_loop *l, ev_timer *w, int revents)
{
	(void)l; (void)w; (void)revents;
	if (hold) {
		log_warnx("etcd: no listing after %.0fs: publishing the routes "
		    "file's routes meanwhile", FIRST_LISTING_WAIT);
		hold = 0;
		schedule_rebuild();
	}
}

static void
load_routes(void)
{
	if (conf.routes[0] == '\0')
		return;
	/* An unreadable file keeps the routes it gave last time. */
	if (routes_file_load(&reg, conf.routes) >= 0)
		registry_changed();
}

/* nng can lose a listener: see endpoint_check_listeners. */
static void
probe_cb(struct ev_loop *l, ev_timer *w, int revents)
{
	(void)l; (void)w; (void)revents;
	endpoint_check_listeners();
}

static void
hup_cb(struct ev_loop *l, ev_signal *w, int revents)
{
	(void)l; (void)w; (void)revents;
	log_info("reloading routes");
	load_routes();
	if (conf.netcd > 0)
		etcd_preload_reload();
}

static void
stop_cb(struct ev_loop *l, ev_signal *w, int revents)
{
	(void)w; (void)revents;
	ev_break(l, EVBREAK_ALL);
}

/* The master's lameduck: a stop is coming. */
static void
drain_cb(struct ev_loop *l, ev_signal *w, int revents)
{
	(void)l; (void)w; (void)revents;
	log_info("lameduck: /ready answers 503 until we stop");
	metrics_draining();
}

static char		 root[PATH_MAX];	/* our chroot, where we listen */
static char		 epdir[PATH_MAX];	/* the same, seen from inside */

/* As root, with the config: what the chroot would hide, and the drop's terms. */
static void
outside(struct child_proc *p)
{
	metrics_init(&conf);
	metrics_http_bind(&conf);
	/* What the chroot would hide: see outside.h and etcd_preload.h. */
	if (conf.routes[0] != '\0')
		outside_hold(conf.routes);
	if (conf.netcd > 0)
		etcd_preload_init(&conf);
	p->nofile = CONTROLLER_NOFILE;
	/* Our chroot is where we listen: "/" once in it. */
	snprintf(root, sizeof(root), "%.100s/%s", conf.rundir, ENDPOINT_DIR);
	snprintf(epdir, sizeof(epdir), "%s", p->chrooted ? "" : root);
	p->user = conf.user;
	p->root = root;
}

int
main(int argc, char *argv[])
{
	struct child_proc p = {
		.usage = "usage: dnsrouter-controller [-dv]",
		.name = "dnsrouter-controller",
		.sandbox = SANDBOX_CONTROLLER,
		.conf = &conf,
		.outside = outside,
	};
	ev_signal sighup, sigterm, sigint, sigusr1;
	ev_timer probe_w;

	/*
	 * A table's build allocates and frees tens of MiB at 40,000
	 * backends; from mmap each time, their page faults doubled the
	 * build's CPU. Keep freed memory in the heap instead, from before
	 * child_start reads the config.
	 */
	mallopt(M_MMAP_THRESHOLD, 64 << 20);
	mallopt(M_TRIM_THRESHOLD, 128 << 20);
	child_start(&p, argc, argv);
	loop = p.loop;
	ev_init(&rebuild_w, rebuild_cb);
	ev_init(&build_w, build_cb);
	ev_init(&publish_w, publish_cb);
	ev_init(&stats_w, stats_cb);
	hold = conf.netcd > 0;
	ev_timer_init(&hold_w, hold_cb, FIRST_LISTING_WAIT, 0.);
	if (hold)
		ev_timer_start(loop, &hold_w);
	dbcompile_init(loop, epdir);
	publish_init(loop, epdir);
	reports_init(loop, epdir);
	health_init(loop, &conf, schedule_rebuild);
	self_route_init(&conf);
	load_routes();
	/*
	 * The first table: with a routes file load_routes has scheduled it;
	 * without one routers still need a (empty) table. With etcd it waits
	 * for the first listing (hold).
	 */
	schedule_rebuild();
	if (conf.netcd > 0)
		routes_etcd_init(loop, &conf, &reg, etcd_changed);
	control_init(loop, &conf, epdir);
	metrics_http_init(loop);
	ev_timer_init(&probe_w, probe_cb, 1., 1.);
	ev_timer_start(loop, &probe_w);
	ev_signal_init(&sighup, hup_cb, SIGHUP);
	ev_signal_init(&sigusr1, drain_cb, SIGUSR1);
	ev_signal_init(&sigterm, stop_cb, SIGTERM);
	ev_signal_init(&sigint, stop_cb, SIGINT);
	ev_signal_start(loop, &sighup);
	ev_signal_start(loop, &sigusr1);
	ev_signal_start(loop, &sigterm);
	ev_signal_start(loop, &sigint);
	/* The master started us with SIGHUP blocked: a reload can come now. */
	unblock_signal(SIGHUP);
	unblock_signal(SIGUSR1);
	stall_init(loop);
	child_run(&p, 0);

	stall_shutdown();
	rt_free(built);
	rt_free(published);
	metrics_http_shutdown();
	control_shutdown();
	if (conf.netcd > 0)
		routes_etcd_shutdown();
	health_shutdown();
	zones_free();
	reports_shutdown();
	publish_shutdown();
	dbcompile_shutdown();
	registry_free(&reg);
	pattern_cache_free();
	metrics_free();
	if (conf.netcd > 0)
		etcd_preload_free();
	outside_free();
	return 0;
}
