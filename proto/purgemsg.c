/* Encoding and validating decoding of PROTO_PURGE_REQ and PROTO_PURGE. */
#include <stdlib.h>
#include <string.h>

#include "proto.h"
#include "purgemsg.h"

#define NAME_HDR	4	/* qtype, namelen, pad */

/* Nonzero when name[0..len) is one uncompressed wire name, root included. */
static int
wire_name_ok(const uint8_t *name, size_t len)
{
	size_t off = 0;

	if (len == 0 || len > DNS_NAME_WIRE_MAX)
		return 0;
	while (off < len) {
		uint8_t l = name[off];

		if (l == 0)
			return off + 1 == len;
		if (l > 63)
			return 0;
		off += 1u + l;
	}
	return 0;
}

static uint8_t *
put_name(uint8_t *p, const struct purge_name *n)
{
	proto_put16(p, n->qtype);
	p[2] = n->len;
	p[3] = 0;
	memcpy(p + NAME_HDR, n->name, n->len);
	return p + NAME_HDR + n->len;
}

/* Read one name at *p of end; -1 when it does not fit or is no name. */
static int
get_name(const uint8_t **p, const uint8_t *end, struct purge_name *n)
{
	const uint8_t *q = *p;

	if (end - q < NAME_HDR)
		return -1;
	n->qtype = proto_get16(q);
	n->len = q[2];
	if (end - q - NAME_HDR < n->len || !wire_name_ok(q + NAME_HDR, n->len))
		return -1;
	memcpy(n->name, q + NAME_HDR, n->len);
	*p = q + NAME_HDR + n->len;
	return 0;
}

int
purge_req_encode(const struct purge_name *p, uint8_t **out, size_t *outlen)
{
	size_t len = PROTO_HDRLEN + NAME_HDR + p->len;
	uint8_t *buf;

	if ((buf = malloc(len)) == NULL)
		return -1;
	proto_put_hdr(buf, PROTO_PURGE_REQ, (uint32_t)len);
	put_name(buf + PROTO_HDRLEN, p);
	*out = buf;
	*outlen = len;
	return 0;
}

int
purge_req_decode(const uint8_t *buf, size_t len, struct purge_name *p,
    const char **why)
{
	const uint8_t *q = buf + PROTO_HDRLEN;

	if (proto_check_msg(buf, len, PROTO_PURGE_REQ, PROTO_HDRLEN + NAME_HDR,
	    why) != 0)
		return -1;
	if (get_name(&q, buf + len, p) != 0 || q != buf + len) {
		*why = "bad name in purge request";
		return -1;
	}
	return 0;
}

int
purge_encode(const struct purge_list *l, uint8_t **out, size_t *outlen)
{
	size_t len = PROTO_HDRLEN + 20;
	uint8_t *buf, *p;
	uint16_t i;

	if (l->n > PURGE_KEEP)
		return -1;
	for (i = 0; i < l->n; i++)
		len += NAME_HDR + l->p[i].len;
	if ((buf = malloc(len)) == NULL)
		return -1;
	proto_put_hdr(buf, PROTO_PURGE, (uint32_t)len);
	p = buf + PROTO_HDRLEN;
	proto_put64(p, l->epoch);
	proto_put64(p + 8, l->seq);
	proto_put16(p + 16, l->n);
	proto_put16(p + 18, 0);
	p += 20;
	for (i = 0; i < l->n; i++)
		p = put_name(p, &l->p[i]);
	*out = buf;
	*outlen = len;
	return 0;
}

int
purge_decode(const uint8_t *buf, size_t len, struct purge_list *l,
    const char **why)
{
	const uint8_t *p = buf + PROTO_HDRLEN, *end = buf + len;
	uint16_t i;

	if (proto_check_msg(buf, len, PROTO_PURGE, PROTO_HDRLEN + 20, why) != 0)
		return -1;
	l->epoch = proto_get64(p);
	l->seq = proto_get64(p + 8);
	l->n = proto_get16(p + 16);
	p += 20;
	if (l->n > PURGE_KEEP || l->n > l->seq) {
		*why = "bad purge count";
		return -1;
	}
	for (i = 0; i < l->n; i++)
		if (get_name(&p, end, &l->p[i]) != 0) {
			*why = "bad name in purge list";
			return -1;
		}
	if (p != end) {
		*why = "trailing bytes in purge list";
		return -1;
	}
	return 0;
}
