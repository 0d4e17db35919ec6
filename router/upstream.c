/*
 * UDP toward backends. Queries leave from one socket per address family at
 * a time, bound to a kernel-chosen random port and replaced every 2 s (the
 * old one kept until its last query is answered), so neither the source
 * port nor the ID of a query can be guessed and no socket is opened per
 * query. One port at a time rather than a pool: a backend with SO_REUSEPORT
 * threads (BIND) then sees one client flow and one busy thread instead of
 * wakeups on all of them, which on a shared machine cost it more CPU than
 * dnsrouter itself (measured: 0.83x dnsdist's queries/s with 8 sockets,
 * 1.15x with one). A reply counts only if it comes from the backend the
 * query went to, to the socket it left from, with its ID and its question.
 */
#include <sys/socket.h>
#include <netinet/in.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "addr.h"
#include "dnswire.h"
#include "log.h"
#include "query.h"
#include "report.h"
#include "router.h"
#include "routetable.h"
#include "sendbatch.h"
#include "table.h"
#include "upstream.h"
#include "util.h"

#define USOCK_MAX	48	/* in use + retiring, both families */
#define USOCK_RENEW	2.0	/* seconds between renewals of one socket */
#define RECV_BATCH	32
#define RECV_ROUNDS	4	/* recvmmsg calls per wakeup while they fill up */
#define RECV_BUFSZ	65536
#define SEND_BATCH	SENDBATCH_MAX

struct usock {
	int		 fd;		/* -1: slot free */
	int		 fam;		/* 0: IPv4, 1: IPv6 */
	int		 retiring;
	uint32_t	 inflight;
	uint32_t	*idmap;		/* ID -> query index + 1 */
	ev_io		 w;
	/* Queries waiting for the next flush. */
	unsigned	 nq;
	struct query	*qq[SEND_BATCH];
	struct mmsghdr	 qmsg[SEND_BATCH];
	struct iovec	 qiov[SEND_BATCH];
};

static struct ev_loop	*loop;
static uint32_t		*rcount;	/* stats.c's */

static struct usock	socks[USOCK_MAX];
static int		active[2] = { -1, -1 };	/* the socket in use per family */
static int		open_failed[2];	/* retried by renew_cb, not per query */
static ev_timer		renew_w;
static ev_prepare	flush_w;
static void		(*on_flushed)(void);	/* udp.c's flush, from main.c */

static uint8_t		rbuf[RECV_BATCH][RECV_BUFSZ];
static struct mmsghdr	rmsg[RECV_BATCH];
static struct iovec	riov[RECV_BATCH];
static struct sockaddr_storage rfrom[RECV_BATCH];


/*
 * Sends that failed, waiting for their retry or SERVFAIL until the batch
 * they were in is done with: a retry queues on a socket's batch, and doing
 * that from inside a flush would refill (or re-flush) the batch being
 * flushed. Each in-flight query is here at most once (it has no socket
 * while it waits), so QUERY_MAX entries always suffice.
 */
static struct {
	uint32_t	idx;
	uint8_t		fault;
} failq[QUERY_MAX];
static uint32_t		failq_head, failq_len;

static void	reply_cb(struct ev_loop *, ev_io *, int);
static void	flush_cb(struct ev_loop *, ev_prepare *, int);
static enum upstream_result upstream_send(struct query *,
		    const struct sockaddr *, socklen_t);
static void	upstream_release(struct query *);

const struct upstream_ops upstream_udp = {
	.send = upstream_send,
	.release = upstream_release,
};

static int
usock_open(int fam)
{
	struct sockaddr_storage ss;
	socklen_t sslen;
	int i, fd, sz = 4 << 20;

	for (i = 0; i < USOCK_MAX; i++)
		if (socks[i].fd == -1)
			break;
	if (i == USOCK_MAX)
		return -1;
	memset(&ss, 0, sizeof(ss));
	if (fam) {
		((struct sockaddr_in6 *)&ss)->sin6_family = AF_INET6;
		sslen = sizeof(struct sockaddr_in6);
	} else {
		((struct sockaddr_in *)&ss)->sin_family = AF_INET;
		sslen = sizeof(struct sockaddr_in);
	}
	fd = socket(fam ? AF_INET6 : AF_INET, SOCK_DGRAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0);
	if (fd == -1) {
		log_warn("%s: socket", __func__);
		return -1;
	}
	/* Port 0: the kernel picks a random ephemeral port. */
	if (bind(fd, (struct sockaddr *)&ss, sslen) == -1) {
		log_warn("%s: bind", __func__);
		close(fd);
		return -1;
	}
	(void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
	socks[i].fd = fd;
	socks[i].fam = fam;
	socks[i].retiring = 0;
	socks[i].inflight = 0;
	socks[i].nq = 0;
	if (socks[i].idmap == NULL)
		socks[i].idmap = xcalloc(65536, sizeof(uint32_t));
	ev_io_init(&socks[i].w, reply_cb, fd, EV_READ);
	/* Replies before timeouts, when both wait (query.h, REPLY_PRI). */
	ev_set_priority(&socks[i].w, REPLY_PRI);
	socks[i].w.data = &socks[i];
	ev_io_start(loop, &socks[i].w);
	return i;
}

static void
usock_close(struct usock *s)
{
	ev_io_stop(loop, &s->w);
	close(s->fd);
	s->fd = -1;
	/* The ID map is all zero again once inflight reached 0: keep it. */
}

static void
renew_cb(struct ev_loop *l, ev_timer *w, int revents)
{
	int fam;

	(void)l; (void)w; (void)revents;
	for (fam = 0; fam < 2; fam++) {
		int ni, old = active[fam];

		if (old < 0) {
			/* Opened on first use; after a failure, retried here. */
			if (open_failed[fam] && (ni = usock_open(fam)) >= 0) {
				active[fam] = ni;
				open_failed[fam] = 0;
			}
			continue;
		}
		if ((ni = usock_open(fam)) < 0)
			continue;	/* too many still retiring: try next time */
		active[fam] = ni;
		/* Queued queries still leave from old (flush_cb sends them). */
		if (socks[old].inflight == 0)
			usock_close(&socks[old]);
		else
			socks[old].retiring = 1;
	}
}

void
upstream_init(const struct router *r, void (*flushed)(void))
{
	int i;

	loop = r->loop;
	on_flushed = flushed;
	rcount = r->count;
	for (i = 0; i < USOCK_MAX; i++)
		socks[i].fd = -1;
	for (i = 0; i < RECV_BATCH; i++) {
		riov[i].iov_base = rbuf[i];
		riov[i].iov_len = RECV_BUFSZ;
		rmsg[i].msg_hdr.msg_iov = &riov[i];
		rmsg[i].msg_hdr.msg_iovlen = 1;
	}
	ev_timer_init(&renew_w, renew_cb, USOCK_RENEW, USOCK_RENEW);
	ev_timer_start(loop, &renew_w);
	ev_prepare_init(&flush_w, flush_cb);
	ev_prepare_start(loop, &flush_w);
}

/*
 * Send s's batch. Failed queries give up their ID and wait in failq; this
 * never queues anything itself, so s is empty when it returns.
 */
static void
flush_sock(struct usock *s)
{
	int res[SEND_BATCH];
	unsigned n = s->nq, i;

	s->nq = 0;
	sendbatch(s->fd, s->qmsg, n, res);
	for (i = 0; i < n; i++) {
		struct query *q = s->qq[i];
		uint32_t slot;

		if (res[i] >= 0)
			continue;
		upstream_release(q);
		slot = (failq_head + failq_len++) % QUERY_MAX;
		failq[slot].idx = query_index(q);
		/* A full buffer is ours; no route to it is the backend's. */
		failq[slot].fault = res[i] != -EAGAIN && res[i] != -ENOBUFS &&
		    res[i] != -ENOMEM;
	}
}

/*
 * Retry (or answer SERVFAIL to) every query whose send failed. Retries may
 * fill a batch and flush it, adding to failq; a query is sent at most twice,
 * so this ends. Only flush_cb calls it: nothing here runs inside a flush.
 */
static void
drain_failed(void)
{
	while (failq_len > 0) {
		uint32_t idx = failq[failq_head].idx;
		int fault = failq[failq_head].fault;
		struct query *q;

		failq_head = (failq_head + 1) % QUERY_MAX;
		failq_len--;
		if ((q = query_get(idx)) != NULL)
			query_attempt_failed(q, fault);
	}
}

/* Before the loop blocks: every queued query leaves, one batch per socket. */
static void
flush_cb(struct ev_loop *l, ev_prepare *w, int revents)
{
	int i, again;

	(void)l; (void)w; (void)revents;
	do {
		again = 0;
		for (i = 0; i < USOCK_MAX; i++)
			if (socks[i].nq > 0)
				flush_sock(&socks[i]);
		drain_failed();
		/* Retries queue again: send them before blocking too. */
		for (i = 0; i < USOCK_MAX; i++)
			if (socks[i].nq > 0)
				again = 1;
	} while (again);
	/*
	 * SERVFAILs the drain answered leave now: udp.c's own flush may have
	 * run before this one, and the loop is about to block.
	 */
	if (on_flushed != NULL)
		on_flushed();
}

static int
id_used(const void *ctx, uint16_t id)
{
	return ((const struct usock *)ctx)->idmap[id] != 0;
}

/*
 * Give q a fresh ID and queue it on the family's socket. Busy: no socket,
 * no free ID. A send that fails later, in the batch, goes to failq.
 */
static enum upstream_result
upstream_send(struct query *q, const struct sockaddr *to, socklen_t tolen)
{
	int fam = to->sa_family == AF_INET6, si;
	struct usock *s;
	uint16_t id;

	if ((si = active[fam]) < 0) {
		if (open_failed[fam] ||
		    (si = active[fam] = usock_open(fam)) < 0) {
			open_failed[fam] = 1;
			return UPSTREAM_BUSY;
		}
	}
	s = &socks[si];
	if (s->nq == SEND_BATCH)
		flush_sock(s);		/* leaves it empty: failures wait in failq */
	if (rnd_free_id(id_used, s, &id) != 0)
		return UPSTREAM_BUSY;
	s->idmap[id] = query_index(q) + 1;
	s->inflight++;
	q->up_conn = s;
	q->up_id = id;
	dns_set_id(q->pkt, id);
	s->qq[s->nq] = q;
	s->qiov[s->nq].iov_base = q->pkt;
	s->qiov[s->nq].iov_len = q->len;
	/* The address lives in the query's table, which outlives the send. */
	s->qmsg[s->nq].msg_hdr.msg_name = (void *)(uintptr_t)to;
	s->qmsg[s->nq].msg_hdr.msg_namelen = tolen;
	s->qmsg[s->nq].msg_hdr.msg_iov = &s->qiov[s->nq];
	s->qmsg[s->nq].msg_hdr.msg_iovlen = 1;
	s->nq++;
	return UPSTREAM_SENT;
}

/* The query is done with its socket: release the ID. */
static void
upstream_release(struct query *q)
{
	struct usock *s = q->up_conn;

	if (s == NULL)
		return;
	s->idmap[q->up_id] = 0;
	s->inflight--;
	q->up_conn = NULL;
	if (s->retiring && s->inflight == 0)
		usock_close(s);
}

/*
 * Replies: up to RECV_ROUNDS full batches per wakeup, so that replies do not
 * queue up in the socket behind a steady stream of new queries (the client
 * listener reads UDP_BATCH per wakeup too).
 */
static void
reply_cb(struct ev_loop *l, ev_io *w, int revents)
{
	struct usock *s = w->data;
	int i, n, round;

	(void)l; (void)revents;
	for (round = 0; round < RECV_ROUNDS; round++) {
		for (i = 0; i < RECV_BATCH; i++) {
			rmsg[i].msg_hdr.msg_name = &rfrom[i];
			rmsg[i].msg_hdr.msg_namelen = sizeof(rfrom[i]);
		}
		n = recvmmsg(s->fd, rmsg, RECV_BATCH, MSG_DONTWAIT, NULL);
		if (n <= 0)
			return;
		for (i = 0; i < n; i++) {
			uint8_t *pkt = rbuf[i];
			size_t len = rmsg[i].msg_len;
			struct query *q;
			const struct rt_backend *b;
			uint32_t idx;

			if (len < DNS_HDRLEN || !DNS_QR(pkt) ||
			    (idx = s->idmap[DNS_ID(pkt)]) == 0 ||
			    (q = query_get(idx - 1)) == NULL) {
				rcount[RG_BOGUS]++;
				continue;
			}
			b = &q->table->rt->backends[q->backend];
			if (!addr_equal((struct sockaddr *)&rfrom[i],
			    (const struct sockaddr *)&b->addr) ||
			    !query_same_question(q, pkt, len)) {
				rcount[RG_BOGUS]++;
				continue;
			}
			/* Delivering may close s (retiring, last query). */
			query_deliver(q, pkt, len);
			if (s->fd == -1)
				return;
		}
		if (n < RECV_BATCH)
			return;
	}
}
