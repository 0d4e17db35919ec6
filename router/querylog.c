/*
 * log-queries: sampled, so that a busy router logs a bounded share of its
 * answers; the line is formatted only for the answers sampled.
 */
#include <ev.h>
#include <stdio.h>

#include "addr.h"
#include "config.h"
#include "dnswire.h"
#include "log.h"
#include "querylog.h"
#include "router.h"

unsigned		 querylog_every, querylog_left;
static struct ev_loop	*loop;

void
querylog_init(const struct router *r)
{
	loop = r->loop;
	querylog_every = querylog_left = r->conf->log_queries;
}

static const char *
rcode_text(unsigned rcode, char *buf, size_t len)
{
	static const char *const names[] = { "NOERROR", "FORMERR", "SERVFAIL",
	    "NXDOMAIN", "NOTIMP", "REFUSED", "YXDOMAIN", "YXRRSET", "NXRRSET",
	    "NOTAUTH", "NOTZONE" };

	if (rcode < sizeof(names) / sizeof(names[0]))
		return names[rcode];
	snprintf(buf, len, "RCODE%u", rcode);
	return buf;
}

void
querylog_answer(const struct sockaddr *client, int tcp,
    const uint8_t *pkt, size_t len, const uint8_t *ans, size_t alen,
    double qtime, const struct sockaddr *backend, const char *by)
{
	struct dns_question q;
	char from[ADDR_STRLEN], via[ADDR_STRLEN], type[16], rc[16];
	double ms = (ev_now(loop) - qtime) * 1000.0;

	if (alen < DNS_HDRLEN)
		return;
	if (dns_parse_query(pkt, len, &q) == DNS_QUERY_DROP)
		q.has_question = 0;
	if (!q.has_question)
		snprintf(q.text, sizeof(q.text), "(no question)");
	else
		dns_type_name(q.qtype, type, sizeof(type));
	if (backend != NULL)
		addr_format(backend, via, sizeof(via));
	log_info("query %s %s %s %s: %s, %u answer(s), %.3f ms, %s %s",
	    addr_format(client, from, sizeof(from)), tcp ? "tcp" : "udp", q.text,
	    q.has_question ? type : "-",
	    rcode_text(DNS_RCODE(ans), rc, sizeof(rc)), DNS_ANCOUNT(ans),
	    ms < 0 ? 0. : ms, backend != NULL ? "from" : "by",
	    backend != NULL ? via : by);
}
