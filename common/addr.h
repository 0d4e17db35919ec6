/* Socket addresses as operators write them: 192.0.2.1:53, [2001:db8::1]:53. */
#ifndef DNSROUTER_ADDR_H
#define DNSROUTER_ADDR_H

#include <sys/socket.h>
#include <netinet/in.h>
#include <stddef.h>

/* Longest text addr_format() writes, with the terminating NUL. */
#define ADDR_STRLEN (INET6_ADDRSTRLEN + 9)

/*
 * Parse "ip:port" or "[ipv6]:port" (len bytes of s, not NUL-terminated);
 * a missing port means defport. Numeric addresses only: no DNS lookups.
 * Returns 0, or -1 with a reason in *why.
 */
int addr_parse(const char *s, size_t len, int defport,
    struct sockaddr_storage *ss, socklen_t *sslen, const char **why);

/* Write ss as "ip:port" or "[ipv6]:port" into buf; returns buf. */
char *addr_format(const struct sockaddr *sa, char *buf, size_t buflen);

/* Nonzero when both hold the same family, address and port. */
int addr_equal(const struct sockaddr *a, const struct sockaddr *b);

/* Bytes of an address's key: family, port, address (IPv4 zero-padded). */
#define ADDR_KEYLEN 19

/* A map key for sa's family, port and address (ADDR_KEYLEN bytes). */
void addr_key(const struct sockaddr *sa, char out[ADDR_KEYLEN]);

#endif
