/*
 * TCP clients (RFC 7766): length-prefixed queries, several in flight per
 * connection, answers written as they complete. A connection lives until
 * its last in-flight query is done, even after the client went away, so
 * queries never point at freed memory.
 *
 * Limits, as NSD and BIND have them, so that no client can hold memory or
 * slots: every whole message must arrive within tcp-initial-timeout of its
 * first byte (trickled bytes do not extend it); between messages a
 * connection may idle for tcp-idle-timeout; at most tcp-clients connections
 * per router and tcp-clients-per-ip per client address. Output is bounded:
 * past TCP_OUT_PAUSE queued bytes the connection's queries are no longer
 * read, past TCP_OUT_MAX it is closed, and output that makes no progress
 * for tcp-idle-timeout closes it too. When every slot is taken, a new
 * client takes the slot of the connection that has gone longest without
 * completing a message, unless that one has queries in flight: slow or
 * silent clients cannot lock out the others. The same holds among the
 * connections of one address at tcp-clients-per-ip.
 */
#include <sys/socket.h>
#include <netinet/in.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "dnsrr.h"
#include "dnstap.h"
#include "dnswire.h"
#include "log.h"
#include "query.h"
#include "report.h"
#include "router.h"
#include "tcp.h"
#include "tcpout.h"
#include "update.h"
#include "upstream_tcp.h"
#include "util.h"
#include "xfr.h"

#define TCP_RBUF_MIN	4096
#define TCP_MAX_PIPELINE 64		/* in-flight queries per connection */
#define TCP_OUT_PAUSE	(64 * 1024)	/* queued answer bytes: stop reading */
#define TCP_OUT_MAX	(256 * 1024)	/* queued answer bytes: close */
#define EVICT_SCAN	64		/* LRU entries looked at for a victim */
#define ADDR_BUCKETS	4096		/* per-address chains (power of 2) */

struct tcpconn {
	int		 fd;		/* -1 once dead */
	ev_io		 rw, ww;
	ev_timer	 timer;		/* the deadline of conn_deadline() */
	uint8_t		*rbuf;
	size_t		 rlen, rcap;
	struct tcpout	 out;		/* answers not yet written */
	uint32_t	 inflight;	/* queries, plus holds */
	uint32_t	 holds;		/* callbacks that must outlive a close */
	int		 rclosed;	/* client finished sending */
	int		 reading;	/* rw is started */
	int		 refused;	/* outside allow-query: REFUSED to all */
	uint32_t	 nmsgs;		/* messages received */
	double		 msg_start;	/* first byte of the partial message */
	double		 idle_since;	/* nothing to do since */
	double		 out_since;	/* output pending, last progress */
	double		 last_msg;	/* accepted, or last message complete */
	/* Open connections in order of their last completed message. */
	struct tcpconn	*lru_prev, *lru_next;
	/* Open connections from the same address bucket. */
	struct tcpconn	*hnext;
	uint32_t	 hbucket;
	uint8_t		 peer[17];	/* family byte, then the address */
	struct client	 client;	/* the handle its queries carry */
};

/* Queries of c in flight: a hold (read_cb, write_cb) is not one. */
#define CONN_QUERIES(c)	((c)->inflight - (c)->holds)

struct tlisten {
	int	fd;
	ev_io	w;
};

static struct ev_loop		*loop;
static const struct config	*conf;
static uint32_t			*rcount;	/* stats.c's */

static struct tlisten	 tl[CONFIG_MAX_LISTEN * CONFIG_MAX_WORKERS];
static int		 ntl;
static unsigned		 nopen;		/* with an fd */
static struct tcpconn	*lru_head, *lru_tail;
static struct tcpconn	*buckets[ADDR_BUCKETS];
static uint32_t		 hash_seed;

static void	conn_check_close(struct tcpconn *);
static void	conn_kill(struct tcpconn *);
static void	conn_arm(struct tcpconn *);
static void	conn_update_read(struct tcpconn *);
static void	tcp_send(const struct client *, const uint8_t *, size_t);
static void	tcp_query_done(const struct client *);
static size_t	tcp_pending(const struct client *);

static const struct client_ops tcp_client_ops = {
	.send = tcp_send,
	.done = tcp_query_done,
	.upstream = &upstream_tcp,	/* a query over TCP goes over TCP */
	.pending = tcp_pending,
};

static void
lru_unlink(struct tcpconn *c)
{
	if (c->lru_prev != NULL)
		c->lru_prev->lru_next = c->lru_next;
	else
		lru_head = c->lru_next;
	if (c->lru_next != NULL)
		c->lru_next->lru_prev = c->lru_prev;
	else
		lru_tail = c->lru_prev;
	c->lru_prev = c->lru_next = NULL;
}

static void
lru_append(struct tcpconn *c)
{
	c->lru_prev = lru_tail;
	c->lru_next = NULL;
	if (lru_tail != NULL)
		lru_tail->lru_next = c;
	else
		lru_head = c;
	lru_tail = c;
}

/* The address of sa as a family byte and 16 address bytes; its bucket. */
static uint32_t
peer_key(const struct sockaddr *sa, uint8_t key[17])
{
	uint32_t h = hash_seed;
	int i;

	memset(key, 0, 17);
	if (sa->sa_family == AF_INET6) {
		key[0] = 6;
		memcpy(key + 1, &((const struct sockaddr_in6 *)sa)->sin6_addr, 16);
	} else if (sa->sa_family == AF_INET) {
		key[0] = 4;
		memcpy(key + 1, &((const struct sockaddr_in *)sa)->sin_addr, 4);
	}
	for (i = 0; i < 17; i++)	/* FNV-1a from a random seed */
		h = (h ^ key[i]) * 16777619u;
	return h & (ADDR_BUCKETS - 1);
}

/*
 * The address key already has its tcp-clients-per-ip connections: make
 * room by closing the one of them longest without a complete message, if
 * one owes nothing and is owed nothing (a client's new connection takes
 * over from its own stalled one); else -1, refuse the new one.
 */
static int
peer_make_room(const uint8_t key[17], uint32_t bucket)
{
	struct tcpconn *c, *victim = NULL;
	unsigned n = 0;

	for (c = buckets[bucket]; c != NULL; c = c->hnext)
		if (memcmp(c->peer, key, 17) == 0) {
			n++;
			if (c->inflight == 0 && tcpout_empty(&c->out) &&
			    (victim == NULL || c->last_msg < victim->last_msg))
				victim = c;
		}
	if (n < conf->tcp_clients_per_ip)
		return 0;
	if (victim == NULL)
		return -1;
	rcount[RG_TCP_EVICTED]++;
	conn_kill(victim);
	return 0;
}

static void
peer_remove(struct tcpconn *c)
{
	struct tcpconn **pp;

	for (pp = &buckets[c->hbucket]; *pp != NULL; pp = &(*pp)->hnext)
		if (*pp == c) {
			*pp = c->hnext;
			break;
		}
	c->hnext = NULL;
}

static void
conn_free_buffers(struct tcpconn *c)
{
	tcpout_clear(&c->out);
	free(c->rbuf);
	c->rbuf = NULL;
	c->rlen = c->rcap = 0;
}

static void
conn_kill(struct tcpconn *c)
{
	if (c->fd != -1) {
		ev_io_stop(loop, &c->rw);
		ev_io_stop(loop, &c->ww);
		ev_timer_stop(loop, &c->timer);
		close(c->fd);
		c->fd = -1;
		nopen--;
		lru_unlink(c);
		peer_remove(c);
	}
	conn_free_buffers(c);
	if (c->inflight == 0)
		free(c);
}

/* Nonzero when the read buffer holds a whole message not yet handled. */
static int
conn_has_message(const struct tcpconn *c)
{
	size_t need;

	return c->rlen >= 2 && dns_tcp_frame(c->rbuf, c->rlen, &need) > 0;
}

/*
 * A client that half-closed is answered every query it sent (RFC 7766
 * 6.2.3): the connection closes once nothing is in flight, nothing is
 * queued and no whole message waits in the buffer (a partial one at the
 * end of the stream is dropped).
 */
static void
conn_check_close(struct tcpconn *c)
{
	if (c->fd == -1) {
		if (c->inflight == 0)
			free(c);
		return;
	}
	if (c->rclosed && c->inflight == 0 && tcpout_empty(&c->out) &&
	    !conn_has_message(c))
		conn_kill(c);
}

/*
 * When the client has had enough time: output that made no progress, a
 * message that has not arrived whole, or an idle connection. None while
 * the router itself owes answers (the query timeouts bound that).
 */
static double
conn_deadline(const struct tcpconn *c)
{
	double initial = conf->tcp_initial_timeout_ms / 1000.0;
	double idle = conf->tcp_idle_timeout_ms / 1000.0;

	if (!tcpout_empty(&c->out))
		return c->out_since + idle;
	if (c->inflight > 0)
		return 0;
	if (c->rlen > 0)
		return c->msg_start + initial;
	return c->idle_since + (c->nmsgs == 0 ? initial : idle);
}

static void
conn_arm(struct tcpconn *c)
{
	double now = ev_now(loop), d;

	if (c->fd == -1)
		return;
	if ((d = conn_deadline(c)) == 0)
		d = now + conf->tcp_idle_timeout_ms / 1000.0;	/* look again */
	ev_timer_stop(loop, &c->timer);
	ev_timer_set(&c->timer, d > now ? d - now : 0., 0.);
	ev_timer_start(loop, &c->timer);
}

static void
timer_cb(struct ev_loop *l, ev_timer *w, int revents)
{
	struct tcpconn *c = w->data;
	double d = conn_deadline(c);

	(void)revents;
	if (d != 0 && ev_now(l) >= d - 0.001) {
		rcount[RG_TCP_TIMEOUT]++;
		conn_kill(c);
		return;
	}
	conn_arm(c);
}

/* Read queries while the pipeline and the output have room. */
static void
conn_update_read(struct tcpconn *c)
{
	int room = c->fd != -1 && CONN_QUERIES(c) < TCP_MAX_PIPELINE &&
	    c->out.bytes < TCP_OUT_PAUSE;
	int want = room && !c->rclosed;

	/*
	 * After the client's FIN nothing more arrives to wake read_cb, but
	 * the buffer may still hold queries held back by the limits above.
	 */
	if (room && c->rclosed && conn_has_message(c)) {
		c->msg_start = ev_now(loop);
		ev_feed_event(loop, &c->rw, EV_READ);
	}

	if (want && !c->reading) {
		ev_io_start(loop, &c->rw);
		/*
		 * Pipelined queries may already sit in the buffer; the wait was
		 * ours, so the client's clock for them starts again.
		 */
		if (c->rlen > 0) {
			c->msg_start = ev_now(loop);
			ev_feed_event(loop, &c->rw, EV_READ);
		}
	} else if (!want && c->reading)
		ev_io_stop(loop, &c->rw);
	c->reading = want;
}

static void
conn_flush(struct tcpconn *c)
{
	while (!tcpout_empty(&c->out)) {
		if (tcpout_write(&c->out, c->fd) < 0) {
			if (errno == EAGAIN || errno == EINTR) {
				ev_io_start(loop, &c->ww);
				return;
			}
			conn_kill(c);
			return;
		}
		c->out_since = ev_now(loop);
	}
	ev_io_stop(loop, &c->ww);
	c->idle_since = ev_now(loop);
	conn_update_read(c);
	conn_check_close(c);
}

static void
write_cb(struct ev_loop *l, ev_io *w, int revents)
{
	struct tcpconn *c = w->data;

	(void)l; (void)revents;
	/* Draining the output may close and free c: hold it until done. */
	c->inflight++;
	c->holds++;
	conn_flush(c);
	c->holds--;
	c->inflight--;
	if (c->fd != -1)
		conn_arm(c);
	conn_check_close(c);
}

/* Queue a DNS message (len bytes, no length prefix) to the connection. */
static void
tcp_send(const struct client *cl, const uint8_t *msg, size_t len)
{
	struct tcpconn *c = cl->conn;
	int was_empty;

	if (c->fd == -1 || len > 65535)
		return;
	if (c->out.bytes + len + 2 > TCP_OUT_MAX) {
		/* It does not read what it asked for: memory is not its to take. */
		rcount[RG_TCP_OUTPUT]++;
		conn_kill(c);
		return;
	}
	was_empty = tcpout_empty(&c->out);
	tcpout_push(&c->out, msg, len, 0);
	if (was_empty) {
		c->out_since = ev_now(loop);
		conn_flush(c);
	}
	if (c->fd != -1 && c->out.bytes >= TCP_OUT_PAUSE)
		conn_update_read(c);
}

static void
handle_message(struct tcpconn *c, const uint8_t *msg, size_t len)
{
	struct dns_question q;

	rcount[RG_QUERIES_TCP]++;
	if (dnstap_types & CONFIG_DNSTAP_CLIENT_QUERY)
		dnstap_log(CONFIG_DNSTAP_CLIENT_QUERY,
		    (const struct sockaddr *)&c->client.addr, 1, msg, len,
		    ev_now(loop), 0);
	if (c->refused) {
		rcount[RG_ACL_REFUSED]++;
		if (dns_parse_query(msg, len, &q) != DNS_QUERY_DROP)
			query_answer_error(msg, len, &q, DNS_RCODE_REFUSED,
			    &c->client);
		return;
	}
	switch (dns_parse_query(msg, len, &q)) {
	case DNS_QUERY_DROP:
		rcount[RG_DROPPED]++;
		return;
	case DNS_QUERY_FORMERR:
		query_answer_error(msg, len, &q, DNS_RCODE_FORMERR, &c->client);
		return;
	case DNS_QUERY_NOTIMP:
		query_answer_error(msg, len, &q, DNS_RCODE_NOTIMP, &c->client);
		return;
	case DNS_QUERY_UPDATE:
		c->inflight++;
		update_dispatch(msg, len, &q, &c->client);
		return;
	case DNS_QUERY_NOTIFY:
		c->inflight++;
		notify_dispatch(msg, len, &q, &c->client);
		return;
	case DNS_QUERY_OK:
		c->inflight++;
		if (q.qtype == DNS_TYPE_AXFR || q.qtype == DNS_TYPE_IXFR) {
			if (!xfr_start(msg, len, &q, &c->client))
				c->inflight--;
			return;
		}
		query_dispatch(msg, len, &q, &c->client);
		return;
	}
}

/* Handle the complete messages in the buffer while there is room for them. */
static void
process_buffer(struct tcpconn *c)
{
	size_t off = 0, need = 2;
	long mlen = 0;

	while (c->fd != -1 && CONN_QUERIES(c) < TCP_MAX_PIPELINE &&
	    c->out.bytes < TCP_OUT_PAUSE &&
	    (mlen = dns_tcp_frame(c->rbuf + off, c->rlen - off, &need)) > 0) {
		handle_message(c, c->rbuf + off + 2, (size_t)mlen);
		off += (size_t)mlen + 2;
		c->nmsgs++;
		c->msg_start = c->last_msg = ev_now(loop);	/* next starts now */
		if (c->fd != -1 && c->lru_next != NULL) {
			lru_unlink(c);
			lru_append(c);
		}
	}
	if (c->fd == -1)
		return;
	if (mlen < 0) {
		/* Not DNS: nothing sensible can follow on this stream. */
		conn_kill(c);
		return;
	}
	if (off > 0) {
		memmove(c->rbuf, c->rbuf + off, c->rlen - off);
		c->rlen -= off;
	}
	if (mlen == 0 && need > c->rcap) {
		if ((c->rbuf = realloc(c->rbuf, need)) == NULL)
			fatal("%s: realloc", __func__);
		c->rcap = need;
	}
}

static void
read_cb(struct ev_loop *l, ev_io *w, int revents)
{
	struct tcpconn *c = w->data;
	ssize_t n;

	(void)revents;
	if (c->rcap == 0) {
		c->rcap = TCP_RBUF_MIN;
		if ((c->rbuf = malloc(c->rcap)) == NULL)
			fatal("%s: malloc", __func__);
	}
	if (!c->rclosed && c->rlen < c->rcap) {
		n = recv(c->fd, c->rbuf + c->rlen, c->rcap - c->rlen, MSG_DONTWAIT);
		if (n < 0 && errno != EAGAIN && errno != EINTR) {
			conn_kill(c);
			return;
		}
		if (n == 0)
			c->rclosed = 1;
		else if (n > 0) {
			if (c->rlen == 0)
				c->msg_start = ev_now(l);
			c->rlen += (size_t)n;
		}
	}
	/* Answers sent during processing may kill c: hold it until done. */
	c->inflight++;
	c->holds++;
	process_buffer(c);
	c->holds--;
	c->inflight--;
	if (c->fd != -1) {
		if (c->rlen == 0 && c->inflight == 0 && tcpout_empty(&c->out))
			c->idle_since = ev_now(l);
		conn_update_read(c);
		conn_arm(c);
	}
	conn_check_close(c);
}

/* Answer bytes queued toward the client, or SIZE_MAX once it is closed. */
static size_t
tcp_pending(const struct client *cl)
{
	const struct tcpconn *c = cl->conn;

	return c->fd == -1 ? SIZE_MAX : c->out.bytes;
}

/* One query of the connection finished (answered or given up). */
static void
tcp_query_done(const struct client *cl)
{
	struct tcpconn *c = cl->conn;

	c->inflight--;
	if (c->fd != -1) {
		if (c->inflight == 0 && tcpout_empty(&c->out))
			c->idle_since = ev_now(loop);
		conn_update_read(c);
		conn_arm(c);
	}
	conn_check_close(c);
}

/*
 * All slots taken: close the connection that has gone longest without
 * completing a message, if it owes nothing and is owed nothing. Those near
 * the head of the LRU are the slow, the silent and the long idle.
 */
static int
evict_one(void)
{
	struct tcpconn *c;
	int i;

	for (c = lru_head, i = 0; c != NULL && i < EVICT_SCAN;
	    c = c->lru_next, i++)
		if (c->inflight == 0 && tcpout_empty(&c->out)) {
			rcount[RG_TCP_EVICTED]++;
			conn_kill(c);
			return 0;
		}
	return -1;
}

static void
accept_cb(struct ev_loop *l, ev_io *w, int revents)
{
	struct tlisten *t = w->data;

	(void)revents;
	for (;;) {
		struct sockaddr_storage ss;
		socklen_t sslen = sizeof(ss);
		struct tcpconn *c;
		uint8_t key[17];
		uint32_t bucket;
		int fd = accept4(t->fd, (struct sockaddr *)&ss, &sslen,
		    SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd == -1) {
			if (errno == EMFILE || errno == ENFILE)
				log_warn("%s: accept", __func__);
			return;
		}
		if (conf->acl_drop && !config_acl_match(&conf->allow_query,
		    (struct sockaddr *)&ss)) {
			rcount[RG_ACL_REFUSED]++;
			close(fd);
			continue;
		}
		bucket = peer_key((struct sockaddr *)&ss, key);
		if ((conf->tcp_clients_per_ip > 0 &&
		    peer_make_room(key, bucket) != 0) ||
		    (nopen >= conf->tcp_clients && evict_one() != 0)) {
			rcount[RG_TCP_LIMITED]++;
			close(fd);
			continue;
		}
		c = xcalloc(1, sizeof(*c));
		c->fd = fd;
		nopen++;
		memcpy(c->peer, key, sizeof(key));
		c->hbucket = bucket;
		c->hnext = buckets[bucket];
		buckets[bucket] = c;
		lru_append(c);
		c->idle_since = c->last_msg = ev_now(l);
		c->refused = !config_acl_match(&conf->allow_query,
		    (struct sockaddr *)&ss);
		ev_io_init(&c->rw, read_cb, fd, EV_READ);
		ev_io_init(&c->ww, write_cb, fd, EV_WRITE);
		ev_init(&c->timer, timer_cb);
		c->rw.data = c->ww.data = c->timer.data = c;
		c->client.ops = &tcp_client_ops;
		c->client.conn = c;
		c->client.fd = -1;	/* c->fd, while it lasts */
		c->client.addrlen = sslen < sizeof(ss) ? sslen : sizeof(ss);
		memcpy(&c->client.addr, &ss, sslen);
		conn_update_read(c);
		conn_arm(c);
	}
}

void
tcp_init(const struct router *r, int fd)
{
	struct tlisten *t = &tl[ntl++];

	loop = r->loop;
	conf = r->conf;
	rcount = r->count;
	fd_nonblock(fd, 1);
	t->fd = fd;
	ev_io_init(&t->w, accept_cb, fd, EV_READ);
	t->w.data = t;
	if (hash_seed == 0)
		hash_seed = ((uint32_t)rnd16() << 16 | rnd16()) | 1;
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
