/*
 * dnsrouter-router: started by the master with its config on fd 3 and its
 * listening sockets from fd 4 (UDP, TCP for each listen address).
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "log.h"
#include "router.h"
#include "util.h"

struct ev_loop	*loop;
struct config	 conf;

static void
stop_cb(struct ev_loop *l, ev_signal *w, int revents)
{
	(void)w; (void)revents;
	ev_break(l, EVBREAK_ALL);
}

static void
usage(void)
{
	fprintf(stderr, "usage: dnsrouter-router -i index [-dv]\n"
	    "(started by dnsrouter, not by hand)\n");
	exit(1);
}

int
main(int argc, char *argv[])
{
	static char name[32];
	char err[512];
	ev_signal sigterm, sigint;
	int ch, i, idx = -1, verbose = 0, foreground = 0;

	while ((ch = getopt(argc, argv, "di:v")) != -1) {
		switch (ch) {
		case 'd':
			foreground = 1;
			break;
		case 'i':
			idx = atoi(optarg);
			break;
		case 'v':
			verbose++;
			break;
		default:
			usage();
		}
	}
	if (idx < 0)
		usage();
	snprintf(name, sizeof(name), "dnsrouter-router#%d", idx);
	log_init(foreground, verbose, name);
	if (config_read_fd(&conf, ROUTER_FD_CONFIG, err, sizeof(err)) != 0)
		fatalx("%s", err);
	close(ROUTER_FD_CONFIG);
	signal(SIGPIPE, SIG_IGN);

	if ((loop = ev_default_loop(EVFLAG_AUTO)) == NULL)
		fatalx("cannot start libev");
	query_init();
	upstream_init();
	for (i = 0; i < conf.nlisten; i++) {
		udp_init(ROUTER_FD_LISTEN + 2 * i);
		tcp_init(ROUTER_FD_LISTEN + 2 * i + 1);
	}
	table_init();

	ev_signal_init(&sigterm, stop_cb, SIGTERM);
	ev_signal_init(&sigint, stop_cb, SIGINT);
	ev_signal_start(loop, &sigterm);
	ev_signal_start(loop, &sigint);
	log_debug("router %d ready on %d listen address(es)", idx, conf.nlisten);
	ev_run(loop, 0);

	udp_stop();
	tcp_stop();
	table_shutdown();
	return 0;
}
