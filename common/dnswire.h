/*
 * DNS wire helpers for the per-query path: read the question straight from
 * the packet (no ldns, no allocation), build header-only error answers.
 */
#ifndef DNSROUTER_DNSWIRE_H
#define DNSROUTER_DNSWIRE_H

#include <stddef.h>
#include <stdint.h>

#define DNS_HDRLEN		12
#define DNS_NAME_WIRE_MAX	255
/* Presentation form: every byte may become \DDD, plus dots and NUL. */
#define DNS_NAME_TEXT_MAX	(4 * DNS_NAME_WIRE_MAX + 2)

#define DNS_RCODE_NOERROR	0
#define DNS_RCODE_FORMERR	1
#define DNS_RCODE_SERVFAIL	2
#define DNS_RCODE_NXDOMAIN	3
#define DNS_RCODE_NOTIMP	4
#define DNS_RCODE_REFUSED	5

#define DNS_CLASS_IN		1
#define DNS_CLASS_CH		3
#define DNS_CLASS_HS		4
#define DNS_TYPE_A		1
#define DNS_TYPE_TXT		16
#define DNS_TYPE_OPT		41

#define DNS_ID(p)	((uint16_t)((p)[0] << 8 | (p)[1]))
#define DNS_QR(p)	((p)[2] & 0x80)
#define DNS_OPCODE(p)	(((p)[2] >> 3) & 0x0f)
#define DNS_TC(p)	((p)[2] & 0x02)
#define DNS_RCODE(p)	((p)[3] & 0x0f)
#define DNS_QDCOUNT(p)	((uint16_t)((p)[4] << 8 | (p)[5]))
#define DNS_ANCOUNT(p)	((uint16_t)((p)[6] << 8 | (p)[7]))
#define DNS_NSCOUNT(p)	((uint16_t)((p)[8] << 8 | (p)[9]))
#define DNS_ARCOUNT(p)	((uint16_t)((p)[10] << 8 | (p)[11]))

static inline void
dns_set_id(uint8_t *p, uint16_t id)
{
	p[0] = (uint8_t)(id >> 8);
	p[1] = (uint8_t)id;
}

/* What to do with a packet that arrived on a listener. */
enum dns_verdict {
	DNS_QUERY_OK = 0,	/* a well-formed standard query: route it */
	DNS_QUERY_DROP,		/* no answerable header, or a response: drop */
	DNS_QUERY_FORMERR,	/* answer FORMERR */
	DNS_QUERY_NOTIMP,	/* opcode other than these: answer NOTIMP */
	DNS_QUERY_NOTIFY,	/* a well-formed NOTIFY (RFC 1996) */
	DNS_QUERY_UPDATE,	/* a well-formed UPDATE (RFC 2136), zone as question */
};

#define DNS_OPCODE_QUERY	0
#define DNS_OPCODE_NOTIFY	4
#define DNS_OPCODE_UPDATE	5
#define DNS_RCODE_NOTAUTH	9

struct dns_question {
	uint16_t	end;		/* offset just past the question */
	uint16_t	qname_len;	/* wire length of the name at offset 12 */
	uint16_t	qtype;
	uint16_t	qclass;
	uint16_t	text_len;	/* strlen(text) */
	int		has_question;	/* question parsed (for error answers) */
	int		edns;		/* an OPT RR follows the question */
	char		text[DNS_NAME_TEXT_MAX]; /* lower case, trailing dot */
};

/*
 * Classify the query pkt[0..len) and read its question into q.
 * q->has_question tells whether the question may be echoed in an error.
 */
enum dns_verdict dns_parse_query(const uint8_t *pkt, size_t len,
    struct dns_question *q);

/*
 * Write an answer with rcode to query (qlen bytes) into out (outlen bytes):
 * the query's header with QR set, the question if q says it was parsed, and
 * an OPT RR when the query had one. Returns the length, or 0 if out is short.
 */
size_t dns_error_answer(uint8_t *out, size_t outlen, const uint8_t *query,
    size_t qlen, const struct dns_question *q, int rcode);

/*
 * Nonzero when reply (rlen bytes) carries exactly one question equal to the
 * question of query, which dns_parse_query read into q (names compared
 * without regard to ASCII case).
 */
int dns_same_question(const uint8_t *reply, size_t rlen, const uint8_t *query,
    const struct dns_question *q);

/*
 * TCP framing (RFC 1035 4.2.2, RFC 7766): buf[0..len) holds a stream of
 * messages, each after a two-byte length. Returns the length of the first
 * message when all of it is there (it starts at buf + 2); 0 when more bytes
 * are needed, with the size of the whole frame in *need (2 while the length
 * itself is incomplete); -1 when the length cannot be a DNS message (less
 * than a header), after which nothing on the stream can be trusted.
 */
long dns_tcp_frame(const uint8_t *buf, size_t len, size_t *need);

/*
 * The text of one label (ll bytes at c) written at t, lower case, escaped
 * as dns_question.text is, and its dot: returns the end. At most 4 * ll + 1.
 */
char *dns_label_text(char *t, const uint8_t *c, unsigned ll);

/*
 * The text of the uncompressed wire name at wire (checked already: labels
 * below 64, at most DNS_NAME_WIRE_MAX) into text (DNS_NAME_TEXT_MAX), as
 * dns_question.text is: lower case, trailing dot. Returns its length.
 */
size_t dns_name_text(const uint8_t *wire, char *text);

/* Nonzero when the len bytes of wire names a and b are equal but for ASCII case. */
int dns_name_equal(const uint8_t *a, const uint8_t *b, size_t len);

/* Nonzero when name is a plausible text domain name (for config values). */
int dns_name_check_text(const char *name);

/* Class/type mnemonics for config files; -1 when unknown. */
int dns_class_from_name(const char *s);
int dns_type_from_name(const char *s);
/* Mnemonic of a class/type, or CLASSn/TYPEn. */
const char *dns_class_name(uint16_t c, char *buf, size_t len);
const char *dns_type_name(uint16_t t, char *buf, size_t len);

#endif
