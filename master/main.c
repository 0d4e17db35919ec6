/*
 * dnsrouter: the privileged master. Parses the config, binds every listening
 * socket, spawns the controller and the routers, restarts them when they
 * die, and handles signals. It never parses DNS or HTTP.
 */
#include <sys/stat.h>
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "log.h"
#include "master.h"

static struct ev_loop	*loop;
static struct config	 conf;
static struct listeners	 ls;
static const char	*conffile = CONFIG_DEFAULT_PATH;
static int		 foreground;
static int		 pidfile_written;

static void
usage(FILE *fp, int status)
{
	fprintf(fp,
	    "usage: dnsrouter [-dnv] [-f file]\n"
	    "  -f file   config file (default %s)\n"
	    "  -d        foreground, log to stderr (default: daemon, syslog, pidfile)\n"
	    "  -n        check the config, print \"configuration OK\" or the error\n"
	    "  -v        more verbose (repeatable)\n"
	    "  --help, --version\n"
	    "environment: DNS_ADDR=host:port (listen address), "
	    "ETCD_MACHINES=url[,url...]\n", CONFIG_DEFAULT_PATH);
	exit(status);
}

/* Load, override from the environment, validate: the one path to a config. */
static int
load_config(struct config *cf, char *err, size_t errlen)
{
	config_defaults(cf);
	if (config_load(cf, conffile, err, errlen) != 0 ||
	    config_apply_env(cf, err, errlen) != 0 ||
	    config_validate(cf, err, errlen) != 0)
		return -1;
	return 0;
}

static void
make_rundir(const char *dir)
{
	struct stat st;

	if (mkdir(dir, 0755) == -1 && errno != EEXIST)
		fatal("rundir %s", dir);
	if (stat(dir, &st) == -1)
		fatal("rundir %s", dir);
	if (!S_ISDIR(st.st_mode))
		fatalx("rundir %s is not a directory", dir);
}

static void
write_pidfile(const char *path)
{
	FILE *fp = fopen(path, "w");

	if (fp == NULL)
		fatal("pidfile %s", path);
	fprintf(fp, "%d\n", (int)getpid());
	if (fclose(fp) != 0)
		fatal("pidfile %s", path);
	pidfile_written = 1;
}

static void
all_stopped(void)
{
	ev_break(loop, EVBREAK_ALL);
}

static void
stop_cb(struct ev_loop *l, ev_signal *w, int revents)
{
	(void)l; (void)revents;
	log_info("signal %d: stopping", w->signum);
	children_stop(all_stopped);
}

static void
hup_cb(struct ev_loop *l, ev_signal *w, int revents)
{
	struct config *ncf;
	char err[1024];

	(void)l; (void)w; (void)revents;
	if ((ncf = malloc(sizeof(*ncf))) == NULL) {
		log_warn("SIGHUP");
		return;
	}
	if (load_config(ncf, err, sizeof(err)) != 0) {
		log_warnx("reload: %s; keeping the running configuration", err);
		free(ncf);
		return;
	}
	/* Listener, worker and timeout changes come with the supervision work. */
	log_info("reload: configuration OK; controller re-reads the routes");
	children_signal_controller(SIGHUP);
	free(ncf);
}

int
main(int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 }
	};
	ev_signal sigterm, sigint, sighup;
	char err[1024];
	int ch, checkonly = 0, verbose = 0;

	while ((ch = getopt_long(argc, argv, "df:nv", longopts, NULL)) != -1) {
		switch (ch) {
		case 'd':
			foreground = 1;
			break;
		case 'f':
			conffile = optarg;
			break;
		case 'n':
			checkonly = 1;
			break;
		case 'v':
			verbose++;
			break;
		case 'h':
			usage(stdout, 0);
			break;
		case 'V':
			printf("dnsrouter %s\n", DNSROUTER_VERSION);
			return 0;
		default:
			usage(stderr, 1);
		}
	}
	if (optind != argc)
		usage(stderr, 1);

	if (load_config(&conf, err, sizeof(err)) != 0) {
		fprintf(stderr, "dnsrouter: %s\n", err);
		return 1;
	}
	if (checkonly) {
		printf("configuration OK\n");
		return 0;
	}

	log_init(1, verbose, "dnsrouter");
	make_rundir(conf.rundir);
	if (listeners_open(&conf, &ls, err, sizeof(err)) != 0)
		fatalx("%s", err);
	if (!foreground) {
		if (daemon(0, 0) == -1)
			fatal("daemon");
		log_init(0, verbose, "dnsrouter");
		write_pidfile(conf.pidfile);
	}
	signal(SIGPIPE, SIG_IGN);
	if ((loop = ev_default_loop(EVFLAG_AUTO)) == NULL)
		fatalx("cannot start libev");
	ev_signal_init(&sigterm, stop_cb, SIGTERM);
	ev_signal_init(&sigint, stop_cb, SIGINT);
	ev_signal_init(&sighup, hup_cb, SIGHUP);
	ev_signal_start(loop, &sigterm);
	ev_signal_start(loop, &sigint);
	ev_signal_start(loop, &sighup);

	children_start(loop, &conf, &ls, foreground, verbose);
	log_info("dnsrouter %s started: %d routers, %d listen address(es)",
	    DNSROUTER_VERSION, conf.workers, conf.nlisten);
	ev_run(loop, 0);

	listeners_close(&ls);
	if (pidfile_written)
		unlink(conf.pidfile);
	log_info("stopped");
	return 0;
}
