/*
 * The contract between the master and the children it starts (routers and
 * the controller), on both sides of the execve: what each finds at which
 * file descriptor, in which order, and how it says it serves.
 *
 *   CHILD_FD_CONFIG   the config text, in a memfd (config_read_fd)
 *   CHILD_FD_READY    a pipe: one byte written once serving, then closed
 *   CHILD_FD_LISTEN.. routers only: the listening sockets of the sets the
 *                     router serves, address-major (every set of address 0,
 *                     then of address 1...), UDP then TCP for each
 */
#ifndef DNSROUTER_CHILD_H
#define DNSROUTER_CHILD_H

#define CHILD_FD_CONFIG		3
#define CHILD_FD_READY		4
#define CHILD_FD_LISTEN		5

/* The descriptor of listen address l's socket in the child's set k of nsets. */
static inline int
child_listen_fd(int l, int k, int nsets, int tcp)
{
	return CHILD_FD_LISTEN + 2 * (l * nsets + k) + (tcp ? 1 : 0);
}

/* In the child: tell the master it serves (once; later calls do nothing). */
void child_ready(void);

#endif
