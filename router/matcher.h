/*
 * Matching query names against the route table's patterns. Built once per
 * table, used for every query. One small interface, so that the engine
 * (PCRE2 JIT today) can change for large tables without touching callers.
 */
#ifndef DNSROUTER_MATCHER_H
#define DNSROUTER_MATCHER_H

#include <stddef.h>

struct matcher;

/*
 * Compile n patterns (caseless, unanchored unless they anchor themselves).
 * Returns NULL with "pattern N: reason" in err if any fails to compile.
 */
struct matcher *matcher_build(const char *const *patterns, size_t n,
    char *err, size_t errlen);

/*
 * Return the lowest pattern index that matches name (len bytes) and for
 * which accept(ctx, index) returns nonzero, or -1. accept is called only for
 * matching patterns, in increasing index order.
 */
long matcher_first(struct matcher *m, const char *name, size_t len,
    int (*accept)(void *ctx, size_t index), void *ctx);

/* Number of patterns. */
size_t matcher_count(const struct matcher *m);

/* Free m and everything it compiled. */
void matcher_free(struct matcher *m);

#endif
