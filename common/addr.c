/* Parsing, printing and comparing socket addresses. */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"

int
addr_parse(const char *s, size_t len, int defport,
    struct sockaddr_storage *ss, socklen_t *sslen, const char **why)
{
	char host[INET6_ADDRSTRLEN + 1];
	const char *port = NULL, *end = s + len;
	size_t hlen;
	long p;

	if (len == 0) {
		*why = "empty address";
		return -1;
	}
	/* inet_pton would stop at a NUL and accept what precedes it. */
	if (memchr(s, '\0', len) != NULL) {
		*why = "NUL byte in address";
		return -1;
	}
	if (s[0] == '[') {
		const char *rb = memchr(s, ']', len);

		if (rb == NULL) {
			*why = "missing ']' after IPv6 address";
			return -1;
		}
		hlen = (size_t)(rb - s - 1);
		if (rb + 1 < end) {
			if (rb[1] != ':') {
				*why = "expected ':port' after ']'";
				return -1;
			}
			port = rb + 2;
		}
		s++;
	} else {
		const char *colon = memchr(s, ':', len);

		if (colon != NULL && memchr(colon + 1, ':', (size_t)(end - colon - 1))) {
			*why = "IPv6 addresses need brackets: [addr]:port";
			return -1;
		}
		hlen = colon ? (size_t)(colon - s) : len;
		if (colon)
			port = colon + 1;
	}
	if (hlen == 0 || hlen >= sizeof(host)) {
		*why = "bad host address";
		return -1;
	}
	memcpy(host, s, hlen);
	host[hlen] = '\0';

	if (port != NULL) {
		char pbuf[8], *ep;
		size_t plen = (size_t)(end - port);

		if (plen == 0 || plen >= sizeof(pbuf)) {
			*why = "bad port";
			return -1;
		}
		memcpy(pbuf, port, plen);
		pbuf[plen] = '\0';
		if (pbuf[0] < '0' || pbuf[0] > '9') {
			*why = "bad port";
			return -1;
		}
		p = strtol(pbuf, &ep, 10);
		if (*ep != '\0' || p < 1 || p > 65535) {
			*why = "port must be 1-65535";
			return -1;
		}
	} else
		p = defport;

	memset(ss, 0, sizeof(*ss));
	if (strchr(host, ':') != NULL) {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;

		if (inet_pton(AF_INET6, host, &sin6->sin6_addr) != 1) {
			*why = "bad IPv6 address";
			return -1;
		}
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)p);
		*sslen = sizeof(*sin6);
	} else {
		struct sockaddr_in *sin = (struct sockaddr_in *)ss;

		if (inet_pton(AF_INET, host, &sin->sin_addr) != 1) {
			*why = "bad IPv4 address";
			return -1;
		}
		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)p);
		*sslen = sizeof(*sin);
	}
	return 0;
}

char *
addr_format(const struct sockaddr *sa, char *buf, size_t buflen)
{
	char host[INET6_ADDRSTRLEN];

	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)sa;

		inet_ntop(AF_INET6, &sin6->sin6_addr, host, sizeof(host));
		snprintf(buf, buflen, "[%s]:%u", host, ntohs(sin6->sin6_port));
	} else if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)sa;

		inet_ntop(AF_INET, &sin->sin_addr, host, sizeof(host));
		snprintf(buf, buflen, "%s:%u", host, ntohs(sin->sin_port));
	} else
		snprintf(buf, buflen, "(family %d)", sa->sa_family);
	return buf;
}

int
addr_equal(const struct sockaddr *a, const struct sockaddr *b)
{
	if (a->sa_family != b->sa_family)
		return 0;
	if (a->sa_family == AF_INET) {
		const struct sockaddr_in *x = (const struct sockaddr_in *)a;
		const struct sockaddr_in *y = (const struct sockaddr_in *)b;

		return x->sin_port == y->sin_port &&
		    x->sin_addr.s_addr == y->sin_addr.s_addr;
	}
	if (a->sa_family == AF_INET6) {
		const struct sockaddr_in6 *x = (const struct sockaddr_in6 *)a;
		const struct sockaddr_in6 *y = (const struct sockaddr_in6 *)b;

		return x->sin6_port == y->sin6_port &&
		    memcmp(&x->sin6_addr, &y->sin6_addr, 16) == 0;
	}
	return 0;
}

void
addr_key(const struct sockaddr *sa, char out[ADDR_KEYLEN])
{
	memset(out, 0, ADDR_KEYLEN);
	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)sa;

		out[0] = 6;
		memcpy(out + 1, &s6->sin6_port, 2);
		memcpy(out + 3, &s6->sin6_addr, 16);
	} else {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)sa;

		out[0] = 4;
		memcpy(out + 1, &s4->sin_port, 2);
		memcpy(out + 3, &s4->sin_addr, 4);
	}
}
