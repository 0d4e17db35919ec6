/*
 * Resource records on the wire, for the few paths that need more than the
 * question (zone transfers relayed and merged by the router): walk the
 * records of an untrusted message, names decompressed, and write records
 * into a message of our own, names compressed only against the zone's apex.
 * No allocation; every offset is checked against the message.
 */
#ifndef DNSROUTER_DNSRR_H
#define DNSROUTER_DNSRR_H

#include <stddef.h>
#include <stdint.h>

#include "dnswire.h"

#define DNS_TYPE_NS	2
#define DNS_TYPE_SOA	6
#define DNS_TYPE_TSIG	250
#define DNS_TYPE_IXFR	251
#define DNS_TYPE_AXFR	252

#define DNS_SECTION_ANSWER	1
#define DNS_SECTION_AUTHORITY	2
#define DNS_SECTION_ADDITIONAL	3

struct dns_rr {
	uint8_t		owner[DNS_NAME_WIRE_MAX]; /* uncompressed, case as sent */
	size_t		owner_len;
	uint16_t	type;
	uint16_t	rclass;
	uint32_t	ttl;
	size_t		rdoff;		/* the rdata, in the message */
	size_t		rdlen;
	int		section;	/* DNS_SECTION_* */
};

struct dns_rr_iter {
	const uint8_t	*msg;
	size_t		 len;
	size_t		 off;
	unsigned	 left[3];	/* records left in each section */
};

/*
 * Read the (possibly compressed) name at *off of msg[0..len) into out
 * (DNS_NAME_WIRE_MAX), advance *off past it in the message. Pointers must
 * point backwards, so a name ends. The wire length, or 0 when malformed.
 */
size_t dns_name_unpack(const uint8_t *msg, size_t len, size_t *off,
    uint8_t *out);

/*
 * Start walking msg: header and question sections checked and skipped.
 * 0, or -1 when they are malformed.
 */
int dns_rr_iter_init(struct dns_rr_iter *it, const uint8_t *msg, size_t len);

/* The next record: 1, 0 after the last (the message then ends), -1 malformed. */
int dns_rr_next(struct dns_rr_iter *it, struct dns_rr *rr);

/* The serial of an SOA record rr of msg, or -1 when its rdata is malformed. */
int64_t dns_soa_serial(const uint8_t *msg, size_t len, const struct dns_rr *rr);

/*
 * A message being written: header and question copied from a query, then
 * answer records. Names ending in the question's name point to it (RFC
 * 1035 4.1.4), in owners and in the rdata of the types RFC 3597 lets us
 * compress; every other name is written whole.
 */
struct dns_writer {
	uint8_t		*buf;
	size_t		 cap;		/* at most 65535 */
	size_t		 len;
	size_t		 qname_len;	/* the question's name, at offset 12 */
	uint16_t	 ancount;
};

/*
 * Start an answer to query (its header and question, parsed into q) in
 * buf[0..cap): QR and AA set, RD copied, rcode NOERROR. -1 when cap is short.
 */
int dns_writer_start(struct dns_writer *w, uint8_t *buf, size_t cap,
    const uint8_t *query, const struct dns_question *q);

/*
 * Append rr, read from msg[0..len), to the answer section: 0, 1 when it
 * does not fit (nothing written), -1 when its rdata is malformed.
 */
int dns_writer_add(struct dns_writer *w, const uint8_t *msg, size_t len,
    const struct dns_rr *rr);

/* Empty the answer section again (header and question stay). */
void dns_writer_reset(struct dns_writer *w);

#endif
