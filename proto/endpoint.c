/* Listening on and dialing the run directory's nng endpoints. */
#include <limits.h>
#include <stdio.h>
#include <unistd.h>

#include "endpoint.h"
#include "log.h"

static int
recv_fd(nng_socket s, const char *url, int want_fd)
{
	int fd, rv;

	if (!want_fd)
		return -1;
	if ((rv = nng_socket_get_int(s, NNG_OPT_RECVFD, &fd)) != 0)
		fatalx("%s: %s: recv fd: %s", __func__, url, nng_strerror(rv));
	return fd;
}

int
endpoint_listen(nng_socket s, const char *dir, const char *ep, int want_fd,
    size_t maxsz)
{
	char path[PATH_MAX], url[PATH_MAX + 8];
	int rv;

	if (maxsz != 0 &&
	    (rv = nng_socket_set_size(s, NNG_OPT_RECVMAXSZ, maxsz)) != 0)
		fatalx("%s: %s: recv max size: %s", __func__, ep,
		    nng_strerror(rv));
	snprintf(path, sizeof(path), "%s/%s", dir, ep);
	snprintf(url, sizeof(url), "ipc://%s", path);
	if ((rv = nng_listen(s, url, NULL, 0)) != 0) {
		/* A stale socket file left by a killed controller. */
		unlink(path);
		if ((rv = nng_listen(s, url, NULL, 0)) != 0)
			fatalx("%s: %s: %s", __func__, url, nng_strerror(rv));
	}
	return recv_fd(s, url, want_fd);
}

int
endpoint_dial(nng_socket s, const char *dir, const char *ep, int want_fd)
{
	char url[PATH_MAX + 8];
	int rv;

	snprintf(url, sizeof(url), "ipc://%s/%s", dir, ep);
	nng_socket_set_ms(s, NNG_OPT_RECONNMINT, 20);
	nng_socket_set_ms(s, NNG_OPT_RECONNMAXT, 500);
	if ((rv = nng_dial(s, url, NULL, NNG_FLAG_NONBLOCK)) != 0)
		fatalx("%s: %s: %s", __func__, url, nng_strerror(rv));
	return recv_fd(s, url, want_fd);
}
