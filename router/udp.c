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
#define ANSWER_BATCH	SENDBATCH_MAX
#define ANSWER_SLOT	2048	/* larger answers go out at once, unbatched */

struct ulisten {
	int	fd;
	ev_io	w;
};

static struct ulisten	ul[CONFIG_MAX_LISTEN * CONFIG_MAX_WORKERS];
static int		nul;

/*
 * Answers wait here until the loop is about to block, then leave in one
 * batch per listener (sendbatch.c): on loopback a send also delivers the
 * packet and wakes the receiver, so batching saves far more than the
 * syscalls.
 */
static struct {
	int			 lfd;
	socklen_t		 alen;
	size_t			 len;
	struct sockaddr_storage	 addr;
	uint8_t			 data[ANSWER_SLOT];
} ans[ANSWER_BATCH];
static unsigned			nans;
static struct mmsghdr		amsg[ANSWER_BATCH];
static struct iovec		aiov[ANSWER_BATCH];
static ev_prepare		flush_w;

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
	if (n > 0)
		rcount[RG_QUERIES_UDP] += (uint32_t)n;
	for (i = 0; i < n; i++) {
		const uint8_t *pkt = qbuf[i];
		size_t len = qmsg[i].msg_len;
		const struct sockaddr *from = (struct sockaddr *)&qfrom[i];
		socklen_t fromlen = qmsg[i].msg_hdr.msg_namelen;
		int rcode;

		if (!conf.allow_query.any &&
		    !netmask_match(conf.allow_query.m, conf.allow_query.n, from)) {
			rcount[RG_ACL_REFUSED]++;
			if (conf.acl_drop ||
			    dns_parse_query(pkt, len, &q) == DNS_QUERY_DROP)
				continue;
			query_answer_error(pkt, len, &q, DNS_RCODE_REFUSED, u->fd,
			    from, fromlen, NULL);
			continue;
		}
		switch (dns_parse_query(pkt, len, &q)) {
		case DNS_QUERY_DROP:
			rcount[RG_DROPPED]++;
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

/* Send every queued answer: one batch per run of the same listener. */
void
udp_flush(void)
{
	int res[ANSWER_BATCH];
	unsigned i = 0, j;

	while (i < nans) {
		for (j = i; j < nans && ans[j].lfd == ans[i].lfd; j++) {
			aiov[j].iov_base = ans[j].data;
			aiov[j].iov_len = ans[j].len;
			amsg[j].msg_hdr.msg_name = &ans[j].addr;
			amsg[j].msg_hdr.msg_namelen = ans[j].alen;
			amsg[j].msg_hdr.msg_iov = &aiov[j];
			amsg[j].msg_hdr.msg_iovlen = 1;
		}
		/* A full buffer or a vanished client loses that answer only. */
		sendbatch(ans[i].lfd, amsg + i, j - i, res);
		i = j;
	}
	nans = 0;
}

void
udp_send(int lfd, const struct sockaddr *to, socklen_t tolen,
    const uint8_t *buf, size_t len)
{
	if (len > ANSWER_SLOT) {
		(void)sendto(lfd, buf, len, MSG_DONTWAIT, to, tolen);
		return;
	}
	if (nans == ANSWER_BATCH)
		udp_flush();
	ans[nans].lfd = lfd;
	ans[nans].alen = tolen;
	memcpy(&ans[nans].addr, to, tolen);
	ans[nans].len = len;
	memcpy(ans[nans].data, buf, len);
	nans++;
}

static void
flush_cb(struct ev_loop *l, ev_prepare *w, int revents)
{
	(void)l; (void)w; (void)revents;
	if (nans > 0)
		udp_flush();
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
	if (!ev_is_active(&flush_w)) {
		ev_prepare_init(&flush_w, flush_cb);
		ev_prepare_start(loop, &flush_w);
	}
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
