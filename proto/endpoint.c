/* Listening on and dialing the run directory's nng endpoints. */
#include <limits.h>
#include <stdatomic.h>
#include <stdint.h>
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

/*
 * The dialed endpoints. nng tells of pipes on its own threads: the pipe
 * (a dialer has at most one) is kept in an atomic, 0 for none.
 */
static struct dialed {
	nng_socket	 s;
	nng_dialer	 d;
	char		 url[PATH_MAX + 8];
	_Atomic uint32_t pipe;
	double		 down_since;	/* 0: connected, or not seen down yet */
	unsigned	 redials;	/* in this outage */
} dialed[ENDPOINT_MAX_DIALED];
static int ndialed;

static void
pipe_cb(nng_pipe p, nng_pipe_ev ev, void *arg)
{
	struct dialed *dl = arg;
	uint32_t id = nng_pipe_id(p);

	if (ev == NNG_PIPE_EV_ADD_POST)
		atomic_store(&dl->pipe, id);
	else
		atomic_compare_exchange_strong(&dl->pipe, &id, 0);
}

static void
dial(struct dialed *dl)
{
	int rv;

	if ((rv = nng_dial(dl->s, dl->url, &dl->d, NNG_FLAG_NONBLOCK)) != 0)
		fatalx("%s: %s: %s", __func__, dl->url, nng_strerror(rv));
}

int
endpoint_dial(nng_socket s, const char *dir, const char *ep, int want_fd)
{
	struct dialed *dl;
	int rv;

	if (ndialed == ENDPOINT_MAX_DIALED)
		fatalx("%s: %s: too many endpoints", __func__, ep);
	dl = &dialed[ndialed++];
	dl->s = s;
	snprintf(dl->url, sizeof(dl->url), "ipc://%s/%s", dir, ep);
	atomic_init(&dl->pipe, 0);
	if ((rv = nng_pipe_notify(s, NNG_PIPE_EV_ADD_POST, pipe_cb, dl)) != 0 ||
	    (rv = nng_pipe_notify(s, NNG_PIPE_EV_REM_POST, pipe_cb, dl)) != 0)
		fatalx("%s: %s: pipe notify: %s", __func__, dl->url,
		    nng_strerror(rv));
	nng_socket_set_ms(s, NNG_OPT_RECONNMINT, 20);
	nng_socket_set_ms(s, NNG_OPT_RECONNMAXT, 500);
	dial(dl);
	return recv_fd(s, dl->url, want_fd);
}

int
endpoint_check(double now)
{
	struct dialed *dl;
	int i, n = 0;

	for (i = 0; i < ndialed; i++) {
		dl = &dialed[i];
		if (atomic_load(&dl->pipe) != 0) {
			if (dl->redials > 0)
				log_info("%s: connected again", dl->url);
			dl->down_since = 0;
			dl->redials = 0;
			continue;
		}
		if (dl->down_since == 0) {
			dl->down_since = now;
			continue;
		}
		if (now - dl->down_since < ENDPOINT_REDIAL_AFTER)
			continue;
		/* Once per outage: a controller that stays away is the master's
		 * to report. */
		if (dl->redials++ == 0)
			log_warnx("%s: not connected for %.1fs; dialing it again",
			    dl->url, now - dl->down_since);
		nng_dialer_close(dl->d);
		dial(dl);
		dl->down_since = now;
		n++;
	}
	return n;
}
