/*
 * common/dnsrr: a backend's transfer message walked record by record and
 * each record written into an answer of our own, as the router merges a
 * sharded zone's transfer. Whatever the input, the walk stays inside the
 * message and ends; every record written reads back from our answer with
 * the same owner, type, class, TTL and, for types without names in their
 * rdata, the same rdata bytes.
 */
#include "dnsrr.h"
#include "fuzz.h"

/* AXFR for miek.nl: the names in the seeds end in it. */
static const uint8_t query[] = {
	0x12, 0x34, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	4, 'm', 'i', 'e', 'k', 2, 'n', 'l', 0, 0x00, 0xfc, 0x00, 0x01,
};

static uint8_t out[65535];

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dns_question q;
	struct dns_writer w;
	struct dns_rr_iter a, b;
	struct dns_rr ra, rb;
	uint8_t *msg = fuzz_dup(data, size);
	char text[DNS_NAME_TEXT_MAX];
	/* A record takes 11 bytes at least: which of them were written. */
	size_t *which = calloc(size / 11 + 1, sizeof(*which));
	size_t written = 0, i, n = 0;
	int rc;

	FUZZ_ASSERT(dns_parse_query(query, sizeof(query), &q) == DNS_QUERY_OK);
	/* A small cap now and then, so that "does not fit" is taken too. */
	FUZZ_ASSERT(dns_writer_start(&w, out, size > 0 && data[0] == 0x55 ?
	    200 : sizeof(out), query, &q) == 0);
	if (dns_rr_iter_init(&a, msg, size) == 0) {
		while ((rc = dns_rr_next(&a, &ra)) == 1) {
			FUZZ_ASSERT(ra.rdoff + ra.rdlen <= size);
			FUZZ_ASSERT(ra.owner_len >= 1 &&
			    ra.owner_len <= DNS_NAME_WIRE_MAX);
			FUZZ_ASSERT(dns_name_text(ra.owner, text) < sizeof(text));
			(void)dns_soa_serial(msg, size, &ra);
			rc = dns_writer_add(&w, msg, size, &ra);
			FUZZ_ASSERT(rc >= -1 && rc <= 1 && w.len <= w.cap);
			if (rc == 0)
				which[written++] = n;
			n++;
		}
		FUZZ_ASSERT(rc == 0 || rc == -1);
	}
	FUZZ_ASSERT(w.ancount == written && DNS_ANCOUNT(out) == written);

	/* Read back in step with a second walk of the input. */
	FUZZ_ASSERT(dns_rr_iter_init(&b, out, w.len) == 0);
	if (written > 0)
		FUZZ_ASSERT(dns_rr_iter_init(&a, msg, size) == 0);
	for (i = 0, n = 0; i < written; i++) {
		FUZZ_ASSERT(dns_rr_next(&b, &rb) == 1);
		/* The input's next record that was written. */
		do
			FUZZ_ASSERT(dns_rr_next(&a, &ra) == 1);
		while (n++ < which[i]);
		FUZZ_ASSERT(ra.owner_len == rb.owner_len &&
		    dns_name_equal(ra.owner, rb.owner, ra.owner_len));
		FUZZ_ASSERT(ra.type == rb.type && ra.rclass == rb.rclass &&
		    ra.ttl == rb.ttl);
		if (ra.type == DNS_TYPE_A || ra.type == DNS_TYPE_TXT)
			FUZZ_ASSERT(ra.rdlen == rb.rdlen && memcmp(msg + ra.rdoff,
			    out + rb.rdoff, ra.rdlen) == 0);
		if (ra.type == DNS_TYPE_SOA)
			FUZZ_ASSERT(dns_soa_serial(msg, size, &ra) ==
			    dns_soa_serial(out, w.len, &rb));
	}
	FUZZ_ASSERT(dns_rr_next(&b, &rb) == 0);
	free(which);
	free(msg);
	return 0;
}
