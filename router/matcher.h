/*
 * Matching query names against the route table's patterns. Built once per
 * table, used for every query. Patterns that a Hyperscan database (built in
 * the background) already holds are matched all at once; the others (new
 * since that database, or unsupported by Hyperscan) one by one with PCRE2.
 * Either way the lowest matching index wins: precedence is exact.
 */
#ifndef DNSROUTER_MATCHER_H
#define DNSROUTER_MATCHER_H

#include <stddef.h>

struct matcher;
struct hsdb;

/*
 * Compile n patterns (caseless, unanchored unless they anchor themselves),
 * taking those that db holds from db (which may be NULL). Returns NULL with
 * "pattern N: reason" in err if one fails to compile. The strings must
 * outlive the matcher (it keeps the pointers, for the next build).
 *
 * prev, if not NULL, is the matcher of the table before (alive, its
 * strings too): where the two pattern lists agree, what prev worked out is
 * taken instead of done again: the database's id of the text when db is
 * prev's database, and the compiled PCRE2 pattern (shared, counted). A
 * table that differs from the last by a few routes so costs a walk of the
 * list, not 10,000 database lookups and JIT compiles.
 */
struct matcher *matcher_build(const char *const *patterns, size_t n,
    struct hsdb *db, const struct matcher *prev, char *err, size_t errlen);

/*
 * Return the lowest pattern index that matches name (len bytes) and for
 * which accept(ctx, index) returns nonzero, or -1. accept is called only for
 * matching patterns, in increasing index order.
 */
long matcher_first(struct matcher *m, const char *name, size_t len,
    int (*accept)(void *ctx, size_t index), void *ctx);

/*
 * Matches cut off by the PCRE2 limits (RT_MATCH_LIMIT and friends) since the
 * last call; each counted as no match.
 */
unsigned matcher_take_limited(struct matcher *m);

/*
 * Pending patterns (see matcher_pending) matched one by one since the last
 * call: the work a newer database would save, which the controller weighs
 * against the cost of compiling one.
 */
unsigned matcher_take_tried(struct matcher *m);

/* Number of patterns. */
size_t matcher_count(const struct matcher *m);

/* Patterns matched one by one that a new database could take over. */
size_t matcher_pending(const struct matcher *m);

/* Free m and everything it compiled. */
void matcher_free(struct matcher *m);

#endif
