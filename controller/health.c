/*
 * Health checks over TCP, one per distinct backend per interval, spread
 * over the interval so that a thousand backends do not fire at once; and
 * passive health from the routers' reports (passive.c), which can take a
 * backend out but never bring it back.
 */
#include <sys/socket.h>
#include <errno.h>
#include <ldns/ldns.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "addr.h"
#include "dnswire.h"
#include "health.h"
#include "log.h"
#include "passive.h"
#include "tcpout.h"
#include "util.h"
#include "zones.h"

#define HASH_INIT	64

/*
 * A check: the health query, and once it passed the SOA queries of the
 * backend's zones (zones.h) on the same connection, one after the other
 * so that a server that takes one query per connection still passes.
 */
enum check_phase { CK_IDLE, CK_HEALTH, CK_SOA };

#define RBUF_MIN	512		/* grown up to one whole message */

struct soa_ask {
	char		 zone[ZONE_NAME_MAX];
	uint16_t	 id;
};

struct hb {
	struct sockaddr_storage	 addr;
	socklen_t		 addrlen;
	char			 name[ADDR_STRLEN];	/* empty until hb_name() */
	int			 up;
	unsigned		 npass, nfail;
	struct passive		 pw;		/* real traffic, see passive.h */
	int			 probe;		/* this check confirms a suspicion */
	double			 probed;	/* when the last one was asked for */
	struct passive_count	 suspicion;	/* what traffic saw then */
	int			 seen;
	enum check_phase	 phase;
	int			 fd;
	uint16_t		 id;		/* of the health query */
	struct tcpout		 out;
	uint8_t			*rbuf;
	size_t			 rlen, rcap;
	struct soa_ask		*soa;		/* CK_SOA: nsoa queries, asked one by one */
	size_t			 nsoa, cur;
	const char		*why_soa;	/* for the ones check_end gives up */
	ev_io			 io_w;
	ev_timer		 deadline_w;
	ev_timer		 interval_w;
	struct hb		*next;		/* hash chain */
};

static struct ev_loop		*hloop;
static const struct config	*hcf;
static void			(*on_change)(void);
static struct hb		**table;
static size_t			 tcap, tcount;
static uint8_t			*qwire;		/* health query, ID 0 */
static size_t			 qlen;
static struct dns_question	 qparsed;
static struct passive_params	 pparams;

static size_t
hash_addr(const struct sockaddr *sa)
{
	uint64_t h = 0xcbf29ce484222325ULL;
	const uint8_t *p;
	size_t n, i;

	if (sa->sa_family == AF_INET6) {
		p = (const uint8_t *)&((const struct sockaddr_in6 *)sa)->sin6_addr;
		n = 16;
		h ^= ((const struct sockaddr_in6 *)sa)->sin6_port;
	} else {
		p = (const uint8_t *)&((const struct sockaddr_in *)sa)->sin_addr;
		n = 4;
		h ^= ((const struct sockaddr_in *)sa)->sin_port;
	}
	for (i = 0; i < n; i++)
		h = (h ^ p[i]) * 0x100000001b3ULL;
	return (size_t)h;
}

static struct hb *
find(const struct sockaddr *sa)
{
	struct hb *b;

	if (tcap == 0)
		return NULL;
	for (b = table[hash_addr(sa) & (tcap - 1)]; b != NULL; b = b->next)
		if (addr_equal((const struct sockaddr *)&b->addr, sa))
			return b;
	return NULL;
}

static void
grow(void)
{
	struct hb **nt, *b, *nb;
	size_t ncap = tcap ? tcap * 2 : HASH_INIT, i;

	nt = xcalloc(ncap, sizeof(*nt));
	for (i = 0; i < tcap; i++)
		for (b = table[i]; b != NULL; b = nb) {
			size_t h = hash_addr((struct sockaddr *)&b->addr) & (ncap - 1);

			nb = b->next;
			b->next = nt[h];
			nt[h] = b;
		}
	free(table);
	table = nt;
	tcap = ncap;
}

/*
 * Checks in flight at once. Tens of thousands of new backends would
 * otherwise all be checked within a second: the controller runs out of
 * descriptors and ports, and its loop, busy with them, lets checks of
 * healthy backends time out. Past the cap a check waits a moment.
 */
#define CHECKS_MAX	512
static unsigned		 checks_inflight;

static void
check_end(struct hb *b)
{
	if (b->fd != -1) {
		checks_inflight--;
		ev_io_stop(hloop, &b->io_w);
		close(b->fd);
		b->fd = -1;
	}
	ev_timer_stop(hloop, &b->deadline_w);
	tcpout_clear(&b->out);
	free(b->rbuf);
	b->rbuf = NULL;
	b->rlen = b->rcap = 0;
	/* SOA queries not answered: the serial is not known. */
	for (; b->soa != NULL && b->cur < b->nsoa; b->cur++)
		zones_serial((struct sockaddr *)&b->addr, b->soa[b->cur].zone, 0,
		    0, b->why_soa);
	free(b->soa);
	b->soa = NULL;
	b->nsoa = b->cur = 0;
	b->phase = CK_IDLE;
}

/*
 * The address as text, formatted the first time a message needs it: tens
 * of thousands of backends registered at once cost a pass of the loop
 * each, and most are never named.
 */
static const char *
hb_name(struct hb *b)
{
	if (b->name[0] == '\0')
		addr_format((struct sockaddr *)&b->addr, b->name, sizeof(b->name));
	return b->name;
}

static void
take_down(struct hb *b, const char *why)
{
	b->up = 0;
	b->npass = b->nfail = 0;
	log_warnx("backend %s is down: %s", hb_name(b), why);
	on_change();
}

/*
 * A check that traffic asked for (every query it saw lately failed, and no
 * backend answered them either): a failure confirms it, at once.
 */
static int
probe_verdict(struct hb *b, int pass, const char *why)
{
	const struct passive_count *c = &b->suspicion;
	char buf[256];

	b->probe = 0;
	if (!b->up)
		return 0;
	if (pass) {
		log_debug("health: %s passes its check: %llu queries no backend "
		    "answered are not its fault", hb_name(b),
		    (unsigned long long)c->unanswered);
		return 0;
	}
	snprintf(buf, sizeof(buf), "%s, and it answered none of its last %llu "
	    "queries in %u ms on real traffic (%llu answered by no backend)",
	    why, (unsigned long long)c->attempts, c->slots * PASSIVE_SLOT_MS,
	    (unsigned long long)c->unanswered);
	take_down(b, buf);
	return 1;
}

/* One more pass or failure; log and announce a change of state once. */
static void
verdict(struct hb *b, int pass, const char *why)
{
	if (b->probe && probe_verdict(b, pass, why))
		return;
	if (pass) {
		b->nfail = 0;
		if (!b->up && ++b->npass >= hcf->health_rise) {
			b->up = 1;
			b->npass = 0;
			/* What traffic saw before it went down is history. */
			passive_clear(&b->pw, &pparams);
			log_info("backend %s is up: %u checks passed", hb_name(b),
			    hcf->health_rise);
			on_change();
		}
	} else {
		b->npass = 0;
		if (b->up && ++b->nfail >= hcf->health_fall)
			take_down(b, why);
	}
}

static void
check_fail(struct hb *b, const char *why)
{
	check_end(b);
	verdict(b, 0, why);
}

/* The SOA query for b's next zone, queued; -1 when it cannot be built. */
static int
soa_ask_next(struct hb *b)
{
	struct soa_ask *a = &b->soa[b->cur];
	ldns_rdf *name;
	ldns_pkt *pkt;
	uint8_t *wire = NULL;
	size_t len;

	if ((name = ldns_dname_new_frm_str(a->zone)) == NULL)
		return -1;
	if ((pkt = ldns_pkt_query_new(name, LDNS_RR_TYPE_SOA, LDNS_RR_CLASS_IN,
	    0)) == NULL)
		return -1;
	a->id = rnd16();
	ldns_pkt_set_id(pkt, a->id);
	if (ldns_pkt2wire(&wire, pkt, &len) != LDNS_STATUS_OK) {
		ldns_pkt_free(pkt);
		return -1;
	}
	ldns_pkt_free(pkt);
	tcpout_push(&b->out, wire, len, 0);
	free(wire);
	return 0;
}

/*
 * The serial of zone in an SOA answer, or why there is none: the answer
 * must be authoritative and hold the apex SOA.
 */
static const char *
soa_serial(const uint8_t *msg, size_t len, const struct soa_ask *a,
    uint32_t *serial)
{
	ldns_pkt *pkt = NULL;
	ldns_rdf *zone = NULL;
	const char *why = "no SOA of the apex in the answer";
	ldns_rr_list *an;
	size_t i;

	if (ldns_wire2pkt(&pkt, msg, len) != LDNS_STATUS_OK)
		return "SOA answer does not parse";
	if (ldns_pkt_get_rcode(pkt) != LDNS_RCODE_NOERROR) {
		static char buf[64];
		ldns_lookup_table *rc = ldns_lookup_by_id(ldns_rcodes,
		    (int)ldns_pkt_get_rcode(pkt));

		snprintf(buf, sizeof(buf), "SOA query answered %s", rc != NULL ?
		    rc->name : "with an unknown rcode");
		why = buf;
	}
	else if (!ldns_pkt_aa(pkt))
		why = "not authoritative for the zone";
	else if ((zone = ldns_dname_new_frm_str(a->zone)) != NULL) {
		an = ldns_pkt_answer(pkt);
		for (i = 0; i < ldns_rr_list_rr_count(an); i++) {
			ldns_rr *rr = ldns_rr_list_rr(an, i);

			if (ldns_rr_get_type(rr) == LDNS_RR_TYPE_SOA &&
			    ldns_dname_compare(ldns_rr_owner(rr), zone) == 0 &&
			    ldns_rr_rd_count(rr) == 7) {
				*serial = ldns_rdf2native_int32(ldns_rr_rdf(rr, 2));
				why = NULL;
				break;
			}
		}
	}
	ldns_rdf_deep_free(zone);
	ldns_pkt_free(pkt);
	return why;
}

static int
soa_question(const uint8_t *msg, size_t len, const struct soa_ask *a)
{
	ldns_pkt *pkt = NULL;
	ldns_rdf *zone;
	ldns_rr *q;
	int ok = 0;

	if (ldns_wire2pkt(&pkt, msg, len) != LDNS_STATUS_OK)
		return 0;
	if ((zone = ldns_dname_new_frm_str(a->zone)) != NULL &&
	    ldns_rr_list_rr_count(ldns_pkt_question(pkt)) == 1) {
		q = ldns_rr_list_rr(ldns_pkt_question(pkt), 0);
		ok = ldns_rr_get_type(q) == LDNS_RR_TYPE_SOA &&
		    ldns_dname_compare(ldns_rr_owner(q), zone) == 0;
	}
	ldns_rdf_deep_free(zone);
	ldns_pkt_free(pkt);
	return ok;
}

/* After the health query passed: ask the SOA of b's zones, if any. */
static void
soa_start(struct hb *b)
{
	char names[ZONES_PER_BACKEND][ZONE_NAME_MAX];
	size_t n, i;

	if ((n = zones_of((struct sockaddr *)&b->addr, names,
	    ZONES_PER_BACKEND)) == 0)
		return;
	b->soa = xcalloc(n, sizeof(*b->soa));
	for (i = 0; i < n; i++)
		memcpy(b->soa[i].zone, names[i], ZONE_NAME_MAX);
	b->nsoa = n;
	b->cur = 0;
	b->why_soa = "no SOA answer in time";
	if (soa_ask_next(b) != 0) {
		b->why_soa = "cannot build the SOA query";
		return;
	}
	b->phase = CK_SOA;
}

/*
 * One whole message from b's connection. 1: the check goes on (more
 * replies to wait for), 0: it ended here.
 */
static int
check_msg(struct hb *b, const uint8_t *msg, size_t len)
{
	struct soa_ask *a;
	const char *why;
	uint32_t serial = 0;

	if (b->phase == CK_HEALTH) {
		if (DNS_ID(msg) != b->id || !DNS_QR(msg) ||
		    !dns_same_question(msg, len, qwire, &qparsed)) {
			check_fail(b, "reply does not match the health query");
			return 0;
		}
		if (DNS_RCODE(msg) == DNS_RCODE_SERVFAIL) {
			check_fail(b, "health query answered SERVFAIL");
			return 0;
		}
		verdict(b, 1, NULL);
		soa_start(b);
		if (b->phase != CK_SOA) {
			check_end(b);
			return 0;
		}
		return 1;
	}
	a = &b->soa[b->cur];
	if (DNS_ID(msg) != a->id || !DNS_QR(msg) || !soa_question(msg, len, a))
		why = "SOA answer does not match the query";
	else
		why = soa_serial(msg, len, a, &serial);
	zones_serial((struct sockaddr *)&b->addr, a->zone, why == NULL, serial,
	    why);
	if (++b->cur == b->nsoa || soa_ask_next(b) != 0) {
		check_end(b);
		return 0;
	}
	return 1;
}

/* The connection broke or closed: a failed check, or only SOAs missing. */
static void
check_broken(struct hb *b, const char *why)
{
	if (b->phase == CK_SOA) {
		b->why_soa = why;
		check_end(b);
	} else
		check_fail(b, why);
}

static void
io_cb(struct ev_loop *l, ev_io *w, int revents)
{
	struct hb *b = w->data;
	size_t need, off;
	ssize_t n;
	long mlen;

	if ((revents & EV_WRITE) && !tcpout_empty(&b->out)) {
		if (tcpout_write(&b->out, b->fd) < 0 && errno != EAGAIN &&
		    errno != EINTR) {
			check_broken(b, strerror(errno));
			return;
		}
	}
	if (revents & EV_READ) {
		if (b->rcap - b->rlen < RBUF_MIN / 2 && b->rcap < 65537) {
			b->rcap = b->rcap == 0 ? RBUF_MIN : b->rcap * 2;
			if (b->rcap > 65537)
				b->rcap = 65537;
			b->rbuf = xreallocarray(b->rbuf, b->rcap, 1);
		}
		n = recv(b->fd, b->rbuf + b->rlen, b->rcap - b->rlen, MSG_DONTWAIT);
		if (n <= 0) {
			if (n < 0 && (errno == EAGAIN || errno == EINTR))
				return;
			check_broken(b, n == 0 ? "connection closed without a "
			    "reply" : strerror(errno));
			return;
		}
		b->rlen += (size_t)n;
		off = 0;
		while ((mlen = dns_tcp_frame(b->rbuf + off, b->rlen - off,
		    &need)) > 0) {
			if (!check_msg(b, b->rbuf + off + 2, (size_t)mlen))
				return;		/* ended: the buffer is gone */
			off += (size_t)mlen + 2;
		}
		if (mlen < 0) {
			check_broken(b, "reply shorter than a DNS header");
			return;
		}
		if (need > b->rcap) {
			b->rcap = need;
			b->rbuf = xreallocarray(b->rbuf, b->rcap, 1);
		}
		memmove(b->rbuf, b->rbuf + off, b->rlen - off);
		b->rlen -= off;
	}
	/* Writability matters only while there is something to write. */
	if (!!(w->events & EV_WRITE) != !tcpout_empty(&b->out)) {
		ev_io_stop(l, w);
		ev_io_set(w, b->fd, EV_READ | (tcpout_empty(&b->out) ? 0 :
		    EV_WRITE));
		ev_io_start(l, w);
	}
}

static void
deadline_cb(struct ev_loop *l, ev_timer *w, int revents)
{
	struct hb *b = w->data;

	(void)l; (void)revents;
	if (b->phase == CK_SOA)
		check_end(b);	/* why_soa says it */
	else
		check_fail(b, "health query timed out");
}

/* Start a check of b, which is idle. */
static void
check_start(struct ev_loop *l, struct hb *b)
{
	double limit = hcf->timeout_ms / 1000.0;
	double interval = hcf->health_interval_ms / 1000.0;

	if (checks_inflight >= CHECKS_MAX) {
		/* Again within the next 100 ms or so, then every interval. */
		ev_timer_stop(l, &b->interval_w);
		ev_timer_set(&b->interval_w, 0.02 + (rnd32() % 100) / 1000.0,
		    interval);
		ev_timer_start(l, &b->interval_w);
		return;
	}
	b->fd = socket(b->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0);
	if (b->fd == -1) {
		log_warn("%s: socket", __func__);
		return;
	}
	if (connect(b->fd, (struct sockaddr *)&b->addr, b->addrlen) == -1 &&
	    errno != EINPROGRESS) {
		/*
		 * Our own shortage (no local port, no buffer), as with
		 * socket() above, says nothing of the backend: no verdict,
		 * the next check tries again.
		 */
		if (errno == EADDRNOTAVAIL || errno == EAGAIN ||
		    errno == ENOBUFS || errno == ENOMEM) {
			log_warn("%s: connect", __func__);
			close(b->fd);
			b->fd = -1;
			return;
		}
		checks_inflight++;
		check_fail(b, strerror(errno));
		return;
	}
	checks_inflight++;
	b->id = rnd16();
	dns_set_id(qwire, b->id);
	tcpout_push(&b->out, qwire, qlen, 0);
	b->phase = CK_HEALTH;
	ev_io_init(&b->io_w, io_cb, b->fd, EV_READ | EV_WRITE);
	b->io_w.data = b;
	ev_io_start(l, &b->io_w);
	if (limit > hcf->health_interval_ms / 1000.0)
		limit = hcf->health_interval_ms / 1000.0;
	ev_timer_set(&b->deadline_w, limit, 0.);
	ev_timer_start(l, &b->deadline_w);
}

static void
interval_cb(struct ev_loop *l, ev_timer *w, int revents)
{
	struct hb *b = w->data;

	(void)revents;
	if (b->phase == CK_IDLE)
		check_start(l, b);
	/* else the last one is still running */
}

void
health_init(struct ev_loop *loop, const struct config *cf, void (*changed)(void))
{
	ldns_rdf *name;
	ldns_pkt *pkt;

	hloop = loop;
	hcf = cf;
	on_change = changed;
	passive_params(&pparams, cf->health_passive_window_ms,
	    cf->health_passive_min_attempts, cf->health_passive_failure_percent);
	if ((name = ldns_dname_new_frm_str(cf->health_qname)) == NULL)
		fatalx("%s: bad health-query name %s", __func__, cf->health_qname);
	pkt = ldns_pkt_query_new(name, (ldns_rr_type)cf->health_qtype,
	    (ldns_rr_class)cf->health_qclass, 0);
	if (pkt == NULL || ldns_pkt2wire(&qwire, pkt, &qlen) != LDNS_STATUS_OK)
		fatalx("%s: cannot build the health query", __func__);
	ldns_pkt_free(pkt);
	if (dns_parse_query(qwire, qlen, &qparsed) != DNS_QUERY_OK)
		fatalx("%s: health query does not parse", __func__);
}

static void
add(const struct reg *rv)
{
	struct hb *b;
	size_t h;
	double interval = hcf->health_interval_ms / 1000.0;

	if (tcount + 1 > tcap / 2)
		grow();
	b = xcalloc(1, sizeof(*b));
	b->addr = rv->addr;
	b->addrlen = rv->addrlen;
	b->up = 1;	/* in rotation until it fails: registration means serving */
	b->fd = -1;
	b->seen = 1;
	ev_init(&b->deadline_w, deadline_cb);
	b->deadline_w.data = b;
	/* First check soon, at a random point, then every interval. */
	ev_timer_init(&b->interval_w, interval_cb,
	    (rnd32() % 1000) / 1000.0 * (interval < 1 ? interval : 1), interval);
	b->interval_w.data = b;
	ev_timer_start(hloop, &b->interval_w);
	h = hash_addr((struct sockaddr *)&b->addr) & (tcap - 1);
	b->next = table[h];
	table[h] = b;
	tcount++;
	if (log_getverbose() > 0)
		log_debug("health: checking %s", hb_name(b));
}

static void
drop(struct hb *b)
{
	check_end(b);
	ev_timer_stop(hloop, &b->interval_w);
	if (log_getverbose() > 0)
		log_debug("health: no longer checking %s", hb_name(b));
	passive_free(&b->pw);
	free(b);
	tcount--;
}

void
health_sync(const struct registry *r)
{
	struct hb *b, **pp;
	size_t i;

	for (i = 0; i < tcap; i++)
		for (b = table[i]; b != NULL; b = b->next)
			b->seen = 0;
	for (i = 0; i < r->n; i++) {
		if ((b = find((const struct sockaddr *)&r->v[i].addr)) != NULL)
			b->seen = 1;
		else
			add(&r->v[i]);
	}
	for (i = 0; i < tcap; i++)
		for (pp = &table[i]; (b = *pp) != NULL;) {
			if (b->seen)
				pp = &b->next;
			else {
				*pp = b->next;
				drop(b);
			}
		}
}

int
health_up(void *ctx, const struct sockaddr *addr)
{
	struct hb *b = find(addr);

	(void)ctx;
	return b == NULL || b->up;
}

void
health_report(const struct sockaddr *addr, uint32_t answered, uint32_t failed,
    uint32_t unanswered)
{
	struct hb *b = find(addr);
	struct passive_count c;
	double now = ev_now(hloop);
	uint64_t tick;
	char why[256];

	if (b == NULL || !b->up || pparams.min_attempts == 0)
		return;		/* only checks bring a backend back */
	tick = (uint64_t)(now * (1000 / PASSIVE_SLOT_MS));
	passive_add(&b->pw, &pparams, tick, answered, failed, unanswered);
	/*
	 * Only failures can make it fail. Passive health stands apart from
	 * the checks' count in a row: it neither adds to it nor clears it.
	 */
	if (failed == 0)
		return;
	switch (passive_judge(&b->pw, &pparams, tick, &c)) {
	case PASSIVE_OK:
		return;
	case PASSIVE_FAILING:
		snprintf(why, sizeof(why), "%llu of its last %llu queries in %u "
		    "ms failed on real traffic (%llu answered by another "
		    "backend, %llu by none)", (unsigned long long)c.failed,
		    (unsigned long long)c.attempts, c.slots * PASSIVE_SLOT_MS,
		    (unsigned long long)(c.failed - c.unanswered),
		    (unsigned long long)c.unanswered);
		take_down(b, why);
		return;
	case PASSIVE_SUSPECT:
		/* Dead, or only asked names nobody answers: a check tells. */
		if (b->probe ||
		    now - b->probed < hcf->health_passive_window_ms / 1000.0)
			return;		/* one check per window */
		b->probe = 1;
		b->probed = now;
		b->suspicion = c;
		if (b->phase == CK_IDLE)
			check_start(hloop, b);
		/* else the running check decides */
		return;
	}
}

void
health_shutdown(void)
{
	struct hb *b, *nb;
	size_t i;

	for (i = 0; i < tcap; i++)
		for (b = table[i]; b != NULL; b = nb) {
			nb = b->next;
			drop(b);
		}
	free(table);
	table = NULL;
	tcap = tcount = 0;
	free(qwire);
	qwire = NULL;
}
