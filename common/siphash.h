/*
 * SipHash-1-3: a keyed hash, so whoever picks the input (client addresses,
 * query names) cannot pick which entries collide; fast on short input.
 */
#ifndef DNSROUTER_SIPHASH_H
#define DNSROUTER_SIPHASH_H

#include <stddef.h>
#include <stdint.h>

/* The hash of len bytes at data under the key (k0, k1). */
uint64_t siphash13(uint64_t k0, uint64_t k1, const void *data, size_t len);

#endif
