/*
 * seccomp-bpf allow-lists for the children (libseccomp): after its set-up,
 * a router or the controller may make only the system calls it needs to
 * serve; any other kills the process (the master restarts it and logs the
 * signal, SIGSYS). "seccomp log" lets them through and has the kernel log
 * each (audit type 1326, in dmesg), to find what a list lacks.
 */
#ifndef DNSROUTER_SANDBOX_H
#define DNSROUTER_SANDBOX_H

enum sandbox_who {
	SANDBOX_ROUTER,
	SANDBOX_CONTROLLER,
};

/* mode is a CONFIG_SECCOMP_*; fatal if the filter cannot be loaded. */
void sandbox_enter(enum sandbox_who who, int mode);

#endif
