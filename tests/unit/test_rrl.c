/*
 * router/rrl: response rate limiting as BIND does it. Accounts per client
 * prefix, a bucket of rate answers per second, debt floored at a window,
 * dropped or slipped answers, a fixed table under a spoofed flood.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include <sys/socket.h>
#include <sys/un.h>
#include <arpa/inet.h>
#include <malloc.h>
#include <math.h>

#include "rrl.h"

#define A	1
#define AAAA	28
#define MX	15

static const uint8_t test_key[16] = "rrl-unit-test-k";

static struct rrl *
make_cf(struct rrl_config *cf)
{
	struct rrl *r = rrl_new_keyed(cf, test_key);

	assert_non_null(r);
	return r;
}

/* A table limiting responses (and so errors and nxdomains) to rate. */
static struct rrl *
make(unsigned rate, unsigned slip)
{
	struct rrl_config cf;

	rrl_config_init(&cf);
	cf.responses_per_second = rate;
	cf.slip = slip;
	return make_cf(&cf);
}

static void
sockaddr_of(const char *ip, struct sockaddr_storage *ss)
{
	struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, ip, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		s4->sin_port = htons(5353);
	} else {
		assert_int_equal(inet_pton(AF_INET6, ip, &s6->sin6_addr), 1);
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(5353);
	}
}

/* "www.example.com" in wire format; returns the length. */
static size_t
wire(const char *name, uint8_t *out)
{
	size_t n = 0, len;
	const char *dot;

	while (*name != '\0') {
		dot = strchr(name, '.');
		len = dot != NULL ? (size_t)(dot - name) : strlen(name);
		out[n++] = (uint8_t)len;
		memcpy(out + n, name, len);
		n += len;
		name += len;
		if (*name == '.')
			name++;
	}
	out[n++] = 0;
	return n;
}

static enum rrl_action
answer(struct rrl *r, const char *ip, const char *name, uint16_t qtype,
    enum rrl_class cls, double now)
{
	struct sockaddr_storage ss;
	uint8_t qname[256];
	size_t len;

	sockaddr_of(ip, &ss);
	len = wire(name, qname);
	return rrl_check(r, (struct sockaddr *)&ss, qname, len, qtype, cls, now);
}

/* How many of n answers, all at now, are sent. */
static unsigned
sent(struct rrl *r, const char *ip, const char *name, uint16_t qtype,
    enum rrl_class cls, double now, unsigned n)
{
	unsigned k, ok = 0;

	for (k = 0; k < n; k++)
		if (answer(r, ip, name, qtype, cls, now) == RRL_SEND)
			ok++;
	return ok;
}

static unsigned
sent_a(struct rrl *r, const char *ip, double now, unsigned n)
{
	return sent(r, ip, "www.example.com", A, RRL_RESPONSE, now, n);
}

static void
test_answers_at_the_rate_are_never_limited(void **state)
{
	struct rrl *r = make(5, 2);
	int k;

	(void)state;
	/* Evenly spread, and in bursts of five at each second. */
	for (k = 0; k < 300; k++)
		assert_int_equal(answer(r, "192.0.2.1", "www.example.com", A,
		    RRL_RESPONSE, 1000.0 + k * 0.2), RRL_SEND);
	for (k = 0; k < 60; k++)
		assert_int_equal(sent_a(r, "198.51.100.1", 2000.0 + k, 5), 5);
	assert_int_equal(rrl_stats(r)->limited, 0);
	rrl_free(r);
}

static void
test_excess_within_a_second_is_limited(void **state)
{
	struct rrl *r = make(5, 2);

	(void)state;
	assert_int_equal(sent_a(r, "192.0.2.1", 1000.0, 20), 5);
	assert_int_equal(rrl_stats(r)->limited, 15);
	assert_int_equal(rrl_stats(r)->dropped + rrl_stats(r)->slipped, 15);
	rrl_free(r);
}

static void
test_a_seconds_worth_is_sent_again_after_a_second_of_quiet(void **state)
{
	struct rrl *r = make(5, 2);

	(void)state;
	assert_int_equal(sent_a(r, "192.0.2.1", 1000.0, 5), 5);
	assert_int_equal(sent_a(r, "192.0.2.1", 1000.5, 5), 2);
	assert_int_equal(sent_a(r, "198.51.100.1", 2000.0, 5), 5);
	assert_int_equal(sent_a(r, "198.51.100.1", 2001.0, 6), 5);
	rrl_free(r);
}

static void
test_limited_answers_are_charged_as_debt(void **state)
{
	struct rrl *r = make(5, 2);

	(void)state;
	/* 20 answers leave a debt of 15: three seconds to repay. */
	assert_int_equal(sent_a(r, "192.0.2.1", 1000.0, 20), 5);
	assert_int_equal(sent_a(r, "192.0.2.1", 1003.0, 1), 0);
	assert_int_equal(sent_a(r, "198.51.100.1", 2000.0, 20), 5);
	assert_int_equal(sent_a(r, "198.51.100.1", 2004.0, 6), 5);
	rrl_free(r);
}

static void
test_slip_2_alternates_slip_and_drop(void **state)
{
	struct rrl *r = make(1, 2);
	int k;

	(void)state;
	assert_int_equal(sent_a(r, "192.0.2.1", 1000.0, 1), 1);
	for (k = 0; k < 10; k++)
		assert_int_equal(answer(r, "192.0.2.1", "www.example.com", A,
		    RRL_RESPONSE, 1000.0), k % 2 == 0 ? RRL_SLIP : RRL_DROP);
	assert_int_equal(rrl_stats(r)->slipped, 5);
	assert_int_equal(rrl_stats(r)->dropped, 5);
	rrl_free(r);
}

static void
test_slip_3_slips_the_first_of_every_three(void **state)
{
	struct rrl *r = make(1, 3);
	int k;

	(void)state;
	assert_int_equal(sent_a(r, "192.0.2.1", 1000.0, 1), 1);
	for (k = 0; k < 9; k++)
		assert_int_equal(answer(r, "192.0.2.1", "www.example.com", A,
		    RRL_RESPONSE, 1000.0), k % 3 == 0 ? RRL_SLIP : RRL_DROP);
	rrl_free(r);
}

static void
test_slip_0_never_slips(void **state)
{
	struct rrl *r = make(1, 0);
	int k;

	(void)state;
	assert_int_equal(sent_a(r, "192.0.2.1", 1000.0, 1), 1);
	for (k = 0; k < 10; k++)
		assert_int_equal(answer(r, "192.0.2.1", "www.example.com", A,
		    RRL_RESPONSE, 1000.0), RRL_DROP);
	assert_int_equal(rrl_stats(r)->slipped, 0);
	rrl_free(r);
}

static void
test_slip_1_always_slips(void **state)
{
	struct rrl *r = make(1, 1);
	int k;

	(void)state;
	assert_int_equal(sent_a(r, "192.0.2.1", 1000.0, 1), 1);
	for (k = 0; k < 10; k++)
		assert_int_equal(answer(r, "192.0.2.1", "www.example.com", A,
		    RRL_RESPONSE, 1000.0), RRL_SLIP);
	assert_int_equal(rrl_stats(r)->dropped, 0);
	rrl_free(r);
}

static void
test_slip_count_starts_over_when_the_account_is_full(void **state)
{
	struct rrl *r = make(1, 2);

	(void)state;
	/* After one SLIP a DROP is due; a full account slips first again. */
	assert_int_equal(sent_a(r, "192.0.2.1", 1000.0, 1), 1);
	assert_int_equal(answer(r, "192.0.2.1", "www.example.com", A,
	    RRL_RESPONSE, 1000.0), RRL_SLIP);
	assert_int_equal(sent_a(r, "192.0.2.1", 1100.0, 1), 1);
	assert_int_equal(answer(r, "192.0.2.1", "www.example.com", A,
	    RRL_RESPONSE, 1100.0), RRL_SLIP);
	rrl_free(r);
}

static void
test_clients_in_one_ipv4_24_share_an_account(void **state)
{
	struct rrl *r = make(5, 2);

	(void)state;
	assert_int_equal(sent_a(r, "192.0.2.1", 1000.0, 3), 3);
	assert_int_equal(sent_a(r, "192.0.2.200", 1000.0, 3), 2);
	assert_int_equal(sent_a(r, "192.0.3.1", 1000.0, 5), 5);
	rrl_free(r);
}

static void
test_ipv4_mapped_ipv6_client_is_its_ipv4_client(void **state)
{
	struct rrl *r = make(5, 2);

	(void)state;
	assert_int_equal(sent_a(r, "192.0.2.1", 1000.0, 3), 3);
	assert_int_equal(sent_a(r, "::ffff:192.0.2.99", 1000.0, 3), 2);
	rrl_free(r);
}

static void
test_clients_in_one_ipv6_56_share_an_account(void **state)
{
	struct rrl *r = make(5, 2);

	(void)state;
	assert_int_equal(sent_a(r, "2001:db8:0:1::1", 1000.0, 3), 3);
	assert_int_equal(sent_a(r, "2001:db8:0:ff:ffff::2", 1000.0, 3), 2);
	/* The next /56 (2001:db8:0:100::/56) is another account. */
	assert_int_equal(sent_a(r, "2001:db8:0:100::1", 1000.0, 5), 5);
	rrl_free(r);
}

static void
test_prefix_lengths_are_configurable(void **state)
{
	struct rrl_config cf;
	struct rrl *r;

	(void)state;
	rrl_config_init(&cf);
	cf.responses_per_second = 5;
	cf.ipv4_prefix_length = 32;
	cf.ipv6_prefix_length = 0;
	r = make_cf(&cf);
	assert_int_equal(sent_a(r, "192.0.2.1", 1000.0, 5), 5);
	assert_int_equal(sent_a(r, "192.0.2.2", 1000.0, 5), 5);
	/* /0: every IPv6 client in one account. */
	assert_int_equal(sent_a(r, "2001:db8::1", 1000.0, 3), 3);
	assert_int_equal(sent_a(r, "2a00::1", 1000.0, 3), 2);
	rrl_free(r);

	cf.ipv6_prefix_length = 128;
	cf.ipv4_prefix_length = 0;
	r = make_cf(&cf);
	assert_int_equal(sent_a(r, "2001:db8::1", 1000.0, 5), 5);
	assert_int_equal(sent_a(r, "2001:db8::2", 1000.0, 5), 5);
	assert_int_equal(sent_a(r, "192.0.2.1", 1000.0, 3), 3);
	assert_int_equal(sent_a(r, "203.0.113.1", 1000.0, 3), 2);
	rrl_free(r);
}

static void
test_names_and_types_are_separate_response_accounts(void **state)
{
	struct rrl *r = make(5, 2);
	const char *ip = "192.0.2.1";

	(void)state;
	assert_int_equal(sent(r, ip, "www.example.com", A, RRL_RESPONSE, 1000.0, 9), 5);
	assert_int_equal(sent(r, ip, "www.example.com", AAAA, RRL_RESPONSE, 1000.0, 5), 5);
	assert_int_equal(sent(r, ip, "mail.example.com", A, RRL_RESPONSE, 1000.0, 5), 5);
	assert_int_equal(sent(r, ip, "example.com", MX, RRL_RESPONSE, 1000.0, 5), 5);
	rrl_free(r);
}

static void
test_name_case_does_not_split_an_account(void **state)
{
	struct rrl *r = make(5, 2);
	const char *ip = "192.0.2.1";

	(void)state;
	assert_int_equal(sent(r, ip, "www.example.com", A, RRL_RESPONSE, 1000.0, 3), 3);
	assert_int_equal(sent(r, ip, "WwW.ExAmPlE.CoM", A, RRL_RESPONSE, 1000.0, 3), 2);
	rrl_free(r);
}

static void
test_errors_from_a_prefix_share_one_account(void **state)
{
	struct rrl *r = make(5, 2);
	const char *ip = "192.0.2.1";

	(void)state;
	assert_int_equal(sent(r, ip, "a.example.com", A, RRL_ERROR, 1000.0, 3), 3);
	assert_int_equal(sent(r, "192.0.2.9", "b.example.net", MX, RRL_ERROR,
	    1000.0, 3), 2);
	/* The answers and nxdomains of that prefix are other accounts. */
	assert_int_equal(sent(r, ip, "a.example.com", A, RRL_RESPONSE, 1000.0, 5), 5);
	assert_int_equal(sent(r, ip, "a.example.com", A, RRL_NXDOMAIN, 1000.0, 5), 5);
	rrl_free(r);
}

static void
test_nxdomains_from_a_prefix_share_one_account(void **state)
{
	struct rrl *r = make(5, 2);
	char name[64];
	int k;

	(void)state;
	/* A random-name flood is one account, not one per name. */
	for (k = 0; k < 5; k++) {
		snprintf(name, sizeof(name), "r%d.example.com", k);
		assert_int_equal(answer(r, "192.0.2.1", name, A, RRL_NXDOMAIN,
		    1000.0), RRL_SEND);
	}
	for (k = 5; k < 50; k++) {
		snprintf(name, sizeof(name), "r%d.example.com", k);
		assert_int_not_equal(answer(r, "192.0.2.1", name, AAAA,
		    RRL_NXDOMAIN, 1000.0), RRL_SEND);
	}
	assert_int_equal(sent(r, "192.0.2.1", "x.example.com", A, RRL_ERROR,
	    1000.0, 5), 5);
	rrl_free(r);
}

static void
test_error_and_nxdomain_rates_default_to_the_response_rate(void **state)
{
	struct rrl_config cf;
	struct rrl *r;

	(void)state;
	r = make(4, 2);
	assert_int_equal(sent(r, "192.0.2.1", "x.example", A, RRL_ERROR, 1000.0, 9), 4);
	assert_int_equal(sent(r, "192.0.2.1", "x.example", A, RRL_NXDOMAIN, 1000.0, 9), 4);
	rrl_free(r);

	rrl_config_init(&cf);
	cf.responses_per_second = 4;
	cf.errors_per_second = 2;
	cf.nxdomains_per_second = 7;
	r = make_cf(&cf);
	assert_int_equal(sent(r, "192.0.2.1", "x.example", A, RRL_ERROR, 1000.0, 9), 2);
	assert_int_equal(sent(r, "192.0.2.1", "x.example", A, RRL_NXDOMAIN, 1000.0, 9), 7);
	assert_int_equal(sent(r, "192.0.2.1", "x.example", A, RRL_RESPONSE, 1000.0, 9), 4);
	rrl_free(r);
}

static void
test_a_rate_of_0_does_not_limit_that_class(void **state)
{
	struct rrl_config cf;
	struct rrl *r;

	(void)state;
	rrl_config_init(&cf);
	r = make_cf(&cf);
	assert_int_equal(sent(r, "192.0.2.1", "x.example", A, RRL_RESPONSE, 1000.0, 500), 500);
	assert_int_equal(sent(r, "192.0.2.1", "x.example", A, RRL_ERROR, 1000.0, 500), 500);
	rrl_free(r);

	cf.errors_per_second = 3;
	r = make_cf(&cf);
	assert_int_equal(sent(r, "192.0.2.1", "x.example", A, RRL_RESPONSE, 1000.0, 500), 500);
	assert_int_equal(sent(r, "192.0.2.1", "x.example", A, RRL_NXDOMAIN, 1000.0, 500), 500);
	assert_int_equal(sent(r, "192.0.2.1", "x.example", A, RRL_ERROR, 1000.0, 500), 3);
	rrl_free(r);
}

static void
test_log_only_never_limits_but_counts_would_limit(void **state)
{
	struct rrl_config cf;
	struct rrl *r;

	(void)state;
	rrl_config_init(&cf);
	cf.responses_per_second = 5;
	cf.log_only = 1;
	r = make_cf(&cf);
	assert_int_equal(sent_a(r, "192.0.2.1", 1000.0, 20), 20);
	assert_int_equal(rrl_stats(r)->would_limit, 15);
	assert_int_equal(rrl_stats(r)->limited, 15);
	assert_int_equal(rrl_stats(r)->dropped, 0);
	assert_int_equal(rrl_stats(r)->slipped, 0);
	rrl_free(r);
}

static void
test_other_address_families_are_never_limited(void **state)
{
	struct rrl *r = make(1, 2);
	struct sockaddr_un un;
	int k;

	(void)state;
	memset(&un, 0, sizeof(un));
	un.sun_family = AF_UNIX;
	for (k = 0; k < 10; k++)
		assert_int_equal(rrl_check(r, (struct sockaddr *)&un, NULL, 0, A,
		    RRL_RESPONSE, 1000.0), RRL_SEND);
	assert_int_equal(rrl_check(r, NULL, NULL, 0, A, RRL_RESPONSE, 1000.0),
	    RRL_SEND);
	rrl_free(r);
}

static void
test_debt_is_floored_so_recovery_takes_one_window(void **state)
{
	struct rrl *r = make(5, 2);
	double t = 0;
	int k;

	(void)state;
	/* 100 s at 128 answers a second: 12,300 answers of debt, unfloored. */
	for (k = 0; k < 12800; k++) {
		t = 1000.0 + k / 128.0;
		answer(r, "192.0.2.1", "www.example.com", A, RRL_RESPONSE, t);
		answer(r, "198.51.100.1", "www.example.com", A, RRL_RESPONSE, t);
	}
	/* Still in debt well into the window (it was not forgotten)... */
	assert_int_equal(sent_a(r, "192.0.2.1", t + 13.5, 1), 0);
	/* ...and a full second's worth once the window has passed. */
	assert_int_equal(sent_a(r, "198.51.100.1", t + 15.0, 6), 5);
	rrl_free(r);
}

static void
test_a_clock_going_backwards_stands_still(void **state)
{
	struct rrl *r = make(5, 2);

	(void)state;
	assert_int_equal(sent_a(r, "192.0.2.1", 1000.0, 5), 5);
	assert_int_equal(sent_a(r, "192.0.2.1", 900.0, 1), 0);
	assert_int_equal(sent_a(r, "192.0.2.1", NAN, 1), 0);
	assert_int_equal(sent_a(r, "192.0.2.1", INFINITY, 1), 0);
	/* 1002, not 1001: the refused answers above were charged. */
	assert_int_equal(sent_a(r, "192.0.2.1", 1002.0, 6), 5);
	rrl_free(r);
}

static void
test_idle_accounts_are_reused_without_eviction(void **state)
{
	struct rrl_config cf;
	struct rrl *r;
	char ip[32];
	size_t n, k;

	(void)state;
	rrl_config_init(&cf);
	cf.responses_per_second = 5;
	cf.table_size = 1;	/* rounded up to one set */
	r = make_cf(&cf);
	n = rrl_entries(r);
	assert_int_equal(n, 8);
	for (k = 0; k < n; k++) {
		snprintf(ip, sizeof(ip), "192.0.%zu.1", k);
		assert_int_equal(sent_a(r, ip, 1000.0, 1), 1);
	}
	assert_int_equal(rrl_stats(r)->evictions, 0);
	assert_int_equal(sent_a(r, "203.0.113.1", 1000.0, 1), 1);
	assert_int_equal(rrl_stats(r)->evictions, 1);
	/* A second later all are full again: taking their place forgets nothing. */
	for (k = 100; k < 100 + 2 * n; k++) {
		snprintf(ip, sizeof(ip), "192.0.%zu.1", k);
		assert_int_equal(sent_a(r, ip, 1001.0 + k, 1), 1);
	}
	assert_int_equal(rrl_stats(r)->evictions, 1);
	rrl_free(r);
}

/*
 * A legitimate client at half the rate and a victim whose address is
 * spoofed at ten times the rate for 10 s; from the first second on, if
 * spoofed, 900,000 answers to distinct spoofed /24s into 1,024 accounts
 * (ten times more live accounts than places). The victim's account is in
 * debt by then: one still shallow is forgotten like the flood's, and only
 * a table sized for the flood would keep it. Returns what each was sent.
 */
static void
flood(struct rrl *r, int spoofed, unsigned *legit_sent, unsigned *victim_sent)
{
	struct sockaddr_in sin;
	double now;
	uint32_t i;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	*legit_sent = *victim_sent = 0;
	for (i = 0; i < 1000000; i++) {
		now = 1000.0 + i * 1e-5;
		if (spoofed && i >= 100000) {
			sin.sin_addr.s_addr = htonl(0x0a000000u + (i << 8));
			rrl_check(r, (struct sockaddr *)&sin,
			    (const uint8_t *)"\3www\7example\3com", 17, A,
			    RRL_RESPONSE, now);
		}
		if (i % 20000 == 0)
			*legit_sent += sent_a(r, "198.51.100.7", now, 1);
		if (i % 1000 == 0)
			*victim_sent += sent_a(r, "203.0.113.9", now, 1);
	}
}

static void
test_spoofed_flood_keeps_memory_fixed_and_spares_real_clients(void **state)
{
	struct rrl_config cf;
	struct rrl *r;
	size_t mem;
	unsigned legit, victim, legit_quiet, victim_quiet;
#ifdef __GLIBC__
	struct mallinfo2 before, after;
#endif

	(void)state;
	rrl_config_init(&cf);
	cf.responses_per_second = 10;
	cf.table_size = 1024;

	r = make_cf(&cf);
	flood(r, 0, &legit_quiet, &victim_quiet);
	rrl_free(r);
	assert_int_equal(legit_quiet, 50);
	assert_in_range(victim_quiet, 10, 30);

	r = make_cf(&cf);
	mem = rrl_memory(r);
#ifdef __GLIBC__
	before = mallinfo2();
#endif
	flood(r, 1, &legit, &victim);
#ifdef __GLIBC__
	after = mallinfo2();
	assert_int_equal(before.uordblks, after.uordblks);
	assert_int_equal(before.hblkhd, after.hblkhd);
#endif
	assert_int_equal(rrl_memory(r), mem);
	assert_int_equal(rrl_entries(r), 1024);
	/* Nearly every spoofed answer needed a place a live account held. */
	assert_true(rrl_stats(r)->evictions > 850000);
	/* Never limited at half the rate... */
	assert_int_equal(legit, legit_quiet);
	/* ...and the victim's debt was not washed out by the flood. */
	assert_int_equal(victim, victim_quiet);
	rrl_free(r);
}

static void
test_long_names_are_cut_not_overrun(void **state)
{
	struct rrl *r = make(2, 2);
	struct sockaddr_storage ss;
	uint8_t big[1000];

	(void)state;
	sockaddr_of("192.0.2.1", &ss);
	memset(big, 'a', sizeof(big));
	assert_int_equal(rrl_check(r, (struct sockaddr *)&ss, big, sizeof(big),
	    A, RRL_RESPONSE, 1000.0), RRL_SEND);
	/* Only the first 255 bytes name the account. */
	big[999] = 'b';
	assert_int_equal(rrl_check(r, (struct sockaddr *)&ss, big, sizeof(big),
	    A, RRL_RESPONSE, 1000.0), RRL_SEND);
	assert_int_not_equal(rrl_check(r, (struct sockaddr *)&ss, big, 255,
	    A, RRL_RESPONSE, 1000.0), RRL_SEND);
	rrl_free(r);
}

static void
test_bad_configurations_are_refused(void **state)
{
	struct rrl_config cf, good;
	const char *why;

	(void)state;
	rrl_config_init(&good);
	assert_int_equal(good.window, 15);
	assert_int_equal(good.slip, 2);
	assert_int_equal(good.ipv4_prefix_length, 24);
	assert_int_equal(good.ipv6_prefix_length, 56);
	assert_int_equal(good.table_size, 65536);
	assert_int_equal(rrl_config_check(&good, &why), 0);

#define REFUSED(field, value) do {					\
	cf = good;							\
	cf.field = (value);						\
	assert_int_equal(rrl_config_check(&cf, &why), -1);		\
	assert_non_null(why);						\
	assert_null(rrl_new(&cf));					\
} while (0)
	REFUSED(window, 0);
	REFUSED(window, 3601);
	REFUSED(slip, 11);
	REFUSED(ipv4_prefix_length, 33);
	REFUSED(ipv6_prefix_length, 129);
	REFUSED(table_size, 0);
	REFUSED(table_size, RRL_MAX_ENTRIES + 1);
	REFUSED(responses_per_second, RRL_MAX_RATE + 1);
	REFUSED(errors_per_second, RRL_MAX_RATE + 1);
	REFUSED(nxdomains_per_second, RRL_MAX_RATE + 1);
#undef REFUSED
	rrl_free(NULL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_answers_at_the_rate_are_never_limited),
		cmocka_unit_test(test_excess_within_a_second_is_limited),
		cmocka_unit_test(test_a_seconds_worth_is_sent_again_after_a_second_of_quiet),
		cmocka_unit_test(test_limited_answers_are_charged_as_debt),
		cmocka_unit_test(test_slip_2_alternates_slip_and_drop),
		cmocka_unit_test(test_slip_3_slips_the_first_of_every_three),
		cmocka_unit_test(test_slip_0_never_slips),
		cmocka_unit_test(test_slip_1_always_slips),
		cmocka_unit_test(test_slip_count_starts_over_when_the_account_is_full),
		cmocka_unit_test(test_clients_in_one_ipv4_24_share_an_account),
		cmocka_unit_test(test_ipv4_mapped_ipv6_client_is_its_ipv4_client),
		cmocka_unit_test(test_clients_in_one_ipv6_56_share_an_account),
		cmocka_unit_test(test_prefix_lengths_are_configurable),
		cmocka_unit_test(test_names_and_types_are_separate_response_accounts),
		cmocka_unit_test(test_name_case_does_not_split_an_account),
		cmocka_unit_test(test_errors_from_a_prefix_share_one_account),
		cmocka_unit_test(test_nxdomains_from_a_prefix_share_one_account),
		cmocka_unit_test(test_error_and_nxdomain_rates_default_to_the_response_rate),
		cmocka_unit_test(test_a_rate_of_0_does_not_limit_that_class),
		cmocka_unit_test(test_log_only_never_limits_but_counts_would_limit),
		cmocka_unit_test(test_other_address_families_are_never_limited),
		cmocka_unit_test(test_debt_is_floored_so_recovery_takes_one_window),
		cmocka_unit_test(test_a_clock_going_backwards_stands_still),
		cmocka_unit_test(test_idle_accounts_are_reused_without_eviction),
		cmocka_unit_test(test_spoofed_flood_keeps_memory_fixed_and_spares_real_clients),
		cmocka_unit_test(test_long_names_are_cut_not_overrun),
		cmocka_unit_test(test_bad_configurations_are_refused),
	};

	return cmocka_run_group_tests_name("rrl", tests, NULL, NULL);
}
