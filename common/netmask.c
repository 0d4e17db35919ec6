/* Address prefixes: parsing, printing, matching clients. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "netmask.h"

int
netmask_parse(const char *s, struct netmask *m, const char **why)
{
	char buf[64], *slash, *end;
	unsigned long bits;
	unsigned i, max;

	if (strlen(s) >= sizeof(buf)) {
		*why = "not an address or prefix";
		return -1;
	}
	strcpy(buf, s);
	memset(m, 0, sizeof(*m));
	if ((slash = strchr(buf, '/')) != NULL)
		*slash++ = '\0';
	if (inet_pton(AF_INET, buf, m->addr) == 1) {
		m->fam = 4;
		max = 32;
	} else if (inet_pton(AF_INET6, buf, m->addr) == 1) {
		m->fam = 6;
		max = 128;
	} else {
		*why = "not an IPv4 or IPv6 address (e.g. 192.0.2.0/24, 2001:db8::/32)";
		return -1;
	}
	bits = max;
	if (slash != NULL) {
		errno = 0;
		bits = strtoul(slash, &end, 10);
		if (*slash < '0' || *slash > '9' || *end != '\0' || errno != 0 ||
		    bits > max) {
			*why = m->fam == 4 ? "prefix length must be 0 to 32" :
			    "prefix length must be 0 to 128";
			return -1;
		}
	}
	m->bits = (uint8_t)bits;
	for (i = 0; i < max / 8; i++) {
		unsigned keep = bits >= (i + 1) * 8 ? 8 :
		    bits > i * 8 ? (unsigned)bits - i * 8 : 0;
		uint8_t mask = (uint8_t)(0xff00 >> keep);

		if (m->addr[i] & ~mask) {
			*why = "address has bits set beyond the prefix length";
			return -1;
		}
	}
	return 0;
}

char *
netmask_format(const struct netmask *m, char *buf, size_t len)
{
	char a[INET6_ADDRSTRLEN];

	inet_ntop(m->fam == 4 ? AF_INET : AF_INET6, m->addr, a, sizeof(a));
	snprintf(buf, len, "%s/%u", a, m->bits);
	return buf;
}

static int
prefix_equal(const uint8_t *a, const uint8_t *p, unsigned bits)
{
	unsigned full = bits / 8, rest = bits % 8;

	if (memcmp(a, p, full) != 0)
		return 0;
	if (rest == 0)
		return 1;
	return ((a[full] ^ p[full]) & (uint8_t)(0xff00 >> rest)) == 0;
}

int
netmask_match(const struct netmask *m, int n, const struct sockaddr *sa)
{
	static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
	const uint8_t *a4 = NULL, *a6 = NULL;
	int i;

	if (sa->sa_family == AF_INET)
		a4 = (const uint8_t *)&((const struct sockaddr_in *)sa)->sin_addr;
	else if (sa->sa_family == AF_INET6) {
		a6 = ((const struct sockaddr_in6 *)sa)->sin6_addr.s6_addr;
		if (memcmp(a6, mapped, sizeof(mapped)) == 0)
			a4 = a6 + 12;
	}
	for (i = 0; i < n; i++) {
		if (m[i].fam == 4 && a4 != NULL &&
		    prefix_equal(a4, m[i].addr, m[i].bits))
			return 1;
		if (m[i].fam == 6 && a6 != NULL &&
		    prefix_equal(a6, m[i].addr, m[i].bits))
			return 1;
	}
	return 0;
}
