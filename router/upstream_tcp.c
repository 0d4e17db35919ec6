/*
 * TCP toward backends, for queries that came over TCP: one connection per
 * attempt, length-prefixed query out, one length-prefixed reply in. The
 * reply must carry the ID we sent and the question we asked.
 */
#include <sys/socket.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "router.h"
#include "util.h"

enum utcp_state { UT_WRITE, UT_READLEN, UT_READBODY };

struct utcp {
	int		 fd;
	ev_io		 w;
	struct query	*q;
	enum utcp_state	 state;
	size_t		 off;
	size_t		 need;
	uint8_t		*buf;
	uint8_t		 lenbuf[2];
};

static void
utcp_cb(struct ev_loop *l, ev_io *w, int revents)
{
	struct utcp *u = w->data;
	struct query *q = u->q;
	ssize_t n;

	(void)revents;
	switch (u->state) {
	case UT_WRITE:
		n = send(u->fd, u->buf + u->off, u->need - u->off,
		    MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				return;
			goto fail;
		}
		u->off += (size_t)n;
		if (u->off < u->need)
			return;
		free(u->buf);
		u->buf = NULL;
		u->state = UT_READLEN;
		u->off = 0;
		ev_io_stop(l, w);
		ev_io_set(w, u->fd, EV_READ);
		ev_io_start(l, w);
		return;
	case UT_READLEN:
		n = recv(u->fd, u->lenbuf + u->off, 2 - u->off, MSG_DONTWAIT);
		if (n <= 0)
			goto readerr;
		if ((u->off += (size_t)n) < 2)
			return;
		u->need = (size_t)u->lenbuf[0] << 8 | u->lenbuf[1];
		if (u->need < DNS_HDRLEN)
			goto fail;
		u->buf = xmalloc(u->need);
		u->off = 0;
		u->state = UT_READBODY;
		/* FALLTHROUGH */
	case UT_READBODY:
		n = recv(u->fd, u->buf + u->off, u->need - u->off, MSG_DONTWAIT);
		if (n <= 0)
			goto readerr;
		if ((u->off += (size_t)n) < u->need)
			return;
		if (!DNS_QR(u->buf) || DNS_ID(u->buf) != q->up_id ||
		    !query_same_question(q, u->buf, u->need))
			goto fail;
		/* query_deliver frees q, which releases (frees) u: take the buffer. */
		{
			uint8_t *reply = u->buf;
			size_t len = u->need;

			u->buf = NULL;
			query_deliver(q, reply, len);
			free(reply);
		}
		return;
	}
	return;
readerr:
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
fail:
	query_attempt_failed(q);
}

int
upstream_tcp_send(struct query *q, const struct sockaddr *to, socklen_t tolen)
{
	struct utcp *u;
	int fd;

	fd = socket(to->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1)
		return -1;
	if (connect(fd, to, tolen) == -1 && errno != EINPROGRESS) {
		close(fd);
		return -1;
	}
	u = xcalloc(1, sizeof(*u));
	u->fd = fd;
	u->q = q;
	u->state = UT_WRITE;
	u->need = (size_t)q->len + 2;
	u->buf = xmalloc(u->need);
	q->up_id = rnd16();
	dns_set_id(q->pkt, q->up_id);
	u->buf[0] = (uint8_t)(q->len >> 8);
	u->buf[1] = (uint8_t)q->len;
	memcpy(u->buf + 2, q->pkt, q->len);
	ev_io_init(&u->w, utcp_cb, fd, EV_WRITE);
	u->w.data = u;
	ev_io_start(loop, &u->w);
	q->utcp = u;
	return 0;
}

void
upstream_tcp_release(struct query *q)
{
	struct utcp *u = q->utcp;

	if (u == NULL)
		return;
	ev_io_stop(loop, &u->w);
	close(u->fd);
	free(u->buf);
	free(u);
	q->utcp = NULL;
}
