/* Binding the listening sockets the routers inherit. */
#include <sys/socket.h>
#include <netinet/in.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "addr.h"
#include "log.h"
#include "master.h"
#include "util.h"

static int
open_one(const struct config_listen *l, int type, int reuseport, char *err,
    size_t errlen)
{
	const struct sockaddr *sa = (const struct sockaddr *)&l->addr;
	char a[ADDR_STRLEN];
	int fd, on = 1, sz = 4 << 20;

	fd = socket(sa->sa_family, type | SOCK_CLOEXEC, 0);
	if (fd == -1) {
		snprintf(err, errlen, "socket for %s: %s",
		    addr_format(sa, a, sizeof(a)), strerror(errno));
		return -1;
	}
	if (sa->sa_family == AF_INET6)
		(void)setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof(on));
	if (type == SOCK_STREAM)
		(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
	else
		(void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
	if (reuseport &&
	    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &on, sizeof(on)) == -1) {
		snprintf(err, errlen, "SO_REUSEPORT: %s", strerror(errno));
		close(fd);
		return -1;
	}
	if (bind(fd, sa, l->addrlen) == -1) {
		snprintf(err, errlen, "bind %s/%s: %s", addr_format(sa, a, sizeof(a)),
		    type == SOCK_STREAM ? "tcp" : "udp", strerror(errno));
		close(fd);
		return -1;
	}
	if (type == SOCK_STREAM && listen(fd, 1024) == -1) {
		snprintf(err, errlen, "listen %s: %s", addr_format(sa, a, sizeof(a)),
		    strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

/* Index of addr among old's addresses, or -1. */
static int
old_index(const struct listeners *old, const struct config_listen *l)
{
	int i;

	if (old == NULL)
		return -1;
	for (i = 0; i < old->nlisten; i++)
		if (addr_equal((const struct sockaddr *)&old->addrs[i].addr,
		    (const struct sockaddr *)&l->addr))
			return i;
	return -1;
}

int
listeners_open(const struct config *cf, const struct listeners *old,
    struct listeners *ls, char *err, size_t errlen)
{
	int w, l, tcp, n;

	ls->nsets = cf->workers;
	if (old != NULL && old->nsets > ls->nsets)
		ls->nsets = old->nsets;
	n = ls->nsets * cf->nlisten * 2;
	ls->nlisten = cf->nlisten;
	memcpy(ls->addrs, cf->listen, sizeof(ls->addrs));
	ls->fds = xcalloc((size_t)n, sizeof(int));
	for (w = 0; w < n; w++)
		ls->fds[w] = -1;
	for (l = 0; l < cf->nlisten; l++) {
		int oi = old_index(old, &cf->listen[l]);

		/*
		 * SO_REUSEPORT would let us join another process's group on a
		 * new address and silently split its traffic: probe without.
		 */
		if (oi < 0)
			for (tcp = 0; tcp < 2; tcp++) {
				int fd = open_one(&cf->listen[l], tcp ?
				    SOCK_STREAM : SOCK_DGRAM, 0, err, errlen);

				if (fd == -1)
					goto fail;
				close(fd);
			}
		for (w = 0; w < ls->nsets; w++)
			for (tcp = 0; tcp < 2; tcp++) {
				int fd;

				if (oi >= 0 && w < old->nsets)
					fd = fcntl(LISTENER_FD(old, w, oi, tcp),
					    F_DUPFD_CLOEXEC, 0);
				else
					fd = open_one(&cf->listen[l], tcp ?
					    SOCK_STREAM : SOCK_DGRAM, 1, err, errlen);
				if (fd == -1) {
					if (oi >= 0 && w < old->nsets)
						snprintf(err, errlen, "dup: %s",
						    strerror(errno));
					goto fail;
				}
				LISTENER_FD(ls, w, l, tcp) = fd;
			}
	}
	return 0;
fail:
	listeners_close(ls);
	return -1;
}

void
listeners_close(struct listeners *ls)
{
	int i, n = ls->nsets * ls->nlisten * 2;

	for (i = 0; i < n && ls->fds != NULL; i++)
		if (ls->fds[i] != -1)
			close(ls->fds[i]);
	free(ls->fds);
	ls->fds = NULL;
}
