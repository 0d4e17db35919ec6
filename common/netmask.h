/*
 * Address prefixes as operators write them (192.0.2.0/24, 2001:db8::/32, a
 * bare address for one host) and matching client addresses against lists
 * of them: allow-query, allow-transfer, rrl-exempt.
 */
#ifndef DNSROUTER_NETMASK_H
#define DNSROUTER_NETMASK_H

#include <sys/socket.h>
#include <stddef.h>
#include <stdint.h>

/* Longest text netmask_format() writes, with the terminating NUL. */
#define NETMASK_STRLEN	(46 + 4)

struct netmask {
	uint8_t	fam;		/* 4 or 6 */
	uint8_t	bits;		/* prefix length */
	uint8_t	addr[16];	/* host bits beyond the prefix are zero */
};

/*
 * Parse "addr/len" or "addr" (all host bits). Host bits set beyond the
 * prefix are an error, as a typo would otherwise widen or move the range.
 * Returns 0, or -1 with a reason in *why.
 */
int netmask_parse(const char *s, struct netmask *m, const char **why);

/* Write m as "addr/len"; returns buf. */
char *netmask_format(const struct netmask *m, char *buf, size_t len);

/*
 * Nonzero when sa falls in one of m[0..n). An IPv4-mapped IPv6 client
 * (::ffff:192.0.2.1) matches IPv4 prefixes.
 */
int netmask_match(const struct netmask *m, int n, const struct sockaddr *sa);

#endif
