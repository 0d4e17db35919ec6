/*
 * router/upstream + router/query: queries whose batched send fails are
 * retried on the route's other backend, then answered SERVFAIL, without a
 * batch ever holding more than it was sized for. The real query.c and
 * upstream.c run on a real libev loop; sendbatch() is replaced by one that
 * fails as told, and the router's other layers by recorders.
 */
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <errno.h>
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
#include "sendbatch.h"
#include "table.h"
#include "udp.h"
#include "upstream.h"

/* What main.c would hand the modules. */
static struct ev_loop	*loop;
static struct config	 conf;
static uint32_t		 rcount[REPORT_NGLOBAL];
static struct router	 router = { NULL, &conf, "", rcount, 0 };

/* What the fake sendbatch does, and what it saw. */
static int	 send_errno;		/* 0: all sent, else -send_errno each */
static unsigned	 send_refuse_first;	/* this many ECONNREFUSED before that */
static unsigned	 send_calls, send_max_n, send_msgs;
/* What the fake client side got. */
static unsigned	 answers, servfails;
static unsigned	 answers_flushed;	/* answers queued as of the last udp_flush */
static uint8_t	 last_rcode;

/* The real one sends queued answers; here it records how many were queued. */
void
udp_flush(void)
{
	answers_flushed = answers;
}

void
sendbatch(int fd, struct mmsghdr *m, unsigned n, int *res)
{
	unsigned i;

	(void)fd; (void)m;
	send_calls++;
	send_msgs += n;
	if (n > send_max_n)
		send_max_n = n;
	assert_true(n <= SENDBATCH_MAX);
	for (i = 0; i < n; i++) {
		if (send_refuse_first > 0) {
			send_refuse_first--;
			res[i] = -ECONNREFUSED;
			continue;
		}
		res[i] = send_errno ? -send_errno : (int)m[i].msg_len;
	}
}

static void
client_send(const struct client *c, const uint8_t *buf, size_t len)
{
	(void)c;
	assert_true(len >= DNS_HDRLEN);
	answers++;
	last_rcode = DNS_RCODE(buf);
	if (last_rcode == DNS_RCODE_SERVFAIL)
		servfails++;
}

/* A UDP client as udp.c fills it in. */
static const struct client_ops client_ops = { client_send, NULL, &upstream_udp, NULL };

/* One route with two healthy backends. */
static struct rt_backend backends[2];
static uint32_t		 route_backends[2] = { 0, 1 };
static struct rt_route	 route = { 0, 2, route_backends, (char *)"", 0 };
static struct rt_table	 rt = { 1, 1, 2, 1, backends, &route, NULL };
static struct bcount	 bc[2];
static uint32_t		 rq[1], touched[1];
static uint32_t		 rr;
static struct live_table	 table = { &rt, NULL, &rr, NULL, bc, rq, touched, 0, 1, NULL, NULL };

struct live_table *table_current(void) { return &table; }
void table_ref(struct live_table *t) { t->refs++; }
void table_unref(struct live_table *t) { t->refs--; }

enum route_status
table_route(struct live_table *t, const char *name, size_t len, uint32_t *r)
{
	(void)t; (void)name; (void)len;
	*r = 0;
	return ROUTE_FOUND;
}

long
table_match(struct live_table *t, const char *name, size_t len)
{
	(void)t; (void)name; (void)len;
	return -1;
}

int
table_pick(struct live_table *t, uint32_t r, int exclude)
{
	(void)t; (void)r;
	if (exclude >= 0)
		return exclude == 0 ? 1 : 0;
	return (int)(rr++ % 2);
}

static const uint8_t query_pkt[] = {
	0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0,
	1, 'a', 4, 'm', 'i', 'e', 'k', 2, 'n', 'l', 0, 0, 1, 0, 1,
};

static int
setup(void **state)
{
	int i;

	(void)state;
	for (i = 0; i < 2; i++) {
		struct sockaddr_in *sin = (struct sockaddr_in *)&backends[i].addr;

		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)(5300 + i));
		sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		backends[i].addrlen = sizeof(*sin);
		backends[i].flags = RT_FLAG_UP;
	}
	router.loop = loop = ev_default_loop(0);
	conf.timeout_ms = 1000;
	query_init(&router);
	upstream_init(&router, udp_flush);
	return 0;
}

static void
dispatch(unsigned n)
{
	struct client c = { &client_ops, NULL, 7, sizeof(struct sockaddr_in),
	    { .ss_family = AF_INET } };
	struct dns_question q;
	unsigned i;

	assert_int_equal(dns_parse_query(query_pkt, sizeof(query_pkt), &q),
	    DNS_QUERY_OK);
	for (i = 0; i < n; i++)
		query_dispatch(query_pkt, sizeof(query_pkt), &q, &c);
}

static void
reset(int err)
{
	send_errno = err;
	send_calls = send_max_n = send_msgs = 0;
	answers = servfails = answers_flushed = 0;
}

/*
 * More queries than fit in one batch, every send failing with a full buffer:
 * each is retried once on the other backend and then answered SERVFAIL.
 * Before the fix the retries of a flushed batch were queued into the same
 * batch by the send that had flushed it, past its 64 slots.
 */
static void
test_failed_batches_retry_then_servfail_within_bounds(void **state)
{
	unsigned n = 5 * SENDBATCH_MAX + 7;

	(void)state;
	reset(EAGAIN);
	dispatch(n);
	ev_run(loop, EVRUN_NOWAIT);	/* the prepare watcher flushes the rest */
	assert_true(send_max_n <= SENDBATCH_MAX);
	assert_int_equal(send_msgs, 2 * n);		/* first try + one retry */
	assert_int_equal(servfails, n);
	assert_int_equal(answers, n);
	/* The SERVFAILs leave before the loop blocks, not at the next wakeup. */
	assert_int_equal(answers_flushed, n);
	assert_int_equal(query_inflight(), 0);
	assert_int_equal(table.refs, 1);
	/* A full buffer is the router's own failure, not the backends'. */
	assert_int_equal(bc[0].failed + bc[1].failed, 0);
}

/* A send error the backend is to blame for counts against it. */
static void
test_unreachable_backend_is_charged(void **state)
{
	unsigned n = 3 * SENDBATCH_MAX;

	(void)state;
	memset(bc, 0, sizeof(bc));
	reset(ECONNREFUSED);
	dispatch(n);
	ev_run(loop, EVRUN_NOWAIT);
	assert_true(send_max_n <= SENDBATCH_MAX);
	assert_int_equal(servfails, n);
	assert_int_equal(bc[0].failed + bc[1].failed, 2 * n);
	/* Nobody answered them: every failure is one of an unanswered query. */
	assert_int_equal(bc[0].unanswered + bc[1].unanswered, 2 * n);
	assert_int_equal(query_inflight(), 0);
}

/*
 * A failure the retry then answered is held against the first backend, and
 * not as unanswered; it is counted when the query ends, not before (the
 * controller must not see it as a failure of a query nobody answered).
 */
static void
test_failure_the_other_backend_answered_is_counted_at_the_answer(void **state)
{
	uint8_t reply[sizeof(query_pkt)];
	struct query *q = NULL;
	uint32_t i;
	int first;

	(void)state;
	memset(bc, 0, sizeof(bc));
	reset(0);
	send_refuse_first = 1;
	dispatch(1);
	ev_run(loop, EVRUN_NOWAIT);
	assert_int_equal(send_msgs, 2);
	assert_int_equal(answers, 0);
	for (i = 0; i < QUERY_MAX && q == NULL; i++)
		q = query_get(i);
	assert_non_null(q);
	first = 1 - q->backend;
	assert_int_equal(q->failed_backend, first);
	assert_int_equal(bc[first].queries, 1);
	assert_int_equal(bc[first].failed, 0);		/* not yet */
	memcpy(reply, query_pkt, sizeof(reply));
	reply[2] |= 0x80;				/* QR */
	query_deliver(q, reply, sizeof(reply));
	assert_int_equal(answers, 1);
	assert_int_equal(servfails, 0);
	assert_int_equal(bc[first].failed, 1);
	assert_int_equal(bc[first].unanswered, 0);
	assert_int_equal(bc[1 - first].answered, 1);
	assert_int_equal(bc[1 - first].failed, 0);
	assert_int_equal(query_inflight(), 0);
	assert_int_equal(table.refs, 1);
}

/* Sends that succeed stay in flight, in batches no larger than 64. */
static void
test_successful_sends_are_batched(void **state)
{
	unsigned n = 4 * SENDBATCH_MAX + 1;

	(void)state;
	reset(0);
	dispatch(n);
	ev_run(loop, EVRUN_NOWAIT);
	assert_int_equal(send_msgs, n);
	assert_int_equal(send_max_n, SENDBATCH_MAX);
	assert_int_equal(answers, 0);
	assert_int_equal(query_inflight(), n);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_failed_batches_retry_then_servfail_within_bounds),
		cmocka_unit_test(test_unreachable_backend_is_charged),
		cmocka_unit_test(test_failure_the_other_backend_answered_is_counted_at_the_answer),
		cmocka_unit_test(test_successful_sends_are_batched),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
