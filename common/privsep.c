/* Privilege drop: chroot, chdir "/", setgroups, setresgid, setresuid. */
#include <sys/prctl.h>
#include <sys/resource.h>
#include <grp.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "privsep.h"

int
priv_lookup(const char *user, uid_t *uid, gid_t *gid)
{
	struct passwd *pw = getpwnam(user);

	if (pw == NULL)
		return -1;
	*uid = pw->pw_uid;
	*gid = pw->pw_gid;
	return 0;
}

static int core_wanted;	/* DNSROUTER_COREDUMP=1: see priv_rlimits */

void
priv_rlimits(rlim_t nofile)
{
	struct rlimit rl;
	const char *v = getenv("DNSROUTER_COREDUMP");

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < nofile) {
		if (rl.rlim_max < nofile && geteuid() == 0)
			rl.rlim_max = nofile;
		rl.rlim_cur = rl.rlim_max < nofile ? rl.rlim_max : nofile;
		if (setrlimit(RLIMIT_NOFILE, &rl) == -1 || rl.rlim_cur < nofile)
			log_warnx("descriptor limit %llu is below the %llu wanted: "
			    "sockets may fail", (unsigned long long)rl.rlim_cur,
			    (unsigned long long)nofile);
	}
	/*
	 * A core holds queries, etcd credentials and TLS keys: none, unless
	 * the operator asks (then the inherited limit stays, and priv_drop
	 * makes the process dumpable again, which the uid change undid).
	 */
	core_wanted = v != NULL && strcmp(v, "1") == 0;
	if (!core_wanted) {
		rl.rlim_cur = rl.rlim_max = 0;
		if (setrlimit(RLIMIT_CORE, &rl) == -1)
			fatal("%s: core limit", __func__);
	}
}

void
priv_drop(const char *user, const char *root)
{
	pid_t parent = getppid();
	uid_t uid;
	gid_t gid;
	int deathsig = 0, now = 0;

	(void)prctl(PR_GET_PDEATHSIG, &deathsig);

	if (priv_lookup(user, &uid, &gid) != 0)
		fatalx("%s: no such user '%s'", __func__, user);
	if (geteuid() != 0) {
		if (geteuid() != uid)
			log_warnx("not started as root: running as uid %d, not as "
			    "user '%s', and without chroot", (int)geteuid(), user);
		(void)prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
		return;
	}
	if (root != NULL) {
		if (chroot(root) == -1)
			fatal("%s: chroot %s", __func__, root);
		if (chdir("/") == -1)
			fatal("%s: chdir /", __func__);
	}
	if (uid == 0)
		log_warnx("RUNNING AS ROOT: the config says 'user root'; create "
		    "a system user (e.g. dnsrouter) and name it instead");
	else {
		if (setgroups(1, &gid) == -1)
			fatal("%s: setgroups", __func__);
		if (setresgid(gid, gid, gid) == -1)
			fatal("%s: setresgid", __func__);
		if (setresuid(uid, uid, uid) == -1)
			fatal("%s: setresuid", __func__);
		if (getuid() != uid || geteuid() != uid || getgid() != gid ||
		    getegid() != gid)
			fatalx("%s: privileges not dropped", __func__);
	}
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == -1)
		fatal("%s: no_new_privs", __func__);
	if (core_wanted && prctl(PR_SET_DUMPABLE, 1, 0, 0, 0) == -1)
		log_warn("%s: dumpable", __func__);
	/*
	 * Changing the uid or gid clears the parent-death signal (prctl(2)):
	 * ask for the one we had again, then make sure the parent did not die
	 * meanwhile, which would have gone unnoticed.
	 */
	if (deathsig != 0 && prctl(PR_GET_PDEATHSIG, &now) == 0 && now == 0) {
		if (prctl(PR_SET_PDEATHSIG, deathsig) == -1)
			fatal("%s: parent-death signal", __func__);
		if (getppid() != parent)
			fatalx("%s: parent %d died", __func__, (int)parent);
	}
}
