/*
 * A Hyperscan database over a set of route patterns, looked up by pattern
 * text. Compiling 10,000 patterns takes seconds, so the controller does it
 * once per table in a thread (common/hsjob.c, controller/dbcompile.c) and
 * ships it serialized: deserializing takes about 2 ms. Scanning a name
 * against all of them takes about 100 ns.
 */
#ifndef DNSROUTER_HSDB_H
#define DNSROUTER_HSDB_H

#include <stddef.h>
#include <stdint.h>

struct hsdb;

/* Nonzero when this CPU runs Hyperscan (it needs SSSE3). */
int hsdb_available(void);

/*
 * Compile patterns[0..n) (caseless, one report per pattern). Patterns that
 * Hyperscan does not support (backreferences, lookaround...) are left out
 * and remembered as such. Safe to call from any thread. NULL on failure.
 */
struct hsdb *hsdb_compile(const char *const *patterns, size_t n);

/* Id of pattern in db, HSDB_UNSUPPORTED if db left it out, or HSDB_ABSENT. */
#define HSDB_ABSENT		(-1)
#define HSDB_UNSUPPORTED	(-2)
long hsdb_find(const struct hsdb *db, const char *pattern);

/* Number of ids (compiled patterns). */
size_t hsdb_count(const struct hsdb *db);

/* Pattern of id i (i < hsdb_count). */
const char *hsdb_pattern(const struct hsdb *db, size_t i);

/* Patterns left out as unsupported: how many, and the i-th. */
size_t hsdb_nbad(const struct hsdb *db);
const char *hsdb_bad(const struct hsdb *db, size_t i);

/*
 * The compiled database in Hyperscan's serialized form (malloc'd into
 * *blob), for a process on the same platform. An empty database (every
 * pattern left out) serializes to zero bytes. -1 on failure.
 */
int hsdb_serialize(const struct hsdb *db, char **blob, size_t *len);

/*
 * Rebuild a database from hsdb_serialize's blob and the patterns it was
 * compiled from (pats in id order, bad the ones left out). Hyperscan checks
 * the blob's version and platform; NULL with the reason in *why when it
 * does not fit this process or does not hold npat patterns.
 */
struct hsdb *hsdb_deserialize(const char *blob, size_t len,
    const char *const *pats, size_t npat, const char *const *bad, size_t nbad,
    const char **why);

/*
 * The database's own scratch, allocated at the first call and freed with
 * it, for scans from the thread that holds the references (a router's
 * loop: every matcher of one database shares it, and a table change costs
 * no allocation of one). NULL if it cannot be allocated or db holds no
 * compiled pattern.
 */
void *hsdb_main_scratch(struct hsdb *db);

/* Call found(ctx, id) for every pattern of db that matches name. */
void hsdb_scan(const struct hsdb *db, void *scratch, const char *name,
    size_t len, void (*found)(void *ctx, unsigned id), void *ctx);

/* References: the main thread only. */
void hsdb_ref(struct hsdb *db);
void hsdb_unref(struct hsdb *db);

#endif
