/* Dropping privileges in the children, in the fixed order of OpenBSD's daemons. */
#ifndef DNSROUTER_PRIVSEP_H
#define DNSROUTER_PRIVSEP_H

#include <sys/resource.h>
#include <sys/types.h>

/*
 * Look up user; fills uid and gid. Returns -1 if there is no such user.
 */
int priv_lookup(const char *user, uid_t *uid, gid_t *gid);

/*
 * Before priv_drop, as root: raise the descriptor limit to nofile (soft
 * and, as root, hard; a larger one stays) and, unless the environment
 * has DNSROUTER_COREDUMP=1, forbid core dumps (RLIMIT_CORE 0).
 */
void priv_rlimits(rlim_t nofile);

/*
 * Become user: chroot into root (when not NULL) and chdir("/"), then
 * setgroups, setresgid, setresuid, and no_new_privs. Fatal on any failure.
 * "user root" keeps root, loudly; a process not started as root only
 * checks that it is already user. A parent-death signal the process had
 * is asked for again (the uid change clears it); fatal if the parent died
 * meanwhile.
 */
void priv_drop(const char *user, const char *root);

#endif
