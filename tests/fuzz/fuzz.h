/*
 * What every libFuzzer target of tests/fuzz/ shares. A broken invariant
 * aborts, so libFuzzer saves the input as a crash like any memory error.
 */
#ifndef DNSROUTER_FUZZ_H
#define DNSROUTER_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto.h"

/* libFuzzer calls this once per input. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
/* libFuzzer calls this once before the first input, when defined. */
int LLVMFuzzerInitialize(int *argc, char ***argv);

#define FUZZ_ASSERT(c) do {						\
	if (!(c)) {							\
		fprintf(stderr, "%s:%d: invariant broken: %s\n",	\
		    __FILE__, __LINE__, #c);				\
		abort();						\
	}								\
} while (0)

/* A malloc'd copy of exactly n bytes, so ASan sees any read past the end. */
static inline uint8_t *
fuzz_dup(const uint8_t *p, size_t n)
{
	uint8_t *c = malloc(n ? n : 1);

	FUZZ_ASSERT(c != NULL);
	if (n > 0)
		memcpy(c, p, n);
	return c;
}

/*
 * A copy of the message with a valid proto header of type (or the input's
 * own type when type is 0): most mutations break the magic or the length
 * field, and the decoders would stop there. NULL when n is below a header.
 */
static inline uint8_t *
fuzz_fix_hdr(const uint8_t *p, size_t n, enum proto_msg type)
{
	uint8_t *c;

	if (n < PROTO_HDRLEN || n > UINT32_MAX)
		return NULL;
	c = fuzz_dup(p, n);
	proto_put_hdr(c, type ? type : (enum proto_msg)proto_get16(p + 6),
	    (uint32_t)n);
	return c;
}

#endif
