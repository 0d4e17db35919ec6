/*
 * One start-up for the master's children (common/child_start.h). The
 * order is the contract of docs/design.md's "privileges": everything from
 * outside is in hand before the chroot, the chroot before the uid change,
 * seccomp last; priv_drop asks for the parent-death signal again after
 * the uid change cleared it.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "child.h"
#include "child_start.h"
#include "config.h"
#include "log.h"
#include "privsep.h"
#include "sandbox.h"
#include "util.h"

/*
 * The way out has STOP_DEADLINE seconds. nng 1.5.2's nng_close can wait
 * forever for its reaper (nanomsg/nng#1543): seen as a controller left
 * running in control_shutdown after its master was killed (about 1 run in
 * 10 of test_multi's two dnsrouters). A master that is alive kills a child
 * that takes more than 3 s to stop; one that is gone kills nothing, so
 * the child ends itself.
 */
#define STOP_DEADLINE	2
static char	stop_msg[128];

static void
stop_deadline(int sig)
{
	(void)sig;
	(void)!write(STDERR_FILENO, stop_msg, strlen(stop_msg));
	_exit(1);
}

static void
usage(const struct child_proc *p)
{
	fprintf(stderr, "%s\n(started by dnsrouter, not by hand)\n", p->usage);
	exit(1);
}

void
child_start(struct child_proc *p, int argc, char *argv[])
{
	char opts[32], err[512];
	int ch;

	snprintf(opts, sizeof(opts), "dv%s", p->options != NULL ?
	    p->options : "");
	while ((ch = getopt(argc, argv, opts)) != -1) {
		switch (ch) {
		case 'd':
			p->foreground = 1;
			break;
		case 'v':
			p->verbose++;
			break;
		case '?':
			usage(p);
			break;
		default:
			if (p->option == NULL || p->option(p, ch, optarg) != 0)
				usage(p);
		}
	}
	if (p->options_done != NULL && p->options_done(p) != 0)
		usage(p);
	log_init(p->foreground, p->verbose, p->name);
	if (config_read_fd(p->conf, CHILD_FD_CONFIG, err, sizeof(err)) != 0)
		fatalx("%s", err);
	close(CHILD_FD_CONFIG);
	log_setjson(p->conf->log_json);
	signal(SIGPIPE, SIG_IGN);

	p->chrooted = geteuid() == 0;
	if (p->outside != NULL)
		p->outside(p);
	priv_rlimits(p->nofile);
	priv_drop(p->user, p->chrooted ? p->root : NULL);

	if ((p->loop = ev_default_loop(EVFLAG_AUTO)) == NULL)
		fatalx("cannot start libev");
}

void
child_run(struct child_proc *p, int ready_later)
{
	sandbox_enter(p->sandbox, p->conf->seccomp);
	if (!ready_later)
		child_ready();
	ev_run(p->loop, 0);
	arm_stop_deadline(p);
}

void
arm_stop_deadline(const struct child_proc *p)
{
	snprintf(stop_msg, sizeof(stop_msg), "%s[%d]: stopping took more "
	    "than %d s: exiting\n", p->name, (int)getpid(), STOP_DEADLINE);
	signal(SIGALRM, stop_deadline);
	unblock_signal(SIGALRM);
	alarm(STOP_DEADLINE);
}
