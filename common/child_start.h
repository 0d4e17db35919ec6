/*
 * The start-up every child of the master shares, after relayd's proc.c
 * (proc_run): options, logging, the config from the master (proto/child.h),
 * signals, rlimits, chroot and privilege drop, the event loop; then
 * seccomp, the readiness byte and the loop's run. What differs between
 * the router and the controller comes in as fields and callbacks.
 */
#ifndef DNSROUTER_CHILD_START_H
#define DNSROUTER_CHILD_START_H

#include <sys/resource.h>
#include <ev.h>

#include "sandbox.h"

struct config;

struct child_proc {
	/* Set by the child's main before child_start. */
	const char	*usage;		/* printed for a bad command line */
	const char	*options;	/* getopt letters besides d and v */
	/* Take option ch (one of options); nonzero: usage. */
	int		(*option)(struct child_proc *p, int ch, const char *arg);
	/* After the options, before logging starts: nonzero is usage; may set name. */
	int		(*options_done)(struct child_proc *p);
	const char	*name;		/* in every log line */
	enum sandbox_who sandbox;
	struct config	*conf;		/* filled from CHILD_FD_CONFIG */
	/*
	 * Still as started (root), with the config: take from outside what
	 * the chroot will hide, and set nofile, user and root.
	 */
	void		(*outside)(struct child_proc *p);
	rlim_t		 nofile;	/* descriptors (priv_rlimits) */
	const char	*user;		/* to drop to */
	const char	*root;		/* to chroot into, if chrooted */

	/* Set by child_start. */
	int		 foreground;	/* -d */
	int		 verbose;	/* -v, counted */
	int		 chrooted;	/* started as root: root is the chroot */
	struct ev_loop	*loop;
	void		*arg;		/* the child's own, untouched */
};

/*
 * Everything up to a loop to run, in this order: options, log_init, the
 * config read from CHILD_FD_CONFIG (which is closed), SIGPIPE ignored,
 * outside(), priv_rlimits(nofile), priv_drop(user, root if chrooted), the
 * default libev loop. Fatal on failure. Signals the master blocked
 * (SIGHUP) stay blocked: the child unblocks them once it handles them.
 */
void child_start(struct child_proc *p, int argc, char *argv[]);

/*
 * Enter the seccomp sandbox, tell the master the child serves (unless
 * ready_later: then the child calls child_ready itself) and run the loop
 * until ev_break.
 */
void child_run(struct child_proc *p, int ready_later);

/*
 * From now on the child has 2 s to end, or it exits (status 1) with a
 * line on stderr: child_run arms it when the loop ends, before the
 * caller's shutdown (nng_close can hang: child_start.c).
 */
void arm_stop_deadline(const struct child_proc *p);

#endif
