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
#include "util.h"

#define HASH_INIT	64

enum check_phase { CK_IDLE, CK_WRITE, CK_READLEN, CK_READBODY };

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
	uint16_t		 id;
	size_t			 off, need;
	uint8_t			*buf;
	uint8_t			 lenbuf[2];
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
	free(b->buf);
	b->buf = NULL;
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

static void
io_cb(struct ev_loop *l, ev_io *w, int revents)
{
	struct hb *b = w->data;
	ssize_t n;

	(void)revents;
	switch (b->phase) {
	case CK_WRITE:
		n = send(b->fd, b->buf + b->off, b->need - b->off,
		    MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				return;
			check_fail(b, strerror(errno));
			return;
		}
		if ((b->off += (size_t)n) < b->need)
			return;
		free(b->buf);
		b->buf = NULL;
		b->phase = CK_READLEN;
		b->off = 0;
		ev_io_stop(l, w);
		ev_io_set(w, b->fd, EV_READ);
		ev_io_start(l, w);
		return;
	case CK_READLEN:
		n = recv(b->fd, b->lenbuf + b->off, 2 - b->off, MSG_DONTWAIT);
		if (n <= 0)
			goto readerr;
		if ((b->off += (size_t)n) < 2)
			return;
		b->need = (size_t)b->lenbuf[0] << 8 | b->lenbuf[1];
		if (b->need < DNS_HDRLEN) {
			check_fail(b, "reply shorter than a DNS header");
			return;
		}
		b->buf = xmalloc(b->need);
		b->off = 0;
		b->phase = CK_READBODY;
		/* FALLTHROUGH */
	case CK_READBODY:
		n = recv(b->fd, b->buf + b->off, b->need - b->off, MSG_DONTWAIT);
		if (n <= 0)
			goto readerr;
		if ((b->off += (size_t)n) < b->need)
			return;
		if (DNS_ID(b->buf) != b->id || !DNS_QR(b->buf) ||
		    !dns_same_question(b->buf, b->need, qwire, &qparsed))
			check_fail(b, "reply does not match the health query");
		else if (DNS_RCODE(b->buf) == DNS_RCODE_SERVFAIL)
			check_fail(b, "health query answered SERVFAIL");
		else {
			check_end(b);
			verdict(b, 1, NULL);
		}
		return;
	case CK_IDLE:
		return;
	}
	return;
readerr:
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	check_fail(b, n == 0 ? "connection closed without a reply" :
	    strerror(errno));
}

static void
deadline_cb(struct ev_loop *l, ev_timer *w, int revents)
{
	(void)l; (void)revents;
	check_fail(w->data, "health query timed out");
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
	b->need = qlen + 2;
	b->buf = xmalloc(b->need);
	b->buf[0] = (uint8_t)(qlen >> 8);
	b->buf[1] = (uint8_t)qlen;
	memcpy(b->buf + 2, qwire, qlen);
	dns_set_id(b->buf + 2, b->id);
	b->off = 0;
	b->phase = CK_WRITE;
	ev_io_init(&b->io_w, io_cb, b->fd, EV_WRITE);
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
