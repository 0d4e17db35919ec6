/* Encoding and validating decoding of route tables. */
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "proto.h"
#include "routetable.h"

#define RT_FIXED	(RT_WIRE_FIXED - PROTO_HDRLEN)	/* epoch, generation, counts */
#define RT_BACKEND_LEN	RT_WIRE_BACKEND
#define RT_ROUTE_FIXED	RT_WIRE_ROUTE

int
rt_encode(const struct rt_table *t, uint8_t **out, size_t *outlen)
{
	size_t len = PROTO_HDRLEN + RT_FIXED;
	uint8_t *buf, *p;
	uint32_t i, j;

	if (t->nbackends > RT_MAX_BACKENDS || t->nroutes > RT_MAX_ROUTES)
		return -1;
	len += (size_t)t->nbackends * RT_BACKEND_LEN;
	for (i = 0; i < t->nroutes; i++) {
		const struct rt_route *r = &t->routes[i];

		if (r->patlen == 0 || r->patlen > RT_MAX_PATTERN ||
		    r->nbackends > RT_MAX_BACKENDS)
			return -1;
		len += RT_ROUTE_FIXED + RT_WIRE_INDEX * (size_t)r->nbackends +
		    r->patlen;
	}
	if (len > RT_MAX_TABLE_LEN || (buf = malloc(len)) == NULL)
		return -1;

	proto_put_hdr(buf, PROTO_TABLE, (uint32_t)len);
	p = buf + PROTO_HDRLEN;
	proto_put64(p, t->epoch);
	proto_put64(p + 8, t->generation);
	proto_put32(p + 16, t->nbackends);
	proto_put32(p + 20, t->nroutes);
	p += RT_FIXED;
	for (i = 0; i < t->nbackends; i++) {
		const struct rt_backend *b = &t->backends[i];

		memset(p, 0, RT_BACKEND_LEN);
		p[1] = b->flags;
		if (b->addr.ss_family == AF_INET) {
			const struct sockaddr_in *sin =
			    (const struct sockaddr_in *)&b->addr;

			p[0] = 4;
			memcpy(p + 2, &sin->sin_port, 2);
			memcpy(p + 4, &sin->sin_addr, 4);
		} else if (b->addr.ss_family == AF_INET6) {
			const struct sockaddr_in6 *sin6 =
			    (const struct sockaddr_in6 *)&b->addr;

			p[0] = 6;
			memcpy(p + 2, &sin6->sin6_port, 2);
			memcpy(p + 4, &sin6->sin6_addr, 16);
		} else {
			free(buf);
			return -1;
		}
		p += RT_BACKEND_LEN;
	}
	for (i = 0; i < t->nroutes; i++) {
		const struct rt_route *r = &t->routes[i];

		proto_put32(p, (uint32_t)r->priority);
		proto_put32(p + 4, r->nbackends);
		proto_put16(p + 8, r->patlen);
		p += RT_ROUTE_FIXED;
		for (j = 0; j < r->nbackends; j++) {
			if (r->backends[j] >= t->nbackends) {
				free(buf);
				return -1;
			}
			proto_put32(p, r->backends[j]);
			p += 4;
		}
		memcpy(p, r->pattern, r->patlen);
		p += r->patlen;
	}
	*out = buf;
	*outlen = len;
	return 0;
}

struct rt_table *
rt_decode(const uint8_t *buf, size_t len, const char **why)
{
	const uint8_t *p, *q, *end = buf + len;
	struct rt_table *t;
	uint32_t i, j, *idx;
	size_t nidx = 0, npat = 0;
	char *pat;

	if (proto_check_msg(buf, len, PROTO_TABLE, PROTO_HDRLEN + RT_FIXED,
	    why) != 0)
		return NULL;
	if (len > RT_MAX_TABLE_LEN) {
		*why = "table longer than RT_MAX_TABLE_LEN";
		return NULL;
	}
	p = buf + PROTO_HDRLEN;
	if ((t = calloc(1, sizeof(*t))) == NULL) {
		*why = "out of memory";
		return NULL;
	}
	t->epoch = proto_get64(p);
	t->generation = proto_get64(p + 8);
	t->nbackends = proto_get32(p + 16);
	t->nroutes = proto_get32(p + 20);
	p += RT_FIXED;
	/* Bound the counts by the bytes present before allocating for them. */
	if (t->nbackends > RT_MAX_BACKENDS ||
	    (size_t)t->nbackends * RT_BACKEND_LEN > (size_t)(end - p)) {
		*why = "backend count exceeds message";
		goto fail;
	}
	if (t->nroutes > RT_MAX_ROUTES ||
	    (size_t)t->nroutes * (RT_ROUTE_FIXED + 1) >
	    (size_t)(end - p) - (size_t)t->nbackends * RT_BACKEND_LEN) {
		*why = "route count exceeds message";
		goto fail;
	}
	if ((t->nbackends && (t->backends = calloc(t->nbackends,
	    sizeof(*t->backends))) == NULL) ||
	    (t->nroutes && (t->routes = calloc(t->nroutes,
	    sizeof(*t->routes))) == NULL)) {
		*why = "out of memory";
		goto fail;
	}
	/*
	 * One block for the routes' backend indexes and patterns: a pass over
	 * the route headers sizes it (each checked against the bytes left).
	 */
	q = p + (size_t)t->nbackends * RT_BACKEND_LEN;
	for (i = 0; i < t->nroutes; i++) {
		uint32_t nb;
		uint16_t pl;

		if ((size_t)(end - q) < RT_ROUTE_FIXED) {
			*why = "truncated route";
			goto fail;
		}
		nb = proto_get32(q + 4);
		pl = proto_get16(q + 8);
		q += RT_ROUTE_FIXED;
		if (pl == 0 || pl > RT_MAX_PATTERN) {
			*why = "bad pattern length";
			goto fail;
		}
		if (nb > RT_MAX_BACKENDS) {
			*why = "route backend count over RT_MAX_BACKENDS";
			goto fail;
		}
		if ((size_t)(end - q) < 4 * (size_t)nb + pl) {
			*why = "truncated route";
			goto fail;
		}
		q += 4 * (size_t)nb + pl;
		nidx += nb;
		npat += (size_t)pl + 1;
	}
	if ((t->arena = malloc(nidx * 4 + npat + 1)) == NULL) {
		*why = "out of memory";
		goto fail;
	}
	idx = t->arena;
	pat = (char *)(idx + nidx);
	for (i = 0; i < t->nbackends; i++, p += RT_BACKEND_LEN) {
		struct rt_backend *b = &t->backends[i];

		if (p[1] & ~(RT_FLAG_UP | RT_FLAG_PRIMARY)) {
			*why = "unknown backend flags";
			goto fail;
		}
		b->flags = p[1];
		if (p[0] == 4) {
			struct sockaddr_in *sin = (struct sockaddr_in *)&b->addr;

			sin->sin_family = AF_INET;
			memcpy(&sin->sin_port, p + 2, 2);
			memcpy(&sin->sin_addr, p + 4, 4);
			b->addrlen = sizeof(*sin);
		} else if (p[0] == 6) {
			struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&b->addr;

			sin6->sin6_family = AF_INET6;
			memcpy(&sin6->sin6_port, p + 2, 2);
			memcpy(&sin6->sin6_addr, p + 4, 16);
			b->addrlen = sizeof(*sin6);
		} else {
			*why = "bad backend address family";
			goto fail;
		}
		if (proto_get16(p + 2) == 0) {
			*why = "backend port 0";
			goto fail;
		}
	}
	for (i = 0; i < t->nroutes; i++) {
		struct rt_route *r = &t->routes[i];

		/* The sizing pass checked the lengths. */
		r->priority = (int32_t)proto_get32(p);
		r->nbackends = proto_get32(p + 4);
		r->patlen = proto_get16(p + 8);
		p += RT_ROUTE_FIXED;
		r->backends = r->nbackends > 0 ? idx : NULL;
		idx += r->nbackends;
		for (j = 0; j < r->nbackends; j++, p += 4) {
			r->backends[j] = proto_get32(p);
			if (r->backends[j] >= t->nbackends) {
				*why = "backend index out of range";
				goto fail;
			}
		}
		if (memchr(p, '\0', r->patlen) != NULL) {
			*why = "NUL byte in pattern";
			goto fail;
		}
		r->pattern = pat;
		pat += (size_t)r->patlen + 1;
		memcpy(r->pattern, p, r->patlen);
		r->pattern[r->patlen] = '\0';
		p += r->patlen;
	}
	if (p != end) {
		*why = "trailing bytes after table";
		goto fail;
	}
	return t;
fail:
	rt_free(t);
	return NULL;
}

int
rt_peek(const uint8_t *buf, size_t len, uint64_t *epoch, uint64_t *generation)
{
	const char *why;

	if (proto_check_msg(buf, len, PROTO_TABLE, PROTO_HDRLEN + RT_FIXED,
	    &why) != 0)
		return -1;
	*epoch = proto_get64(buf + PROTO_HDRLEN);
	*generation = proto_get64(buf + PROTO_HDRLEN + 8);
	return 0;
}

void
rt_free(struct rt_table *t)
{
	uint32_t i;

	if (t == NULL)
		return;
	for (i = 0; t->arena == NULL && t->routes != NULL && i < t->nroutes;
	    i++) {
		free(t->routes[i].backends);
		free(t->routes[i].pattern);
	}
	free(t->arena);
	free(t->routes);
	free(t->backends);
	free(t);
}
