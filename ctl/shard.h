/*
 * Which shard a name goes to when a zone is split by the first character
 * of the label just below the origin, and the regexps that route each
 * shard. The characters are ordered as SHARD_ALPHABET (byte order); each
 * shard holds a contiguous run of it, and shard 0 also every character
 * outside it (escapes, '*', ...), so that the shards' regexps together
 * match every name below the origin and no name twice.
 */
#ifndef DNSROUTER_SHARD_H
#define DNSROUTER_SHARD_H

#include <stddef.h>
#include <stdint.h>

#define SHARD_ALPHABET	"-0123456789_abcdefghijklmnopqrstuvwxyz"
#define SHARD_NCHARS	38
#define SHARD_MAX	SHARD_NCHARS

/* Index of c (lower-cased) in SHARD_ALPHABET, or -1: such names go to shard 0. */
int shard_char_index(int c);

/*
 * Split the alphabet into n shards (1..SHARD_MAX) so that the heaviest
 * holds as little weight as possible; weight[i] is the weight of names
 * starting with SHARD_ALPHABET[i], other that of names starting with any
 * other character. first[k] gets the alphabet index where shard k starts
 * (first[0] = 0). Returns the heaviest shard's weight, or -1 for a bad n.
 */
int64_t shard_partition(const uint64_t weight[SHARD_NCHARS], uint64_t other,
    int n, int first[SHARD_MAX]);

/* The shard of a name whose first character is c. */
int shard_of_char(const int first[SHARD_MAX], int n, int c);

/*
 * The regexp character class of shard k: "[c-f]", or for shard 0
 * "[^g-z]" (everything the other shards do not hold); "[^.]" when n is 1.
 * Returns the length written, or -1 if len is too small.
 */
int shard_class(const int first[SHARD_MAX], int n, int k, char *buf,
    size_t len);

/*
 * The regexp that routes shard k for origin (presentation form, trailing
 * dot): "(^|\.)CLASS[^.]*\.miek\.nl\.$", which matches a lower-case name
 * with trailing dot when the label just below the origin starts with a
 * character of CLASS. -1 if len is too small.
 */
int shard_regexp(const int first[SHARD_MAX], int n, int k, const char *origin,
    char *buf, size_t len);

/* The regexp of the origin itself, "^miek\.nl\.$"; -1 if len is too small. */
int shard_apex_regexp(const char *origin, char *buf, size_t len);

#endif
