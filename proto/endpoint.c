/* Listening on and dialing the run directory's nng endpoints. */
#include <nng/nng.h>
#include <nng/protocol/pipeline0/push.h>
#include <nng/protocol/pubsub0/sub.h>
#include <nng/protocol/reqrep0/req.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "endpoint.h"
#include "log.h"

static double
mono_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

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

/*
 * The listened endpoints, each with a probe: nng 1.5.2's listener stops
 * handing connections to its socket for good when a peer hangs up during
 * the handshake (NNG_ECLOSED taken for "listener closed"; nng #1518, fixed
 * in 1.6.0). Dialers still complete their handshake, so routers think they
 * are connected and get nothing. Every PROBE_EVERY seconds the controller
 * dials each of its endpoints from a socket of its own (of the peer
 * protocol, sending nothing) and checks, by the peer's pid, that the pipe
 * reached the listening socket; if not, it listens anew.
 */
#define PROBE_EVERY	3.0
#define PROBE_WAIT	1.0

static struct listened {
	nng_socket	 s;
	nng_listener	 l;
	char		 path[PATH_MAX], url[PATH_MAX + 8];
	void		(*on_connect)(void);
	nng_socket	 probe;
	int		 probe_open;
	nng_dialer	 pd;
	int		 probing;
	double		 probe_at;	/* last started */
	_Atomic int	 seen;
} listened[ENDPOINT_MAX_LISTENED];
static int nlistened;

/* nng's thread. */
static void
listen_pipe_cb(nng_pipe p, nng_pipe_ev ev, void *arg)
{
	struct listened *ls = arg;
	uint64_t pid;

	(void)ev;
	if (nng_pipe_get_uint64(p, NNG_OPT_IPC_PEER_PID, &pid) == 0 &&
	    pid == (uint64_t)getpid()) {
		atomic_store(&ls->seen, 1);
		return;
	}
	if (ls->on_connect != NULL)
		ls->on_connect();
}

/* The socket file is 0666: the directory decides who reaches it. */
static int
try_listen(struct listened *ls)
{
	int rv;

	if ((rv = nng_listener_create(&ls->l, ls->s, ls->url)) != 0)
		return rv;
	if ((rv = nng_listener_set_int(ls->l, NNG_OPT_IPC_PERMISSIONS,
	    0666)) != 0 || (rv = nng_listener_start(ls->l, 0)) != 0)
		nng_listener_close(ls->l);
	return rv;
}

static void
do_listen(struct listened *ls)
{
	int rv;

	if ((rv = try_listen(ls)) != 0) {
		/* A stale socket file left by a killed controller. */
		unlink(ls->path);
		if ((rv = try_listen(ls)) != 0)
			fatalx("%s: %s: %s", __func__, ls->url, nng_strerror(rv));
	}
}

int
endpoint_listen_cb(nng_socket s, const char *dir, const char *ep,
    int want_fd, size_t maxsz, void (*on_connect)(void))
{
	struct listened *ls;
	int rv;

	if (nlistened == ENDPOINT_MAX_LISTENED)
		fatalx("%s: %s: too many endpoints", __func__, ep);
	ls = &listened[nlistened++];
	ls->s = s;
	ls->on_connect = on_connect;
	atomic_init(&ls->seen, 0);
	if (maxsz != 0 &&
	    (rv = nng_socket_set_size(s, NNG_OPT_RECVMAXSZ, maxsz)) != 0)
		fatalx("%s: %s: recv max size: %s", __func__, ep,
		    nng_strerror(rv));
	if ((rv = nng_pipe_notify(s, NNG_PIPE_EV_ADD_POST, listen_pipe_cb,
	    ls)) != 0)
		fatalx("%s: %s: pipe notify: %s", __func__, ep, nng_strerror(rv));
	snprintf(ls->path, sizeof(ls->path), "%s/%s", dir, ep);
	snprintf(ls->url, sizeof(ls->url), "ipc://%s/%s", dir, ep);
	do_listen(ls);
	return recv_fd(s, ls->url, want_fd);
}

int
endpoint_listen(nng_socket s, const char *dir, const char *ep, int want_fd,
    size_t maxsz)
{
	return endpoint_listen_cb(s, dir, ep, want_fd, maxsz, NULL);
}

/* A socket of the protocol that dials s: it sends nothing. */
static int
probe_open(struct listened *ls)
{
	char *peer = NULL;
	int rv;

	if ((rv = nng_socket_get_string(ls->s, NNG_OPT_PEERNAME, &peer)) != 0)
		return rv;
	if (strcmp(peer, "sub") == 0)
		rv = nng_sub0_open(&ls->probe);	/* subscribed to nothing */
	else if (strcmp(peer, "req") == 0)
		rv = nng_req0_open(&ls->probe);
	else if (strcmp(peer, "push") == 0)
		rv = nng_push0_open(&ls->probe);
	else
		rv = NNG_ENOTSUP;
	nng_strfree(peer);
	if (rv == 0) {
		nng_socket_set_ms(ls->probe, NNG_OPT_RECONNMINT, 100);
		nng_socket_set_ms(ls->probe, NNG_OPT_RECONNMAXT, 1000);
		ls->probe_open = 1;
	}
	return rv;
}

int
endpoint_check_listeners(void)
{
	struct listened *ls;
	double now = mono_now();
	int i, rv, n = 0;

	for (i = 0; i < nlistened; i++) {
		ls = &listened[i];
		if (ls->probing) {
			if (atomic_load(&ls->seen)) {
				nng_dialer_close(ls->pd);
				ls->probing = 0;
				continue;
			}
			if (now - ls->probe_at < PROBE_WAIT)
				continue;
			nng_dialer_close(ls->pd);
			ls->probing = 0;
			log_warnx("%s: the listener takes no connections (nng lost "
			    "it); listening again", ls->url);
			nng_listener_close(ls->l);
			do_listen(ls);
			n++;
			continue;
		}
		if (now - ls->probe_at < PROBE_EVERY)
			continue;
		ls->probe_at = now;
		if (!ls->probe_open && (rv = probe_open(ls)) != 0) {
			log_debug("%s: %s: no probe: %s", __func__, ls->url,
			    nng_strerror(rv));
			continue;
		}
		atomic_store(&ls->seen, 0);
		if ((rv = nng_dial(ls->probe, ls->url, &ls->pd,
		    NNG_FLAG_NONBLOCK)) != 0) {
			log_debug("%s: %s: probe: %s", __func__, ls->url,
			    nng_strerror(rv));
			continue;
		}
		ls->probing = 1;
	}
	return n;
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
endpoint_check(void)
{
	struct dialed *dl;
	double now = mono_now();
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
