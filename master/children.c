/*
 * Spawning and supervising the children. Each is fork+exec'd (fresh ASLR,
 * no inherited heap) with its config on fd 3, a readiness pipe on fd 4 and
 * its sockets from fd 5. A child that dies is restarted after a per-slot
 * backoff (100 ms doubling to 30 s, reset after a healthy minute); the
 * master keeps its copies of the listening sockets, so a restarted router
 * takes over the queries queued meanwhile. On reload, routers are replaced
 * one slot at a time: the old one stops only once its successor serves.
 * Children get a minimal environment (child_env): nothing of the master's
 * reaches them but the time zone, sanitizer options, DNSROUTER_IO_URING
 * and DNSROUTER_COREDUMP, so no proxy or library variable changes what
 * they do.
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
#define STOP_GRACE	3.0	/* routers finish in-flight queries within 2 s */
#define READY_WAIT	5.0	/* longest wait for a successor on reload */
#define SLOT_CONTROLLER	0	/* slot n + 1 is router #n */

struct slot;

struct proc {
	struct slot	*slot;
	pid_t		 pid;
	int		 retiring;	/* replaced or stopping: no restart */
	int		 ready_fd;
	double		 started;
	ev_child	 cw;
	ev_io		 ready_w;
	struct proc	*next;
};

struct slot {
	int		 index;		/* 0: controller, n + 1: router #n */
	struct proc	*cur;
	double		 backoff;
	ev_timer	 restart_w;
};

static struct ev_loop		*mloop;
static const struct listeners	*lsocks;
static struct slot		 slots[CONFIG_MAX_WORKERS + 1];
static int			 nslots;
static struct proc		*procs;
static int			 config_fd = -1;
static int			 fg, verb;
static int			 stopping;
static void			(*stopped_cb)(void);
static ev_timer			 kill_w;
static char			 router_path[PATH_MAX], controller_path[PATH_MAX];

/* What a child's environment may hold of the master's. */
static const char *const	 env_keep[] = {
	"TZ", "ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS",
	"DNSROUTER_IO_URING",	/* sendmmsg instead: router/sendbatch.c */
	"DNSROUTER_COREDUMP",	/* keep the core limit: common/privsep.c */
};
#define ENV_MAX	(sizeof(env_keep) / sizeof(env_keep[0]) + 2)
static char			*child_env[ENV_MAX];

static void
child_env_init(void)
{
	size_t i, n = 0;
	const char *v;
	char *e;

	child_env[n++] = "PATH=/usr/sbin:/usr/bin:/sbin:/bin";
	for (i = 0; i < sizeof(env_keep) / sizeof(env_keep[0]); i++) {
		if ((v = getenv(env_keep[i])) == NULL)
			continue;
		e = xmalloc(strlen(env_keep[i]) + strlen(v) + 2);
		sprintf(e, "%s=%s", env_keep[i], v);
		child_env[n++] = e;
	}
	child_env[n] = NULL;
}

enum reload_phase {
	RL_IDLE,
	RL_CTL_EXIT,		/* waiting for the old controller to exit */
	RL_WAIT_READY,		/* waiting for a successor to serve */
};

/* Reload state: one step at a time, driven by readiness and exits. */
static struct {
	enum reload_phase phase;
	int		 controller_changed;
	int		 routers_changed;
	int		 step;		/* slot to handle next */
	int		 old_nslots;
	struct proc	*waiting;	/* successor whose readiness we await */
	struct proc	*retiree;	/* predecessor to stop once it is ready */
	ev_timer	 wait_w;
	void		(*done)(void);
} rl;

static struct proc	*spawn(struct slot *);
static void		 reload_next(void);
static void		 child_cb(struct ev_loop *, ev_child *, int);

static const char *
slot_name(const struct slot *s, char *buf, size_t len)
{
	if (s->index == SLOT_CONTROLLER)
		snprintf(buf, len, "controller");
	else
		snprintf(buf, len, "router #%d", s->index - 1);
	return buf;
}

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

/*
 * In the child: put fds[0..n) at CHILD_FD_CONFIG.., close everything else.
 * tmp has room for n (allocated before fork).
 */
static void
arrange_fds(const int *fds, int *tmp, int n)
{
	int i;

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
proc_free(struct proc *p)
{
	struct proc **pp;

	for (pp = &procs; *pp != NULL; pp = &(*pp)->next)
		if (*pp == p) {
			*pp = p->next;
			break;
		}
	if (p->ready_fd != -1) {
		ev_io_stop(mloop, &p->ready_w);
		close(p->ready_fd);
	}
	free(p);
}

static void
ready_cb(struct ev_loop *l, ev_io *w, int revents)
{
	struct proc *p = w->data;
	char c;
	ssize_t n = read(p->ready_fd, &c, 1);

	(void)revents;
	if (n == -1 && (errno == EAGAIN || errno == EINTR))
		return;
	ev_io_stop(l, w);
	close(p->ready_fd);
	p->ready_fd = -1;
	if (n == 1 && rl.phase == RL_WAIT_READY && rl.waiting == p)
		reload_next();
}

static struct proc *
spawn(struct slot *s)
{
	char *argv[16], idx[16], vflag[16], name[32], sets[16];
	int *fds, *tmp, nfds = 0, argc = 0, l, set, nsets = 0, pfd[2];
	int workers = nslots - 1, router = s->index - 1;
	struct proc *p;
	sigset_t all;
	pid_t pid, master;

	ev_timer_stop(mloop, &s->restart_w);
	if (pipe2(pfd, O_CLOEXEC) == -1) {
		log_warn("%s: pipe", __func__);
		goto later;
	}
	fds = xcalloc(2 + 2 * (size_t)lsocks->nlisten * (size_t)lsocks->nsets,
	    sizeof(int));
	tmp = xcalloc(2 + 2 * (size_t)lsocks->nlisten * (size_t)lsocks->nsets,
	    sizeof(int));
	fds[nfds++] = config_fd;
	fds[nfds++] = pfd[1];
	if (s->index != SLOT_CONTROLLER) {
		int k;

		for (set = router; set < lsocks->nsets; set += workers)
			nsets++;
		for (l = 0; l < lsocks->nlisten; l++)
			for (k = 0, set = router; set < lsocks->nsets;
			    k++, set += workers) {
				fds[child_listen_fd(l, k, nsets, 0) -
				    CHILD_FD_CONFIG] = LISTENER_FD(lsocks, set, l, 0);
				fds[child_listen_fd(l, k, nsets, 1) -
				    CHILD_FD_CONFIG] = LISTENER_FD(lsocks, set, l, 1);
			}
		nfds += 2 * lsocks->nlisten * nsets;
	}
	if (s->index == SLOT_CONTROLLER)
		argv[argc++] = controller_path;
	else {
		argv[argc++] = router_path;
		snprintf(idx, sizeof(idx), "%d", router);
		argv[argc++] = "-i";
		argv[argc++] = idx;
		snprintf(sets, sizeof(sets), "%d", nsets);
		argv[argc++] = "-s";
		argv[argc++] = sets;
	}
	if (fg)
		argv[argc++] = "-d";
	if (verb > 0) {
		snprintf(vflag, sizeof(vflag), "-%.*s", verb > 8 ? 8 : verb,
		    "vvvvvvvv");
		argv[argc++] = vflag;
	}
	argv[argc] = NULL;

	master = getpid();
	if ((pid = fork()) == -1) {
		log_warn("%s: fork", __func__);
		close(pfd[0]);
		close(pfd[1]);
		free(fds);
		free(tmp);
		goto later;
	}
	if (pid == 0) {
		/*
		 * The master's handlers (libev's) stay until execv: a SIGTERM
		 * in between, from the death signal below, would be caught and
		 * lost. Defaults first, then ask for it.
		 */
		signal(SIGTERM, SIG_DFL);
		signal(SIGINT, SIG_DFL);
		signal(SIGHUP, SIG_DFL);
		signal(SIGUSR1, SIG_DFL);
		signal(SIGCHLD, SIG_DFL);
		/*
		 * Die with the master, whatever kills it; one that died before
		 * this is seen by our new parent (init or a subreaper).
		 */
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		if (getppid() != master)
			_exit(1);
		/*
		 * SIGHUP stays blocked across execv: the master may send one
		 * (a reload) before the child has its handler, and the default
		 * action would kill it. The child unblocks it once its handler
		 * is in place, and a reload asked for meanwhile is delivered
		 * then. SIGUSR1 (lameduck: children_drain) likewise.
		 */
		sigemptyset(&all);
		sigaddset(&all, SIGHUP);
		sigaddset(&all, SIGUSR1);
		sigprocmask(SIG_SETMASK, &all, NULL);
		arrange_fds(fds, tmp, nfds);
		execve(argv[0], argv, child_env);
		_exit(127);
	}
	free(fds);
	free(tmp);
	close(pfd[1]);
	p = xcalloc(1, sizeof(*p));
	p->slot = s;
	p->pid = pid;
	p->started = ev_now(mloop);
	p->ready_fd = pfd[0];
	p->next = procs;
	procs = p;
	s->cur = p;
	ev_child_init(&p->cw, child_cb, pid, 0);
	p->cw.data = p;
	ev_child_start(mloop, &p->cw);
	ev_io_init(&p->ready_w, ready_cb, p->ready_fd, EV_READ);
	p->ready_w.data = p;
	ev_io_start(mloop, &p->ready_w);
	log_debug("%s started, pid %d", slot_name(s, name, sizeof(name)), (int)pid);
	return p;
later:
	s->backoff = s->backoff < BACKOFF_MIN ? BACKOFF_MIN : s->backoff;
	ev_timer_set(&s->restart_w, s->backoff, 0.);
	ev_timer_start(mloop, &s->restart_w);
	return NULL;
}

static void
restart_cb(struct ev_loop *l, ev_timer *w, int revents)
{
	struct slot *s = w->data;

	(void)l; (void)revents;
	if (!stopping && s->cur == NULL && s->index < nslots)
		spawn(s);
}

static void
check_all_stopped(void)
{
	void (*cb)(void) = stopped_cb;

	if (procs != NULL || cb == NULL)
		return;
	ev_timer_stop(mloop, &kill_w);
	stopped_cb = NULL;
	cb();
}

static void
child_cb(struct ev_loop *l, ev_child *w, int revents)
{
	struct proc *p = w->data;
	struct slot *s = p->slot;
	char what[64], name[32];
	double lived = ev_now(l) - p->started;

	(void)revents;
	ev_child_stop(l, w);
	if (WIFSIGNALED(w->rstatus))
		snprintf(what, sizeof(what), "killed by signal %d",
		    WTERMSIG(w->rstatus));
	else
		snprintf(what, sizeof(what), "exited with status %d",
		    WEXITSTATUS(w->rstatus));
	slot_name(s, name, sizeof(name));

	if (stopping || p->retiring) {
		log_debug("%s (pid %d) %s", name, (int)p->pid, what);
		if (rl.phase == RL_CTL_EXIT && rl.retiree == p) {
			ev_timer_stop(mloop, &rl.wait_w);
			proc_free(p);
			rl.retiree = NULL;
			rl.waiting = spawn(&slots[SLOT_CONTROLLER]);
			rl.phase = RL_WAIT_READY;
			ev_timer_set(&rl.wait_w, READY_WAIT, 0.);
			ev_timer_start(mloop, &rl.wait_w);
			if (rl.waiting == NULL)
				reload_next();
			return;
		}
		if (rl.retiree == p)
			rl.retiree = NULL;
		proc_free(p);
		check_all_stopped();
		return;
	}
	if (s->cur == p)
		s->cur = NULL;
	if (lived >= HEALTHY_AFTER || s->backoff == 0)
		s->backoff = BACKOFF_MIN;
	else
		s->backoff = s->backoff * 2 > BACKOFF_MAX ? BACKOFF_MAX : s->backoff * 2;
	log_warnx("%s (pid %d) %s after %.1fs; restarting in %.1fs", name,
	    (int)p->pid, what, lived, s->backoff);
	if (s->backoff >= BACKOFF_MAX)
		log_warnx("%s keeps dying: restarts slowed to one per %.0fs",
		    name, BACKOFF_MAX);
	ev_timer_set(&s->restart_w, s->backoff, 0.);
	ev_timer_start(l, &s->restart_w);
	if (rl.phase == RL_WAIT_READY && rl.waiting == p) {
		/* The successor died before serving: go on; its slot restarts. */
		rl.waiting = NULL;
		proc_free(p);
		reload_next();
		return;
	}
	proc_free(p);
}

static void
init_slot(int i)
{
	struct slot *s = &slots[i];

	s->index = i;
	ev_init(&s->restart_w, restart_cb);
	s->restart_w.data = s;
}

static void
wait_cb(struct ev_loop *l, ev_timer *w, int revents)
{
	char name[32];

	(void)l; (void)w; (void)revents;
	if (rl.phase == RL_CTL_EXIT && rl.retiree != NULL) {
		log_warnx("reload: the old controller (pid %d) did not stop in "
		    "%.0fs: killing it", (int)rl.retiree->pid, STOP_GRACE);
		kill(rl.retiree->pid, SIGKILL);
		return;
	}
	if (rl.phase != RL_WAIT_READY)
		return;
	if (rl.waiting != NULL)
		log_warnx("reload: %s not serving after %.0fs; going on",
		    slot_name(rl.waiting->slot, name, sizeof(name)), READY_WAIT);
	reload_next();
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
	child_env_init();
	find_child("dnsrouter-router", router_path, sizeof(router_path));
	find_child("dnsrouter-controller", controller_path, sizeof(controller_path));
	config_fd = make_config_fd(cf);
	for (i = 0; i <= CONFIG_MAX_WORKERS; i++)
		init_slot(i);
	ev_init(&rl.wait_w, wait_cb);
	nslots = cf->workers + 1;
	/* The controller first: routers ask it for a table as they start. */
	for (i = 0; i < nslots; i++)
		spawn(&slots[i]);
}

/* One reload step after another until every slot is handled. */
static void
reload_next(void)
{
	struct proc *old;
	int i, last;

	if (rl.phase == RL_WAIT_READY) {
		ev_timer_stop(mloop, &rl.wait_w);
		if (rl.retiree != NULL && rl.retiree->pid > 0)
			kill(rl.retiree->pid, SIGTERM);
		rl.retiree = rl.waiting = NULL;
		rl.phase = RL_IDLE;
	}
	last = nslots > rl.old_nslots ? nslots : rl.old_nslots;
	while ((i = rl.step++) < last) {
		struct slot *s = &slots[i];

		if (i == SLOT_CONTROLLER) {
			if (!rl.controller_changed) {
				if (s->cur != NULL)
					kill(s->cur->pid, SIGHUP);
				continue;
			}
			log_info("reload: restarting the controller");
			if ((old = s->cur) != NULL) {
				old->retiring = 1;
				s->cur = NULL;
				rl.retiree = old;
				rl.phase = RL_CTL_EXIT;
				kill(old->pid, SIGTERM);
				/* Its successor waits for its exit: not forever. */
				ev_timer_set(&rl.wait_w, STOP_GRACE, 0.);
				ev_timer_start(mloop, &rl.wait_w);
				return;
			}
		} else if (!rl.routers_changed)
			break;
		old = s->cur;
		if (i >= nslots) {
			/* A router the new config no longer has. */
			ev_timer_stop(mloop, &s->restart_w);
			if (old != NULL) {
				old->retiring = 1;
				s->cur = NULL;
				kill(old->pid, SIGTERM);
			}
			continue;
		}
		if (old != NULL)
			old->retiring = 1;
		if ((rl.waiting = spawn(s)) == NULL) {
			if (old != NULL) {
				old->retiring = 0;
				s->cur = old;
			}
			continue;
		}
		rl.retiree = old;
		rl.phase = RL_WAIT_READY;
		ev_timer_set(&rl.wait_w, READY_WAIT, 0.);
		ev_timer_start(mloop, &rl.wait_w);
		return;
	}
	rl.phase = RL_IDLE;
	rl.step = -1;
	if (rl.done != NULL) {
		void (*cb)(void) = rl.done;

		rl.done = NULL;
		cb();
	}
}

void
children_reload(const struct config *cf, const struct listeners *ls,
    int controller_changed, int routers_changed, void (*done)(void))
{
	if (stopping)
		return;
	lsocks = ls;
	close(config_fd);
	config_fd = make_config_fd(cf);
	rl.controller_changed = controller_changed;
	rl.routers_changed = routers_changed;
	rl.old_nslots = nslots;
	rl.step = 0;
	rl.done = done;
	nslots = cf->workers + 1;
	reload_next();
}

static void
kill_cb(struct ev_loop *l, ev_timer *w, int revents)
{
	struct proc *p;

	(void)l; (void)w; (void)revents;
	for (p = procs; p != NULL; p = p->next) {
		log_warnx("child pid %d did not stop in %.0fs: killing it",
		    (int)p->pid, STOP_GRACE);
		kill(p->pid, SIGKILL);
	}
}

void
children_drain(void)
{
	struct proc *p;

	for (p = procs; p != NULL; p = p->next)
		if (p->slot->index == 0 && !p->retiring)
			kill(p->pid, SIGUSR1);
}

void
children_stop(void (*done)(void))
{
	struct proc *p;
	int i;

	stopping = 1;
	stopped_cb = done;
	ev_timer_stop(mloop, &rl.wait_w);
	rl.phase = RL_IDLE;
	rl.done = NULL;
	for (i = 0; i <= CONFIG_MAX_WORKERS; i++)
		ev_timer_stop(mloop, &slots[i].restart_w);
	for (p = procs; p != NULL; p = p->next)
		kill(p->pid, SIGTERM);
	ev_timer_init(&kill_w, kill_cb, STOP_GRACE, 0.);
	ev_timer_start(mloop, &kill_w);
	check_all_stopped();
}
