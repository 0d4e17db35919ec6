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

static size_t
zones_len(const struct status_zone *zones, size_t nzones)
{
	size_t len = 2, i, j;

	for (i = 0; i < nzones; i++) {
		len += 1 + strlen(zones[i].name) + 2 + 1 + 2;
		for (j = 0; j < zones[i].nm; j++)
			len += 2 + 1 + 4 + 1 + strlen(zones[i].m[j].addr) + 1 +
			    strlen(zones[i].m[j].why);
	}
	return len;
}

static uint8_t *
put_str(uint8_t *p, const char *s)
{
	size_t n = strlen(s);

	*p++ = (uint8_t)n;
	memcpy(p, s, n);
	return p + n;
}

int
status_encode(uint32_t flags, int64_t etcd_revision, const char *endpoint,
    const uint8_t *table, size_t tablelen, const struct status_zone *zones,
    size_t nzones, uint8_t **out, size_t *outlen)
{
	size_t elen = endpoint != NULL ? strlen(endpoint) : 0, len, i, j;
	uint8_t *buf, *p;

	if (table == NULL)
		tablelen = 0;
	if (elen > STATUS_MAX_ENDPOINT || tablelen > UINT32_MAX - 1024 ||
	    nzones > STATUS_MAX_ZONES)
		return -1;
	for (i = 0; i < nzones; i++) {
		if (strlen(zones[i].name) > 255 ||
		    zones[i].nm > STATUS_MAX_MEMBERS || zones[i].nshards > 65535)
			return -1;
		for (j = 0; j < zones[i].nm; j++)
			if (strlen(zones[i].m[j].addr) > 255 ||
			    strlen(zones[i].m[j].why) > 255 ||
			    zones[i].m[j].shard > 65535)
				return -1;
	}
	len = PROTO_HDRLEN + FIXED_LEN + elen + 4 + tablelen +
	    zones_len(zones, nzones);
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
	p += 4 + tablelen;
	proto_put16(p, (uint16_t)nzones);
	p += 2;
	for (i = 0; i < nzones; i++) {
		const struct status_zone *z = &zones[i];

		p = put_str(p, z->name);
		proto_put16(p, (uint16_t)z->nshards);
		p[2] = z->agree < 0 ? 2 : (uint8_t)z->agree;
		proto_put16(p + 3, (uint16_t)z->nm);
		p += 5;
		for (j = 0; j < z->nm; j++) {
			proto_put16(p, (uint16_t)z->m[j].shard);
			p[2] = z->m[j].have ? 1 : 0;
			proto_put32(p + 3, z->m[j].serial);
			p = put_str(p + 7, z->m[j].addr);
			p = put_str(p, z->m[j].why);
		}
	}
	*out = buf;
	*outlen = len;
	return 0;
}

/* A length-prefixed text of at most max - 1 bytes, without NUL, into out. */
static const uint8_t *
get_str(const uint8_t *p, const uint8_t *end, char *out, size_t max)
{
	size_t n;

	if (p >= end || (n = *p) >= max || (size_t)(end - p - 1) < n ||
	    memchr(p + 1, '\0', n) != NULL)
		return NULL;
	memcpy(out, p + 1, n);
	out[n] = '\0';
	return p + 1 + n;
}

static int
zones_decode(const uint8_t *p, const uint8_t *end, struct status *s,
    const char **why)
{
	size_t i, j, n;

	*why = "zones do not match the message size";
	if (end - p < 2)
		return -1;
	n = proto_get16(p);
	p += 2;
	if (n > STATUS_MAX_ZONES) {
		*why = "too many zones";
		return -1;
	}
	s->zones = calloc(n + 1, sizeof(*s->zones));
	if (s->zones == NULL)
		return -1;
	for (i = 0; i < n; i++) {
		struct status_zone *z = &s->zones[i];

		s->nzones = i + 1;
		if ((p = get_str(p, end, z->name, sizeof(z->name))) == NULL ||
		    end - p < 5)
			return -1;
		z->nshards = proto_get16(p);
		z->agree = p[2] == 2 ? -1 : p[2];
		z->nm = proto_get16(p + 3);
		p += 5;
		if (p[-3] > 2 || z->nm > STATUS_MAX_MEMBERS) {
			*why = "bad zone";
			return -1;
		}
		if ((z->m = calloc(z->nm + 1, sizeof(*z->m))) == NULL)
			return -1;
		for (j = 0; j < z->nm; j++) {
			struct status_member *m = &z->m[j];

			if (end - p < 7)
				return -1;
			m->shard = proto_get16(p);
			m->have = p[2];
			m->serial = proto_get32(p + 3);
			if (m->have > 1 || m->shard == 0 ||
			    m->shard > z->nshards) {
				*why = "bad zone member";
				return -1;
			}
			if ((p = get_str(p + 7, end, m->addr,
			    sizeof(m->addr))) == NULL ||
			    (p = get_str(p, end, m->why, sizeof(m->why))) == NULL)
				return -1;
		}
	}
	if (p != end)
		return -1;
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
	if ((size_t)(end - p) < tablelen) {
		*why = "table length does not match message size";
		return -1;
	}
	if (tablelen > 0 && (s->table = rt_decode(p, tablelen, why)) == NULL)
		return -1;
	if (zones_decode(p + tablelen, end, s, why) != 0) {
		status_free(s);
		return -1;
	}
	return 0;
}

void
status_free(struct status *s)
{
	size_t i;

	if (s->table != NULL)
		rt_free(s->table);
	s->table = NULL;
	for (i = 0; i < s->nzones; i++)
		free(s->zones[i].m);
	free(s->zones);
	s->zones = NULL;
	s->nzones = 0;
}
