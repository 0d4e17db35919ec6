/*
 * TCP clients (RFC 7766): length-prefixed queries, several in flight per
 * connection, answers written as they complete, idle connections closed.
 * A connection lives until its last in-flight query is done, even after
 * the client went away, so queries never point at freed memory.
 */
#include <sys/socket.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "router.h"
#include "util.h"

struct obuf {
	struct obuf	*next;
	size_t		 len;
	uint8_t		 data[];
};

struct tcpconn {
	int		 fd;		/* -1 once dead */
	ev_io		 rw, ww;
	ev_timer	 idle;
	uint8_t		*rbuf;
	size_t		 rlen, rcap;
	struct obuf	*oh, *ot;
	size_t		 ooff;
	uint32_t	 inflight;
	int		 rclosed;	/* client finished sending */
	int		 paused;	/* reading stopped: pipeline full */
};

struct tlisten {
	int	fd;
	ev_io	w;
};

static struct tlisten	tl[CONFIG_MAX_LISTEN * CONFIG_MAX_WORKERS];
static int		ntl;
static unsigned		nconns;

static void	conn_check_close(struct tcpconn *);

static void
conn_kill(struct tcpconn *c)
{
	struct obuf *o;

	if (c->fd != -1) {
		ev_io_stop(loop, &c->rw);
		ev_io_stop(loop, &c->ww);
		ev_timer_stop(loop, &c->idle);
		close(c->fd);
		c->fd = -1;
	}
	while ((o = c->oh) != NULL) {
		c->oh = o->next;
		free(o);
	}
	c->ot = NULL;
	free(c->rbuf);
	c->rbuf = NULL;
	if (c->inflight == 0) {
		free(c);
		nconns--;
	}
}

static void
conn_check_close(struct tcpconn *c)
{
	if (c->fd == -1) {
		if (c->inflight == 0) {
			free(c);
			nconns--;
		}
		return;
	}
	if (c->rclosed && c->inflight == 0 && c->oh == NULL)
		conn_kill(c);
}

static void
conn_flush(struct tcpconn *c)
{
	while (c->oh != NULL) {
		struct obuf *o = c->oh;
		ssize_t n = send(c->fd, o->data + c->ooff, o->len - c->ooff,
		    MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR) {
				ev_io_start(loop, &c->ww);
				return;
			}
			conn_kill(c);
			return;
		}
		c->ooff += (size_t)n;
		if (c->ooff < o->len) {
			ev_io_start(loop, &c->ww);
			return;
		}
		c->oh = o->next;
		if (c->oh == NULL)
			c->ot = NULL;
		c->ooff = 0;
		free(o);
	}
	ev_io_stop(loop, &c->ww);
	conn_check_close(c);
}

static void
write_cb(struct ev_loop *l, ev_io *w, int revents)
{
	(void)l; (void)revents;
	conn_flush(w->data);
}

void
tcp_send(struct tcpconn *c, const uint8_t *msg, size_t len)
{
	struct obuf *o;
	int was_empty;

	if (c->fd == -1 || len > 65535)
		return;
	o = xmalloc(sizeof(*o) + len + 2);
	o->next = NULL;
	o->len = len + 2;
	o->data[0] = (uint8_t)(len >> 8);
	o->data[1] = (uint8_t)len;
	memcpy(o->data + 2, msg, len);
	was_empty = c->oh == NULL;
	if (c->ot != NULL)
		c->ot->next = o;
	else
		c->oh = o;
	c->ot = o;
	if (was_empty)
		conn_flush(c);
}

static void
handle_message(struct tcpconn *c, const uint8_t *msg, size_t len)
{
	struct dns_question q;

	rcount[RG_QUERIES_TCP]++;
	switch (dns_parse_query(msg, len, &q)) {
	case DNS_QUERY_DROP:
		rcount[RG_DROPPED]++;
		return;
	case DNS_QUERY_FORMERR:
		query_answer_error(msg, len, &q, DNS_RCODE_FORMERR, -1, NULL, 0, c);
		return;
	case DNS_QUERY_NOTIMP:
		query_answer_error(msg, len, &q, DNS_RCODE_NOTIMP, -1, NULL, 0, c);
		return;
	case DNS_QUERY_OK:
		c->inflight++;
		query_dispatch(msg, len, &q, -1, NULL, 0, c);
		return;
	}
}

static void
process_buffer(struct tcpconn *c)
{
	size_t off = 0;

	while (c->fd != -1 && !c->paused && c->rlen - off >= 2) {
		size_t mlen = (size_t)c->rbuf[off] << 8 | c->rbuf[off + 1];

		if (mlen < DNS_HDRLEN) {
			/* Not DNS: nothing sensible can follow on this stream. */
			conn_kill(c);
			return;
		}
		if (c->rlen - off < mlen + 2)
			break;
		handle_message(c, c->rbuf + off + 2, mlen);
		off += mlen + 2;
		if (c->inflight > TCP_MAX_PIPELINE) {	/* the guard counts one */
			c->paused = 1;
			ev_io_stop(loop, &c->rw);
		}
	}
	if (c->fd == -1)
		return;
	if (off > 0) {
		memmove(c->rbuf, c->rbuf + off, c->rlen - off);
		c->rlen -= off;
	}
	if (c->rlen >= 2) {
		size_t need = ((size_t)c->rbuf[0] << 8 | c->rbuf[1]) + 2;

		if (need > c->rcap) {
			if ((c->rbuf = realloc(c->rbuf, need)) == NULL)
				fatal("%s: realloc", __func__);
			c->rcap = need;
		}
	}
}

static void
read_cb(struct ev_loop *l, ev_io *w, int revents)
{
	struct tcpconn *c = w->data;
	ssize_t n = -1;

	(void)revents;
	if (c->rcap == 0) {
		c->rcap = 4096;
		if ((c->rbuf = malloc(c->rcap)) == NULL)
			fatal("%s: malloc", __func__);
	}
	if (!c->rclosed && c->rlen < c->rcap) {
		n = recv(c->fd, c->rbuf + c->rlen, c->rcap - c->rlen, MSG_DONTWAIT);
		if (n < 0 && errno != EAGAIN && errno != EINTR) {
			conn_kill(c);
			return;
		}
		if (n == 0) {
			c->rclosed = 1;
			ev_io_stop(l, &c->rw);
		} else if (n > 0) {
			c->rlen += (size_t)n;
			ev_timer_again(l, &c->idle);
		}
	}
	/* Answers sent during processing may kill c: hold it until done. */
	c->inflight++;
	process_buffer(c);
	c->inflight--;
	conn_check_close(c);
}

void
tcp_query_done(struct tcpconn *c)
{
	c->inflight--;
	if (c->fd != -1 && c->paused && c->inflight <= TCP_MAX_PIPELINE / 2) {
		c->paused = 0;
		if (!c->rclosed)
			ev_io_start(loop, &c->rw);
		/* Pipelined queries may already sit in the buffer. */
		ev_feed_event(loop, &c->rw, EV_READ);
	}
	conn_check_close(c);
}

static void
idle_cb(struct ev_loop *l, ev_timer *w, int revents)
{
	struct tcpconn *c = w->data;

	(void)l; (void)revents;
	if (c->inflight == 0 && c->oh == NULL)
		conn_kill(c);
	else
		ev_timer_again(l, w);
}

static void
accept_cb(struct ev_loop *l, ev_io *w, int revents)
{
	struct tlisten *t = w->data;

	(void)revents;
	for (;;) {
		struct tcpconn *c;
		int fd = accept4(t->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd == -1) {
			if (errno == EMFILE || errno == ENFILE)
				log_warn("%s: accept", __func__);
			return;
		}
		if (nconns >= TCP_MAX_CONNS) {
			close(fd);
			continue;
		}
		c = xcalloc(1, sizeof(*c));
		c->fd = fd;
		nconns++;
		ev_io_init(&c->rw, read_cb, fd, EV_READ);
		ev_io_init(&c->ww, write_cb, fd, EV_WRITE);
		ev_init(&c->idle, idle_cb);
		c->idle.repeat = TCP_IDLE_TIMEOUT;
		c->rw.data = c->ww.data = c->idle.data = c;
		ev_io_start(l, &c->rw);
		ev_timer_again(l, &c->idle);
	}
}

void
tcp_init(int fd)
{
	struct tlisten *t = &tl[ntl++];

	fd_nonblock(fd, 1);
	t->fd = fd;
	ev_io_init(&t->w, accept_cb, fd, EV_READ);
	t->w.data = t;
}

void
tcp_start(void)
{
	int i;

	for (i = 0; i < ntl; i++)
		ev_io_start(loop, &tl[i].w);
}

void
tcp_stop(void)
{
	int i;

	for (i = 0; i < ntl; i++)
		ev_io_stop(loop, &tl[i].w);
}
