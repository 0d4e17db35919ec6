/* Encoding and validating decoding of router reports. */
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "proto.h"
#include "report.h"

#define FIXED_LEN	(16 + 16 + 4 * REPORT_NGLOBAL)
#define ENTRY_LEN	(20 + 12 + 4 * REPORT_NRCODE + 4 * REPORT_NBUCKET + 8)
#define ROUTE_LEN	8

/* 0.5 ms to 10 s: loopback backends to the longest timeout worth waiting. */
const uint32_t report_bucket_us[REPORT_NBUCKET - 1] = {
	500, 1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000, 500000,
	1000000, 2500000, 5000000, 10000000,
};

static int
put_entry(uint8_t *p, const struct report_entry *e)
{
	unsigned k;

	memset(p, 0, 20);
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
	} else
		return -1;
	p += 20;
	proto_put32(p, e->queries);
	proto_put32(p + 4, e->failed);
	proto_put32(p + 8, e->unanswered);
	p += 12;
	for (k = 0; k < REPORT_NRCODE; k++, p += 4)
		proto_put32(p, e->rcode[k]);
	for (k = 0; k < REPORT_NBUCKET; k++, p += 4)
		proto_put32(p, e->bucket[k]);
	proto_put64(p, e->latency_us);
	return 0;
}

static int
get_entry(const uint8_t *p, struct report_entry *e, const char **why)
{
	unsigned k;

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
		*why = "bad address family";
		return -1;
	}
	p += 20;
	e->queries = proto_get32(p);
	e->failed = proto_get32(p + 4);
	e->unanswered = proto_get32(p + 8);
	if (e->unanswered > e->failed) {
		*why = "more unanswered failures than failures";
		return -1;
	}
	p += 12;
	e->answered = 0;
	for (k = 0; k < REPORT_NRCODE; k++, p += 4) {
		e->rcode[k] = proto_get32(p);
		e->answered += e->rcode[k];
	}
	for (k = 0; k < REPORT_NBUCKET; k++, p += 4)
		e->bucket[k] = proto_get32(p);
	e->latency_us = proto_get64(p);
	return 0;
}

int
report_encode(const struct report *r, uint8_t **out, size_t *outlen)
{
	size_t len;
	uint8_t *buf, *p;
	uint32_t i;

	if (r->n > REPORT_MAX_ENTRIES || r->nroutes > REPORT_MAX_ROUTES)
		return -1;
	len = PROTO_HDRLEN + FIXED_LEN + (size_t)r->n * ENTRY_LEN +
	    (size_t)r->nroutes * ROUTE_LEN;
	if ((buf = malloc(len)) == NULL)
		return -1;
	proto_put_hdr(buf, PROTO_REPORT, (uint32_t)len);
	p = buf + PROTO_HDRLEN;
	proto_put32(p, r->router);
	proto_put32(p + 4, r->n);
	proto_put32(p + 8, r->nroutes);
	proto_put32(p + 12, r->cache_entries);
	proto_put64(p + 16, r->epoch);
	proto_put64(p + 24, r->generation);
	p += 32;
	for (i = 0; i < REPORT_NGLOBAL; i++, p += 4)
		proto_put32(p, r->global[i]);
	for (i = 0; i < r->n; i++, p += ENTRY_LEN)
		if (put_entry(p, &r->e[i]) != 0) {
			free(buf);
			return -1;
		}
	for (i = 0; i < r->nroutes; i++, p += ROUTE_LEN) {
		proto_put32(p, r->routes[i].index);
		proto_put32(p + 4, r->routes[i].queries);
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

	memset(r, 0, sizeof(*r));
	if (proto_check_msg(buf, len, PROTO_REPORT, PROTO_HDRLEN + FIXED_LEN,
	    why) != 0)
		return -1;
	p = buf + PROTO_HDRLEN;
	r->router = proto_get32(p);
	r->n = proto_get32(p + 4);
	r->nroutes = proto_get32(p + 8);
	r->cache_entries = proto_get32(p + 12);
	r->epoch = proto_get64(p + 16);
	r->generation = proto_get64(p + 24);
	p += 32;
	if (r->n > REPORT_MAX_ENTRIES || r->nroutes > REPORT_MAX_ROUTES ||
	    (size_t)r->n * ENTRY_LEN + (size_t)r->nroutes * ROUTE_LEN !=
	    len - PROTO_HDRLEN - FIXED_LEN) {
		r->n = r->nroutes = 0;
		*why = "entry and route counts do not match message size";
		return -1;
	}
	for (i = 0; i < REPORT_NGLOBAL; i++, p += 4)
		r->global[i] = proto_get32(p);
	if ((r->n && (r->e = calloc(r->n, sizeof(*r->e))) == NULL) ||
	    (r->nroutes &&
	    (r->routes = calloc(r->nroutes, sizeof(*r->routes))) == NULL)) {
		report_free(r);
		*why = "out of memory";
		return -1;
	}
	for (i = 0; i < r->n; i++, p += ENTRY_LEN)
		if (get_entry(p, &r->e[i], why) != 0) {
			report_free(r);
			return -1;
		}
	for (i = 0; i < r->nroutes; i++, p += ROUTE_LEN) {
		r->routes[i].index = proto_get32(p);
		r->routes[i].queries = proto_get32(p + 4);
	}
	return 0;
}

void
report_free(struct report *r)
{
	free(r->e);
	free(r->routes);
	r->e = NULL;
	r->routes = NULL;
	r->n = r->nroutes = 0;
}

size_t
report_maxlen(void)
{
	return PROTO_HDRLEN + FIXED_LEN + (size_t)REPORT_MAX_ENTRIES * ENTRY_LEN +
	    (size_t)REPORT_MAX_ROUTES * ROUTE_LEN;
}
