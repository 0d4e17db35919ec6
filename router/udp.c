/*
 * UDP clients: each router has its own SO_REUSEPORT socket per listen
 * address, so the kernel spreads clients over routers. Queries are read in
 * batches with recvmmsg.
 */
#include <sys/socket.h>
#include <errno.h>
#include <string.h>

#include "log.h"
#include "router.h"
#include "util.h"

#define UDP_BATCH	32
#define UDP_BUFSZ	4096	/* larger queries arrive truncated: FORMERR */

struct ulisten {
	int	fd;
	ev_io	w;
};

static struct ulisten	ul[CONFIG_MAX_LISTEN * CONFIG_MAX_WORKERS];
static int		nul;

static uint8_t			qbuf[UDP_BATCH][UDP_BUFSZ];
static struct mmsghdr		qmsg[UDP_BATCH];
static struct iovec		qiov[UDP_BATCH];
static struct sockaddr_storage	qfrom[UDP_BATCH];

static void
udp_cb(struct ev_loop *l, ev_io *w, int revents)
{
	struct ulisten *u = w->data;
	struct dns_question q;
	int i, n;

	(void)l; (void)revents;
	for (i = 0; i < UDP_BATCH; i++) {
		qmsg[i].msg_hdr.msg_name = &qfrom[i];
		qmsg[i].msg_hdr.msg_namelen = sizeof(qfrom[i]);
		qmsg[i].msg_hdr.msg_flags = 0;
	}
	n = recvmmsg(u->fd, qmsg, UDP_BATCH, MSG_DONTWAIT, NULL);
	for (i = 0; i < n; i++) {
		const uint8_t *pkt = qbuf[i];
		size_t len = qmsg[i].msg_len;
		const struct sockaddr *from = (struct sockaddr *)&qfrom[i];
		socklen_t fromlen = qmsg[i].msg_hdr.msg_namelen;
		int rcode;

		switch (dns_parse_query(pkt, len, &q)) {
		case DNS_QUERY_DROP:
			continue;
		case DNS_QUERY_FORMERR:
			rcode = DNS_RCODE_FORMERR;
			break;
		case DNS_QUERY_NOTIMP:
			rcode = DNS_RCODE_NOTIMP;
			break;
		case DNS_QUERY_OK:
		default:
			if (qmsg[i].msg_hdr.msg_flags & MSG_TRUNC) {
				rcode = DNS_RCODE_FORMERR;
				break;
			}
			query_dispatch(pkt, len, &q, u->fd, from, fromlen, NULL);
			continue;
		}
		query_answer_error(pkt, len, &q, rcode, u->fd, from, fromlen, NULL);
	}
}

void
udp_init(int fd)
{
	struct ulisten *u = &ul[nul++];
	int i;

	fd_nonblock(fd, 1);
	u->fd = fd;
	ev_io_init(&u->w, udp_cb, fd, EV_READ);
	u->w.data = u;
	for (i = 0; i < UDP_BATCH; i++) {
		qiov[i].iov_base = qbuf[i];
		qiov[i].iov_len = UDP_BUFSZ;
		qmsg[i].msg_hdr.msg_iov = &qiov[i];
		qmsg[i].msg_hdr.msg_iovlen = 1;
	}
}

void
udp_start(void)
{
	int i;

	for (i = 0; i < nul; i++)
		ev_io_start(loop, &ul[i].w);
}

void
udp_stop(void)
{
	int i;

	for (i = 0; i < nul; i++)
		ev_io_stop(loop, &ul[i].w);
}
