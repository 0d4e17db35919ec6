/* Encoding and validating decoding of router reports. */
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "proto.h"
#include "report.h"

#define ENTRY_LEN	28

int
report_encode(const struct report *r, uint8_t **out, size_t *outlen)
{
	size_t len = PROTO_HDRLEN + 8 + (size_t)r->n * ENTRY_LEN;
	uint8_t *buf, *p;
	uint32_t i;

	if (r->n > REPORT_MAX_ENTRIES || (buf = malloc(len)) == NULL)
		return -1;
	proto_put_hdr(buf, PROTO_REPORT, (uint32_t)len);
	p = buf + PROTO_HDRLEN;
	proto_put32(p, r->router);
	proto_put32(p + 4, r->n);
	p += 8;
	for (i = 0; i < r->n; i++, p += ENTRY_LEN) {
		const struct report_entry *e = &r->e[i];

		memset(p, 0, ENTRY_LEN);
		if (e->addr.ss_family == AF_INET) {
			const struct sockaddr_in *s = (const struct sockaddr_in *)&e->addr;

			p[0] = 4;
			memcpy(p + 2, &s->sin_port, 2);
			memcpy(p + 4, &s->sin_addr, 4);
		} else if (e->addr.ss_family == AF_INET6) {
			const struct sockaddr_in6 *s = (const struct sockaddr_in6 *)&e->addr;

			p[0] = 6;
			memcpy(p + 2, &s->sin6_port, 2);
			memcpy(p + 4, &s->sin6_addr, 16);
		} else {
			free(buf);
			return -1;
		}
		proto_put32(p + 20, e->answered);
		proto_put32(p + 24, e->failed);
	}
	*out = buf;
	*outlen = len;
	return 0;
}

int
report_decode(const uint8_t *buf, size_t len, struct report *r, const char **why)
{
	const uint8_t *p;
	uint32_t i;
	int type;

	memset(r, 0, sizeof(*r));
	if ((type = proto_check_hdr(buf, len, why)) < 0)
		return -1;
	if (type != PROTO_REPORT) {
		*why = "not a report message";
		return -1;
	}
	if (len < PROTO_HDRLEN + 8) {
		*why = "truncated report";
		return -1;
	}
	p = buf + PROTO_HDRLEN;
	r->router = proto_get32(p);
	r->n = proto_get32(p + 4);
	p += 8;
	if (r->n > REPORT_MAX_ENTRIES ||
	    (size_t)r->n * ENTRY_LEN != len - PROTO_HDRLEN - 8) {
		*why = "entry count does not match message size";
		return -1;
	}
	if (r->n && (r->e = calloc(r->n, sizeof(*r->e))) == NULL) {
		*why = "out of memory";
		return -1;
	}
	for (i = 0; i < r->n; i++, p += ENTRY_LEN) {
		struct report_entry *e = &r->e[i];

		if (p[0] == 4) {
			struct sockaddr_in *s = (struct sockaddr_in *)&e->addr;

			s->sin_family = AF_INET;
			memcpy(&s->sin_port, p + 2, 2);
			memcpy(&s->sin_addr, p + 4, 4);
		} else if (p[0] == 6) {
			struct sockaddr_in6 *s = (struct sockaddr_in6 *)&e->addr;

			s->sin6_family = AF_INET6;
			memcpy(&s->sin6_port, p + 2, 2);
			memcpy(&s->sin6_addr, p + 4, 16);
		} else {
			free(r->e);
			r->e = NULL;
			*why = "bad address family";
			return -1;
		}
		e->answered = proto_get32(p + 20);
		e->failed = proto_get32(p + 24);
	}
	return 0;
}
