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
#include <unistd.h>

#include "child.h"
#include "child_start.h"
#include "config.h"
#include "log.h"
#include "privsep.h"
#include "sandbox.h"

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
}
