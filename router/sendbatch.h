/* A batch of datagrams in one system call: io_uring, or sendmmsg (sendbatch.c). */
#ifndef DNSROUTER_SENDBATCH_H
#define DNSROUTER_SENDBATCH_H

#include <sys/socket.h>

#define SENDBATCH_MAX		64
void sendbatch_init(void);
void sendbatch_shutdown(void);
/*
 * Send m[0..n) on fd without blocking; res[i] is bytes sent or -errno (a
 * full socket buffer: -EAGAIN). Every message is tried.
 */
void sendbatch(int fd, struct mmsghdr *m, unsigned n, int *res);

#endif
