/*
 * UDP clients: each router has its own SO_REUSEPORT socket per listen
 * address, so the kernel spreads clients over routers. Queries are read in
 * batches with recvmmsg.
 */
#include <sys/socket.h>
#include <errno.h>
#include <string.h>

#include "addr.h"
#include "config.h"
#include "dnsrr.h"
#include "dnstap.h"
#include "dnswire.h"
#include "log.h"
#include "netmask.h"
#include "query.h"
#include "report.h"
#include "router.h"
#include "rrl.h"
#include "sendbatch.h"
#include "udp.h"
#include "update.h"
#include "upstream.h"
#include "util.h"
#include "xfr.h"

#define UDP_BATCH	32
#define UDP_BUFSZ	4096	/* larger queries arrive truncated: FORMERR */
#define ANSWER_BATCH	SENDBATCH_MAX
#define ANSWER_SLOT	2048	/* larger answers go out at once, unbatched */

struct ulisten {
	int	fd;
	ev_io	w;
};

static struct ev_loop		*loop;
static const struct config	*conf;
static uint32_t			*rcount;	/* stats.c's */

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

/* Response rate limiting (rrl-*), or NULL when off. */
static struct rrl		*rrl;
static uint64_t			 rrl_would_seen;
static double			 rrl_logged;

static uint8_t			qbuf[UDP_BATCH][UDP_BUFSZ];
static struct mmsghdr		qmsg[UDP_BATCH];
static struct iovec		qiov[UDP_BATCH];
/* recvmmsg writes each sender's address straight into its client handle. */
static struct client		qcl[UDP_BATCH];

static void	udp_send(const struct client *, const uint8_t *, size_t);

static const struct client_ops udp_client_ops = {
	.send = udp_send,
	.done = NULL,		/* a datagram holds nothing once answered */
	.upstream = &upstream_udp,
};

static void
udp_cb(struct ev_loop *l, ev_io *w, int revents)
{
	struct ulisten *u = w->data;
	struct dns_question q;
	int i, n;

	(void)l; (void)revents;
	for (i = 0; i < UDP_BATCH; i++) {
		qmsg[i].msg_hdr.msg_namelen = sizeof(qcl[i].addr);
		qmsg[i].msg_hdr.msg_flags = 0;
	}
	n = recvmmsg(u->fd, qmsg, UDP_BATCH, MSG_DONTWAIT, NULL);
	if (n > 0)
		rcount[RG_QUERIES_UDP] += (uint32_t)n;
	for (i = 0; i < n; i++) {
		const uint8_t *pkt = qbuf[i];
		size_t len = qmsg[i].msg_len;
		struct client *c = &qcl[i];
		const struct sockaddr *from = (struct sockaddr *)&c->addr;
		int rcode;

		c->fd = u->fd;
		c->addrlen = qmsg[i].msg_hdr.msg_namelen;
		if (dnstap_types & CONFIG_DNSTAP_CLIENT_QUERY)
			dnstap_log(CONFIG_DNSTAP_CLIENT_QUERY, from, 0, pkt, len,
			    ev_now(loop), 0);
		if (!conf->allow_query.any &&
		    !netmask_match(conf->allow_query.m, conf->allow_query.n, from)) {
			rcount[RG_ACL_REFUSED]++;
			if (conf->acl_drop ||
			    dns_parse_query(pkt, len, &q) == DNS_QUERY_DROP)
				continue;
			query_answer_error(pkt, len, &q, DNS_RCODE_REFUSED, c);
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
		case DNS_QUERY_UPDATE:
		case DNS_QUERY_NOTIFY:
		case DNS_QUERY_OK:
		default:
			if (qmsg[i].msg_hdr.msg_flags & MSG_TRUNC) {
				rcode = DNS_RCODE_FORMERR;
				break;
			}
			if (DNS_OPCODE(pkt) == DNS_OPCODE_UPDATE)
				update_dispatch(pkt, len, &q, c);
			else if (DNS_OPCODE(pkt) == DNS_OPCODE_NOTIFY)
				notify_dispatch(pkt, len, &q, c);
			else if (q.qtype == DNS_TYPE_AXFR ||
			    q.qtype == DNS_TYPE_IXFR)
				(void)xfr_start(pkt, len, &q, c);
			else
				query_dispatch(pkt, len, &q, c);
			continue;
		}
		query_answer_error(pkt, len, &q, rcode, c);
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

/* Wire length of the question's name at buf + 12, 0 if there is none. */
static size_t
qname_len(const uint8_t *buf, size_t len)
{
	size_t off = DNS_HDRLEN;

	if (DNS_QDCOUNT(buf) == 0)
		return 0;
	while (off < len && off - DNS_HDRLEN < DNS_NAME_WIRE_MAX) {
		uint8_t l = buf[off];

		if (l == 0)
			return off + 1 - DNS_HDRLEN;
		if ((l & 0xc0) != 0)
			return 0;	/* not a question a query asked */
		off += 1 + (size_t)l;
	}
	return 0;
}

/*
 * What rate limiting does with the answer buf: send it, drop it, or slip
 * it (header and question only, TC set, into slip; *slen its length) so a
 * real client asks again over TCP, which is never limited.
 */
static enum rrl_action
rate_limit(const struct sockaddr *to, const uint8_t *buf, size_t len,
    uint8_t *slip, size_t *slen)
{
	enum rrl_class cls;
	enum rrl_action a;
	size_t nl = qname_len(buf, len);
	uint16_t qtype = 0;

	if (conf->rrl_exempt.n > 0 && config_acl_match(&conf->rrl_exempt, to))
		return RRL_SEND;
	switch (DNS_RCODE(buf)) {
	case DNS_RCODE_NOERROR:
		cls = RRL_RESPONSE;
		break;
	case DNS_RCODE_NXDOMAIN:
		cls = RRL_NXDOMAIN;
		break;
	default:
		cls = RRL_ERROR;
	}
	if (nl > 0 && DNS_HDRLEN + nl + 4 <= len)
		qtype = (uint16_t)(buf[DNS_HDRLEN + nl] << 8 |
		    buf[DNS_HDRLEN + nl + 1]);
	a = rrl_check(rrl, to, buf + DNS_HDRLEN, nl, qtype, cls, ev_now(loop));
	if (conf->rrl_log_only) {
		const struct rrl_stats *st = rrl_stats(rrl);

		if (st->would_limit != rrl_would_seen) {
			rcount[RG_RRL_LOGONLY] += (uint32_t)(st->would_limit -
			    rrl_would_seen);
			rrl_would_seen = st->would_limit;
		}
	}
	if (a == RRL_SEND)
		return a;
	if (ev_now(loop) - rrl_logged >= 10.0) {
		char ab[ADDR_STRLEN];

		rrl_logged = ev_now(loop);
		log_info("rate limiting UDP answers to %s's prefix (rrl-*)",
		    addr_format(to, ab, sizeof(ab)));
	}
	if (a == RRL_DROP) {
		rcount[RG_RRL_DROPPED]++;
		return a;
	}
	rcount[RG_RRL_SLIPPED]++;
	*slen = nl > 0 && DNS_HDRLEN + nl + 4 <= len ? DNS_HDRLEN + nl + 4 :
	    DNS_HDRLEN;
	memcpy(slip, buf, *slen);
	slip[2] |= 0x02;				/* TC */
	slip[4] = 0;
	slip[5] = *slen > DNS_HDRLEN;			/* QDCOUNT */
	memset(slip + 6, 0, 6);				/* AN, NS, AR */
	return a;
}

/* Queue an answer to a UDP client; it leaves before the loop next blocks. */
static void
udp_send(const struct client *c, const uint8_t *buf, size_t len)
{
	const struct sockaddr *to = (const struct sockaddr *)&c->addr;
	socklen_t tolen = c->addrlen;
	int lfd = c->fd;
	uint8_t slip[DNS_HDRLEN + DNS_NAME_WIRE_MAX + 4];
	size_t slen;

	if (rrl != NULL && len >= DNS_HDRLEN) {
		switch (rate_limit(to, buf, len, slip, &slen)) {
		case RRL_SEND:
			break;
		case RRL_DROP:
			return;
		case RRL_SLIP:
			buf = slip;
			len = slen;
			break;
		}
	}
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

/* Set up rate limiting from conf, once, if any rrl-*-per-second is set. */
static void
rrl_setup(void)
{
	struct rrl_config rc;
	const char *why;

	if (conf->rrl_responses == 0 && conf->rrl_errors == 0 &&
	    conf->rrl_nxdomains == 0)
		return;
	rrl_config_init(&rc);
	rc.responses_per_second = conf->rrl_responses;
	rc.errors_per_second = conf->rrl_errors;
	rc.nxdomains_per_second = conf->rrl_nxdomains;
	rc.window = conf->rrl_window;
	rc.slip = conf->rrl_slip;
	rc.ipv4_prefix_length = conf->rrl_ipv4_prefix;
	rc.ipv6_prefix_length = conf->rrl_ipv6_prefix;
	rc.log_only = conf->rrl_log_only;
	if (rrl_config_check(&rc, &why) != 0)
		fatalx("rate limiting: %s", why);
	if ((rrl = rrl_new(&rc)) == NULL)
		fatalx("rate limiting: cannot start");
	log_debug("rate limiting UDP answers: %u/s, window %us, slip %u%s",
	    rc.responses_per_second, rc.window, rc.slip,
	    rc.log_only ? " (log only)" : "");
}

void
udp_init(const struct router *r, int fd)
{
	struct ulisten *u = &ul[nul++];
	int i;

	loop = r->loop;
	conf = r->conf;
	rcount = r->count;
	fd_nonblock(fd, 1);
	u->fd = fd;
	ev_io_init(&u->w, udp_cb, fd, EV_READ);
	u->w.data = u;
	if (!ev_is_active(&flush_w)) {
		ev_prepare_init(&flush_w, flush_cb);
		ev_prepare_start(loop, &flush_w);
		rrl_setup();
	}
	for (i = 0; i < UDP_BATCH; i++) {
		qiov[i].iov_base = qbuf[i];
		qiov[i].iov_len = UDP_BUFSZ;
		qmsg[i].msg_hdr.msg_iov = &qiov[i];
		qmsg[i].msg_hdr.msg_iovlen = 1;
		qmsg[i].msg_hdr.msg_name = &qcl[i].addr;
		qcl[i].ops = &udp_client_ops;
		qcl[i].conn = NULL;
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
