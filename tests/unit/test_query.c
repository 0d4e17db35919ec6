/*
 * router/query.c, the state machine of a query: dispatch to a backend,
 * deliver with the client's ID restored, timeout and retry on another
 * backend, SERVFAIL after the retry, the upstream refusing a send (the
 * router's own limit, or an unreachable backend), and the answer going
 * back through the handle the query came with. The real query.c runs on a
 * real libev loop (its timeouts are real, 20 ms); the client and upstream
 * transports are stubs that record what they are asked, and the table is
 * one route whose healthy backends the test chooses.
 */
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "config.h"
#include "dnswire.h"
#include "query.h"
#include "report.h"
#include "router.h"
#include "routetable.h"
#include "table.h"

/* What main.c would hand the modules. */
static struct ev_loop	*loop;
static struct config	 conf;
static uint32_t		 rcount[REPORT_NGLOBAL];
static struct router	 router = { NULL, &conf, "", rcount, 0 };

#define TIMEOUT_MS	20
#define MAX_REC		64

/* The upstream stub: what each send returns, in order, and what it saw. */
static enum upstream_result script[8];
static unsigned	 nscript;
static unsigned	 nsent, nsent_ok, nreleased;
static struct {
	struct query	*q;
	int		 backend;	/* index of the address sent to, or -1 */
	uint16_t	 id;
} sent[MAX_REC];
static uint16_t	 next_up_id = 0xa000;
static int	 up_token;		/* what the stub's q->up_conn points to */

/* The client stub: every answer and every done, with the handle used. */
static unsigned	 nanswers, ndone;
static struct {
	void		*conn;
	int		 fd;
	uint16_t	 port;
	uint16_t	 id;
	int		 rcode;
	size_t		 len;
	uint8_t		 buf[1024];
} answers[MAX_REC];
static void	*done_conn[MAX_REC];

/* One route, backends 0..nbackends-1, healthy as the test sets them. */
static struct rt_backend backends[3];
static uint32_t		 route_backends[3] = { 0, 1, 2 };
static struct rt_route	 route = { 0, 2, route_backends, (char *)"", 0 };
static struct rt_table	 rt = { 1, 1, 3, 1, backends, &route, NULL };
static struct bcount	 bc[3];
static uint32_t		 rq[1], touched[1];
static uint32_t		 rr;
static struct live_table	 table = { &rt, NULL, &rr, NULL, bc, rq, touched, 0, 1, NULL, NULL };
static int		 have_table = 1;
static enum route_status route_status = ROUTE_FOUND;

struct live_table *table_current(void) { return have_table ? &table : NULL; }
void table_ref(struct live_table *t) { t->refs++; }
void table_unref(struct live_table *t) { t->refs--; }

enum route_status
table_route(struct live_table *t, const char *name, size_t len, uint32_t *r)
{
	(void)t; (void)name; (void)len;
	*r = 0;
	return route_status;
}

/* table.c's contract: next healthy in rotation; a retry skips exclude. */
long
table_match(struct live_table *t, const char *name, size_t len)
{
	(void)t; (void)name; (void)len;
	return -1;
}

int
table_pick(struct live_table *t, uint32_t r, int exclude)
{
	uint32_t k, start = exclude < 0 ? rr++ : rr;

	(void)t; (void)r;
	for (k = 0; k < route.nbackends; k++) {
		uint32_t b = route_backends[(start + k) % route.nbackends];

		if ((int)b != exclude && (backends[b].flags & RT_FLAG_UP))
			return (int)b;
	}
	return -1;
}

static int
backend_of(const struct sockaddr *to)
{
	int i;

	for (i = 0; i < 3; i++)
		if ((const struct sockaddr *)&backends[i].addr == to)
			return i;
	return -1;
}

static enum upstream_result
stub_send(struct query *q, const struct sockaddr *to, socklen_t tolen)
{
	enum upstream_result r = nsent < nscript ? script[nsent] : UPSTREAM_SENT;

	assert_int_equal(tolen, sizeof(struct sockaddr_in));
	assert_null(q->up_conn);	/* the last attempt gave its ID back */
	assert_true(nsent < MAX_REC);
	sent[nsent].q = q;
	sent[nsent].backend = backend_of(to);
	nsent++;
	if (r != UPSTREAM_SENT)
		return r;
	q->up_id = next_up_id++;
	dns_set_id(q->pkt, q->up_id);
	sent[nsent - 1].id = q->up_id;
	q->up_conn = &up_token;
	nsent_ok++;
	return r;
}

static void
stub_release(struct query *q)
{
	assert_ptr_equal(q->up_conn, &up_token);
	q->up_conn = NULL;
	nreleased++;
}

static const struct upstream_ops stub_upstream = { stub_send, stub_release };

static void
record_answer(const struct client *c, const uint8_t *buf, size_t len)
{
	assert_true(nanswers < MAX_REC);
	assert_true(len >= DNS_HDRLEN && len <= sizeof(answers[0].buf));
	answers[nanswers].conn = c->conn;
	answers[nanswers].fd = c->fd;
	answers[nanswers].port =
	    ntohs(((const struct sockaddr_in *)&c->addr)->sin_port);
	answers[nanswers].id = DNS_ID(buf);
	answers[nanswers].rcode = DNS_RCODE(buf);
	answers[nanswers].len = len;
	memcpy(answers[nanswers].buf, buf, len);
	nanswers++;
}

static void
record_done(const struct client *c)
{
	assert_true(ndone < MAX_REC);
	done_conn[ndone++] = c->conn;
}

/* Like TCP: answers to a connection, which hears when each query is over. */
static const struct client_ops stream_ops = {
	record_answer, record_done, &stub_upstream, NULL
};
/* Like UDP: answers to an address, nothing to finish. */
static const struct client_ops dgram_ops = {
	record_answer, NULL, &stub_upstream, NULL
};

static int conn_a, conn_b;	/* two "connections" of stream clients */

/* Linked with --wrap=malloc: a test can make the next malloc fail. */
void	*__real_malloc(size_t);
void	*__wrap_malloc(size_t);
static int fail_malloc;

void *
__wrap_malloc(size_t n)
{
	if (fail_malloc) {
		fail_malloc = 0;
		return NULL;
	}
	return __real_malloc(n);
}

static const uint8_t query_pkt[] = {
	0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0,
	1, 'a', 4, 'm', 'i', 'e', 'k', 2, 'n', 'l', 0, 0, 1, 0, 1,
};

static struct client
dgram_client(int fd, uint16_t port)
{
	struct client c;
	struct sockaddr_in *sin = (struct sockaddr_in *)&c.addr;

	memset(&c, 0, sizeof(c));
	c.ops = &dgram_ops;
	c.fd = fd;
	c.addrlen = sizeof(*sin);
	sin->sin_family = AF_INET;
	sin->sin_port = htons(port);
	sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	return c;
}

static struct client
stream_client(void *conn)
{
	struct client c;

	memset(&c, 0, sizeof(c));
	c.ops = &stream_ops;
	c.conn = conn;
	c.fd = -1;
	return c;
}

/* Dispatch query_pkt with client ID id through c. */
static void
dispatch(const struct client *c, uint16_t id)
{
	uint8_t pkt[sizeof(query_pkt)];
	struct dns_question q;

	memcpy(pkt, query_pkt, sizeof(pkt));
	dns_set_id(pkt, id);
	assert_int_equal(dns_parse_query(pkt, sizeof(pkt), &q), DNS_QUERY_OK);
	query_dispatch(pkt, sizeof(pkt), &q, c);
}

/* The backend's reply to send number k: the query with QR and its ID. */
static void
deliver(unsigned k)
{
	uint8_t reply[sizeof(query_pkt)];

	assert_true(k < nsent);
	memcpy(reply, query_pkt, sizeof(reply));
	dns_set_id(reply, sent[k].id);
	reply[2] |= 0x80;				/* QR */
	reply[3] |= 0x80;				/* RA: tell it from the query */
	assert_ptr_equal(query_get(query_index(sent[k].q)), sent[k].q);
	assert_true(query_same_question(sent[k].q, reply, sizeof(reply)));
	query_deliver(sent[k].q, reply, sizeof(reply));
}

/* Run the loop until want sends were made or nothing is left to wait for. */
static void
run_until_sent(unsigned want)
{
	double start = ev_time();

	while (nsent < want && query_inflight() > 0 && ev_time() - start < 2.0)
		ev_run(loop, EVRUN_ONCE);
}

static void
run_until_answered(unsigned want)
{
	double start = ev_time();

	while (nanswers < want && query_inflight() > 0 &&
	    ev_time() - start < 2.0)
		ev_run(loop, EVRUN_ONCE);
}

static void
use_backends(unsigned n)
{
	unsigned i;

	route.nbackends = n;
	for (i = 0; i < 3; i++)
		backends[i].flags = i < n ? RT_FLAG_UP : 0;
}

static int
reset(void **state)
{
	double start = ev_time();

	(void)state;
	/* What a failed test left in flight times out, so the next starts clean. */
	while (query_inflight() > 0 && ev_time() - start < 2.0)
		ev_run(loop, EVRUN_ONCE);
	table.refs = 1;
	nscript = nsent = nsent_ok = nreleased = 0;
	nanswers = ndone = 0;
	memset(bc, 0, sizeof(bc));
	memset(rcount, 0, sizeof(rcount));
	rq[0] = touched[0] = 0;
	table.ntouched = 0;
	rr = 0;
	have_table = 1;
	route_status = ROUTE_FOUND;
	use_backends(2);
	ev_now_update(loop);
	return 0;
}

/* Whatever happened, nothing may be left behind: slot, ID, table reference. */
static int
check_clean(void **state)
{
	(void)state;
	assert_int_equal(query_inflight(), 0);
	assert_int_equal(nreleased, nsent_ok);
	assert_int_equal(table.refs, 1);
	return 0;
}

static int
setup(void **state)
{
	int i;

	(void)state;
	for (i = 0; i < 3; i++) {
		struct sockaddr_in *sin = (struct sockaddr_in *)&backends[i].addr;

		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)(5300 + i));
		sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		backends[i].addrlen = sizeof(*sin);
	}
	router.loop = loop = ev_default_loop(0);
	conf.timeout_ms = TIMEOUT_MS;
	query_init(&router);
	return 0;
}

static void
test_query_goes_to_a_backend_through_its_clients_upstream(void **state)
{
	struct client c = stream_client(&conn_a);

	(void)state;
	dispatch(&c, 0x1234);
	assert_int_equal(nsent, 1);
	assert_true(sent[0].backend == 0 || sent[0].backend == 1);
	assert_int_equal(query_inflight(), 1);
	assert_int_equal(nanswers, 0);
	assert_int_equal(ndone, 0);
	assert_int_equal(bc[sent[0].backend].queries, 1);
	assert_int_equal(rq[0], 1);		/* the route's query is counted */
	/* The upstream's ID is on the wire, the client's kept for the answer. */
	assert_int_equal(DNS_ID(sent[0].q->pkt), sent[0].id);
	assert_int_equal(sent[0].q->client_id, 0x1234);
	deliver(0);
}

static void
test_answer_goes_back_with_the_client_id_restored(void **state)
{
	struct client c = stream_client(&conn_a);
	int b;

	(void)state;
	dispatch(&c, 0x1234);
	b = sent[0].backend;
	deliver(0);
	assert_int_equal(nanswers, 1);
	assert_int_equal(answers[0].id, 0x1234);
	assert_int_equal(answers[0].rcode, DNS_RCODE_NOERROR);
	assert_int_equal(answers[0].len, sizeof(query_pkt));
	assert_true(answers[0].buf[2] & 0x80);	/* the backend's bytes */
	assert_true(answers[0].buf[3] & 0x80);
	assert_memory_equal(answers[0].buf + 4, query_pkt + 4,
	    sizeof(query_pkt) - 4);
	assert_int_equal(ndone, 1);
	assert_ptr_equal(done_conn[0], &conn_a);
	assert_int_equal(nreleased, 1);
	assert_int_equal(bc[b].answered, 1);
	assert_int_equal(bc[b].failed, 0);
	assert_int_equal(bc[b].rcode[RR_NOERROR], 1);
}

static void
test_ended_query_is_gone_for_a_late_reply(void **state)
{
	struct client c = dgram_client(7, 1111);
	struct query *q;
	uint32_t idx;

	(void)state;
	dispatch(&c, 0x1234);
	q = sent[0].q;
	idx = query_index(q);
	deliver(0);
	/* What the upstreams look a reply's query up with finds nothing. */
	assert_null(query_get(idx));
}

static void
test_timeout_retries_on_the_other_backend(void **state)
{
	struct client c = stream_client(&conn_a);
	double start;
	int first;

	(void)state;
	start = ev_time();
	dispatch(&c, 0x1234);
	first = sent[0].backend;
	ev_run(loop, EVRUN_NOWAIT);
	assert_int_equal(nsent, 1);		/* not before its time */
	run_until_sent(2);
	assert_int_equal(nsent, 2);
	assert_true(ev_time() - start >= TIMEOUT_MS / 1000.0 * 0.9);
	assert_int_equal(sent[1].backend, 1 - first);
	assert_ptr_equal(sent[1].q, sent[0].q);
	assert_int_equal(nreleased, 1);		/* the first ID given back */
	assert_int_equal(nanswers, 0);
	assert_int_equal(ndone, 0);
	deliver(1);
	assert_int_equal(nanswers, 1);
	assert_int_equal(answers[0].id, 0x1234);
	assert_int_equal(answers[0].rcode, DNS_RCODE_NOERROR);
	assert_int_equal(ndone, 1);
	/* The first backend failed, but the query was answered. */
	assert_int_equal(bc[first].failed, 1);
	assert_int_equal(bc[first].unanswered, 0);
	assert_int_equal(bc[1 - first].answered, 1);
}

static void
test_servfail_when_the_retry_times_out_too(void **state)
{
	struct client c = stream_client(&conn_b);

	(void)state;
	dispatch(&c, 0x4321);
	run_until_answered(1);
	assert_int_equal(nsent, 2);
	assert_int_equal(sent[1].backend, 1 - sent[0].backend);
	assert_int_equal(nanswers, 1);
	assert_int_equal(answers[0].rcode, DNS_RCODE_SERVFAIL);
	assert_int_equal(answers[0].id, 0x4321);
	assert_ptr_equal(answers[0].conn, &conn_b);
	/* Header and question of the query, as the client sent them. */
	assert_int_equal(answers[0].len, sizeof(query_pkt));
	assert_memory_equal(answers[0].buf + DNS_HDRLEN, query_pkt + DNS_HDRLEN,
	    sizeof(query_pkt) - DNS_HDRLEN);
	assert_int_equal(ndone, 1);
	assert_ptr_equal(done_conn[0], &conn_b);
	assert_int_equal(rcount[RG_SERVFAIL], 1);
	/* Nobody answered: both failed, both as unanswered. */
	assert_int_equal(bc[0].failed, 1);
	assert_int_equal(bc[1].failed, 1);
	assert_int_equal(bc[0].unanswered, 1);
	assert_int_equal(bc[1].unanswered, 1);
	assert_int_equal(bc[0].answered + bc[1].answered, 0);
}

static void
test_servfail_after_one_timeout_without_another_backend(void **state)
{
	struct client c = dgram_client(7, 1111);

	(void)state;
	use_backends(1);
	dispatch(&c, 0x1234);
	run_until_answered(1);
	assert_int_equal(nsent, 1);
	assert_int_equal(nanswers, 1);
	assert_int_equal(answers[0].rcode, DNS_RCODE_SERVFAIL);
	assert_int_equal(answers[0].id, 0x1234);
	assert_int_equal(bc[0].failed, 1);
	assert_int_equal(bc[0].unanswered, 1);
}

/* No free ID, no socket: the router's fault, not the backend's. */
static void
test_busy_upstream_retries_on_the_other_backend_unblamed(void **state)
{
	struct client c = stream_client(&conn_a);
	int first;

	(void)state;
	script[0] = UPSTREAM_BUSY;
	nscript = 1;
	dispatch(&c, 0x1234);
	assert_int_equal(nsent, 2);		/* at once, not after a timeout */
	first = sent[0].backend;
	assert_int_equal(sent[1].backend, 1 - first);
	assert_int_equal(nanswers, 0);
	assert_int_equal(bc[first].queries, 0);	/* taken back */
	assert_int_equal(bc[1 - first].queries, 1);
	deliver(1);
	assert_int_equal(nanswers, 1);
	assert_int_equal(answers[0].id, 0x1234);
	assert_int_equal(answers[0].rcode, DNS_RCODE_NOERROR);
	assert_int_equal(bc[first].failed, 0);
	assert_int_equal(ndone, 1);
}

static void
test_busy_upstream_twice_answers_servfail_at_once(void **state)
{
	struct client c = stream_client(&conn_a);

	(void)state;
	script[0] = script[1] = UPSTREAM_BUSY;
	nscript = 2;
	dispatch(&c, 0x1234);
	assert_int_equal(nsent, 2);
	assert_int_equal(nanswers, 1);
	assert_int_equal(answers[0].rcode, DNS_RCODE_SERVFAIL);
	assert_int_equal(answers[0].id, 0x1234);
	assert_ptr_equal(answers[0].conn, &conn_a);
	assert_int_equal(ndone, 1);
	assert_int_equal(bc[0].queries + bc[1].queries, 0);
	assert_int_equal(bc[0].failed + bc[1].failed, 0);
	assert_int_equal(bc[0].unanswered + bc[1].unanswered, 0);
}

/* Refused or unreachable: the backend's fault, counted against it. */
static void
test_unreachable_backend_retries_and_is_charged(void **state)
{
	struct client c = dgram_client(7, 1111);
	int first;

	(void)state;
	script[0] = UPSTREAM_UNREACHABLE;
	nscript = 1;
	dispatch(&c, 0x1234);
	assert_int_equal(nsent, 2);
	first = sent[0].backend;
	assert_int_equal(sent[1].backend, 1 - first);
	assert_int_equal(bc[first].queries, 1);
	deliver(1);
	assert_int_equal(nanswers, 1);
	assert_int_equal(answers[0].rcode, DNS_RCODE_NOERROR);
	assert_int_equal(bc[first].failed, 1);
	assert_int_equal(bc[first].unanswered, 0);
	assert_int_equal(bc[1 - first].answered, 1);
}

static void
test_unreachable_twice_answers_servfail_and_charges_both(void **state)
{
	struct client c = dgram_client(7, 1111);

	(void)state;
	script[0] = script[1] = UPSTREAM_UNREACHABLE;
	nscript = 2;
	dispatch(&c, 0x1234);
	assert_int_equal(nsent, 2);
	assert_int_equal(nanswers, 1);
	assert_int_equal(answers[0].rcode, DNS_RCODE_SERVFAIL);
	assert_int_equal(answers[0].fd, 7);
	assert_int_equal(answers[0].port, 1111);
	assert_int_equal(bc[0].failed, 1);
	assert_int_equal(bc[1].failed, 1);
	assert_int_equal(bc[0].unanswered, 1);
	assert_int_equal(bc[1].unanswered, 1);
	assert_int_equal(ndone, 0);		/* a datagram client has none */
}

/*
 * Three clients of two kinds, answered in another order than they asked:
 * each answer, and each done, reaches the handle its query came with,
 * even though the caller's handle changed after the dispatch (the query
 * keeps its own copy).
 */
static void
test_answers_go_back_through_the_handle_they_came_with(void **state)
{
	struct client a = stream_client(&conn_a);
	struct client b = dgram_client(7, 1111);
	struct client c = dgram_client(8, 2222);

	(void)state;
	dispatch(&a, 0x0a0a);
	dispatch(&b, 0x0b0b);
	dispatch(&c, 0x0c0c);
	assert_int_equal(nsent, 3);
	/* The transport reuses its handles for the next batch. */
	b = dgram_client(9, 9999);
	c = stream_client(&conn_b);
	deliver(2);
	deliver(0);
	deliver(1);
	assert_int_equal(nanswers, 3);
	assert_int_equal(answers[0].id, 0x0c0c);
	assert_int_equal(answers[0].fd, 8);
	assert_int_equal(answers[0].port, 2222);
	assert_null(answers[0].conn);
	assert_int_equal(answers[1].id, 0x0a0a);
	assert_ptr_equal(answers[1].conn, &conn_a);
	assert_int_equal(answers[2].id, 0x0b0b);
	assert_int_equal(answers[2].fd, 7);
	assert_int_equal(answers[2].port, 1111);
	/* Only the stream client has a done, once. */
	assert_int_equal(ndone, 1);
	assert_ptr_equal(done_conn[0], &conn_a);
}

static void
test_unrouted_queries_are_answered_through_the_handle(void **state)
{
	struct client a = stream_client(&conn_a);
	struct client b = dgram_client(7, 1111);

	(void)state;
	route_status = ROUTE_NONE;
	dispatch(&a, 0x1111);
	route_status = ROUTE_DOWN;
	dispatch(&b, 0x2222);
	route_status = ROUTE_FOUND;
	have_table = 0;
	dispatch(&a, 0x3333);
	assert_int_equal(nsent, 0);
	assert_int_equal(nanswers, 3);
	assert_int_equal(answers[0].rcode, DNS_RCODE_REFUSED);
	assert_int_equal(answers[0].id, 0x1111);
	assert_ptr_equal(answers[0].conn, &conn_a);
	assert_int_equal(answers[1].rcode, DNS_RCODE_SERVFAIL);
	assert_int_equal(answers[1].id, 0x2222);
	assert_int_equal(answers[1].port, 1111);
	assert_int_equal(answers[2].rcode, DNS_RCODE_SERVFAIL);
	assert_int_equal(rcount[RG_REFUSED], 1);
	assert_int_equal(rcount[RG_SERVFAIL], 2);
	/* The stream client hears that each of its queries is over. */
	assert_int_equal(ndone, 2);
}

static void
test_answer_error_goes_through_the_handle(void **state)
{
	struct client b = dgram_client(7, 1111);
	struct dns_question q;

	(void)state;
	assert_int_equal(dns_parse_query(query_pkt, sizeof(query_pkt), &q),
	    DNS_QUERY_OK);
	query_answer_error(query_pkt, sizeof(query_pkt), &q, DNS_RCODE_FORMERR,
	    &b);
	assert_int_equal(nanswers, 1);
	assert_int_equal(answers[0].rcode, DNS_RCODE_FORMERR);
	assert_int_equal(answers[0].id, 0x1234);
	assert_int_equal(answers[0].port, 1111);
	assert_int_equal(rcount[RG_FORMERR], 1);
	assert_int_equal(ndone, 0);	/* not a dispatched query: no done */
}

/* A query longer than the inline buffer travels (and is freed) whole. */
static void
test_long_query_is_forwarded_whole(void **state)
{
	struct client c = dgram_client(7, 1111);
	uint8_t pkt[QUERY_INLINE + 100];
	uint8_t reply[sizeof(pkt)];
	uint8_t *opt = pkt + sizeof(query_pkt);
	size_t pad = sizeof(pkt) - sizeof(query_pkt) - 15;
	struct dns_question q;

	(void)state;
	/* An OPT record with an EDNS padding option (RFC 7830) to fill it. */
	memcpy(pkt, query_pkt, sizeof(query_pkt));
	pkt[11] = 1;					/* ARCOUNT */
	memset(opt, 0, sizeof(pkt) - sizeof(query_pkt));
	opt[2] = 41;					/* type OPT */
	opt[3] = 0x10;					/* 4096 bytes */
	opt[9] = (uint8_t)((pad + 4) >> 8);		/* RDLENGTH */
	opt[10] = (uint8_t)(pad + 4);
	opt[12] = 12;					/* option: padding */
	opt[13] = (uint8_t)(pad >> 8);
	opt[14] = (uint8_t)pad;
	assert_int_equal(dns_parse_query(pkt, sizeof(pkt), &q), DNS_QUERY_OK);
	query_dispatch(pkt, sizeof(pkt), &q, &c);
	assert_int_equal(nsent, 1);
	assert_int_equal(sent[0].q->len, sizeof(pkt));
	assert_memory_equal(sent[0].q->pkt + 2, pkt + 2, sizeof(pkt) - 2);
	memcpy(reply, sent[0].q->pkt, sizeof(reply));
	reply[2] |= 0x80;
	query_deliver(sent[0].q, reply, sizeof(reply));
	assert_int_equal(nanswers, 1);
	assert_int_equal(answers[0].len, sizeof(pkt));
	assert_int_equal(answers[0].id, 0x1234);
	assert_memory_equal(answers[0].buf + 4, pkt + 4, sizeof(pkt) - 4);
}

/*
 * A long query whose copy cannot be allocated: SERVFAIL through its handle,
 * the client's done once, and the slot it had taken free again, with no
 * done of whatever query had the slot before.
 */
static void
test_query_that_cannot_be_copied_answers_servfail(void **state)
{
	struct client a = stream_client(&conn_a);
	struct client b = stream_client(&conn_b);
	uint8_t pkt[QUERY_INLINE + 100];
	uint8_t *opt = pkt + sizeof(query_pkt);
	size_t pad = sizeof(pkt) - sizeof(query_pkt) - 15;
	struct dns_question q;

	(void)state;
	/* A query of conn_a leaves its slot at the head of the free list. */
	dispatch(&a, 0x0a0a);
	deliver(0);
	assert_int_equal(ndone, 1);
	memcpy(pkt, query_pkt, sizeof(query_pkt));
	pkt[11] = 1;
	memset(opt, 0, sizeof(pkt) - sizeof(query_pkt));
	opt[2] = 41;
	opt[3] = 0x10;
	opt[9] = (uint8_t)((pad + 4) >> 8);
	opt[10] = (uint8_t)(pad + 4);
	opt[12] = 12;
	opt[13] = (uint8_t)(pad >> 8);
	opt[14] = (uint8_t)pad;
	assert_int_equal(dns_parse_query(pkt, sizeof(pkt), &q), DNS_QUERY_OK);
	fail_malloc = 1;
	query_dispatch(pkt, sizeof(pkt), &q, &b);
	assert_int_equal(fail_malloc, 0);		/* it was tried */
	assert_int_equal(nsent, 1);
	assert_int_equal(nanswers, 2);
	assert_int_equal(answers[1].rcode, DNS_RCODE_SERVFAIL);
	assert_int_equal(answers[1].id, 0x1234);
	assert_ptr_equal(answers[1].conn, &conn_b);
	assert_int_equal(ndone, 2);
	assert_ptr_equal(done_conn[1], &conn_b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_query_goes_to_a_backend_through_its_clients_upstream, reset, check_clean),
		cmocka_unit_test_setup_teardown(test_answer_goes_back_with_the_client_id_restored, reset, check_clean),
		cmocka_unit_test_setup_teardown(test_ended_query_is_gone_for_a_late_reply, reset, check_clean),
		cmocka_unit_test_setup_teardown(test_timeout_retries_on_the_other_backend, reset, check_clean),
		cmocka_unit_test_setup_teardown(test_servfail_when_the_retry_times_out_too, reset, check_clean),
		cmocka_unit_test_setup_teardown(test_servfail_after_one_timeout_without_another_backend, reset, check_clean),
		cmocka_unit_test_setup_teardown(test_busy_upstream_retries_on_the_other_backend_unblamed, reset, check_clean),
		cmocka_unit_test_setup_teardown(test_busy_upstream_twice_answers_servfail_at_once, reset, check_clean),
		cmocka_unit_test_setup_teardown(test_unreachable_backend_retries_and_is_charged, reset, check_clean),
		cmocka_unit_test_setup_teardown(test_unreachable_twice_answers_servfail_and_charges_both, reset, check_clean),
		cmocka_unit_test_setup_teardown(test_answers_go_back_through_the_handle_they_came_with, reset, check_clean),
		cmocka_unit_test_setup_teardown(test_unrouted_queries_are_answered_through_the_handle, reset, check_clean),
		cmocka_unit_test_setup_teardown(test_answer_error_goes_through_the_handle, reset, check_clean),
		cmocka_unit_test_setup_teardown(test_long_query_is_forwarded_whole, reset, check_clean),
		cmocka_unit_test_setup_teardown(test_query_that_cannot_be_copied_answers_servfail, reset, check_clean),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
