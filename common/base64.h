/* Base64 (RFC 4648, with padding), as etcd's JSON API carries keys and values. */
#ifndef DNSROUTER_BASE64_H
#define DNSROUTER_BASE64_H

#include <stddef.h>
#include <stdint.h>

/* Length of the encoding of n bytes, without the NUL. */
#define BASE64_LEN(n)	((((n) + 2) / 3) * 4)

/* Encode src (n bytes) into dst (BASE64_LEN(n) + 1 bytes), NUL-terminated. */
void base64_encode(const uint8_t *src, size_t n, char *dst);

/*
 * Decode len characters of src into dst (at least len / 4 * 3 bytes).
 * Returns the decoded length, or -1 on bad input.
 */
long base64_decode(const char *src, size_t len, uint8_t *dst);

#endif
