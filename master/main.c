/*
 * dnsrouter: the privileged master. Parses the config, binds every listening
 * socket, spawns the controller and the routers, restarts them when they
 * die, and handles signals. It never parses DNS or HTTP.
 */
#include <sys/file.h>
#include <sys/stat.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "addr.h"
#include "config.h"
#include "endpoint.h"
#include "log.h"
#include "master.h"
#include "privsep.h"
#include "util.h"

static struct ev_loop	*loop;
static struct config	*conf, *old_conf;
static struct listeners	 lsets[2], *ls, *old_ls;
static const char	*conffile = CONFIG_DEFAULT_PATH;
static int		 foreground;
static int		 pidfd = -1;
static int		 rundir_lockfd = -1;	/* flock of rundir/dnsrouter.lock */
static int		 reloading, reload_again;

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

/* A user named by key must exist; the error names its line. */
static int
check_user(const char *key, const char *user, char *err, size_t errlen)
{
	uid_t uid;
	gid_t gid;
	int line;

	if (priv_lookup(user, &uid, &gid) == 0)
		return 0;
	line = config_key_line(conffile, key);
	if (line > 0)
		snprintf(err, errlen, "%s:%d: %s '%s': no such user (create it, "
		    "see dnsrouter(8), or name another)", conffile, line, key,
		    user);
	else
		snprintf(err, errlen, "%s: %s '%s' (the default) does not exist "
		    "(create it, see dnsrouter(8), or name another)", conffile,
		    key, user);
	return -1;
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
	if (check_user("user", cf->user, err, errlen) != 0)
		return -1;
	if (cf->router_user[0] != '\0' &&
	    check_user("router-user", cf->router_user, err, errlen) != 0)
		return -1;
	return 0;
}

/*
 * Who owns what in the run directory (docs/design.md, "privileges"):
 * rundir itself is root's, group the routers' (their chroot: they can
 * reach controller/ but write nothing); rundir/controller is the
 * controller's (its chroot, where it listens), group the routers' again,
 * so that routers connect to its endpoints but, as router-user, cannot
 * create or remove anything there. Set at start and on every reload.
 */
/* Owner and mode of the directory path, never of what a symlink points to. */
static int
own_dir(const char *path, uid_t uid, gid_t gid, char *err, size_t errlen)
{
	int fd, rv = 0;

	if ((fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC)) == -1 || fchown(fd, uid, gid) == -1 ||
	    fchmod(fd, 0750) == -1) {
		snprintf(err, errlen, "rundir %.200s: %s", path, strerror(errno));
		rv = -1;
	}
	if (fd != -1)
		close(fd);
	return rv;
}

static int
own_rundir(const struct config *cf, char *err, size_t errlen)
{
	char sub[PATH_MAX];
	uid_t uid, ruid;
	gid_t gid, rgid;

	if (geteuid() != 0)
		return 0;	/* everything runs as us anyway */
	if (priv_lookup(cf->user, &uid, &gid) != 0 ||
	    priv_lookup(cf->router_user[0] != '\0' ? cf->router_user : cf->user,
	    &ruid, &rgid) != 0) {
		snprintf(err, errlen, "rundir %.100s: user lookup failed",
		    cf->rundir);
		return -1;
	}
	snprintf(sub, sizeof(sub), "%.100s/%s", cf->rundir, ENDPOINT_DIR);
	/* rundir first: once it is root's, nobody else can swap sub. */
	if (own_dir(cf->rundir, 0, rgid, err, errlen) != 0 ||
	    own_dir(sub, uid, rgid, err, errlen) != 0)
		return -1;
	return 0;
}

/* Stale endpoints of a killed controller go (rundir itself: older layout). */
static void
remove_endpoints(const char *dir)
{
	struct dirent *de;
	DIR *d;

	if ((d = opendir(dir)) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		size_t n = strlen(de->d_name);

		if (n > 4 && strcmp(de->d_name + n - 4, ".ipc") == 0)
			(void)unlinkat(dirfd(d), de->d_name, 0);
	}
	closedir(d);
}

/* A directory, made if missing; a symbolic link or other file is refused. */
static int
make_dir(const char *dir, char *err, size_t errlen)
{
	struct stat st;

	if (mkdir(dir, 0750) == -1 && errno != EEXIST) {
		snprintf(err, errlen, "rundir %s: %s", dir, strerror(errno));
		return -1;
	}
	if (lstat(dir, &st) == -1 || !S_ISDIR(st.st_mode)) {
		snprintf(err, errlen, "rundir %s: not a directory", dir);
		return -1;
	}
	return 0;
}

/*
 * The run directory and its controller/, owned as own_rundir says, and
 * this dnsrouter's alone (locked); stale endpoints go.
 */
static int
make_rundir(const struct config *cf, char *err, size_t errlen)
{
	char path[PATH_MAX];
	int fd;

	if (make_dir(cf->rundir, err, errlen) != 0)
		return -1;
	/*
	 * One dnsrouter per run directory, daemon or not (-d has no pidfile):
	 * a second one would remove the first one's endpoints below.
	 */
	snprintf(path, sizeof(path), "%.100s/dnsrouter.lock", cf->rundir);
	if ((fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600)) == -1) {
		snprintf(err, errlen, "%.900s: %s", path, strerror(errno));
		return -1;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) == -1) {
		snprintf(err, errlen, "rundir in use by another dnsrouter "
		    "(%.900s is locked)", path);
		close(fd);
		return -1;
	}
	snprintf(path, sizeof(path), "%.100s/%s", cf->rundir, ENDPOINT_DIR);
	if (make_dir(path, err, errlen) != 0 || own_rundir(cf, err, errlen) != 0) {
		close(fd);
		return -1;
	}
	if (rundir_lockfd != -1)
		close(rundir_lockfd);
	rundir_lockfd = fd;
	remove_endpoints(cf->rundir);
	remove_endpoints(path);
	return 0;
}

/* Take the pidfile's lock: a live dnsrouter holds it, a stale file does not. */
static void
lock_pidfile(const char *path)
{
	char buf[32];
	ssize_t n;

	if ((pidfd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644)) == -1)
		fatal("pidfile %s", path);
	if (flock(pidfd, LOCK_EX | LOCK_NB) == -1) {
		if (errno != EWOULDBLOCK)
			fatal("pidfile %s: lock", path);
		n = pread(pidfd, buf, sizeof(buf) - 1, 0);
		buf[n > 0 ? n : 0] = '\0';
		buf[strcspn(buf, "\n")] = '\0';
		fatalx("already running (pid %s, pidfile %s)", buf, path);
	}
}

static void
write_pidfile(void)
{
	char buf[32];
	int n = snprintf(buf, sizeof(buf), "%d\n", (int)getpid());

	if (ftruncate(pidfd, 0) == -1 || pwrite(pidfd, buf, (size_t)n, 0) != n)
		fatal("pidfile");
}

static void
all_stopped(void)
{
	ev_break(loop, EVBREAK_ALL);
}

static ev_timer		 lameduck_w;
static int		 lameducking;

static void
lameduck_cb(struct ev_loop *l, ev_timer *w, int revents)
{
	(void)l; (void)w; (void)revents;
	log_info("lameduck over: stopping");
	children_stop(all_stopped);
}

/*
 * With lameduck D, the first SIGTERM or SIGINT has the controller answer
 * /ready with 503 for D while the routers go on answering (so a load
 * balancer can take us out first), then stops; a second one stops at once.
 */
static void
stop_cb(struct ev_loop *l, ev_signal *w, int revents)
{
	(void)revents;
	if (conf->lameduck_ms > 0 && !lameducking) {
		lameducking = 1;
		log_info("signal %d: lameduck for %.1fs (/ready says 503, DNS "
		    "is answered), then stopping", w->signum,
		    conf->lameduck_ms / 1000.0);
		children_drain();
		ev_timer_init(&lameduck_w, lameduck_cb,
		    conf->lameduck_ms / 1000.0, 0.);
		ev_timer_start(l, &lameduck_w);
		return;
	}
	ev_timer_stop(l, &lameduck_w);
	log_info("signal %d: stopping", w->signum);
	children_stop(all_stopped);
}

/*
 * Whether a new configuration changes what the routers (or the controller)
 * read: the config text each is given, less the keys it does not read
 * (config_key_readers, one list for every key).
 */
static int
text_differs(const struct config *a, const struct config *b, int readers)
{
	char *ta = config_text_for(a, readers), *tb = config_text_for(b, readers);
	int differ;

	if (ta == NULL || tb == NULL)
		fatalx("cannot write the configuration");
	differ = strcmp(ta, tb) != 0;
	free(ta);
	free(tb);
	return differ;
}

static void	hup_cb(struct ev_loop *, ev_signal *, int);

static void
reload_done(void)
{
	listeners_close(old_ls);
	free(old_conf);
	old_conf = NULL;
	reloading = 0;
	log_info("reload: done");
	if (reload_again) {
		reload_again = 0;
		hup_cb(loop, NULL, 0);
	}
}

static void
hup_cb(struct ev_loop *l, ev_signal *w, int revents)
{
	struct config *ncf;
	struct listeners *nls;
	char err[1024];
	int rchg, cchg;

	(void)l; (void)w; (void)revents;
	if (reloading) {
		/* Several SIGHUPs during a reload make one more reload. */
		reload_again = 1;
		return;
	}
	ncf = xcalloc(1, sizeof(*ncf));
	if (load_config(ncf, err, sizeof(err)) != 0) {
		log_warnx("reload: %s; keeping the running configuration", err);
		free(ncf);
		return;
	}
	rchg = text_differs(conf, ncf, CONFIG_FOR_ROUTERS);
	cchg = text_differs(conf, ncf, CONFIG_FOR_CONTROLLER);
	nls = ls == &lsets[0] ? &lsets[1] : &lsets[0];
	if (listeners_open(ncf, ls, nls, err, sizeof(err)) != 0) {
		log_warnx("reload: %s; keeping the running configuration", err);
		free(ncf);
		return;
	}
	if ((strcmp(ncf->rundir, conf->rundir) != 0 ?
	    make_rundir(ncf, err, sizeof(err)) :
	    own_rundir(ncf, err, sizeof(err))) != 0) {
		log_warnx("reload: %s; keeping the running configuration", err);
		listeners_close(nls);
		free(ncf);
		return;
	}
	log_info("reload: configuration OK (%s%s)",
	    rchg ? "routers roll one at a time" : "routers unchanged",
	    cchg ? ", controller restarts" : ", controller re-reads its routes");
	reloading = 1;
	old_conf = conf;
	old_ls = ls;
	conf = ncf;
	ls = nls;
	log_setjson(conf->log_json);
	children_reload(conf, ls, cchg, rchg, reload_done);
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

	conf = xcalloc(1, sizeof(*conf));
	if (load_config(conf, err, sizeof(err)) != 0) {
		fprintf(stderr, "dnsrouter: %s\n", err);
		return 1;
	}
	if (checkonly) {
		printf("configuration OK\n");
		return 0;
	}

	log_init(1, verbose, "dnsrouter");
	log_setjson(conf->log_json);
	if (!foreground)
		lock_pidfile(conf->pidfile);
	if (make_rundir(conf, err, sizeof(err)) != 0)
		fatalx("%s", err);
	ls = &lsets[0];
	if (listeners_open(conf, NULL, ls, err, sizeof(err)) != 0)
		fatalx("%s", err);
	if (!foreground) {
		if (daemon(0, 0) == -1)
			fatal("daemon");
		log_init(0, verbose, "dnsrouter");
		write_pidfile();
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

	children_start(loop, conf, ls, foreground, verbose);
	log_info("dnsrouter %s started: %d routers, %d listen address(es), "
	    "controller runs as '%s', routers as '%s'", DNSROUTER_VERSION,
	    conf->workers, conf->nlisten, conf->user,
	    conf->router_user[0] != '\0' ? conf->router_user : conf->user);
	ev_run(loop, 0);

	listeners_close(ls);
	if (pidfd != -1)
		unlink(conf->pidfile);
	log_info("stopped");
	return 0;
}
