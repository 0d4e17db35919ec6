/*
 * dnsrouter-controller: merges the routes file (and, later, etcd), and
 * publishes the route table to the routers. Started by the master with its
 * config on fd 3.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "config.h"
#include "log.h"
#include "privsep.h"
#include "publish.h"
#include "registry.h"
#include "routes_file.h"

#define CONTROLLER_FD_CONFIG	3
#define CONTROLLER_FD_READY	4	/* one byte here once serving */

static struct config	conf;
static struct registry	reg;

static void
rebuild(void)
{
	publish_table(registry_build(&reg, NULL, NULL));
}

static void
load_routes(void)
{
	if (conf.routes[0] == '\0')
		return;
	/* An unreadable file keeps the routes it gave last time. */
	if (routes_file_load(&reg, conf.routes) >= 0)
		rebuild();
}

static void
hup_cb(struct ev_loop *l, ev_signal *w, int revents)
{
	(void)l; (void)w; (void)revents;
	log_info("reloading routes");
	load_routes();
}

static void
stop_cb(struct ev_loop *l, ev_signal *w, int revents)
{
	(void)w; (void)revents;
	ev_break(l, EVBREAK_ALL);
}

static void
usage(void)
{
	fprintf(stderr, "usage: dnsrouter-controller [-dv]\n"
	    "(started by dnsrouter, not by hand)\n");
	exit(1);
}

int
main(int argc, char *argv[])
{
	struct ev_loop *loop;
	ev_signal sighup, sigterm, sigint;
	char err[512];
	int ch, verbose = 0, foreground = 0;

	while ((ch = getopt(argc, argv, "dv")) != -1) {
		switch (ch) {
		case 'd':
			foreground = 1;
			break;
		case 'v':
			verbose++;
			break;
		default:
			usage();
		}
	}
	log_init(foreground, verbose, "dnsrouter-controller");
	if (config_read_fd(&conf, CONTROLLER_FD_CONFIG, err, sizeof(err)) != 0)
		fatalx("%s", err);
	close(CONTROLLER_FD_CONFIG);
	signal(SIGPIPE, SIG_IGN);
	priv_drop(conf.user, NULL);

	if ((loop = ev_default_loop(EVFLAG_AUTO)) == NULL)
		fatalx("cannot start libev");
	publish_init(loop, conf.rundir);
	load_routes();
	if (conf.routes[0] == '\0' || reg.n == 0)
		rebuild();	/* routers need a table, even an empty one */
	if (write(CONTROLLER_FD_READY, "R", 1) != 1)
		log_debug("master not listening for readiness");
	close(CONTROLLER_FD_READY);

	ev_signal_init(&sighup, hup_cb, SIGHUP);
	ev_signal_init(&sigterm, stop_cb, SIGTERM);
	ev_signal_init(&sigint, stop_cb, SIGINT);
	ev_signal_start(loop, &sighup);
	ev_signal_start(loop, &sigterm);
	ev_signal_start(loop, &sigint);
	ev_run(loop, 0);

	publish_shutdown();
	registry_free(&reg);
	return 0;
}
