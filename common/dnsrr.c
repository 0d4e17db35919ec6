/*
 * Resource records on the wire (see dnsrr.h). Everything read here comes
 * from a backend and is checked as if it came from an attacker.
 */
#include <string.h>

#include "dnsrr.h"

static uint16_t
get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static void
put16(uint8_t *p, size_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

size_t
dns_name_unpack(const uint8_t *msg, size_t len, size_t *off, uint8_t *out)
{
	size_t pos = *off, limit = *off, wire = 0, after = 0;

	for (;;) {
		unsigned ll;

		if (pos >= len)
			return 0;
		ll = msg[pos];
		if ((ll & 0xc0) == 0xc0) {
			size_t ptr;

			if (pos + 1 >= len)
				return 0;
			ptr = (size_t)(ll & 0x3f) << 8 | msg[pos + 1];
			if (after == 0)
				after = pos + 2;
			/* Strictly backwards, so the walk ends. */
			if (ptr >= limit)
				return 0;
			limit = pos = ptr;
			continue;
		}
		if (ll > 63)
			return 0;	/* 0x40 and 0x80: extended label types */
		if (ll == 0) {
			out[wire++] = 0;
			pos++;
			break;
		}
		/* Room for this label and the root's byte after it. */
		if (wire + 1 + ll + 1 > DNS_NAME_WIRE_MAX || pos + 1 + ll > len)
			return 0;
		memcpy(out + wire, msg + pos, 1 + ll);
		wire += 1 + ll;
		pos += 1 + ll;
	}
	*off = after != 0 ? after : pos;
	return wire;
}

int
dns_rr_iter_init(struct dns_rr_iter *it, const uint8_t *msg, size_t len)
{
	uint8_t name[DNS_NAME_WIRE_MAX];
	unsigned i;

	if (len < DNS_HDRLEN)
		return -1;
	it->msg = msg;
	it->len = len;
	it->off = DNS_HDRLEN;
	for (i = 0; i < DNS_QDCOUNT(msg); i++) {
		if (dns_name_unpack(msg, len, &it->off, name) == 0 ||
		    it->off + 4 > len)
			return -1;
		it->off += 4;
	}
	it->left[0] = DNS_ANCOUNT(msg);
	it->left[1] = DNS_NSCOUNT(msg);
	it->left[2] = DNS_ARCOUNT(msg);
	return 0;
}

int
dns_rr_next(struct dns_rr_iter *it, struct dns_rr *rr)
{
	const uint8_t *p;
	int s;

	for (s = 0; s < 3 && it->left[s] == 0; s++)
		;
	if (s == 3)
		return it->off == it->len ? 0 : -1;
	it->left[s]--;
	rr->section = DNS_SECTION_ANSWER + s;
	if ((rr->owner_len = dns_name_unpack(it->msg, it->len, &it->off,
	    rr->owner)) == 0 || it->off + 10 > it->len)
		return -1;
	p = it->msg + it->off;
	rr->type = get16(p);
	rr->rclass = get16(p + 2);
	rr->ttl = (uint32_t)p[4] << 24 | (uint32_t)p[5] << 16 |
	    (uint32_t)p[6] << 8 | p[7];
	rr->rdlen = get16(p + 8);
	rr->rdoff = it->off + 10;
	if (rr->rdoff + rr->rdlen > it->len)
		return -1;
	it->off = rr->rdoff + rr->rdlen;
	return 1;
}

int64_t
dns_soa_serial(const uint8_t *msg, size_t len, const struct dns_rr *rr)
{
	uint8_t name[DNS_NAME_WIRE_MAX];
	size_t off = rr->rdoff, end = rr->rdoff + rr->rdlen;
	const uint8_t *p;

	if (rr->type != DNS_TYPE_SOA ||
	    dns_name_unpack(msg, len, &off, name) == 0 || off > end ||
	    dns_name_unpack(msg, len, &off, name) == 0 || off + 20 != end)
		return -1;
	p = msg + off;
	return (int64_t)((uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | p[3]);
}

/*
 * The rdata of the types with names in them (RFC 3597 section 4: a
 * receiver decompresses all of these). 'n' a name we may compress (the
 * RFC 1035 types), 'N' one written whole, 's' a character string, a
 * number that many bytes; the rest of the rdata is copied as it is.
 */
static const char *
rdata_fields(uint16_t type)
{
	switch (type) {
	case 2: case 3: case 4: case 5:		/* NS MD MF CNAME */
	case 7: case 8: case 9: case 12:	/* MB MG MR PTR */
		return "n";
	case 6:					/* SOA */
		return "nn20";
	case 14:				/* MINFO */
		return "nn";
	case 15:				/* MX */
		return "2n";
	case 17:				/* RP */
		return "NN";
	case 18: case 21: case 36:		/* AFSDB RT KX */
		return "2N";
	case 24:				/* SIG */
		return "18N";
	case 26:				/* PX */
		return "2NN";
	case 30: case 39:			/* NXT DNAME */
		return "N";
	case 33:				/* SRV */
		return "6N";
	case 35:				/* NAPTR */
		return "4sssN";
	default:
		return "";
	}
}

/* Write name (wire, n bytes) at w->buf + *at, within cap. -1 when short. */
static int
put_name(const struct dns_writer *w, size_t *at, const uint8_t *name,
    size_t n, int compress)
{
	size_t i = 0, q = w->qname_len;

	/* The first suffix equal to the question's name, if any. */
	if (compress && q > 1) {
		for (i = 0; name[i] != 0; i += 1 + name[i])
			if (n - i == q &&
			    dns_name_equal(name + i, w->buf + DNS_HDRLEN, q))
				break;
		if (name[i] == 0)
			i = n;		/* none: the whole name */
	} else
		i = n;
	if (*at + i + (i < n ? 2 : 0) > w->cap)
		return -1;
	memcpy(w->buf + *at, name, i);
	*at += i;
	if (i < n) {
		put16(w->buf + *at, 0xc000 | DNS_HDRLEN);
		*at += 2;
	}
	return 0;
}

int
dns_writer_start(struct dns_writer *w, uint8_t *buf, size_t cap,
    const uint8_t *query, const struct dns_question *q)
{
	if (cap > 65535)
		cap = 65535;
	if (!q->has_question || q->end > cap)
		return -1;
	w->buf = buf;
	w->cap = cap;
	memcpy(buf, query, q->end);
	buf[2] = (uint8_t)(0x80 | (query[2] & 0x79) | 0x04);	/* QR, AA */
	buf[3] = 0;
	put16(buf + 4, 1);
	memset(buf + 6, 0, 6);
	w->qname_len = q->qname_len;
	w->len = q->end;
	w->ancount = 0;
	return 0;
}

void
dns_writer_reset(struct dns_writer *w)
{
	w->len = DNS_HDRLEN + w->qname_len + 4;
	w->ancount = 0;
	put16(w->buf + 6, 0);
}

int
dns_writer_add(struct dns_writer *w, const uint8_t *msg, size_t len,
    const struct dns_rr *rr)
{
	uint8_t name[DNS_NAME_WIRE_MAX];
	size_t at = w->len, rdat, p = rr->rdoff, end = rr->rdoff + rr->rdlen;
	const char *f;

	if (w->ancount == 0xffff)
		return 1;
	if (put_name(w, &at, rr->owner, rr->owner_len, 1) != 0 ||
	    at + 10 > w->cap)
		return 1;
	put16(w->buf + at, rr->type);
	put16(w->buf + at + 2, rr->rclass);
	put16(w->buf + at + 4, rr->ttl >> 16);
	put16(w->buf + at + 6, rr->ttl & 0xffff);
	at += 10;
	rdat = at;
	for (f = rdata_fields(rr->type); *f != '\0'; f++) {
		size_t k, n;

		if (*f == 'n' || *f == 'N') {
			size_t o = p;

			if ((n = dns_name_unpack(msg, len, &o, name)) == 0 ||
			    o > end)
				return -1;
			if (put_name(w, &at, name, n, *f == 'n') != 0)
				return 1;
			p = o;
			continue;
		}
		if (*f == 's') {
			if (p >= end)
				return -1;
			k = 1 + (size_t)msg[p];
		} else
			for (k = 0; f[0] >= '0' && f[0] <= '9'; f++)
				k = k * 10 + (size_t)(f[0] - '0');
		if (*f != 's')
			f--;
		if (p + k > end)
			return -1;
		if (at + k > w->cap)
			return 1;
		memcpy(w->buf + at, msg + p, k);
		at += k;
		p += k;
	}
	if (at + (end - p) > w->cap)
		return 1;
	memcpy(w->buf + at, msg + p, end - p);
	at += end - p;
	if (at - rdat > 65535)
		return -1;
	put16(w->buf + rdat - 2, at - rdat);
	w->len = at;
	put16(w->buf + 6, ++w->ancount);
	return 0;
}
