/*
 * PROTO_ERROR: a request a process cannot serve, answered with the reason
 * (the controller to dnsrouterctl today; any req/rep endpoint may use it).
 *
 * After the proto header: the reason, text without a NUL, at most
 * ERROR_MAX bytes.
 */
#ifndef DNSROUTER_ERROR_H
#define DNSROUTER_ERROR_H

#include <stddef.h>
#include <stdint.h>

#define ERROR_MAX	1024

/* Encode a PROTO_ERROR message with reason msg into a malloc'd buffer; -1 on failure. */
int error_encode(const char *msg, uint8_t **out, size_t *outlen);

/* Decode a PROTO_ERROR message's reason into msg (NUL-terminated); -1 with why. */
int error_decode(const uint8_t *buf, size_t len, char *msg, size_t msglen,
    const char **why);

#endif
