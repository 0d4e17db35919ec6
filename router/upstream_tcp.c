/*
 * TCP toward backends, for queries that came over TCP (RFC 7766): a few
 * persistent connections per backend, each carrying up to 64 queries at
 * once, answers matched by ID (and question) as they come back in any
 * order. A connection that fails takes its queries to their retry; one
 * idle for 10 s is closed. A query that ends (answered, timed out) before
 * it was written leaves the output queue, so the queue never holds more
 * than the connection's queries in flight; and a connection whose backend
 * takes no bytes for a query timeout while some wait, in our queue or the
 * kernel's (it accepts and never reads, or never completes the handshake),
 * is closed, its queries going to their retry.
 */
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <linux/sockios.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "addr.h"
#include "config.h"
#include "dnswire.h"
#include "log.h"
#include "query.h"
#include "report.h"
#include "router.h"
#include "tcpout.h"
#include "upstream_tcp.h"
#include "util.h"

#define CONNS_PER_BACKEND	4
#define PIPELINE		64	/* queries per connection before another opens */
#define PIPELINE_MAX		256	/* hard limit when every connection is busy */
#define SLOTS			512	/* ID table size, > 2 * PIPELINE_MAX */
#define IDLE_CLOSE		10.0
#define RBUF_SIZE		(65535 + 2)

struct ubackend;

struct uconn {
	int		 fd;
	ev_io		 w;
	ev_timer	 idle_w;
	ev_timer	 stall_w;	/* checks that the backend takes bytes */
	uint64_t	 written;	/* bytes given to the kernel */
	uint64_t	 taken;		/* of those, gone from its queue at the last check */
	struct ubackend	*b;
	struct uconn	*next;
	struct tcpout	 out;		/* queries not yet written, tagged index + 1 */
	uint8_t		*rbuf;
	size_t		 rlen;
	uint32_t	 inflight;
	uint32_t	 slot_q[SLOTS];		/* query index + 1, 0 empty */
	uint16_t	 slot_id[SLOTS];
};

struct ubackend {
	struct sockaddr_storage	 addr;
	socklen_t		 addrlen;
	struct uconn		*conns;
	int			 nconns;
	struct ubackend		*next;
};

static struct ubackend	*backends;	/* few backends see TCP: a list will do */
static struct ev_loop	*loop;
static const struct config *conf;
static uint32_t		*rcount;	/* stats.c's */

/* A connection whose backend takes no bytes this long is closed. */
static double
stall_after(void)
{
	return conf->timeout_ms > 100 ? conf->timeout_ms / 1000.0 : 0.1;
}

static void	conn_io_cb(struct ev_loop *, ev_io *, int);
static void	stall_arm(struct uconn *);
static enum upstream_result upstream_tcp_send(struct query *,
		    const struct sockaddr *, socklen_t);
static void	upstream_tcp_release(struct query *);

const struct upstream_ops upstream_tcp = {
	.send = upstream_tcp_send,
	.release = upstream_tcp_release,
};

void
upstream_tcp_init(const struct router *r)
{
	loop = r->loop;
	conf = r->conf;
	rcount = r->count;
}

static struct ubackend *
backend_get(const struct sockaddr *to, socklen_t tolen)
{
	struct ubackend *b;

	for (b = backends; b != NULL; b = b->next)
		if (addr_equal((struct sockaddr *)&b->addr, to))
			return b;
	b = xcalloc(1, sizeof(*b));
	memcpy(&b->addr, to, tolen);
	b->addrlen = tolen;
	b->next = backends;
	backends = b;
	return b;
}

static size_t
slot_find(const struct uconn *c, uint16_t id)
{
	size_t i = id & (SLOTS - 1);

	while (c->slot_q[i] != 0) {
		if (c->slot_id[i] == id)
			return i;
		i = (i + 1) & (SLOTS - 1);
	}
	return SIZE_MAX;
}

/* Remove slot i, shifting back its successors (linear probing). */
static void
slot_delete(struct uconn *c, size_t i)
{
	size_t j = i;

	c->slot_q[i] = 0;
	for (;;) {
		size_t home;

		j = (j + 1) & (SLOTS - 1);
		if (c->slot_q[j] == 0)
			return;
		home = c->slot_id[j] & (SLOTS - 1);
		/* Move j back to i unless its home lies cyclically in (i, j]. */
		if ((i < j && (home <= i || home > j)) ||
		    (i > j && home <= i && home > j)) {
			c->slot_q[i] = c->slot_q[j];
			c->slot_id[i] = c->slot_id[j];
			c->slot_q[j] = 0;
			i = j;
		}
	}
}

static void
conn_unlink(struct uconn *c)
{
	struct uconn **pp;

	for (pp = &c->b->conns; *pp != NULL; pp = &(*pp)->next)
		if (*pp == c) {
			*pp = c->next;
			c->b->nconns--;
			return;
		}
}

static void
conn_free(struct uconn *c)
{
	ev_io_stop(loop, &c->w);
	ev_timer_stop(loop, &c->idle_w);
	ev_timer_stop(loop, &c->stall_w);
	close(c->fd);
	tcpout_clear(&c->out);
	free(c->rbuf);
	free(c);
}

/* The connection broke: its queries go to their retry. */
static void
conn_fail(struct uconn *c)
{
	size_t i;

	conn_unlink(c);
	for (i = 0; i < SLOTS; i++) {
		struct query *q;

		if (c->slot_q[i] == 0)
			continue;
		q = query_get(c->slot_q[i] - 1);
		c->slot_q[i] = 0;
		if (q != NULL && q->up_conn == c) {
			q->up_conn = NULL;
			query_attempt_failed(q, 1);
		}
	}
	conn_free(c);
}

static void
idle_cb(struct ev_loop *l, ev_timer *w, int revents)
{
	struct uconn *c = w->data;

	(void)l; (void)revents;
	if (c->inflight == 0) {
		conn_unlink(c);
		conn_free(c);
	}
}

/*
 * Every query timeout while bytes wait for the backend, in our queue or
 * the kernel's (SIOCOUTQ: not yet taken by the peer): if it took none
 * since the last check, nothing waiting will be answered in time.
 */
static void
stall_cb(struct ev_loop *l, ev_timer *w, int revents)
{
	struct uconn *c = w->data;
	uint64_t taken;
	int outq = 0;

	(void)l; (void)revents;
	if (ioctl(c->fd, SIOCOUTQ, &outq) == -1)
		outq = 0;
	if (tcpout_empty(&c->out) && outq <= 0)
		return;		/* all taken: checked again when more is queued */
	taken = c->written - (uint64_t)(outq > 0 ? outq : 0);
	if (taken == c->taken) {
		log_debug("%s: TCP connection to a backend took no bytes for "
		    "%.1fs; closed", __func__, stall_after());
		conn_fail(c);
		return;
	}
	c->taken = taken;
	stall_arm(c);
}

/* Bytes wait for the backend: check in a query timeout that it takes them. */
static void
stall_arm(struct uconn *c)
{
	if (ev_is_active(&c->stall_w))
		return;
	ev_timer_set(&c->stall_w, stall_after(), 0.);
	ev_timer_start(loop, &c->stall_w);
}

static void
want(struct uconn *c)
{
	int ev = EV_READ | (!tcpout_empty(&c->out) ? EV_WRITE : 0);

	if ((c->w.events & (EV_READ | EV_WRITE)) != ev) {
		ev_io_stop(loop, &c->w);
		ev_io_set(&c->w, c->fd, ev);
		ev_io_start(loop, &c->w);
	}
}

static int
conn_write(struct uconn *c)
{
	ssize_t n;

	if (tcpout_empty(&c->out))
		return 0;
	if ((n = tcpout_write(&c->out, c->fd)) < 0)
		return errno == EAGAIN || errno == EINTR || errno == ENOTCONN ?
		    0 : -1;
	c->written += (uint64_t)n;
	return 0;
}

static void
handle_reply(struct uconn *c, uint8_t *msg, size_t len)
{
	struct query *q;
	size_t i;

	if (len < DNS_HDRLEN || !DNS_QR(msg) ||
	    (i = slot_find(c, DNS_ID(msg))) == SIZE_MAX) {
		rcount[RG_BOGUS]++;	/* late (timed out) or bogus */
		return;
	}
	q = query_get(c->slot_q[i] - 1);
	if (q == NULL || q->up_conn != c ||
	    !query_same_question(q, msg, len)) {
		rcount[RG_BOGUS]++;
		return;
	}
	query_deliver(q, msg, len);	/* releases the slot */
}

static void
conn_io_cb(struct ev_loop *l, ev_io *w, int revents)
{
	struct uconn *c = w->data;
	size_t off = 0, need;
	ssize_t n;
	long mlen = 0;

	(void)l;
	if ((revents & EV_WRITE) && conn_write(c) != 0) {
		conn_fail(c);
		return;
	}
	if (revents & EV_READ) {
		n = recv(c->fd, c->rbuf + c->rlen, RBUF_SIZE - c->rlen, MSG_DONTWAIT);
		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
			conn_fail(c);
			return;
		}
		if (n > 0)
			c->rlen += (size_t)n;
		/* Deliveries may not free c: it has no reference from queries. */
		while ((mlen = dns_tcp_frame(c->rbuf + off, c->rlen - off,
		    &need)) > 0) {
			handle_reply(c, c->rbuf + off + 2, (size_t)mlen);
			off += (size_t)mlen + 2;
		}
		if (mlen < 0) {
			/* Not DNS framing: nothing after it can be trusted. */
			rcount[RG_BOGUS]++;
			conn_fail(c);
			return;
		}
		if (off > 0) {
			memmove(c->rbuf, c->rbuf + off, c->rlen - off);
			c->rlen -= off;
		}
	}
	want(c);
	if (c->inflight == 0 && !ev_is_active(&c->idle_w)) {
		ev_timer_set(&c->idle_w, IDLE_CLOSE, 0.);
		ev_timer_start(loop, &c->idle_w);
	}
}

static struct uconn *
conn_open(struct ubackend *b, int *refused)
{
	struct uconn *c;
	int fd;

	fd = socket(b->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1)
		return NULL;
	if (connect(fd, (struct sockaddr *)&b->addr, b->addrlen) == -1 &&
	    errno != EINPROGRESS) {
		*refused = 1;	/* refused or unreachable: the backend's */
		close(fd);
		return NULL;
	}
	c = xcalloc(1, sizeof(*c));
	c->fd = fd;
	c->b = b;
	c->rbuf = xmalloc(RBUF_SIZE);
	ev_io_init(&c->w, conn_io_cb, fd, EV_READ);
	ev_set_priority(&c->w, REPLY_PRI);	/* replies before timeouts */
	c->w.data = c;
	ev_io_start(loop, &c->w);
	ev_init(&c->idle_w, idle_cb);
	c->idle_w.data = c;
	ev_init(&c->stall_w, stall_cb);
	c->stall_w.data = c;
	c->next = b->conns;
	b->conns = c;
	b->nconns++;
	return c;
}

/* The least busy connection under the pipeline limit, a new one, or the least busy. */
static struct uconn *
conn_pick(struct ubackend *b, int *refused)
{
	struct uconn *c, *best = NULL;

	for (c = b->conns; c != NULL; c = c->next)
		if (best == NULL || c->inflight < best->inflight)
			best = c;
	if (best != NULL && best->inflight < PIPELINE)
		return best;
	if (b->nconns < CONNS_PER_BACKEND && (c = conn_open(b, refused)) != NULL)
		return c;
	return best != NULL && best->inflight < PIPELINE_MAX ? best : NULL;
}

static int
id_used(const void *ctx, uint16_t id)
{
	return slot_find(ctx, id) != SIZE_MAX;
}

/*
 * Queue q on the least busy connection to its backend. Busy: connections
 * full or no free ID; unreachable: a new connection was refused.
 */
static enum upstream_result
upstream_tcp_send(struct query *q, const struct sockaddr *to, socklen_t tolen)
{
	struct ubackend *b = backend_get(to, tolen);
	struct uconn *c;
	size_t i;
	uint16_t id;
	int refused = 0;

	if ((c = conn_pick(b, &refused)) == NULL)
		return refused ? UPSTREAM_UNREACHABLE : UPSTREAM_BUSY;
	if (rnd_free_id(id_used, c, &id) != 0)
		return UPSTREAM_BUSY;
	for (i = id & (SLOTS - 1); c->slot_q[i] != 0; i = (i + 1) & (SLOTS - 1))
		;
	c->slot_q[i] = query_index(q) + 1;
	c->slot_id[i] = id;
	c->inflight++;
	ev_timer_stop(loop, &c->idle_w);
	q->up_id = id;
	q->up_conn = c;
	dns_set_id(q->pkt, id);

	tcpout_push(&c->out, q->pkt, q->len, query_index(q) + 1);
	stall_arm(c);
	/* Written when the socket is writable: queries of one loop pass share a writev. */
	want(c);
	return UPSTREAM_SENT;
}

/* The query is done with its connection: its slot, and its unsent bytes. */
static void
upstream_tcp_release(struct query *q)
{
	struct uconn *c = q->up_conn;
	size_t i;

	if (c == NULL)
		return;
	q->up_conn = NULL;
	if ((i = slot_find(c, q->up_id)) != SIZE_MAX &&
	    c->slot_q[i] == query_index(q) + 1)
		slot_delete(c, i);
	/*
	 * Its message goes if still unwritten (at most PIPELINE_MAX are
	 * queued); one partly written stays, and its answer, if any, is
	 * dropped as unknown.
	 */
	(void)tcpout_drop(&c->out, query_index(q) + 1);
	if (--c->inflight == 0) {
		ev_timer_set(&c->idle_w, IDLE_CLOSE, 0.);
		ev_timer_start(loop, &c->idle_w);
	}
}
