/*
 * common/dnswire: reading the question from untrusted packets, building
 * error answers, matching replies to queries, type/class mnemonics.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "dnswire.h"

#define QID	0x1234

struct pkt {
	uint8_t	b[1024];
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
put_bytes(struct pkt *p, const void *d, size_t n)
{
	assert_true(p->len + n <= sizeof(p->b));
	memcpy(p->b + p->len, d, n);
	p->len += n;
}

/* Header: ID QID, RD set, opcode QUERY, the given section counts. */
static void
put_hdr(struct pkt *p, uint16_t qd, uint16_t an, uint16_t ns, uint16_t ar)
{
	p->len = 0;
	put16(p, QID);
	put8(p, 0x01);		/* QR=0 opcode=0 AA=0 TC=0 RD=1 */
	put8(p, 0x00);
	put16(p, qd);
	put16(p, an);
	put16(p, ns);
	put16(p, ar);
}

/* A dotted name without escapes ("" or "." is the root) in wire form. */
static void
put_name(struct pkt *p, const char *name)
{
	const char *s = name;

	while (*s != '\0' && strcmp(s, ".") != 0) {
		const char *dot = strchr(s, '.');
		size_t n = dot ? (size_t)(dot - s) : strlen(s);

		put8(p, (uint8_t)n);
		put_bytes(p, s, n);
		s += n;
		if (*s == '.')
			s++;
	}
	put8(p, 0);
}

/* A standard query for name/type/class with no other records. */
static void
make_query(struct pkt *p, const char *name, uint16_t type, uint16_t cls)
{
	put_hdr(p, 1, 0, 0, 0);
	put_name(p, name);
	put16(p, type);
	put16(p, cls);
}

/* The OPT pseudo-RR of an EDNS query: root owner, 4096 bytes, DO clear. */
static void
put_opt(struct pkt *p)
{
	put8(p, 0);
	put16(p, DNS_TYPE_OPT);
	put16(p, 4096);
	put16(p, 0);
	put16(p, 0);
	put16(p, 0);
}

static enum dns_verdict
parse(const struct pkt *p, struct dns_question *q)
{
	memset(q, 0xa5, sizeof(*q));
	return dns_parse_query(p->b, p->len, q);
}

/* Parse a name given as raw label bytes (wire form without the root). */
static enum dns_verdict
parse_wire_name(const void *labels, size_t n, struct dns_question *q)
{
	struct pkt p;

	put_hdr(&p, 1, 0, 0, 0);
	put_bytes(&p, labels, n);
	put8(&p, 0);
	put16(&p, DNS_TYPE_A);
	put16(&p, DNS_CLASS_IN);
	return parse(&p, q);
}

/* dns_parse_query: what gets dropped */

static void
test_parse_empty_packet_is_dropped(void **state)
{
	uint8_t b[1] = { 0 };
	struct dns_question q;

	(void)state;
	assert_int_equal(dns_parse_query(b, 0, &q), DNS_QUERY_DROP);
	assert_int_equal(q.has_question, 0);
}

static void
test_parse_header_of_11_bytes_is_dropped(void **state)
{
	struct pkt p;
	struct dns_question q;
	uint8_t *b;

	(void)state;
	make_query(&p, "a.miek.nl.", DNS_TYPE_A, DNS_CLASS_IN);
	/* Exactly 11 bytes on the heap, so a read past them is caught. */
	b = malloc(11);
	assert_non_null(b);
	memcpy(b, p.b, 11);
	assert_int_equal(dns_parse_query(b, 11, &q), DNS_QUERY_DROP);
	assert_int_equal(q.has_question, 0);
	free(b);
}

static void
test_parse_response_is_dropped(void **state)
{
	struct pkt p;
	struct dns_question q;

	(void)state;
	make_query(&p, "a.miek.nl.", DNS_TYPE_A, DNS_CLASS_IN);
	p.b[2] |= 0x80;
	assert_int_equal(parse(&p, &q), DNS_QUERY_DROP);
}

/* dns_parse_query: NOTIMP and FORMERR */

static void
test_parse_opcode_other_than_query_is_notimp(void **state)
{
	struct pkt p;
	struct dns_question q;
	unsigned op;

	(void)state;
	for (op = 1; op < 16; op++) {
		make_query(&p, "a.miek.nl.", DNS_TYPE_A, DNS_CLASS_IN);
		p.b[2] = (uint8_t)(op << 3 | 0x01);
		if (op == DNS_OPCODE_NOTIFY || op == DNS_OPCODE_UPDATE) {
			/* Routed: their question (zone section) is read. */
			assert_int_equal(parse(&p, &q), op == DNS_OPCODE_NOTIFY ?
			    DNS_QUERY_NOTIFY : DNS_QUERY_UPDATE);
			assert_int_equal(q.has_question, 1);
			assert_string_equal(q.text, "a.miek.nl.");
			continue;
		}
		assert_int_equal(parse(&p, &q), DNS_QUERY_NOTIMP);
		assert_int_equal(q.has_question, 0);
	}
}

static void
test_parse_qdcount_0_is_formerr(void **state)
{
	struct pkt p;
	struct dns_question q;

	(void)state;
	put_hdr(&p, 0, 0, 0, 0);
	assert_int_equal(parse(&p, &q), DNS_QUERY_FORMERR);
	assert_int_equal(q.has_question, 0);
}

static void
test_parse_qdcount_2_is_formerr(void **state)
{
	struct pkt p;
	struct dns_question q;

	(void)state;
	put_hdr(&p, 2, 0, 0, 0);
	put_name(&p, "a.miek.nl.");
	put16(&p, DNS_TYPE_A);
	put16(&p, DNS_CLASS_IN);
	put_name(&p, "b.miek.nl.");
	put16(&p, DNS_TYPE_A);
	put16(&p, DNS_CLASS_IN);
	assert_int_equal(parse(&p, &q), DNS_QUERY_FORMERR);
	assert_int_equal(q.has_question, 0);
}

static void
test_parse_label_of_63_bytes_is_accepted(void **state)
{
	uint8_t w[64];
	struct dns_question q;

	(void)state;
	w[0] = 63;
	memset(w + 1, 'x', 63);
	assert_int_equal(parse_wire_name(w, sizeof(w), &q), DNS_QUERY_OK);
	assert_int_equal(q.text_len, 64);
}

static void
test_parse_label_type_0x40_is_formerr(void **state)
{
	/* 0x40: the obsolete extended label type (RFC 6891 removed it). */
	uint8_t w[65];
	struct dns_question q;

	(void)state;
	w[0] = 0x40;
	memset(w + 1, 'x', 64);
	assert_int_equal(parse_wire_name(w, sizeof(w), &q), DNS_QUERY_FORMERR);
	assert_int_equal(q.has_question, 0);
}

static void
test_parse_label_type_0x80_is_formerr(void **state)
{
	/* Followed by 0x80 bytes, so only the label type can reject it. */
	uint8_t w[1 + 0x80];
	struct dns_question q;

	(void)state;
	w[0] = 0x80;
	memset(w + 1, 'x', 0x80);
	assert_int_equal(parse_wire_name(w, sizeof(w), &q), DNS_QUERY_FORMERR);
	assert_int_equal(q.has_question, 0);
}

static void
test_parse_compression_pointer_in_question_is_formerr(void **state)
{
	/*
	 * "a" then a pointer back to offset 12 (a loop if it were followed),
	 * then enough bytes that reading 0xc0 as a length would still fit.
	 */
	uint8_t w[3 + 192];
	struct dns_question q;

	(void)state;
	w[0] = 1;
	w[1] = 'a';
	w[2] = 0xc0;
	w[3] = 0x0c;
	memset(w + 4, 'x', sizeof(w) - 4);
	assert_int_equal(parse_wire_name(w, sizeof(w), &q), DNS_QUERY_FORMERR);
	assert_int_equal(q.has_question, 0);
}

/* 255 wire bytes in all: three 63-byte labels, one of n bytes, the root. */
static void
put_long_name(struct pkt *p, size_t last, uint8_t fill)
{
	uint8_t l[63];
	int i;

	memset(l, fill, sizeof(l));
	for (i = 0; i < 3; i++) {
		put8(p, 63);
		put_bytes(p, l, 63);
	}
	put8(p, (uint8_t)last);
	put_bytes(p, l, last);
	put8(p, 0);
}

static void
test_parse_name_of_255_bytes_is_accepted(void **state)
{
	struct pkt p;
	struct dns_question q;

	(void)state;
	put_hdr(&p, 1, 0, 0, 0);
	put_long_name(&p, 61, 'x');
	put16(&p, DNS_TYPE_A);
	put16(&p, DNS_CLASS_IN);
	assert_int_equal(parse(&p, &q), DNS_QUERY_OK);
	assert_int_equal(q.qname_len, 255);
	assert_int_equal(q.text_len, 254);
}

static void
test_parse_name_of_256_bytes_is_formerr(void **state)
{
	struct pkt p;
	struct dns_question q;

	(void)state;
	put_hdr(&p, 1, 0, 0, 0);
	put_long_name(&p, 62, 'x');
	put16(&p, DNS_TYPE_A);
	put16(&p, DNS_CLASS_IN);
	assert_int_equal(parse(&p, &q), DNS_QUERY_FORMERR);
	assert_int_equal(q.has_question, 0);
}

static void
test_parse_longest_name_all_escaped_fits_text(void **state)
{
	/* The worst case for the text buffer: every byte becomes \DDD. */
	struct pkt p;
	struct dns_question q;

	(void)state;
	put_hdr(&p, 1, 0, 0, 0);
	put_long_name(&p, 61, 0xff);
	put16(&p, DNS_TYPE_A);
	put16(&p, DNS_CLASS_IN);
	assert_int_equal(parse(&p, &q), DNS_QUERY_OK);
	assert_int_equal(q.text_len, 250 * 4 + 4);
	assert_int_equal(strlen(q.text), q.text_len);
	assert_memory_equal(q.text, "\\255\\255", 8);
}

static void
test_parse_header_only_is_formerr(void **state)
{
	struct pkt p;
	struct dns_question q;

	(void)state;
	put_hdr(&p, 1, 0, 0, 0);
	assert_int_equal(parse(&p, &q), DNS_QUERY_FORMERR);
	assert_int_equal(q.has_question, 0);
}

static void
test_parse_label_longer_than_packet_is_formerr(void **state)
{
	struct pkt p;
	struct dns_question q;

	(void)state;
	put_hdr(&p, 1, 0, 0, 0);
	put8(&p, 5);
	put_bytes(&p, "abc", 3);
	assert_int_equal(parse(&p, &q), DNS_QUERY_FORMERR);
	assert_int_equal(q.has_question, 0);
}

static void
test_parse_name_without_root_label_is_formerr(void **state)
{
	struct pkt p;
	struct dns_question q;

	(void)state;
	put_hdr(&p, 1, 0, 0, 0);
	put8(&p, 3);
	put_bytes(&p, "abc", 3);
	assert_int_equal(parse(&p, &q), DNS_QUERY_FORMERR);
}

static void
test_parse_missing_type_and_class_is_formerr(void **state)
{
	struct pkt p;
	struct dns_question q;

	(void)state;
	put_hdr(&p, 1, 0, 0, 0);
	put_name(&p, "a.miek.nl.");
	assert_int_equal(parse(&p, &q), DNS_QUERY_FORMERR);
	assert_int_equal(q.has_question, 0);
}

static void
test_parse_class_cut_short_is_formerr(void **state)
{
	struct pkt p;
	struct dns_question q;

	(void)state;
	make_query(&p, "a.miek.nl.", DNS_TYPE_A, DNS_CLASS_IN);
	p.len--;
	assert_int_equal(parse(&p, &q), DNS_QUERY_FORMERR);
	assert_int_equal(q.has_question, 0);
}

static void
test_parse_every_truncation_is_rejected_without_overread(void **state)
{
	struct pkt p;
	struct dns_question q;
	size_t n;

	(void)state;
	make_query(&p, "a.miek.nl.", DNS_TYPE_A, DNS_CLASS_IN);
	for (n = 0; n < p.len; n++) {
		uint8_t *b = malloc(n ? n : 1);

		assert_non_null(b);
		memcpy(b, p.b, n);
		assert_int_not_equal(dns_parse_query(b, n, &q), DNS_QUERY_OK);
		free(b);
	}
}

static void
test_parse_trailing_garbage_without_records_is_formerr(void **state)
{
	struct pkt p;
	struct dns_question q;

	(void)state;
	make_query(&p, "a.miek.nl.", DNS_TYPE_A, DNS_CLASS_IN);
	put8(&p, 0);
	assert_int_equal(parse(&p, &q), DNS_QUERY_FORMERR);
	/* The question itself was fine, so the FORMERR may echo it. */
	assert_int_equal(q.has_question, 1);
	assert_int_equal(q.end, p.len - 1);
}

/* dns_parse_query: what a good query yields */

static void
test_parse_reads_type_class_lengths_and_end(void **state)
{
	struct pkt p;
	struct dns_question q;

	(void)state;
	make_query(&p, "a.miek.nl.", 28, DNS_CLASS_CH);
	assert_int_equal(parse(&p, &q), DNS_QUERY_OK);
	assert_int_equal(q.has_question, 1);
	assert_int_equal(q.edns, 0);
	assert_int_equal(q.qname_len, 11);	/* 1a 4miek 2nl 0 */
	assert_int_equal(q.qtype, 28);
	assert_int_equal(q.qclass, DNS_CLASS_CH);
	assert_int_equal(q.end, DNS_HDRLEN + 11 + 4);
	assert_int_equal(q.end, p.len);
	assert_string_equal(q.text, "a.miek.nl.");
	assert_int_equal(q.text_len, 10);
}

static void
test_parse_reads_16_bit_type_and_class(void **state)
{
	struct pkt p;
	struct dns_question q;

	(void)state;
	make_query(&p, "x.", 0xfedc, 0xba98);
	assert_int_equal(parse(&p, &q), DNS_QUERY_OK);
	assert_int_equal(q.qtype, 0xfedc);
	assert_int_equal(q.qclass, 0xba98);
}

static void
test_parse_text_is_lower_case_with_trailing_dot(void **state)
{
	struct pkt p;
	struct dns_question q;

	(void)state;
	make_query(&p, "A.MiEk.NL", DNS_TYPE_A, DNS_CLASS_IN);
	assert_int_equal(parse(&p, &q), DNS_QUERY_OK);
	assert_string_equal(q.text, "a.miek.nl.");
	assert_int_equal(q.text_len, strlen("a.miek.nl."));
}

static void
test_parse_root_name_is_dot(void **state)
{
	struct pkt p;
	struct dns_question q;

	(void)state;
	make_query(&p, ".", 2, DNS_CLASS_IN);
	assert_int_equal(parse(&p, &q), DNS_QUERY_OK);
	assert_string_equal(q.text, ".");
	assert_int_equal(q.text_len, 1);
	assert_int_equal(q.qname_len, 1);
	assert_int_equal(q.end, DNS_HDRLEN + 1 + 4);
}

static void
test_parse_dot_inside_label_is_escaped(void **state)
{
	uint8_t w[] = { 3, 'a', '.', 'b', 2, 'n', 'l' };
	struct dns_question q;

	(void)state;
	assert_int_equal(parse_wire_name(w, sizeof(w), &q), DNS_QUERY_OK);
	assert_string_equal(q.text, "a\\.b.nl.");
}

static void
test_parse_backslash_inside_label_is_escaped(void **state)
{
	uint8_t w[] = { 3, 'a', '\\', 'b' };
	struct dns_question q;

	(void)state;
	assert_int_equal(parse_wire_name(w, sizeof(w), &q), DNS_QUERY_OK);
	assert_string_equal(q.text, "a\\\\b.");
}

static void
test_parse_unprintable_bytes_become_decimal_escapes(void **state)
{
	uint8_t w[] = { 6, 0x00, 0x20, 0x7f, 0x80, 0xff, 'Z' };
	struct dns_question q;

	(void)state;
	assert_int_equal(parse_wire_name(w, sizeof(w), &q), DNS_QUERY_OK);
	assert_string_equal(q.text, "\\000\\032\\127\\128\\255z.");
	assert_int_equal(q.text_len, strlen(q.text));
}

static void
test_parse_printable_edge_bytes_stay_literal(void **state)
{
	uint8_t w[] = { 4, 0x21, 0x7e, '-', '_' };
	struct dns_question q;

	(void)state;
	assert_int_equal(parse_wire_name(w, sizeof(w), &q), DNS_QUERY_OK);
	assert_string_equal(q.text, "!~-_.");
}

static void
test_parse_opt_after_question_sets_edns(void **state)
{
	struct pkt p;
	struct dns_question q;

	(void)state;
	make_query(&p, "a.miek.nl.", DNS_TYPE_A, DNS_CLASS_IN);
	p.b[11] = 1;	/* ARCOUNT */
	put_opt(&p);
	assert_int_equal(parse(&p, &q), DNS_QUERY_OK);
	assert_int_equal(q.edns, 1);
	assert_int_equal(q.end, p.len - 11);
}

static void
test_parse_other_additional_record_is_not_edns(void **state)
{
	struct pkt p;
	struct dns_question q;

	(void)state;
	make_query(&p, "a.miek.nl.", DNS_TYPE_A, DNS_CLASS_IN);
	p.b[11] = 1;
	put8(&p, 0);
	put16(&p, 250);		/* TSIG */
	put16(&p, 255);
	put16(&p, 0);
	put16(&p, 0);
	put16(&p, 0);
	assert_int_equal(parse(&p, &q), DNS_QUERY_OK);
	assert_int_equal(q.edns, 0);
}

static void
test_parse_truncated_opt_is_not_edns(void **state)
{
	struct pkt p;
	struct dns_question q;

	(void)state;
	make_query(&p, "a.miek.nl.", DNS_TYPE_A, DNS_CLASS_IN);
	p.b[11] = 1;
	put_opt(&p);
	p.len--;
	assert_int_equal(parse(&p, &q), DNS_QUERY_OK);
	assert_int_equal(q.edns, 0);
}

/* dns_error_answer */

static void
test_error_answer_sets_qr_and_rcode_keeps_id_and_rd(void **state)
{
	struct pkt p;
	struct dns_question q;
	uint8_t out[512];
	size_t n;

	(void)state;
	make_query(&p, "a.miek.nl.", DNS_TYPE_A, DNS_CLASS_IN);
	assert_int_equal(parse(&p, &q), DNS_QUERY_OK);
	n = dns_error_answer(out, sizeof(out), p.b, p.len, &q, DNS_RCODE_REFUSED);
	assert_int_equal(n, p.len);
	assert_int_equal(DNS_ID(out), QID);
	assert_true(DNS_QR(out));
	assert_int_equal(DNS_OPCODE(out), 0);
	assert_int_equal(out[2] & 0x01, 0x01);	/* RD */
	assert_int_equal(DNS_RCODE(out), DNS_RCODE_REFUSED);
	assert_int_equal(DNS_QDCOUNT(out), 1);
	assert_int_equal(DNS_ANCOUNT(out), 0);
	assert_int_equal(DNS_NSCOUNT(out), 0);
	assert_int_equal(DNS_ARCOUNT(out), 0);
	assert_memory_equal(out + DNS_HDRLEN, p.b + DNS_HDRLEN, p.len - DNS_HDRLEN);
}

static void
test_error_answer_without_rd_leaves_rd_clear(void **state)
{
	struct pkt p;
	struct dns_question q;
	uint8_t out[512];

	(void)state;
	make_query(&p, "a.miek.nl.", DNS_TYPE_A, DNS_CLASS_IN);
	p.b[2] = 0x00;
	assert_int_equal(parse(&p, &q), DNS_QUERY_OK);
	assert_int_not_equal(dns_error_answer(out, sizeof(out), p.b, p.len, &q,
	    DNS_RCODE_SERVFAIL), 0);
	assert_int_equal(out[2], 0x80);
	assert_int_equal(DNS_RCODE(out), DNS_RCODE_SERVFAIL);
}

static void
test_error_answer_to_notimp_keeps_opcode_without_question(void **state)
{
	struct pkt p;
	struct dns_question q;
	uint8_t out[512];
	size_t n;

	(void)state;
	make_query(&p, "a.miek.nl.", 6, DNS_CLASS_IN);
	p.b[2] = 2 << 3 | 0x01;	/* STATUS, RD */
	assert_int_equal(parse(&p, &q), DNS_QUERY_NOTIMP);
	n = dns_error_answer(out, sizeof(out), p.b, p.len, &q, DNS_RCODE_NOTIMP);
	assert_int_equal(n, DNS_HDRLEN);
	assert_int_equal(DNS_ID(out), QID);
	assert_true(DNS_QR(out));
	/* RD is a QUERY's flag: not echoed for other opcodes, as BIND does. */
	assert_int_equal(out[2] & 0x01, 0);
	assert_int_equal(DNS_OPCODE(out), 2);
	assert_int_equal(DNS_RCODE(out), DNS_RCODE_NOTIMP);
	assert_int_equal(DNS_QDCOUNT(out), 0);
}

static void
test_error_answer_to_unparsed_question_is_header_only(void **state)
{
	struct pkt p;
	struct dns_question q;
	uint8_t out[512];
	size_t n;

	(void)state;
	put_hdr(&p, 2, 0, 0, 0);
	put_name(&p, "a.");
	put16(&p, 1);
	put16(&p, 1);
	assert_int_equal(parse(&p, &q), DNS_QUERY_FORMERR);
	n = dns_error_answer(out, sizeof(out), p.b, p.len, &q, DNS_RCODE_FORMERR);
	assert_int_equal(n, DNS_HDRLEN);
	assert_int_equal(DNS_RCODE(out), DNS_RCODE_FORMERR);
	assert_int_equal(DNS_QDCOUNT(out), 0);
	assert_int_equal(DNS_ARCOUNT(out), 0);
}

static void
test_error_answer_with_null_question_is_header_only(void **state)
{
	struct pkt p;
	uint8_t out[512];

	(void)state;
	make_query(&p, "a.miek.nl.", DNS_TYPE_A, DNS_CLASS_IN);
	assert_int_equal(dns_error_answer(out, sizeof(out), p.b, p.len, NULL,
	    DNS_RCODE_FORMERR), DNS_HDRLEN);
	assert_int_equal(DNS_QDCOUNT(out), 0);
}

static void
test_error_answer_to_trailing_garbage_echoes_only_question(void **state)
{
	struct pkt p;
	struct dns_question q;
	uint8_t out[512];
	size_t n;

	(void)state;
	make_query(&p, "a.miek.nl.", DNS_TYPE_A, DNS_CLASS_IN);
	put_bytes(&p, "junk", 4);
	assert_int_equal(parse(&p, &q), DNS_QUERY_FORMERR);
	n = dns_error_answer(out, sizeof(out), p.b, p.len, &q, DNS_RCODE_FORMERR);
	assert_int_equal(n, p.len - 4);
	assert_int_equal(DNS_QDCOUNT(out), 1);
}

static void
test_error_answer_to_edns_query_carries_opt(void **state)
{
	struct pkt p;
	struct dns_question q;
	uint8_t out[512];
	size_t n;

	(void)state;
	make_query(&p, "a.miek.nl.", DNS_TYPE_A, DNS_CLASS_IN);
	p.b[11] = 1;
	put_opt(&p);
	assert_int_equal(parse(&p, &q), DNS_QUERY_OK);
	n = dns_error_answer(out, sizeof(out), p.b, p.len, &q, DNS_RCODE_REFUSED);
	assert_int_equal(n, q.end + 11);
	assert_int_equal(DNS_ARCOUNT(out), 1);
	assert_int_equal(DNS_QDCOUNT(out), 1);
	assert_int_equal(out[q.end], 0);			/* root owner */
	assert_int_equal(out[q.end + 1] << 8 | out[q.end + 2], DNS_TYPE_OPT);
	assert_true((out[q.end + 3] << 8 | out[q.end + 4]) >= 512);
	assert_int_equal(out[q.end + 5], 0);		/* extended rcode */
	assert_int_equal(out[q.end + 6], 0);		/* version 0 */
	assert_int_equal(out[q.end + 9] << 8 | out[q.end + 10], 0); /* rdlen */
}

static void
test_error_answer_formerr_to_edns_query_has_no_opt(void **state)
{
	struct pkt p;
	struct dns_question q;
	uint8_t out[512];
	size_t n;

	(void)state;
	make_query(&p, "a.miek.nl.", DNS_TYPE_A, DNS_CLASS_IN);
	p.b[11] = 1;
	put_opt(&p);
	assert_int_equal(parse(&p, &q), DNS_QUERY_OK);
	n = dns_error_answer(out, sizeof(out), p.b, p.len, &q, DNS_RCODE_FORMERR);
	assert_int_equal(n, q.end);
	assert_int_equal(DNS_ARCOUNT(out), 0);
}

static void
test_error_answer_returns_0_when_out_is_short(void **state)
{
	struct pkt p;
	struct dns_question q;
	uint8_t out[512];

	(void)state;
	make_query(&p, "a.miek.nl.", DNS_TYPE_A, DNS_CLASS_IN);
	assert_int_equal(parse(&p, &q), DNS_QUERY_OK);
	assert_int_equal(dns_error_answer(out, DNS_HDRLEN - 1, p.b, p.len, &q,
	    DNS_RCODE_SERVFAIL), 0);
	assert_int_equal(dns_error_answer(out, q.end - 1, p.b, p.len, &q,
	    DNS_RCODE_SERVFAIL), 0);
	assert_int_equal(dns_error_answer(out, q.end, p.b, p.len, &q,
	    DNS_RCODE_SERVFAIL), q.end);
}

static void
test_error_answer_returns_0_when_opt_does_not_fit(void **state)
{
	struct pkt p;
	struct dns_question q;
	uint8_t out[512];

	(void)state;
	make_query(&p, "a.miek.nl.", DNS_TYPE_A, DNS_CLASS_IN);
	p.b[11] = 1;
	put_opt(&p);
	assert_int_equal(parse(&p, &q), DNS_QUERY_OK);
	assert_int_equal(dns_error_answer(out, q.end + 10u, p.b, p.len, &q,
	    DNS_RCODE_REFUSED), 0);
	assert_int_equal(dns_error_answer(out, q.end + 11u, p.b, p.len, &q,
	    DNS_RCODE_REFUSED), q.end + 11);
}

static void
test_error_answer_to_short_query_returns_0(void **state)
{
	uint8_t in[DNS_HDRLEN] = { 0 }, out[512];

	(void)state;
	assert_int_equal(dns_error_answer(out, sizeof(out), in, DNS_HDRLEN - 1,
	    NULL, DNS_RCODE_FORMERR), 0);
}

/* dns_same_question */

struct qr {
	struct pkt		query;
	struct pkt		reply;
	struct dns_question	q;
};

/* A query for A.MiEk.NL/A/IN and a reply that echoes it with one answer. */
static void
make_pair(struct qr *x)
{
	static const uint8_t answer[] = { 0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 60,
	    0, 4, 192, 0, 2, 1 };

	make_query(&x->query, "a.miek.nl.", DNS_TYPE_A, DNS_CLASS_IN);
	assert_int_equal(parse(&x->query, &x->q), DNS_QUERY_OK);
	x->reply = x->query;
	x->reply.b[0] = 0x99;		/* the ID is checked elsewhere */
	x->reply.b[2] |= 0x80;
	x->reply.b[7] = 1;
	put_bytes(&x->reply, answer, sizeof(answer));
}

static void
test_same_question_accepts_matching_reply(void **state)
{
	struct qr x;

	(void)state;
	make_pair(&x);
	assert_true(dns_same_question(x.reply.b, x.reply.len, x.query.b, &x.q));
}

static void
test_same_question_ignores_ascii_case(void **state)
{
	struct qr x;

	(void)state;
	make_pair(&x);
	x.reply.b[13] = 'A';
	x.reply.b[15] = 'M';
	x.reply.b[18] = 'K';
	assert_true(dns_same_question(x.reply.b, x.reply.len, x.query.b, &x.q));
}

static void
test_same_question_rejects_other_type(void **state)
{
	struct qr x;

	(void)state;
	make_pair(&x);
	x.reply.b[x.q.end - 3] = 28;
	assert_false(dns_same_question(x.reply.b, x.reply.len, x.query.b, &x.q));
}

static void
test_same_question_rejects_other_class(void **state)
{
	struct qr x;

	(void)state;
	make_pair(&x);
	x.reply.b[x.q.end - 1] = DNS_CLASS_CH;
	assert_false(dns_same_question(x.reply.b, x.reply.len, x.query.b, &x.q));
}

static void
test_same_question_rejects_other_name(void **state)
{
	struct qr x;

	(void)state;
	make_pair(&x);
	x.reply.b[13] = 'b';
	assert_false(dns_same_question(x.reply.b, x.reply.len, x.query.b, &x.q));
}

static void
test_same_question_rejects_other_label_structure(void **state)
{
	struct qr x;

	(void)state;
	make_pair(&x);
	/* The query is 1a 4miek 2nl 0: change two length bytes only. */
	x.reply.b[14] = 5;
	x.reply.b[19] = 1;
	assert_false(dns_same_question(x.reply.b, x.reply.len, x.query.b, &x.q));
}

static void
test_same_question_rejects_qdcount_0_and_2(void **state)
{
	struct qr x;

	(void)state;
	make_pair(&x);
	x.reply.b[5] = 0;
	assert_false(dns_same_question(x.reply.b, x.reply.len, x.query.b, &x.q));
	x.reply.b[5] = 2;
	assert_false(dns_same_question(x.reply.b, x.reply.len, x.query.b, &x.q));
}

static void
test_same_question_rejects_short_reply(void **state)
{
	struct qr x;
	uint8_t *b;
	size_t n;

	(void)state;
	make_pair(&x);
	for (n = 0; n < x.q.end; n++) {
		b = malloc(n ? n : 1);
		assert_non_null(b);
		memcpy(b, x.reply.b, n);
		assert_false(dns_same_question(b, n, x.query.b, &x.q));
		free(b);
	}
	/* The question alone, without any answer, is enough. */
	assert_true(dns_same_question(x.reply.b, x.q.end, x.query.b, &x.q));
}

/* Mnemonics and text names */

static void
test_class_from_name_knows_mnemonics_in_any_case(void **state)
{
	(void)state;
	assert_int_equal(dns_class_from_name("IN"), DNS_CLASS_IN);
	assert_int_equal(dns_class_from_name("in"), DNS_CLASS_IN);
	assert_int_equal(dns_class_from_name("CH"), DNS_CLASS_CH);
	assert_int_equal(dns_class_from_name("Ch"), DNS_CLASS_CH);
	assert_int_equal(dns_class_from_name("HS"), DNS_CLASS_HS);
	assert_int_equal(dns_class_from_name("ANY"), 255);
	assert_int_equal(dns_class_from_name("CLASS254"), 254);
	assert_int_equal(dns_class_from_name("class0"), 0);
	assert_int_equal(dns_class_from_name("CLASS65535"), 65535);
}

static void
test_class_from_name_rejects_unknown(void **state)
{
	(void)state;
	assert_int_equal(dns_class_from_name(""), -1);
	assert_int_equal(dns_class_from_name("XX"), -1);
	assert_int_equal(dns_class_from_name("TXT"), -1);
	assert_int_equal(dns_class_from_name("CLASS"), -1);
	assert_int_equal(dns_class_from_name("CLASS65536"), -1);
	assert_int_equal(dns_class_from_name("CLASS-1"), -1);
	assert_int_equal(dns_class_from_name("CLASS1x"), -1);
	assert_int_equal(dns_class_from_name("CLASS99999999999999999999"), -1);
	assert_int_equal(dns_class_from_name("INX"), -1);
}

static void
test_type_from_name_knows_mnemonics_in_any_case(void **state)
{
	(void)state;
	assert_int_equal(dns_type_from_name("A"), DNS_TYPE_A);
	assert_int_equal(dns_type_from_name("txt"), DNS_TYPE_TXT);
	assert_int_equal(dns_type_from_name("SOA"), 6);
	assert_int_equal(dns_type_from_name("AAAA"), 28);
	assert_int_equal(dns_type_from_name("Https"), 65);
	assert_int_equal(dns_type_from_name("ANY"), 255);
	assert_int_equal(dns_type_from_name("TYPE65"), 65);
	assert_int_equal(dns_type_from_name("type65535"), 65535);
}

static void
test_type_from_name_rejects_unknown(void **state)
{
	(void)state;
	assert_int_equal(dns_type_from_name(""), -1);
	assert_int_equal(dns_type_from_name("BOGUS"), -1);
	assert_int_equal(dns_type_from_name("CH"), -1);
	assert_int_equal(dns_type_from_name("TYPE"), -1);
	assert_int_equal(dns_type_from_name("TYPE65536"), -1);
	assert_int_equal(dns_type_from_name("TYPE+1"), -1);
	assert_int_equal(dns_type_from_name("TYPE 1"), -1);
	assert_int_equal(dns_type_from_name("AA"), -1);
}

static void
test_class_and_type_names_print_mnemonic_or_number(void **state)
{
	char buf[16];

	(void)state;
	assert_string_equal(dns_class_name(DNS_CLASS_IN, buf, sizeof(buf)), "IN");
	assert_string_equal(dns_class_name(DNS_CLASS_CH, buf, sizeof(buf)), "CH");
	assert_string_equal(dns_class_name(254, buf, sizeof(buf)), "CLASS254");
	assert_string_equal(dns_type_name(DNS_TYPE_TXT, buf, sizeof(buf)), "TXT");
	assert_string_equal(dns_type_name(65535, buf, sizeof(buf)), "TYPE65535");
	assert_ptr_equal(dns_type_name(1, buf, sizeof(buf)), buf);
}

static void
test_every_class_and_type_name_reads_back(void **state)
{
	char buf[16];
	unsigned v;

	(void)state;
	for (v = 0; v <= 65535; v++) {
		if (dns_class_from_name(dns_class_name((uint16_t)v, buf,
		    sizeof(buf))) != (int)v)
			fail_msg("class %u printed as '%s' does not read back", v, buf);
		if (dns_type_from_name(dns_type_name((uint16_t)v, buf,
		    sizeof(buf))) != (int)v)
			fail_msg("type %u printed as '%s' does not read back", v, buf);
	}
}

static void
test_name_check_text_accepts_plain_names(void **state)
{
	char l63[80];

	(void)state;
	assert_int_equal(dns_name_check_text("id.server."), 0);
	assert_int_equal(dns_name_check_text("id.server"), 0);
	assert_int_equal(dns_name_check_text("."), 0);
	memset(l63, 'x', 63);
	strcpy(l63 + 63, ".nl.");
	assert_int_equal(dns_name_check_text(l63), 0);
}

static void
test_name_check_text_rejects_bad_names(void **state)
{
	char l64[80], longname[300];

	(void)state;
	assert_int_equal(dns_name_check_text(""), -1);
	assert_int_equal(dns_name_check_text("a..b"), -1);
	assert_int_equal(dns_name_check_text(".a"), -1);
	assert_int_equal(dns_name_check_text("a b."), -1);
	memset(l64, 'x', 64);
	strcpy(l64 + 64, ".nl.");
	assert_int_equal(dns_name_check_text(l64), -1);
	memset(longname, 'a', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	for (size_t i = 10; i < sizeof(longname) - 1; i += 10)
		longname[i] = '.';
	assert_int_equal(dns_name_check_text(longname), -1);
}

/* Four labels, 254 characters with dots: a trailing dot or not decides. */
static void
test_name_check_text_254_needs_trailing_dot(void **state)
{
	char name[256];

	(void)state;
	memset(name, 'a', 254);
	name[63] = name[127] = name[191] = '.';
	name[254] = '\0';
	/* 256 bytes on the wire: config_parse would append the dot and then
	 * refuse its own config_write output. */
	assert_int_equal(dns_name_check_text(name), -1);
	name[253] = '.';
	assert_int_equal(dns_name_check_text(name), 0);
	name[253] = '\0';
	assert_int_equal(dns_name_check_text(name), 0);
}

/* TCP framing: whole messages only, more bytes asked for, bad lengths refused. */
static void
test_tcp_frame(void **state)
{
	uint8_t b[64] = { 0, 12 };
	size_t need = 0;

	(void)state;
	assert_int_equal(dns_tcp_frame(b, 0, &need), 0);
	assert_int_equal(need, 2);
	assert_int_equal(dns_tcp_frame(b, 1, &need), 0);
	assert_int_equal(need, 2);
	assert_int_equal(dns_tcp_frame(b, 13, &need), 0);
	assert_int_equal(need, 14);
	assert_int_equal(dns_tcp_frame(b, 14, &need), 12);
	assert_int_equal(dns_tcp_frame(b, 64, &need), 12);
	b[1] = 11;				/* shorter than a header */
	assert_int_equal(dns_tcp_frame(b, 64, &need), -1);
	b[0] = 0xff;				/* 65291: asks for all of it */
	b[1] = 0x0b;
	assert_int_equal(dns_tcp_frame(b, 64, &need), 0);
	assert_int_equal(need, 0xff0b + 2);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tcp_frame),
		cmocka_unit_test(test_parse_empty_packet_is_dropped),
		cmocka_unit_test(test_parse_header_of_11_bytes_is_dropped),
		cmocka_unit_test(test_parse_response_is_dropped),
		cmocka_unit_test(test_parse_opcode_other_than_query_is_notimp),
		cmocka_unit_test(test_parse_qdcount_0_is_formerr),
		cmocka_unit_test(test_parse_qdcount_2_is_formerr),
		cmocka_unit_test(test_parse_label_of_63_bytes_is_accepted),
		cmocka_unit_test(test_parse_label_type_0x40_is_formerr),
		cmocka_unit_test(test_parse_label_type_0x80_is_formerr),
		cmocka_unit_test(test_parse_compression_pointer_in_question_is_formerr),
		cmocka_unit_test(test_parse_name_of_255_bytes_is_accepted),
		cmocka_unit_test(test_parse_name_of_256_bytes_is_formerr),
		cmocka_unit_test(test_parse_longest_name_all_escaped_fits_text),
		cmocka_unit_test(test_parse_header_only_is_formerr),
		cmocka_unit_test(test_parse_label_longer_than_packet_is_formerr),
		cmocka_unit_test(test_parse_name_without_root_label_is_formerr),
		cmocka_unit_test(test_parse_missing_type_and_class_is_formerr),
		cmocka_unit_test(test_parse_class_cut_short_is_formerr),
		cmocka_unit_test(test_parse_every_truncation_is_rejected_without_overread),
		cmocka_unit_test(test_parse_trailing_garbage_without_records_is_formerr),
		cmocka_unit_test(test_parse_reads_type_class_lengths_and_end),
		cmocka_unit_test(test_parse_reads_16_bit_type_and_class),
		cmocka_unit_test(test_parse_text_is_lower_case_with_trailing_dot),
		cmocka_unit_test(test_parse_root_name_is_dot),
		cmocka_unit_test(test_parse_dot_inside_label_is_escaped),
		cmocka_unit_test(test_parse_backslash_inside_label_is_escaped),
		cmocka_unit_test(test_parse_unprintable_bytes_become_decimal_escapes),
		cmocka_unit_test(test_parse_printable_edge_bytes_stay_literal),
		cmocka_unit_test(test_parse_opt_after_question_sets_edns),
		cmocka_unit_test(test_parse_other_additional_record_is_not_edns),
		cmocka_unit_test(test_parse_truncated_opt_is_not_edns),
		cmocka_unit_test(test_error_answer_sets_qr_and_rcode_keeps_id_and_rd),
		cmocka_unit_test(test_error_answer_without_rd_leaves_rd_clear),
		cmocka_unit_test(test_error_answer_to_notimp_keeps_opcode_without_question),
		cmocka_unit_test(test_error_answer_to_unparsed_question_is_header_only),
		cmocka_unit_test(test_error_answer_with_null_question_is_header_only),
		cmocka_unit_test(test_error_answer_to_trailing_garbage_echoes_only_question),
		cmocka_unit_test(test_error_answer_to_edns_query_carries_opt),
		cmocka_unit_test(test_error_answer_formerr_to_edns_query_has_no_opt),
		cmocka_unit_test(test_error_answer_returns_0_when_out_is_short),
		cmocka_unit_test(test_error_answer_returns_0_when_opt_does_not_fit),
		cmocka_unit_test(test_error_answer_to_short_query_returns_0),
		cmocka_unit_test(test_same_question_accepts_matching_reply),
		cmocka_unit_test(test_same_question_ignores_ascii_case),
		cmocka_unit_test(test_same_question_rejects_other_type),
		cmocka_unit_test(test_same_question_rejects_other_class),
		cmocka_unit_test(test_same_question_rejects_other_name),
		cmocka_unit_test(test_same_question_rejects_other_label_structure),
		cmocka_unit_test(test_same_question_rejects_qdcount_0_and_2),
		cmocka_unit_test(test_same_question_rejects_short_reply),
		cmocka_unit_test(test_class_from_name_knows_mnemonics_in_any_case),
		cmocka_unit_test(test_class_from_name_rejects_unknown),
		cmocka_unit_test(test_type_from_name_knows_mnemonics_in_any_case),
		cmocka_unit_test(test_type_from_name_rejects_unknown),
		cmocka_unit_test(test_class_and_type_names_print_mnemonic_or_number),
		cmocka_unit_test(test_every_class_and_type_name_reads_back),
		cmocka_unit_test(test_name_check_text_accepts_plain_names),
		cmocka_unit_test(test_name_check_text_rejects_bad_names),
		cmocka_unit_test(test_name_check_text_254_needs_trailing_dot),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
