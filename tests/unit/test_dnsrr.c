/*
 * common/dnsrr: walking the records of a backend's message (names
 * decompressed, every offset checked) and writing them into an answer of
 * our own, compressed against the question's name only.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "dnsrr.h"

struct pkt {
	uint8_t	b[4096];
	size_t	len;
};

static void
put8(struct pkt *p, uint8_t v)
{
	assert_true(p->len < sizeof(p->b));
	p->b[p->len++] = v;
}

static void
put16(struct pkt *p, uint16_t v)
{
	put8(p, (uint8_t)(v >> 8));
	put8(p, (uint8_t)v);
}

static void
put32(struct pkt *p, uint32_t v)
{
	put16(p, (uint16_t)(v >> 16));
	put16(p, (uint16_t)v);
}

/* A dotted name ("" the root) in wire form, ending in a pointer to ptr if nonzero. */
static void
put_name(struct pkt *p, const char *name, uint16_t ptr)
{
	const char *s = name, *dot;

	while (*s != '\0') {
		dot = strchr(s, '.');
		size_t n = dot ? (size_t)(dot - s) : strlen(s);

		put8(p, (uint8_t)n);
		for (size_t i = 0; i < n; i++)
			put8(p, (uint8_t)s[i]);
		s += n + (dot != NULL);
	}
	if (ptr)
		put16(p, (uint16_t)(0xc000 | ptr));
	else
		put8(p, 0);
}

static void
put_hdr(struct pkt *p, uint16_t qd, uint16_t an, uint16_t ns, uint16_t ar)
{
	p->len = 0;
	put16(p, 0x4242);
	put8(p, 0x84);		/* QR AA */
	put8(p, 0);
	put16(p, qd);
	put16(p, an);
	put16(p, ns);
	put16(p, ar);
}

/* Reserve the rdlength; fill it in with end_rdata. */
static size_t
start_rr(struct pkt *p, uint16_t type, uint32_t ttl)
{
	put16(p, type);
	put16(p, 1);
	put32(p, ttl);
	put16(p, 0);
	return p->len;
}

static void
end_rdata(struct pkt *p, size_t at)
{
	size_t n = p->len - at;

	p->b[at - 2] = (uint8_t)(n >> 8);
	p->b[at - 1] = (uint8_t)n;
}

/*
 * A transfer message for miek.nl as BIND writes one: question, then SOA,
 * NS, MX and A records whose names point back into the message.
 */
static void
axfr_msg(struct pkt *p)
{
	size_t at;

	put_hdr(p, 1, 5, 0, 0);
	put_name(p, "miek.nl", 0);		/* 12 */
	put16(p, DNS_TYPE_AXFR);
	put16(p, 1);
	put16(p, 0xc00c);			/* SOA owner: miek.nl */
	at = start_rr(p, DNS_TYPE_SOA, 3600);
	put_name(p, "ns1", 12);			/* ns1.miek.nl */
	put_name(p, "hostmaster", 12);
	put32(p, 2024010101);
	put32(p, 7200);
	put32(p, 3600);
	put32(p, 1209600);
	put32(p, 300);
	end_rdata(p, at);
	put16(p, 0xc00c);
	at = start_rr(p, DNS_TYPE_NS, 3600);
	put_name(p, "ns2", 12);
	end_rdata(p, at);
	put16(p, 0xc00c);
	at = start_rr(p, 15, 3600);		/* MX 10 mail.miek.nl */
	put16(p, 10);
	put_name(p, "mail", 12);
	end_rdata(p, at);
	put_name(p, "www", 12);			/* www.miek.nl A */
	at = start_rr(p, DNS_TYPE_A, 60);
	put32(p, 0xc0000201);
	end_rdata(p, at);
	put_name(p, "elsewhere.example", 0);	/* a name outside the zone */
	at = start_rr(p, 5, 60);		/* CNAME www.miek.nl */
	put_name(p, "www", 12);
	end_rdata(p, at);
}

static void
text_of(const struct dns_rr *rr, char *buf)
{
	dns_name_text(rr->owner, buf);
}

static void
test_walks_a_compressed_transfer_message(void **state)
{
	struct pkt p;
	struct dns_rr_iter it;
	struct dns_rr rr;
	char t[DNS_NAME_TEXT_MAX];
	static const char *const owners[5] = {
		"miek.nl.", "miek.nl.", "miek.nl.", "www.miek.nl.",
		"elsewhere.example.",
	};
	static const uint16_t types[5] = { 6, 2, 15, 1, 5 };
	int i;

	(void)state;
	axfr_msg(&p);
	assert_int_equal(dns_rr_iter_init(&it, p.b, p.len), 0);
	for (i = 0; i < 5; i++) {
		assert_int_equal(dns_rr_next(&it, &rr), 1);
		text_of(&rr, t);
		assert_string_equal(t, owners[i]);
		assert_int_equal(rr.type, types[i]);
		assert_int_equal(rr.section, DNS_SECTION_ANSWER);
		if (i == 0)
			assert_int_equal(dns_soa_serial(p.b, p.len, &rr),
			    2024010101);
		else
			assert_int_equal(dns_soa_serial(p.b, p.len, &rr), -1);
	}
	assert_int_equal(dns_rr_next(&it, &rr), 0);
}

/* The records written into our answer read back the same, names and all. */
static void
test_rewritten_records_read_back_the_same(void **state)
{
	struct pkt p, q;
	struct dns_question qq;
	struct dns_writer w;
	struct dns_rr_iter a, b;
	struct dns_rr ra, rb;
	uint8_t out[4096];
	uint8_t n1[DNS_NAME_WIRE_MAX], n2[DNS_NAME_WIRE_MAX];
	int i;

	(void)state;
	axfr_msg(&p);
	/* The client's query: its own case, which the answer keeps. */
	q.len = 0;
	put16(&q, 0x0707);
	put8(&q, 0);
	put8(&q, 0);
	put16(&q, 1);
	put16(&q, 0);
	put16(&q, 0);
	put16(&q, 0);
	put_name(&q, "MiEk.nL", 0);
	put16(&q, DNS_TYPE_AXFR);
	put16(&q, 1);
	assert_int_equal(dns_parse_query(q.b, q.len, &qq), DNS_QUERY_OK);
	assert_int_equal(dns_writer_start(&w, out, sizeof(out), q.b, &qq), 0);

	assert_int_equal(dns_rr_iter_init(&a, p.b, p.len), 0);
	while (dns_rr_next(&a, &ra) == 1)
		assert_int_equal(dns_writer_add(&w, p.b, p.len, &ra), 0);
	assert_int_equal(w.ancount, 5);
	assert_int_equal(DNS_ID(out), 0x0707);
	assert_true(out[2] & 0x80);
	assert_true(out[2] & 0x04);
	assert_memory_equal(out + 12, q.b + 12, qq.end - 12);

	assert_int_equal(dns_rr_iter_init(&a, p.b, p.len), 0);
	assert_int_equal(dns_rr_iter_init(&b, out, w.len), 0);
	for (i = 0; i < 5; i++) {
		size_t oa, ob, la, lb;

		assert_int_equal(dns_rr_next(&a, &ra), 1);
		assert_int_equal(dns_rr_next(&b, &rb), 1);
		assert_int_equal(ra.owner_len, rb.owner_len);
		assert_true(dns_name_equal(ra.owner, rb.owner, ra.owner_len));
		assert_int_equal(ra.type, rb.type);
		assert_int_equal(ra.ttl, rb.ttl);
		if (ra.type == DNS_TYPE_A) {
			assert_int_equal(rb.rdlen, 4);
			assert_memory_equal(p.b + ra.rdoff, out + rb.rdoff, 4);
		}
		if (ra.type == 5 || ra.type == DNS_TYPE_NS) {
			/* The target, decompressed, is the same name. */
			oa = ra.rdoff;
			ob = rb.rdoff;
			la = dns_name_unpack(p.b, p.len, &oa, n1);
			lb = dns_name_unpack(out, w.len, &ob, n2);
			assert_int_equal(la, lb);
			assert_true(dns_name_equal(n1, n2, la));
			assert_int_equal(ob, rb.rdoff + rb.rdlen);
		}
		if (ra.type == DNS_TYPE_SOA)
			assert_int_equal(dns_soa_serial(out, w.len, &rb),
			    2024010101);
	}
	assert_int_equal(dns_rr_next(&b, &rb), 0);
	/* Compressed against the question: smaller than the names written out. */
	assert_true(w.len < p.len + 40);

	/* Reset keeps header and question; a full buffer takes nothing. */
	dns_writer_reset(&w);
	assert_int_equal(w.len, qq.end);
	assert_int_equal(DNS_ANCOUNT(out), 0);
	w.cap = w.len + 5;
	assert_int_equal(dns_rr_iter_init(&a, p.b, p.len), 0);
	assert_int_equal(dns_rr_next(&a, &ra), 1);
	assert_int_equal(dns_writer_add(&w, p.b, p.len, &ra), 1);
	assert_int_equal(w.len, qq.end);
	assert_int_equal(w.ancount, 0);
}

static void
test_pointer_loops_and_forward_pointers_are_refused(void **state)
{
	struct pkt p;
	uint8_t name[DNS_NAME_WIRE_MAX];
	size_t off;

	(void)state;
	/* A pointer to itself. */
	put_hdr(&p, 0, 0, 0, 0);
	put16(&p, 0xc00c);
	off = 12;
	assert_int_equal(dns_name_unpack(p.b, p.len, &off, name), 0);
	/* Two pointers to each other. */
	put_hdr(&p, 0, 0, 0, 0);
	put8(&p, 1);
	put8(&p, 'a');
	put16(&p, 0xc010);	/* 12: "a" -> 16 */
	put16(&p, 0xc00c);	/* 16: -> 12 */
	off = 16;
	assert_int_equal(dns_name_unpack(p.b, p.len, &off, name), 0);
	/* Forward. */
	put_hdr(&p, 0, 0, 0, 0);
	put16(&p, 0xc00e);
	put8(&p, 0);
	off = 12;
	assert_int_equal(dns_name_unpack(p.b, p.len, &off, name), 0);
	/* Cut short, and an extended label type. */
	put_hdr(&p, 0, 0, 0, 0);
	put8(&p, 5);
	put8(&p, 'a');
	off = 12;
	assert_int_equal(dns_name_unpack(p.b, p.len, &off, name), 0);
	put_hdr(&p, 0, 0, 0, 0);
	put8(&p, 0x41);
	put8(&p, 0);
	off = 12;
	assert_int_equal(dns_name_unpack(p.b, p.len, &off, name), 0);
}

static void
test_names_longer_than_255_through_pointers_are_refused(void **state)
{
	struct pkt p;
	uint8_t name[DNS_NAME_WIRE_MAX];
	size_t off, start, prev;
	int i;

	(void)state;
	put_hdr(&p, 0, 0, 0, 0);
	/* Each name: a 60-byte label, then a pointer to the name before. */
	prev = p.len;
	put8(&p, 0);
	for (i = 0; i < 5; i++) {
		start = p.len;
		put8(&p, 60);
		for (int j = 0; j < 60; j++)
			put8(&p, 'x');
		put16(&p, (uint16_t)(0xc000 | prev));
		prev = start;
	}
	off = prev;
	assert_int_equal(dns_name_unpack(p.b, p.len, &off, name), 0);
	/* Four of them make 245 bytes: fine. */
	off = start - 63;
	assert_int_equal(dns_name_unpack(p.b, p.len, &off, name), 4 * 61 + 1);
}

static void
test_malformed_records_end_the_walk(void **state)
{
	struct pkt p;
	struct dns_rr_iter it;
	struct dns_rr rr;
	size_t at;

	(void)state;
	/* An rdlength past the end. */
	put_hdr(&p, 0, 1, 0, 0);
	put_name(&p, "a", 0);
	at = start_rr(&p, DNS_TYPE_A, 1);
	put16(&p, 1);
	p.b[at - 1] = 9;
	assert_int_equal(dns_rr_iter_init(&it, p.b, p.len), 0);
	assert_int_equal(dns_rr_next(&it, &rr), -1);
	/* Fewer records than the header says. */
	put_hdr(&p, 0, 2, 0, 0);
	put_name(&p, "a", 0);
	at = start_rr(&p, DNS_TYPE_A, 1);
	put32(&p, 1);
	end_rdata(&p, at);
	assert_int_equal(dns_rr_iter_init(&it, p.b, p.len), 0);
	assert_int_equal(dns_rr_next(&it, &rr), 1);
	assert_int_equal(dns_rr_next(&it, &rr), -1);
	/* Bytes after the last record. */
	put_hdr(&p, 0, 1, 0, 0);
	put_name(&p, "a", 0);
	at = start_rr(&p, DNS_TYPE_A, 1);
	put32(&p, 1);
	end_rdata(&p, at);
	put8(&p, 0);
	assert_int_equal(dns_rr_iter_init(&it, p.b, p.len), 0);
	assert_int_equal(dns_rr_next(&it, &rr), 1);
	assert_int_equal(dns_rr_next(&it, &rr), -1);
	/* An SOA whose names run past its rdata. */
	put_hdr(&p, 0, 1, 0, 0);
	put_name(&p, "a", 0);
	at = start_rr(&p, DNS_TYPE_SOA, 1);
	put_name(&p, "ns", 0);
	end_rdata(&p, at);
	put_name(&p, "b", 0);	/* read as the second name, outside rdata */
	p.b[7] = 1;
	assert_int_equal(dns_rr_iter_init(&it, p.b, p.len), 0);
	assert_int_equal(dns_rr_next(&it, &rr), 1);
	assert_int_equal(dns_soa_serial(p.b, p.len, &rr), -1);
	/* A header cut short. */
	assert_int_equal(dns_rr_iter_init(&it, p.b, 11), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_walks_a_compressed_transfer_message),
		cmocka_unit_test(test_rewritten_records_read_back_the_same),
		cmocka_unit_test(test_pointer_loops_and_forward_pointers_are_refused),
		cmocka_unit_test(test_names_longer_than_255_through_pointers_are_refused),
		cmocka_unit_test(test_malformed_records_end_the_walk),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
