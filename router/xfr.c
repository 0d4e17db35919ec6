/*
 * Zone transfers (AXFR, and IXFR answered in full, RFC 1995 section 4)
 * through the router, for clients allow-transfer lets in.
 *
 * A transfer asks for a name; its route's backends are the zone's. They
 * fall into shards, the backends registered with the same set of regexps
 * (replicas of one shard file), and one healthy backend of each is asked,
 * over TCP, one shard after the other:
 *
 *  1. the apex SOA of every shard: if the serials differ the client gets
 *     SERVFAIL, never a zone made of two versions;
 *  2. each shard's AXFR, streamed: every record the shard holds for a name
 *     that routes to it (the first shard that holds the apex gives the
 *     apex RRsets; a record for a name routed to another shard, or to no
 *     route, is left out), framed into messages of our own between one
 *     SOA at the start and one at the end.
 *
 * A zone of one shard is relayed whole. The stream is bounded: one
 * backend message and one of ours per transfer, a backend message read
 * only when the client has taken what came before (XFR_OUT_PAUSE), at
 * most XFR_MAX transfers per router, and a deadline on every wait.
 */
#include <sys/socket.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "addr.h"
#include "config.h"
#include "dnsrr.h"
#include "dnswire.h"
#include "log.h"
#include "query.h"
#include "report.h"
#include "router.h"
#include "routetable.h"
#include "shards.h"
#include "table.h"
#include "util.h"
#include "xfr.h"

#define XFR_MAX		4		/* transfers at once per router */
#define XFR_MSG		16384		/* our messages close past this */
#define XFR_OUT_PAUSE	(64 * 1024)	/* client's queued bytes: wait */
#define XFR_POLL	0.010		/* how often a paused transfer looks */

enum xfr_phase { XP_SOA, XP_AXFR };

struct xfr {
	struct client	 cl;
	struct live_table	*t;
	uint8_t		*query;		/* the client's */
	size_t		 qlen;
	struct dns_question q;
	char		 zone[DNS_NAME_TEXT_MAX];
	uint8_t		 apex[DNS_NAME_WIRE_MAX];
	size_t		 apex_len;

	uint32_t	 nshards, k;	/* shard k is being asked */
	uint32_t	 backend[SHARDS_MAX];	/* the one asked, per shard */
	struct shards	 sh;
	int		 filter;	/* more than one shard */

	enum xfr_phase	 phase;
	int		 fd;
	ev_io		 io;
	ev_timer	 timer;		/* the backend's deadline, or the poll */
	int		 paused;
	uint16_t	 id;
	uint8_t		 out_q[2 + DNS_HDRLEN + DNS_NAME_WIRE_MAX + 4];
	size_t		 out_qlen, out_qoff;

	uint8_t		*rbuf;		/* 2 + 65535 */
	size_t		 rlen;
	size_t		 mlen;		/* of the message at rbuf + 2, or 0 */
	struct dns_rr_iter it;		/* its records not yet taken */
	unsigned	 soas;		/* apex SOAs in this shard's stream */
	uint8_t		 owner[DNS_NAME_WIRE_MAX];	/* the last record's */
	size_t		 owner_len;	/* 0: none yet in this shard */
	int		 owner_ours;	/* it routes to shard k */

	int64_t		 serial;
	uint8_t		 soa[2 * DNS_NAME_WIRE_MAX + 64]; /* as we write it */
	size_t		 soalen;
	uint8_t		*out;		/* our message being filled */
	struct dns_writer w;
	int		 started;	/* a message of ours has gone out */
	uint64_t	 nrr, skipped, msgs;

	struct xfr	*next, *prev;
};

static struct xfr	*active;
static unsigned		 nactive;
static struct ev_loop	*loop;
static const struct config *conf;
static uint32_t		*rcount;	/* stats.c's */

static void	xfr_io_cb(struct ev_loop *, ev_io *, int);
static void	xfr_timer_cb(struct ev_loop *, ev_timer *, int);
static void	shard_ask(struct xfr *);

static const char *
backend_name(const struct xfr *x, uint32_t b, char *buf, size_t len)
{
	return addr_format((const struct sockaddr *)&x->t->rt->backends[b].addr,
	    buf, len);
}

static void
close_backend(struct xfr *x)
{
	if (x->fd != -1) {
		ev_io_stop(loop, &x->io);
		close(x->fd);
		x->fd = -1;
	}
	ev_timer_stop(loop, &x->timer);
	x->rlen = x->mlen = 0;
	x->paused = 0;
}

static void
xfr_free(struct xfr *x)
{
	close_backend(x);
	if (x->prev != NULL)
		x->prev->next = x->next;
	else
		active = x->next;
	if (x->next != NULL)
		x->next->prev = x->prev;
	nactive--;
	if (x->cl.ops->done != NULL)
		x->cl.ops->done(&x->cl);
	table_unref(x->t);
	shards_free(&x->sh);
	free(x->rbuf);
	free(x->out);
	free(x->query);
	free(x);
}

/* The client closed (or its deadline did): nobody to send the rest to. */
static void
client_gone(struct xfr *x)
{
	char who[ADDR_STRLEN];

	log_info("transfer of %s to %s: the client went away after %llu "
	    "records", x->zone, addr_format((const struct sockaddr *)&x->cl.addr,
	    who, sizeof(who)), (unsigned long long)x->nrr);
	xfr_free(x);
}

/* Answer rcode (nothing sent yet), or end a started stream with it. */
static void
xfr_fail(struct xfr *x, int rcode)
{
	if (!x->started)
		query_answer_error(x->query, x->qlen, &x->q, rcode, &x->cl);
	else {
		/* RFC 5936 2.2: an error in a later message ends the transfer. */
		dns_writer_reset(&x->w);
		x->out[3] = (uint8_t)rcode;
		x->cl.ops->send(&x->cl, x->out, x->w.len);
		rcount[RG_SERVFAIL] += rcode == DNS_RCODE_SERVFAIL;
	}
	xfr_free(x);
}

/* Our message, if it holds records, goes out and a new one starts. */
static void
send_out(struct xfr *x)
{
	if (x->w.ancount == 0)
		return;
	x->cl.ops->send(&x->cl, x->out, x->w.len);
	x->started = 1;
	x->msgs++;
	dns_writer_reset(&x->w);
}

/* send_out; 1 when the client has queued enough to wait for, -1 gone. */
static int
flush_out(struct xfr *x)
{
	size_t p;

	send_out(x);
	p = x->cl.ops->pending(&x->cl);
	return p == SIZE_MAX ? -1 : p >= XFR_OUT_PAUSE;
}

/* Add rr of msg to our message: 0, -1 when it is malformed. */
static int
emit(struct xfr *x, const uint8_t *msg, size_t len, const struct dns_rr *rr)
{
	int rc = dns_writer_add(&x->w, msg, len, rr);

	if (rc == 1 && x->w.ancount > 0) {
		send_out(x);
		rc = dns_writer_add(&x->w, msg, len, rr);
	}
	if (rc != 0)
		return -1;	/* malformed, or alone larger than a message */
	x->nrr++;
	return 0;
}

/* Connect to shard k's backend and send our query (SOA or AXFR). */
static void
shard_ask(struct xfr *x)
{
	const struct rt_backend *b = &x->t->rt->backends[x->backend[x->k]];
	uint8_t *p = x->out_q + 2;
	size_t n;
	char name[ADDR_STRLEN];

	x->fd = socket(b->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0);
	if (x->fd == -1 || (connect(x->fd, (const struct sockaddr *)&b->addr,
	    b->addrlen) == -1 && errno != EINPROGRESS)) {
		log_warn("transfer of %s: shard %u, %s", x->zone, x->k + 1,
		    backend_name(x, x->backend[x->k], name, sizeof(name)));
		xfr_fail(x, DNS_RCODE_SERVFAIL);
		return;
	}
	x->id = (uint16_t)rnd32();
	memset(p, 0, DNS_HDRLEN);
	dns_set_id(p, x->id);
	p[5] = 1;
	memcpy(p + DNS_HDRLEN, x->query + DNS_HDRLEN, x->q.qname_len);
	n = DNS_HDRLEN + x->q.qname_len;
	p[n] = 0;
	p[n + 1] = x->phase == XP_SOA ? DNS_TYPE_SOA : DNS_TYPE_AXFR;
	p[n + 2] = 0;
	p[n + 3] = DNS_CLASS_IN;
	n += 4;
	x->out_q[0] = (uint8_t)(n >> 8);
	x->out_q[1] = (uint8_t)n;
	x->out_qlen = n + 2;
	x->out_qoff = 0;
	x->soas = 0;
	x->owner_len = 0;
	ev_io_init(&x->io, xfr_io_cb, x->fd, EV_WRITE);
	x->io.data = x;
	ev_io_start(loop, &x->io);
	ev_timer_set(&x->timer, conf->tcp_idle_timeout_ms / 1000.0, 0.);
	ev_timer_start(loop, &x->timer);
}

/* Shard k is done: the next, or the end. */
static void
shard_done(struct xfr *x)
{
	close_backend(x);
	if (++x->k < x->nshards) {
		shard_ask(x);
		return;
	}
	if (x->phase == XP_SOA) {
		x->phase = XP_AXFR;
		x->k = 0;
		shard_ask(x);
		return;
	}
	/* The closing SOA: the bytes we wrote first, which point only to 12. */
	if (x->w.len + x->soalen > x->w.cap) {
		if (flush_out(x) < 0) {
			client_gone(x);
			return;
		}
	}
	memcpy(x->out + x->w.len, x->soa, x->soalen);
	x->w.len += x->soalen;
	x->w.ancount++;
	x->out[6] = (uint8_t)(x->w.ancount >> 8);
	x->out[7] = (uint8_t)x->w.ancount;
	x->nrr++;
	(void)flush_out(x);
	log_info("transfer of %s to %s: %llu records in %llu messages from %u "
	    "shard%s, serial %lld; %llu copies left out (records a shard holds "
	    "for names routed to another)", x->zone, addr_format((const struct
	    sockaddr *)&x->cl.addr, (char[ADDR_STRLEN]){0}, ADDR_STRLEN),
	    (unsigned long long)x->nrr, (unsigned long long)x->msgs,
	    x->nshards, x->nshards == 1 ? "" : "s", (long long)x->serial,
	    (unsigned long long)x->skipped);
	xfr_free(x);
}

/*
 * The records of the message at rbuf + 2 from where the walk stands.
 * 0 when it is used up, 1 when paused (the client must read first),
 * 2 when the shard's transfer ended, -1 on failure (answered).
 */
static int
take_records(struct xfr *x)
{
	const uint8_t *msg = x->rbuf + 2;
	size_t len = x->mlen;
	struct dns_rr rr;
	char text[DNS_NAME_TEXT_MAX], name[ADDR_STRLEN];
	int rc;

	while ((rc = dns_rr_next(&x->it, &rr)) == 1) {
		if (rr.section != DNS_SECTION_ANSWER)
			continue;	/* TSIG, OPT: not the zone's */
		if (rr.type == DNS_TYPE_SOA && rr.owner_len == x->apex_len &&
		    dns_name_equal(rr.owner, x->apex, x->apex_len)) {
			int64_t s = dns_soa_serial(msg, len, &rr);

			if (++x->soas == 2)
				return 2;
			if (s != x->serial) {
				log_warnx("transfer of %s: shard %u (%s) now has "
				    "serial %lld, the others %lld: transfer "
				    "ended with SERVFAIL", x->zone, x->k + 1,
				    backend_name(x, x->backend[x->k], name,
				    sizeof(name)), (long long)s,
				    (long long)x->serial);
				xfr_fail(x, DNS_RCODE_SERVFAIL);
				return -1;
			}
			if (x->k == 0) {
				size_t at = x->w.len;

				if (emit(x, msg, len, &rr) != 0)
					goto bad;
				x->soalen = x->w.len - at;
				if (x->soalen > sizeof(x->soa))
					goto bad;
				memcpy(x->soa, x->out + at, x->soalen);
			}
			continue;
		}
		if (x->soas == 0)
			goto bad;	/* records before the SOA */
		if (x->filter) {
			/* An owner's records come together: match it once. */
			if (rr.owner_len != x->owner_len ||
			    memcmp(rr.owner, x->owner, rr.owner_len) != 0) {
				long r = table_match(x->t, text,
				    dns_name_text(rr.owner, text));

				memcpy(x->owner, rr.owner, rr.owner_len);
				x->owner_len = rr.owner_len;
				x->owner_ours = r >= 0 &&
				    x->sh.first_shard[r] == x->k;
			}
			if (!x->owner_ours) {
				x->skipped++;
				continue;
			}
		}
		if (emit(x, msg, len, &rr) != 0)
			goto bad;
		if (x->w.len >= XFR_MSG) {
			int f = flush_out(x);

			if (f < 0) {
				client_gone(x);
				return -1;
			}
			if (f == 1)
				return 1;
		}
	}
	if (rc == 0)
		return 0;
bad:
	log_warnx("transfer of %s: shard %u (%s) sent a malformed message",
	    x->zone, x->k + 1, backend_name(x, x->backend[x->k], name,
	    sizeof(name)));
	xfr_fail(x, DNS_RCODE_SERVFAIL);
	return -1;
}

/* A whole message of the backend's at rbuf + 2 (mlen bytes): check it, start its walk. */
static int
message_in(struct xfr *x)
{
	const uint8_t *msg = x->rbuf + 2;
	size_t len = x->mlen;
	char name[ADDR_STRLEN];
	struct dns_rr rr;
	int rc;

	if (DNS_ID(msg) != x->id || !DNS_QR(msg) || DNS_TC(msg) ||
	    dns_rr_iter_init(&x->it, msg, len) != 0) {
		log_warnx("transfer of %s: shard %u (%s) sent a message that "
		    "is not our answer", x->zone, x->k + 1,
		    backend_name(x, x->backend[x->k], name, sizeof(name)));
		xfr_fail(x, DNS_RCODE_SERVFAIL);
		return -1;
	}
	if (DNS_RCODE(msg) != DNS_RCODE_NOERROR) {
		int rcode = DNS_RCODE(msg);

		log_warnx("transfer of %s: shard %u (%s) answered rcode %d",
		    x->zone, x->k + 1, backend_name(x, x->backend[x->k], name,
		    sizeof(name)), rcode);
		/* Its word for a zone it does not have; ours for the rest. */
		xfr_fail(x, x->nshards == 1 && (rcode == DNS_RCODE_REFUSED ||
		    rcode == 9) ? rcode : DNS_RCODE_SERVFAIL);
		return -1;
	}
	if (x->phase == XP_AXFR)
		return 0;
	/* The SOA answer: its serial. */
	while ((rc = dns_rr_next(&x->it, &rr)) == 1)
		if (rr.section == DNS_SECTION_ANSWER &&
		    rr.type == DNS_TYPE_SOA && rr.owner_len == x->apex_len &&
		    dns_name_equal(rr.owner, x->apex, x->apex_len))
			break;
	if (rc != 1 || dns_soa_serial(msg, len, &rr) < 0) {
		log_warnx("transfer of %s: shard %u (%s) has no SOA for it",
		    x->zone, x->k + 1, backend_name(x, x->backend[x->k], name,
		    sizeof(name)));
		xfr_fail(x, x->nshards == 1 ? 9 : DNS_RCODE_SERVFAIL);
		return -1;
	}
	if (x->k == 0)
		x->serial = dns_soa_serial(msg, len, &rr);
	else if (dns_soa_serial(msg, len, &rr) != x->serial) {
		char first[ADDR_STRLEN];

		log_warnx("transfer of %s: the shards' SOA serials differ: shard "
		    "1 (%s) has %lld, shard %u (%s) %lld: answered SERVFAIL",
		    x->zone, backend_name(x, x->backend[0], first, sizeof(first)),
		    (long long)x->serial, x->k + 1, backend_name(x,
		    x->backend[x->k], name, sizeof(name)),
		    (long long)dns_soa_serial(msg, len, &rr));
		xfr_fail(x, DNS_RCODE_SERVFAIL);
		return -1;
	}
	return 2;
}

/*
 * Work through what the backend sent: the message under way first, then
 * the whole ones behind it. Returns with x freed or waiting.
 */
static void
xfr_run(struct xfr *x)
{
	for (;;) {
		size_t need;
		long m;
		int rc;

		if (x->mlen > 0) {
			rc = x->phase == XP_AXFR ? take_records(x) : 2;
			if (rc < 0)
				return;
			if (rc == 1) {
				/* The client reads first: look again soon. */
				x->paused = 1;
				ev_io_stop(loop, &x->io);
				ev_timer_stop(loop, &x->timer);
				ev_timer_set(&x->timer, XFR_POLL, 0.);
				ev_timer_start(loop, &x->timer);
				return;
			}
			if (rc == 2) {
				shard_done(x);
				return;
			}
			memmove(x->rbuf, x->rbuf + 2 + x->mlen,
			    x->rlen - 2 - x->mlen);
			x->rlen -= 2 + x->mlen;
			x->mlen = 0;
		}
		m = dns_tcp_frame(x->rbuf, x->rlen, &need);
		if (m < 0) {
			xfr_fail(x, DNS_RCODE_SERVFAIL);
			return;
		}
		if (m == 0)
			break;
		x->mlen = (size_t)m;
		if ((rc = message_in(x)) < 0)
			return;
		if (rc == 2) {
			shard_done(x);
			return;
		}
	}
	if (x->paused) {
		x->paused = 0;
		ev_timer_stop(loop, &x->timer);
	}
	ev_io_stop(loop, &x->io);
	ev_io_set(&x->io, x->fd, EV_READ);
	ev_io_start(loop, &x->io);
	ev_timer_stop(loop, &x->timer);
	ev_timer_set(&x->timer, conf->tcp_idle_timeout_ms / 1000.0, 0.);
	ev_timer_start(loop, &x->timer);
}

static void
xfr_io_cb(struct ev_loop *l, ev_io *w, int revents)
{
	struct xfr *x = w->data;
	char name[ADDR_STRLEN];
	ssize_t n;

	(void)l;
	if (revents & EV_WRITE) {
		n = send(x->fd, x->out_q + x->out_qoff, x->out_qlen - x->out_qoff,
		    MSG_NOSIGNAL);
		if (n < 0 && errno != EAGAIN && errno != EINTR)
			goto broken;
		if (n > 0 && (x->out_qoff += (size_t)n) == x->out_qlen)
			xfr_run(x);	/* now to read */
		return;
	}
	n = recv(x->fd, x->rbuf + x->rlen, 2 + 65535 - x->rlen, MSG_DONTWAIT);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0)
		goto broken;
	x->rlen += (size_t)n;
	xfr_run(x);
	return;
broken:
	log_warnx("transfer of %s: shard %u (%s): %s", x->zone, x->k + 1,
	    backend_name(x, x->backend[x->k], name, sizeof(name)),
	    n == 0 ? "connection closed before the end" : strerror(errno));
	xfr_fail(x, DNS_RCODE_SERVFAIL);
}

static void
xfr_timer_cb(struct ev_loop *l, ev_timer *w, int revents)
{
	struct xfr *x = w->data;
	char name[ADDR_STRLEN];
	size_t p;

	(void)l; (void)revents;
	if (!x->paused) {
		log_warnx("transfer of %s: shard %u (%s) timed out", x->zone,
		    x->k + 1, backend_name(x, x->backend[x->k], name,
		    sizeof(name)));
		xfr_fail(x, DNS_RCODE_SERVFAIL);
		return;
	}
	p = x->cl.ops->pending(&x->cl);
	if (p == SIZE_MAX) {
		client_gone(x);
		return;
	}
	if (p >= XFR_OUT_PAUSE) {
		ev_timer_set(&x->timer, XFR_POLL, 0.);
		ev_timer_start(loop, &x->timer);
		return;
	}
	xfr_run(x);
}

/* One healthy backend of each shard of the zone's route, into x->backend. */
static int
pick_backends(struct xfr *x, uint32_t route)
{
	const struct rt_table *rt = x->t->rt;
	const struct rt_route *zr = &rt->routes[route];
	const char *why;
	char name[ADDR_STRLEN];
	uint32_t j, k;

	if (shards_make(rt, route, &x->sh, &why) != 0) {
		log_warnx("transfer of %s: %s", x->zone, why);
		return -1;
	}
	for (k = 0; k < x->sh.n; k++)
		x->backend[k] = UINT32_MAX;
	for (j = 0; j < zr->nbackends; j++) {
		uint32_t b = zr->backends[j];

		k = x->sh.shard_of[b];
		if (x->backend[k] == UINT32_MAX ||
		    !(rt->backends[x->backend[k]].flags & RT_FLAG_UP))
			x->backend[k] = b;
	}
	for (k = 0; k < x->sh.n; k++)
		if (!(rt->backends[x->backend[k]].flags & RT_FLAG_UP)) {
			log_warnx("transfer of %s: shard %u (%s and its replicas) "
			    "has no healthy backend: answered SERVFAIL", x->zone,
			    k + 1, backend_name(x, x->backend[k], name,
			    sizeof(name)));
			return -1;
		}
	x->nshards = x->sh.n;
	x->filter = x->nshards > 1;
	return 0;
}

int
xfr_start(const uint8_t *pkt, size_t len, const struct dns_question *q,
    const struct client *c)
{
	struct xfr *x;
	struct live_table *t;
	long r;
	char who[ADDR_STRLEN];

	if (!config_acl_match(&conf->allow_transfer,
	    (const struct sockaddr *)&c->addr)) {
		rcount[RG_ACL_REFUSED]++;
		query_answer_error(pkt, len, q, DNS_RCODE_REFUSED, c);
		return 0;
	}
	if (c->ops->pending == NULL) {
		/* Over UDP: "use TCP" (RFC 5936 4.2, RFC 1995 2). */
		uint8_t out[DNS_HDRLEN + DNS_NAME_WIRE_MAX + 4 + 11];
		size_t n = dns_error_answer(out, sizeof(out), pkt, len, q,
		    DNS_RCODE_NOERROR);

		if (n > 0) {
			out[2] |= 0x02;		/* TC */
			c->ops->send(c, out, n);
		}
		return 0;
	}
	if ((t = table_current()) == NULL) {
		query_answer_error(pkt, len, q, DNS_RCODE_SERVFAIL, c);
		return 0;
	}
	r = table_match(t, q->text, q->text_len);
	if (r < 0 || t->rt->routes[r].nbackends == 0) {
		rcount[RG_REFUSED]++;
		query_answer_error(pkt, len, q, DNS_RCODE_REFUSED, c);
		return 0;
	}
	if (nactive >= XFR_MAX) {
		log_warnx("transfer of %s to %s refused: %d transfers under way",
		    q->text, addr_format((const struct sockaddr *)&c->addr, who,
		    sizeof(who)), XFR_MAX);
		query_answer_error(pkt, len, q, DNS_RCODE_REFUSED, c);
		return 0;
	}
	x = calloc(1, sizeof(*x));
	if (x == NULL || (x->query = malloc(len)) == NULL ||
	    (x->rbuf = malloc(2 + 65535)) == NULL ||
	    (x->out = malloc(65535)) == NULL) {
		if (x != NULL) {
			free(x->query);
			free(x->rbuf);
			free(x);
		}
		query_answer_error(pkt, len, q, DNS_RCODE_SERVFAIL, c);
		return 0;
	}
	memcpy(x->query, pkt, len);
	x->qlen = len;
	x->q = *q;
	x->cl = *c;
	x->fd = -1;
	x->t = t;
	table_ref(t);
	snprintf(x->zone, sizeof(x->zone), "%s", q->text);
	memcpy(x->apex, pkt + DNS_HDRLEN, q->qname_len);
	x->apex_len = q->qname_len;
	ev_init(&x->timer, xfr_timer_cb);
	x->timer.data = x;
	x->next = active;
	if (active != NULL)
		active->prev = x;
	active = x;
	nactive++;
	if (dns_writer_start(&x->w, x->out, 65535, pkt, q) != 0 ||
	    pick_backends(x, (uint32_t)r) != 0) {
		xfr_fail(x, DNS_RCODE_SERVFAIL);
		return 1;
	}
	log_info("transfer of %s to %s: %u shard%s", x->zone,
	    addr_format((const struct sockaddr *)&c->addr, who, sizeof(who)),
	    x->nshards, x->nshards == 1 ? "" : "s");
	x->phase = XP_SOA;
	x->k = 0;
	shard_ask(x);
	return 1;
}

void
xfr_init(const struct router *r)
{
	loop = r->loop;
	conf = r->conf;
	rcount = r->count;
}

void
xfr_shutdown(void)
{
	while (active != NULL)
		xfr_free(active);
}
