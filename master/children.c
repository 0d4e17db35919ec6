/*
 * Spawning and supervising the children. Each is fork+exec'd (fresh ASLR,
 * no inherited heap) with its config on fd 3 and its sockets from fd 4. A
 * child that dies is restarted after a per-slot backoff (100 ms doubling to
 * 30 s, reset after a healthy minute); the master keeps its copies of the
 * listening sockets, so a restarted router takes over the queued queries.
 */
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "master.h"
#include "util.h"

#define BACKOFF_MIN	0.1
#define BACKOFF_MAX	30.0
#define HEALTHY_AFTER	60.0
#define STOP_GRACE	2.0

enum role { ROLE_CONTROLLER, ROLE_ROUTER };

struct child {
	enum role	role;
	int		index;		/* router number */
	pid_t		pid;		/* 0: not running */
	double		started;
	double		backoff;
	ev_child	cw;
	ev_timer	restart_w;
};

static struct ev_loop		*mloop;
static const struct listeners	*lsocks;
static struct child		*kids;
static int			 nkids;
static int			 config_fd = -1;
static int			 fg, verb;
static int			 stopping;
static void			(*stopped_cb)(void);
static ev_timer			 kill_w;
static char			 router_path[PATH_MAX], controller_path[PATH_MAX];

static void	spawn(struct child *);

/* The children live next to the master (build tree) or in LIBEXECDIR. */
static void
find_child(const char *name, char *out, size_t outlen)
{
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

	if (n > 0) {
		self[n] = '\0';
		snprintf(out, outlen, "%s/%s", dirname(self), name);
		if (access(out, X_OK) == 0)
			return;
	}
	snprintf(out, outlen, "%s/%s", LIBEXECDIR, name);
	if (access(out, X_OK) != 0)
		fatal("cannot find %s next to dnsrouter or in %s", name, LIBEXECDIR);
}

static int
make_config_fd(const struct config *cf)
{
	FILE *fp;
	int fd = memfd_create("dnsrouter.conf", MFD_CLOEXEC);

	if (fd == -1)
		fatal("%s: memfd_create", __func__);
	if ((fp = fdopen(dup(fd), "w")) == NULL)
		fatal("%s: fdopen", __func__);
	if (config_write(cf, fp) != 0 || fclose(fp) != 0)
		fatal("%s: writing config", __func__);
	return fd;
}

/* In the child: put fds[0..n) at CHILD_FD_CONFIG.., close everything else. */
static void
arrange_fds(const int *fds, int n)
{
	int tmp[1 + 2 * CONFIG_MAX_LISTEN], i;

	/* Move out of the way first: a source may sit on a target number. */
	for (i = 0; i < n; i++)
		if ((tmp[i] = fcntl(fds[i], F_DUPFD, CHILD_FD_CONFIG + n + 64)) == -1)
			_exit(127);
	for (i = 0; i < n; i++)
		if (dup2(tmp[i], CHILD_FD_CONFIG + i) == -1)
			_exit(127);
	closefrom(CHILD_FD_CONFIG + n);
}

static void
spawn(struct child *c)
{
	char *argv[16], idx[16], vflag[16];
	int fds[1 + 2 * CONFIG_MAX_LISTEN], nfds = 0, argc = 0, l;
	sigset_t all;
	pid_t pid;

	fds[nfds++] = config_fd;
	if (c->role == ROLE_ROUTER)
		for (l = 0; l < lsocks->nlisten; l++) {
			fds[nfds++] = LISTENER_FD(lsocks, c->index, l, 0);
			fds[nfds++] = LISTENER_FD(lsocks, c->index, l, 1);
		}
	argv[argc++] = c->role == ROLE_ROUTER ? router_path : controller_path;
	if (c->role == ROLE_ROUTER) {
		snprintf(idx, sizeof(idx), "%d", c->index);
		argv[argc++] = "-i";
		argv[argc++] = idx;
	}
	if (fg)
		argv[argc++] = "-d";
	if (verb > 0) {
		snprintf(vflag, sizeof(vflag), "-%.*s", verb > 8 ? 8 : verb,
		    "vvvvvvvv");
		argv[argc++] = vflag;
	}
	argv[argc] = NULL;

	switch (pid = fork()) {
	case -1:
		log_warn("%s: fork", __func__);
		c->pid = 0;
		c->backoff = c->backoff < BACKOFF_MIN ? BACKOFF_MIN : c->backoff;
		ev_timer_set(&c->restart_w, c->backoff, 0.);
		ev_timer_start(mloop, &c->restart_w);
		return;
	case 0:
		/* Die with the master, whatever kills it. */
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		if (getppid() == 1)
			_exit(1);
		sigemptyset(&all);
		sigprocmask(SIG_SETMASK, &all, NULL);
		arrange_fds(fds, nfds);
		execv(argv[0], argv);
		_exit(127);
	}
	c->pid = pid;
	c->started = ev_now(mloop);
	ev_child_set(&c->cw, pid, 0);
	ev_child_start(mloop, &c->cw);
	if (c->role == ROLE_ROUTER)
		log_debug("router #%d started, pid %d", c->index, (int)pid);
	else
		log_debug("controller started, pid %d", (int)pid);
}

static void
restart_cb(struct ev_loop *l, ev_timer *w, int revents)
{
	(void)l; (void)revents;
	if (!stopping)
		spawn(w->data);
}

static void
check_all_stopped(void)
{
	int i;

	for (i = 0; i < nkids; i++)
		if (kids[i].pid != 0)
			return;
	ev_timer_stop(mloop, &kill_w);
	if (stopped_cb != NULL) {
		void (*cb)(void) = stopped_cb;

		stopped_cb = NULL;
		cb();
	}
}

static void
child_cb(struct ev_loop *l, ev_child *w, int revents)
{
	struct child *c = w->data;
	char what[64], name[32];
	double lived = ev_now(l) - c->started;

	(void)revents;
	ev_child_stop(l, w);
	c->pid = 0;
	if (stopping) {
		check_all_stopped();
		return;
	}
	if (WIFSIGNALED(w->rstatus))
		snprintf(what, sizeof(what), "killed by signal %d",
		    WTERMSIG(w->rstatus));
	else
		snprintf(what, sizeof(what), "exited with status %d",
		    WEXITSTATUS(w->rstatus));
	if (c->role == ROLE_ROUTER)
		snprintf(name, sizeof(name), "router #%d", c->index);
	else
		snprintf(name, sizeof(name), "controller");
	if (lived >= HEALTHY_AFTER || c->backoff == 0)
		c->backoff = BACKOFF_MIN;
	else
		c->backoff = c->backoff * 2 > BACKOFF_MAX ? BACKOFF_MAX : c->backoff * 2;
	log_warnx("%s (pid %d) %s after %.1fs; restarting in %.1fs", name,
	    w->rpid, what, lived, c->backoff);
	ev_timer_set(&c->restart_w, c->backoff, 0.);
	ev_timer_start(l, &c->restart_w);
}

void
children_start(struct ev_loop *loop, const struct config *cf,
    const struct listeners *ls, int foreground, int verbose)
{
	int i;

	mloop = loop;
	lsocks = ls;
	fg = foreground;
	verb = verbose;
	find_child("dnsrouter-router", router_path, sizeof(router_path));
	find_child("dnsrouter-controller", controller_path, sizeof(controller_path));
	config_fd = make_config_fd(cf);
	nkids = cf->workers + 1;
	kids = xcalloc((size_t)nkids, sizeof(*kids));
	for (i = 0; i < nkids; i++) {
		struct child *c = &kids[i];

		c->role = i == 0 ? ROLE_CONTROLLER : ROLE_ROUTER;
		c->index = i - 1;
		ev_init(&c->cw, child_cb);
		c->cw.data = c;
		ev_init(&c->restart_w, restart_cb);
		c->restart_w.data = c;
	}
	/* The controller first: routers ask it for a table as they start. */
	for (i = 0; i < nkids; i++)
		spawn(&kids[i]);
}

static void
kill_cb(struct ev_loop *l, ev_timer *w, int revents)
{
	int i;

	(void)l; (void)w; (void)revents;
	for (i = 0; i < nkids; i++)
		if (kids[i].pid != 0) {
			log_warnx("child pid %d did not stop in %.0fs: killing it",
			    (int)kids[i].pid, STOP_GRACE);
			kill(kids[i].pid, SIGKILL);
		}
}

void
children_stop(void (*done)(void))
{
	int i;

	stopping = 1;
	stopped_cb = done;
	for (i = 0; i < nkids; i++) {
		ev_timer_stop(mloop, &kids[i].restart_w);
		if (kids[i].pid != 0)
			kill(kids[i].pid, SIGTERM);
	}
	ev_timer_init(&kill_w, kill_cb, STOP_GRACE, 0.);
	ev_timer_start(mloop, &kill_w);
	check_all_stopped();
}

void
children_signal_controller(int sig)
{
	if (nkids > 0 && kids[0].pid != 0)
		kill(kids[0].pid, sig);
}
