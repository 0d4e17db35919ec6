/* Encoding and validating decoding of the Hyperscan database messages. */
#include <stdlib.h>
#include <string.h>

#include "hsdbmsg.h"
#include "proto.h"

void
hsdb_encode_req(uint8_t buf[HSDB_REQ_LEN], uint64_t have)
{
	proto_put_hdr(buf, PROTO_HSDB_REQ, HSDB_REQ_LEN);
	proto_put64(buf + PROTO_HDRLEN, have);
}

int
hsdb_decode_req(const uint8_t *buf, size_t len, uint64_t *have,
    const char **why)
{
	if (proto_check_msg(buf, len, PROTO_HSDB_REQ, HSDB_REQ_LEN, why) != 0)
		return -1;
	if (len != HSDB_REQ_LEN) {
		*why = "request longer than its layout";
		return -1;
	}
	*have = proto_get64(buf + PROTO_HDRLEN);
	return 0;
}

int
hsdb_encode(uint64_t id, enum hsdb_status status, const char *const *pat,
    uint32_t npat, const char *const *bad, uint32_t nbad, const char *blob,
    size_t bloblen, uint8_t **out, size_t *outlen)
{
	size_t len = HSDB_FIXED, i, l;
	uint8_t *buf, *p;

	if (status != HSDB_DB)
		npat = nbad = 0, bloblen = 0;
	if ((size_t)npat + nbad > HSDB_MAX_PATTERNS)
		return -1;
	for (i = 0; i < npat; i++)
		len += strlen(pat[i]) + 1;
	for (i = 0; i < nbad; i++)
		len += strlen(bad[i]) + 1;
	if (bloblen > HSDB_MAX_LEN || len + bloblen > HSDB_MAX_LEN)
		return -1;
	len += bloblen;
	if ((buf = malloc(len)) == NULL)
		return -1;
	proto_put_hdr(buf, PROTO_HSDB, (uint32_t)len);
	p = buf + PROTO_HDRLEN;
	proto_put64(p, id);
	proto_put32(p + 8, (uint32_t)status);
	proto_put32(p + 12, npat);
	proto_put32(p + 16, nbad);
	proto_put32(p + 20, (uint32_t)bloblen);
	p = buf + HSDB_FIXED;
	for (i = 0; i < npat; i++) {
		l = strlen(pat[i]) + 1;
		memcpy(p, pat[i], l);
		p += l;
	}
	for (i = 0; i < nbad; i++) {
		l = strlen(bad[i]) + 1;
		memcpy(p, bad[i], l);
		p += l;
	}
	if (bloblen > 0)
		memcpy(p, blob, bloblen);
	*out = buf;
	*outlen = len;
	return 0;
}

/* Point out[0..n) at the n strings from *p, each NUL-terminated before end. */
static int
strings(const uint8_t **p, const uint8_t *end, uint32_t n, const char **out)
{
	uint32_t i;

	for (i = 0; i < n; i++) {
		const uint8_t *nul = memchr(*p, 0, (size_t)(end - *p));

		if (nul == NULL || nul == *p || (size_t)(nul - *p) > RT_MAX_PATTERN)
			return -1;
		out[i] = (const char *)*p;
		*p = nul + 1;
	}
	return 0;
}

int
hsdb_decode(const uint8_t *buf, size_t len, struct hsdb_msg *m,
    const char **why)
{
	const uint8_t *p, *end = buf + len;
	uint32_t status;

	memset(m, 0, sizeof(*m));
	if (proto_check_msg(buf, len, PROTO_HSDB, HSDB_FIXED, why) != 0)
		return -1;
	p = buf + PROTO_HDRLEN;
	m->id = proto_get64(p);
	status = proto_get32(p + 8);
	m->npat = proto_get32(p + 12);
	m->nbad = proto_get32(p + 16);
	m->bloblen = proto_get32(p + 20);
	if (status > HSDB_DEFERRED) {
		*why = "unknown status";
		return -1;
	}
	m->status = (enum hsdb_status)status;
	if (m->status != HSDB_DB) {
		if (m->npat != 0 || m->nbad != 0 || m->bloblen != 0 ||
		    len != HSDB_FIXED) {
			*why = "payload without a database";
			return -1;
		}
		return 0;
	}
	/* Each pattern takes two bytes at least: bound the arrays by len. */
	if ((size_t)m->npat + m->nbad > HSDB_MAX_PATTERNS ||
	    ((size_t)m->npat + m->nbad) * 2 > len - HSDB_FIXED ||
	    m->bloblen > len - HSDB_FIXED) {
		*why = "counts past the message";
		return -1;
	}
	m->pat = calloc((size_t)m->npat + 1, sizeof(char *));
	m->bad = calloc((size_t)m->nbad + 1, sizeof(char *));
	if (m->pat == NULL || m->bad == NULL) {
		*why = "out of memory";
		goto fail;
	}
	p = buf + HSDB_FIXED;
	end = buf + len - m->bloblen;
	if (strings(&p, end, m->npat, m->pat) != 0 ||
	    strings(&p, end, m->nbad, m->bad) != 0) {
		*why = "bad pattern list";
		goto fail;
	}
	if (p != end) {
		*why = "bytes between the patterns and the database";
		goto fail;
	}
	m->blob = (const char *)end;
	return 0;
fail:
	hsdb_msg_free(m);
	return -1;
}

void
hsdb_msg_free(struct hsdb_msg *m)
{
	free(m->pat);
	free(m->bad);
	m->pat = m->bad = NULL;
}
