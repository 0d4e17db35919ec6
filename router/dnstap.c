/*
 * dnstap: each message is encoded with protobuf-c into a buffer of its own
 * and handed to libfstrm's I/O thread through a single-producer queue of
 * DNSTAP_QUEUE entries; the thread writes Frame Streams (bidirectional
 * handshake, content type protobuf:dnstap.Dnstap) to the collector and
 * frees each buffer. The socket under it is ours (an fstrm_rdwr): connect
 * and every read and write have deadlines, so a collector that stops
 * reading stalls only the I/O thread, and the thread's "is it connected"
 * is visible here. While it is not, messages are dropped before they are
 * encoded, and counted; a full queue drops and counts too. libfstrm tries
 * to connect again every DNSTAP_REOPEN seconds by itself. Messages queued
 * when a connection breaks are discarded by libfstrm uncounted: at most
 * DNSTAP_QUEUE of them.
 *
 * The unix socket lies inside rundir (config_validate): the routers are
 * chrooted there, so its path here is the part after rundir.
 */
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <netinet/in.h>
#include <errno.h>
#include <fcntl.h>
#include <fstrm.h>
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "addr.h"
#include "config.h"
#include "dnstap.h"
#include "dnstap.pb-c.h"
#include "log.h"
#include "report.h"
#include "router.h"

#define DNSTAP_QUEUE		4096	/* messages queued toward the collector */
#define DNSTAP_REOPEN		1	/* seconds between connection attempts */
#define DNSTAP_IO_TIMEOUT	2000	/* ms: connect, and each read or write */
#define DNSTAP_CONTENT_TYPE	"protobuf:dnstap.Dnstap"

unsigned			 dnstap_types;

static struct ev_loop		*loop;
static uint32_t			*rcount;	/* stats.c's */
static struct fstrm_iothr	*iothr;
static struct fstrm_iothr_queue	*ioq;
static ProtobufCBinaryData	 identity, version;
static ev_timer			 state_w;
static int			 was_connected, said_absent;
static uint32_t			 dropped_since;	/* while not connected */

/* The collector's socket, the I/O thread's; connected is read by both. */
static struct {
	struct sockaddr_storage	 sa;
	socklen_t		 salen;
	int			 fd;
	atomic_int		 connected;
	char			 name[CONFIG_STRLEN];	/* for the log */
} tap = { .fd = -1 };

static void
set_timeouts(int fd)
{
	struct timeval tv = { DNSTAP_IO_TIMEOUT / 1000,
	    (DNSTAP_IO_TIMEOUT % 1000) * 1000 };

	(void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	(void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
}

/* Connect without blocking longer than DNSTAP_IO_TIMEOUT. */
static fstrm_res
tap_open(void *obj)
{
	struct pollfd pfd;
	socklen_t elen = sizeof(int);
	int fd, err = 0;

	(void)obj;
	if (tap.fd != -1)
		return fstrm_res_success;
	if ((fd = socket(tap.sa.ss_family, SOCK_STREAM | SOCK_CLOEXEC |
	    SOCK_NONBLOCK, 0)) == -1)
		return fstrm_res_failure;
	if (connect(fd, (struct sockaddr *)&tap.sa, tap.salen) == -1) {
		if (errno != EINPROGRESS)
			goto fail;
		pfd.fd = fd;
		pfd.events = POLLOUT;
		if (poll(&pfd, 1, DNSTAP_IO_TIMEOUT) != 1 ||
		    getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen) == -1 ||
		    err != 0)
			goto fail;
	}
	if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK) == -1)
		goto fail;
	set_timeouts(fd);
	tap.fd = fd;
	atomic_store_explicit(&tap.connected, 1, memory_order_relaxed);
	return fstrm_res_success;
fail:
	close(fd);
	return fstrm_res_failure;
}

static fstrm_res
tap_close(void *obj)
{
	(void)obj;
	atomic_store_explicit(&tap.connected, 0, memory_order_relaxed);
	if (tap.fd == -1)
		return fstrm_res_failure;
	close(tap.fd);
	tap.fd = -1;
	return fstrm_res_success;
}

/* The collector's control frames (ACCEPT, FINISH): all count bytes. */
static fstrm_res
tap_read(void *obj, void *buf, size_t count)
{
	uint8_t *p = buf;
	ssize_t n;

	(void)obj;
	while (count > 0) {
		if ((n = read(tap.fd, p, count)) == 0)
			return fstrm_res_stop;
		if (n == -1) {
			if (errno == EINTR)
				continue;
			return fstrm_res_failure;	/* a timeout too */
		}
		p += n;
		count -= (size_t)n;
	}
	return fstrm_res_success;
}

static fstrm_res
tap_write(void *obj, const struct iovec *iov, int iovcnt)
{
	struct iovec v[64];
	struct msghdr msg;
	ssize_t n;
	int i = 0;

	(void)obj;
	/* libfstrm's output queue is at most 64 frames, two iovecs each. */
	while (i < iovcnt) {
		int k = iovcnt - i > 64 ? 64 : iovcnt - i, j = 0;

		memcpy(v, iov + i, (size_t)k * sizeof(v[0]));
		while (j < k) {
			memset(&msg, 0, sizeof(msg));
			msg.msg_iov = v + j;
			msg.msg_iovlen = (size_t)(k - j);
			if ((n = sendmsg(tap.fd, &msg, MSG_NOSIGNAL)) == -1) {
				if (errno == EINTR)
					continue;
				return fstrm_res_failure;	/* a timeout too */
			}
			while (j < k && (size_t)n >= v[j].iov_len)
				n -= (ssize_t)v[j++].iov_len;
			if (j < k) {
				v[j].iov_base = (uint8_t *)v[j].iov_base + n;
				v[j].iov_len -= (size_t)n;
			}
		}
		i += k;
	}
	return fstrm_res_success;
}

/* The collector's address from `dnstap` (checked by the config parser). */
static void
tap_address(const struct config *cf, int chrooted)
{
	struct sockaddr_un *sun = (struct sockaddr_un *)&tap.sa;
	const char *why, *path;

	if (strncmp(cf->dnstap, "unix:", 5) == 0) {
		path = cf->dnstap + 5;
		if (chrooted)
			path += strlen(cf->rundir);
		memset(sun, 0, sizeof(*sun));
		sun->sun_family = AF_UNIX;
		memcpy(sun->sun_path, path, strlen(path));
		tap.salen = sizeof(*sun);
	} else if (addr_parse(cf->dnstap + 4, strlen(cf->dnstap + 4), 0,
	    &tap.sa, &tap.salen, &why) != 0)
		fatalx("%s: dnstap %s: %s", __func__, cf->dnstap, why);
	snprintf(tap.name, sizeof(tap.name), "%s", cf->dnstap);
}

/* Say when the collector comes and goes, from the router's own thread. */
static void
state_cb(struct ev_loop *l, ev_timer *w, int revents)
{
	int c = atomic_load_explicit(&tap.connected, memory_order_relaxed);

	(void)l; (void)w; (void)revents;
	if (c && !was_connected)
		log_info("dnstap: connected to %s", tap.name);
	else if (!c && was_connected)
		log_warnx("dnstap: %s is gone; messages are dropped until it "
		    "is back", tap.name);
	else if (!c && !said_absent)
		log_warnx("dnstap: cannot connect to %s; messages are dropped "
		    "until it can, trying every %ds", tap.name, DNSTAP_REOPEN);
	else if (!c && dropped_since > 0)
		log_debug("dnstap: %s not connected, %u messages dropped",
		    tap.name, dropped_since);
	said_absent = !c;
	was_connected = c;
	dropped_since = 0;
}

static void
text_or_default(ProtobufCBinaryData *d, const char *set, const char *dflt)
{
	static char host[256];

	if (strcmp(set, "none") == 0)
		return;
	if (set[0] == '\0' && dflt == NULL) {
		if (gethostname(host, sizeof(host) - 1) != 0)
			return;
		set = host;
	} else if (set[0] == '\0')
		set = dflt;
	d->data = (uint8_t *)(uintptr_t)set;
	d->len = strlen(set);
}

void
dnstap_init(const struct router *r, int chrooted)
{
	const struct config *cf = r->conf;
	struct fstrm_writer_options *wopt;
	struct fstrm_iothr_options *iopt;
	struct fstrm_writer *w;
	struct fstrm_rdwr *rdwr;
	sigset_t all, old;

	if (cf->dnstap[0] == '\0' || cf->dnstap_messages == 0)
		return;
	loop = r->loop;
	rcount = r->count;
	tap_address(cf, chrooted);
	text_or_default(&identity, cf->dnstap_identity, NULL);
	text_or_default(&version, cf->dnstap_version,
	    "dnsrouter " DNSROUTER_VERSION);

	rdwr = fstrm_rdwr_init(NULL);
	fstrm_rdwr_set_open(rdwr, tap_open);
	fstrm_rdwr_set_close(rdwr, tap_close);
	fstrm_rdwr_set_read(rdwr, tap_read);	/* bidirectional */
	fstrm_rdwr_set_write(rdwr, tap_write);
	wopt = fstrm_writer_options_init();
	fstrm_writer_options_add_content_type(wopt, DNSTAP_CONTENT_TYPE,
	    strlen(DNSTAP_CONTENT_TYPE));
	if ((w = fstrm_writer_init(wopt, &rdwr)) == NULL)
		fatalx("%s: fstrm_writer_init failed", __func__);
	fstrm_writer_options_destroy(&wopt);
	iopt = fstrm_iothr_options_init();
	fstrm_iothr_options_set_num_input_queues(iopt, 1);
	fstrm_iothr_options_set_queue_model(iopt,
	    FSTRM_IOTHR_QUEUE_MODEL_SPSC);
	fstrm_iothr_options_set_input_queue_size(iopt, DNSTAP_QUEUE);
	fstrm_iothr_options_set_reopen_interval(iopt, DNSTAP_REOPEN);
	/* The I/O thread takes no signal: they are the loop's. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	iothr = fstrm_iothr_init(iopt, &w);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	fstrm_iothr_options_destroy(&iopt);
	if (iothr == NULL || (ioq = fstrm_iothr_get_input_queue(iothr)) == NULL)
		fatalx("%s: fstrm_iothr_init failed", __func__);
	dnstap_types = cf->dnstap_messages;
	ev_timer_init(&state_w, state_cb, 1., 1.);
	ev_timer_start(loop, &state_w);
	ev_unref(loop);		/* the timer alone keeps no loop running */
	log_debug("dnstap to %s, types 0x%x", tap.name, dnstap_types);
}

void
dnstap_shutdown(void)
{
	if (iothr == NULL)
		return;
	dnstap_types = 0;
	ev_ref(loop);
	ev_timer_stop(loop, &state_w);
	fstrm_iothr_destroy(&iothr);	/* flushes, within the timeouts */
}

/* The address bytes and port of sa, for query_ or response_address. */
static int
sa_bytes(const struct sockaddr *sa, ProtobufCBinaryData *a, uint32_t *port,
    Dnstap__SocketFamily *fam)
{
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)sa;

		a->data = (uint8_t *)(uintptr_t)&s4->sin_addr;
		a->len = 4;
		*port = ntohs(s4->sin_port);
		*fam = DNSTAP__SOCKET_FAMILY__INET;
		return 0;
	}
	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)sa;

		a->data = (uint8_t *)(uintptr_t)&s6->sin6_addr;
		a->len = 16;
		*port = ntohs(s6->sin6_port);
		*fam = DNSTAP__SOCKET_FAMILY__INET6;
		return 0;
	}
	return -1;
}

static void
set_time(double t, protobuf_c_boolean *has_sec, uint64_t *sec,
    protobuf_c_boolean *has_nsec, uint32_t *nsec)
{
	double s;

	if (t <= 0)
		return;
	s = floor(t);
	*sec = (uint64_t)s;
	*nsec = (uint32_t)((t - s) * 1e9);
	if (*nsec > 999999999)
		*nsec = 999999999;
	*has_sec = *has_nsec = 1;
}

void
dnstap_log(unsigned type, const struct sockaddr *peer, int tcp,
    const uint8_t *msg, size_t len, double qtime, double rtime)
{
	Dnstap__Dnstap d = DNSTAP__DNSTAP__INIT;
	Dnstap__Message m = DNSTAP__MESSAGE__INIT;
	ProtobufCBinaryData addr, body = { len, (uint8_t *)(uintptr_t)msg };
	Dnstap__SocketFamily fam;
	uint32_t port;
	uint8_t *buf;
	size_t n;

	if (!atomic_load_explicit(&tap.connected, memory_order_relaxed)) {
		rcount[RG_DNSTAP_DROPPED]++;
		dropped_since++;
		return;
	}
	d.message = &m;
	d.has_identity = identity.data != NULL;
	d.identity = identity;
	d.has_version = version.data != NULL;
	d.version = version;
	if (sa_bytes(peer, &addr, &port, &fam) == 0) {
		m.has_socket_family = 1;
		m.socket_family = fam;
		if (type & (CONFIG_DNSTAP_CLIENT_QUERY |
		    CONFIG_DNSTAP_CLIENT_RESPONSE)) {
			m.has_query_address = m.has_query_port = 1;
			m.query_address = addr;
			m.query_port = port;
		} else {
			m.has_response_address = m.has_response_port = 1;
			m.response_address = addr;
			m.response_port = port;
		}
	}
	m.has_socket_protocol = 1;
	m.socket_protocol = tcp ? DNSTAP__SOCKET_PROTOCOL__TCP :
	    DNSTAP__SOCKET_PROTOCOL__UDP;
	switch (type) {
	case CONFIG_DNSTAP_CLIENT_QUERY:
		m.type = DNSTAP__MESSAGE__TYPE__CLIENT_QUERY;
		break;
	case CONFIG_DNSTAP_CLIENT_RESPONSE:
		m.type = DNSTAP__MESSAGE__TYPE__CLIENT_RESPONSE;
		break;
	case CONFIG_DNSTAP_FORWARDER_QUERY:
		m.type = DNSTAP__MESSAGE__TYPE__FORWARDER_QUERY;
		break;
	default:
		m.type = DNSTAP__MESSAGE__TYPE__FORWARDER_RESPONSE;
		break;
	}
	if (type & (CONFIG_DNSTAP_CLIENT_QUERY | CONFIG_DNSTAP_FORWARDER_QUERY)) {
		m.has_query_message = 1;
		m.query_message = body;
	} else {
		m.has_response_message = 1;
		m.response_message = body;
	}
	set_time(qtime, &m.has_query_time_sec, &m.query_time_sec,
	    &m.has_query_time_nsec, &m.query_time_nsec);
	set_time(rtime, &m.has_response_time_sec, &m.response_time_sec,
	    &m.has_response_time_nsec, &m.response_time_nsec);

	n = dnstap__dnstap__get_packed_size(&d);
	if ((buf = malloc(n)) == NULL) {
		rcount[RG_DNSTAP_DROPPED]++;
		return;
	}
	dnstap__dnstap__pack(&d, buf);
	if (fstrm_iothr_submit(iothr, ioq, buf, n, fstrm_free_wrapper, NULL) !=
	    fstrm_res_success) {
		free(buf);
		rcount[RG_DNSTAP_DROPPED]++;
		return;
	}
	rcount[RG_DNSTAP_SENT]++;
}
