/* Encoding and validating decoding of status answers. */
#include <stdlib.h>
#include <string.h>

#include "proto.h"
#include "statusmsg.h"

#define FIXED_LEN	(4 + 4 + 8 + 2)	/* flags, reserved, revision, endpoint_len */

size_t
status_request(uint8_t *buf)
{
	proto_put_hdr(buf, PROTO_STATUS_REQ, PROTO_HDRLEN);
	return PROTO_HDRLEN;
}

int
status_encode(uint32_t flags, int64_t etcd_revision, const char *endpoint,
    const uint8_t *table, size_t tablelen, uint8_t **out, size_t *outlen)
{
	size_t elen = endpoint != NULL ? strlen(endpoint) : 0, len;
	uint8_t *buf, *p;

	if (table == NULL)
		tablelen = 0;
	if (elen > STATUS_MAX_ENDPOINT || tablelen > UINT32_MAX - 1024)
		return -1;
	len = PROTO_HDRLEN + FIXED_LEN + elen + 4 + tablelen;
	if (len > UINT32_MAX || (buf = malloc(len)) == NULL)
		return -1;
	proto_put_hdr(buf, PROTO_STATUS, (uint32_t)len);
	p = buf + PROTO_HDRLEN;
	proto_put32(p, flags);
	proto_put32(p + 4, 0);
	proto_put64(p + 8, (uint64_t)etcd_revision);
	proto_put16(p + 16, (uint16_t)elen);
	p += FIXED_LEN;
	if (elen > 0)
		memcpy(p, endpoint, elen);
	p += elen;
	proto_put32(p, (uint32_t)tablelen);
	if (tablelen > 0)
		memcpy(p + 4, table, tablelen);
	*out = buf;
	*outlen = len;
	return 0;
}

int
status_decode(const uint8_t *buf, size_t len, struct status *s,
    const char **why)
{
	const uint8_t *p, *end = buf + len;
	uint32_t tablelen;
	uint16_t elen;

	memset(s, 0, sizeof(*s));
	if (proto_check_msg(buf, len, PROTO_STATUS, PROTO_HDRLEN + FIXED_LEN,
	    why) != 0)
		return -1;
	p = buf + PROTO_HDRLEN;
	s->flags = proto_get32(p);
	s->etcd_revision = (int64_t)proto_get64(p + 8);
	elen = proto_get16(p + 16);
	p += FIXED_LEN;
	if (elen > STATUS_MAX_ENDPOINT || (size_t)(end - p) < (size_t)elen + 4) {
		*why = "endpoint length does not match message size";
		return -1;
	}
	memcpy(s->endpoint, p, elen);
	s->endpoint[elen] = '\0';
	if (memchr(s->endpoint, '\0', elen) != NULL) {
		*why = "NUL byte in endpoint";
		return -1;
	}
	p += elen;
	tablelen = proto_get32(p);
	p += 4;
	if ((size_t)(end - p) != tablelen) {
		*why = "table length does not match message size";
		return -1;
	}
	if (tablelen > 0 && (s->table = rt_decode(p, tablelen, why)) == NULL)
		return -1;
	return 0;
}

void
status_free(struct status *s)
{
	if (s->table != NULL)
		rt_free(s->table);
	s->table = NULL;
}
