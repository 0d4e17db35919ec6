/*
 * common/dnswire: dns_parse_query on a client packet, the error answer the
 * router builds from it, and dns_same_question matching backend replies
 * against queries, with the input as query, as reply, or split into both.
 */
#include "dnswire.h"
#include "fuzz.h"

/* router/query.c answers errors from a buffer of this size. */
#define ROUTER_OUTLEN	(DNS_HDRLEN + DNS_NAME_WIRE_MAX + 4 + 11)

/* example.com. IN A, RD: the query a router holds when a reply comes in. */
static const uint8_t fixed_query[] = {
	0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0,
	7, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 3, 'c', 'o', 'm', 0, 0, 1, 0, 1,
};
/* Its answer, question in another case, one A record. */
static const uint8_t fixed_reply[] = {
	0x12, 0x34, 0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0,
	7, 'E', 'x', 'A', 'm', 'P', 'l', 'E', 3, 'C', 'O', 'M', 0, 0, 1, 0, 1,
	0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0x0e, 0x10, 0, 4, 192, 0, 2, 1,
};
static struct dns_question fixed_q;

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	FUZZ_ASSERT(dns_parse_query(fixed_query, sizeof(fixed_query),
	    &fixed_q) == DNS_QUERY_OK);
	FUZZ_ASSERT(dns_same_question(fixed_reply, sizeof(fixed_reply),
	    fixed_query, &fixed_q));
	return 0;
}

/* What must hold of any question dns_parse_query says it read. */
static void
check_question(const uint8_t *pkt, size_t len, const struct dns_question *q)
{
	FUZZ_ASSERT(q->end <= len);
	FUZZ_ASSERT(q->qname_len >= 1 && q->qname_len <= DNS_NAME_WIRE_MAX);
	FUZZ_ASSERT(q->end == DNS_HDRLEN + q->qname_len + 4);
	FUZZ_ASSERT(pkt[DNS_HDRLEN + q->qname_len - 1] == 0);
	FUZZ_ASSERT(q->text_len < DNS_NAME_TEXT_MAX);
	FUZZ_ASSERT(q->text_len == strlen(q->text));
	FUZZ_ASSERT(q->text_len >= 1 && q->text[q->text_len - 1] == '.');
	FUZZ_ASSERT(q->qtype == (pkt[q->end - 4] << 8 | pkt[q->end - 3]));
	FUZZ_ASSERT(q->qclass == (pkt[q->end - 2] << 8 | pkt[q->end - 1]));
	for (size_t i = 0; i < q->text_len; i++)
		FUZZ_ASSERT(q->text[i] > 0x20 && q->text[i] < 0x7f &&
		    !(q->text[i] >= 'A' && q->text[i] <= 'Z'));
	if (q->edns)
		FUZZ_ASSERT(q->end + 11 <= len);
}

/* Build an error answer into a buffer of exactly outlen bytes and check it. */
static void
check_error_answer(const uint8_t *pkt, size_t len,
    const struct dns_question *q, int rcode, size_t outlen)
{
	uint8_t *out = malloc(outlen ? outlen : 1);
	struct dns_question aq;
	size_t n, want;

	FUZZ_ASSERT(out != NULL);
	n = dns_error_answer(out, outlen, pkt, len, q, rcode);
	FUZZ_ASSERT(n <= outlen);
	want = DNS_HDRLEN;
	if (q->has_question) {
		want = q->end;
		if (q->edns && rcode != DNS_RCODE_FORMERR)
			want += 11;
	}
	/* All or nothing: a truncated answer is never sent. */
	FUZZ_ASSERT(n == (want <= outlen ? want : 0));
	if (n > 0) {
		FUZZ_ASSERT(DNS_ID(out) == DNS_ID(pkt));
		FUZZ_ASSERT(DNS_QR(out) && DNS_RCODE(out) == rcode);
		FUZZ_ASSERT(DNS_OPCODE(out) == DNS_OPCODE(pkt));
		FUZZ_ASSERT(DNS_QDCOUNT(out) == (q->has_question ? 1 : 0));
		FUZZ_ASSERT(DNS_ANCOUNT(out) == 0 && DNS_NSCOUNT(out) == 0);
		FUZZ_ASSERT(DNS_ARCOUNT(out) ==
		    (q->has_question && n > q->end ? 1 : 0));
		/* Never mistaken for a query when it loops back to a listener. */
		FUZZ_ASSERT(dns_parse_query(out, n, &aq) == DNS_QUERY_DROP);
		if (q->has_question) {
			FUZZ_ASSERT(memcmp(out + DNS_HDRLEN, pkt + DNS_HDRLEN,
			    q->end - DNS_HDRLEN) == 0);
			FUZZ_ASSERT(dns_same_question(out, n, pkt, q));
		}
	}
	free(out);
}

/* Parse pkt as a query; returns the verdict, q filled as the router has it. */
static enum dns_verdict
query(const uint8_t *pkt, size_t len, struct dns_question *q)
{
	enum dns_verdict v;

	memset(q, 0xa5, sizeof(*q));	/* nothing may depend on old contents */
	v = dns_parse_query(pkt, len, q);
	FUZZ_ASSERT(v == DNS_QUERY_OK || v == DNS_QUERY_DROP ||
	    v == DNS_QUERY_FORMERR || v == DNS_QUERY_NOTIMP ||
	    v == DNS_QUERY_NOTIFY || v == DNS_QUERY_UPDATE);
	FUZZ_ASSERT(q->has_question == 0 || q->has_question == 1);
	if (v == DNS_QUERY_OK || v == DNS_QUERY_NOTIFY || v == DNS_QUERY_UPDATE)
		FUZZ_ASSERT(q->has_question);
	FUZZ_ASSERT(v != DNS_QUERY_OK || DNS_OPCODE(pkt) == DNS_OPCODE_QUERY);
	FUZZ_ASSERT(v != DNS_QUERY_NOTIFY || DNS_OPCODE(pkt) == DNS_OPCODE_NOTIFY);
	FUZZ_ASSERT(v != DNS_QUERY_UPDATE || DNS_OPCODE(pkt) == DNS_OPCODE_UPDATE);
	if (v == DNS_QUERY_DROP || v == DNS_QUERY_NOTIMP)
		FUZZ_ASSERT(!q->has_question);
	if (q->has_question)
		check_question(pkt, len, q);
	return v;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dns_question q, rq;
	enum dns_verdict v;
	uint8_t *pkt = fuzz_dup(data, size);

	v = query(pkt, size, &q);
	if (v != DNS_QUERY_DROP) {
		int rcode = v == DNS_QUERY_FORMERR ? DNS_RCODE_FORMERR :
		    v == DNS_QUERY_NOTIMP ? DNS_RCODE_NOTIMP : DNS_RCODE_REFUSED;

		check_error_answer(pkt, size, &q, rcode, ROUTER_OUTLEN);
		check_error_answer(pkt, size, &q, DNS_RCODE_SERVFAIL, ROUTER_OUTLEN);
		check_error_answer(pkt, size, &q, rcode, DNS_HDRLEN);
		if (q.has_question) {
			check_error_answer(pkt, size, &q, rcode, q.end);
			check_error_answer(pkt, size, &q, rcode, q.end - 1u);
			check_error_answer(pkt, size, &q, rcode, q.end + 10u);
		}
	}
	if (q.has_question) {
		/* A query read by the parser matches itself. */
		FUZZ_ASSERT(dns_same_question(pkt, size, pkt, &q));
		(void)dns_same_question(fixed_reply, sizeof(fixed_reply), pkt, &q);
	}

	/* The input as a backend's reply to the fixed query. */
	if (dns_same_question(pkt, size, fixed_query, &fixed_q))
		FUZZ_ASSERT(size >= fixed_q.end && DNS_QDCOUNT(pkt) == 1);

	/* The first byte splits the rest into a query and its reply. */
	if (size > 1) {
		size_t qlen = (size_t)data[0] * (size - 1) / 256;
		uint8_t *qp = fuzz_dup(data + 1, qlen);
		uint8_t *rp = fuzz_dup(data + 1 + qlen, size - 1 - qlen);

		if (query(qp, qlen, &rq) == DNS_QUERY_OK &&
		    dns_same_question(rp, size - 1 - qlen, qp, &rq))
			FUZZ_ASSERT(size - 1 - qlen >= rq.end);
		free(qp);
		free(rp);
	}
	free(pkt);
	return 0;
}
