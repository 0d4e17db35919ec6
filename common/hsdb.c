/* Hyperscan databases of route patterns, indexed by pattern text. */
#include <hs/hs.h>
#include <stdlib.h>
#include <string.h>

#include "hsdb.h"
#include "log.h"

#define MAX_RETRIES	64	/* compiles retried after an unsupported pattern */

struct hsdb {
	hs_database_t	 *db;
	size_t		  n;		/* ids */
	char		**pat;		/* pattern of each id */
	size_t		  nbad;
	char		**bad;		/* patterns left out */
	size_t		  cap;		/* hash slots, a power of two */
	long		 *slot;		/* id, or -(bad index) - 3, or HSDB_ABSENT */
	int		  refs;
	hs_scratch_t	 *scratch;	/* hsdb_main_scratch's */
};

int
hsdb_available(void)
{
	return hs_valid_platform() == HS_SUCCESS;
}

static uint64_t
hash_str(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	while (*s)
		h = (h ^ (uint8_t)*s++) * 0x100000001b3ULL;
	return h;
}

static const char *
slot_pattern(const struct hsdb *d, long v)
{
	return v >= 0 ? d->pat[v] : d->bad[-v - 3];
}

static void
index_add(struct hsdb *d, const char *p, long v)
{
	size_t i = hash_str(p) & (d->cap - 1);

	while (d->slot[i] != HSDB_ABSENT) {
		if (strcmp(slot_pattern(d, d->slot[i]), p) == 0)
			return;		/* a duplicate keeps its first id */
		i = (i + 1) & (d->cap - 1);
	}
	d->slot[i] = v;
}

long
hsdb_find(const struct hsdb *d, const char *p)
{
	size_t i = hash_str(p) & (d->cap - 1);

	while (d->slot[i] != HSDB_ABSENT) {
		long v = d->slot[i];

		if (strcmp(slot_pattern(d, v), p) == 0)
			return v >= 0 ? v : HSDB_UNSUPPORTED;
		i = (i + 1) & (d->cap - 1);
	}
	return HSDB_ABSENT;
}

static void
hsdb_free(struct hsdb *d)
{
	size_t i;

	if (d == NULL)
		return;
	hs_free_database(d->db);
	hs_free_scratch(d->scratch);
	for (i = 0; i < d->n; i++)
		free(d->pat[i]);
	for (i = 0; i < d->nbad; i++)
		free(d->bad[i]);
	free(d->pat);
	free(d->bad);
	free(d->slot);
	free(d);
}

/*
 * Copy the patterns (pats[i] has id i, bad were left out) and index them
 * by text. A text both compiled and left out keeps its compiled id.
 */
static int
index_build(struct hsdb *d, const char *const *pats, size_t npat,
    const char *const *bad, size_t nbad)
{
	size_t i, n = npat + nbad;

	d->pat = calloc(npat + 1, sizeof(char *));
	d->bad = calloc(nbad + 1, sizeof(char *));
	for (d->cap = 16; d->cap < 2 * (n + 1); d->cap *= 2)
		;
	d->slot = malloc(d->cap * sizeof(long));
	if (d->pat == NULL || d->bad == NULL || d->slot == NULL)
		return -1;
	for (i = 0; i < d->cap; i++)
		d->slot[i] = HSDB_ABSENT;
	for (i = 0; i < npat; i++) {
		if ((d->pat[d->n] = strdup(pats[i])) == NULL)
			return -1;
		index_add(d, d->pat[d->n], (long)d->n);
		d->n++;
	}
	for (i = 0; i < nbad; i++) {
		if ((d->bad[d->nbad] = strdup(bad[i])) == NULL)
			return -1;
		index_add(d, d->bad[d->nbad], -(long)d->nbad - 3);
		d->nbad++;
	}
	return 0;
}

struct hsdb *
hsdb_compile(const char *const *patterns, size_t n)
{
	struct hsdb *d = calloc(1, sizeof(*d));
	unsigned *flags = calloc(n + 1, sizeof(*flags));
	unsigned *ids = calloc(n + 1, sizeof(*ids));
	const char **use = calloc(n + 1, sizeof(*use));
	char *skip = calloc(n + 1, 1);
	hs_compile_error_t *ce = NULL;
	size_t i, k;
	int tries;

	if (d == NULL || flags == NULL || ids == NULL || use == NULL ||
	    skip == NULL)
		goto fail;
	for (tries = 0;; tries++) {
		for (i = k = 0; i < n; i++) {
			if (skip[i])
				continue;
			use[k] = patterns[i];
			flags[k] = HS_FLAG_CASELESS | HS_FLAG_SINGLEMATCH |
			    HS_FLAG_ALLOWEMPTY;
			ids[k] = (unsigned)k;
			k++;
		}
		if (k == 0)
			break;
		if (hs_compile_multi(use, flags, ids, (unsigned)k, HS_MODE_BLOCK,
		    NULL, &d->db, &ce) == HS_SUCCESS)
			break;
		if (ce->expression < 0 || tries == MAX_RETRIES) {
			hs_free_compile_error(ce);
			goto fail;
		}
		/* Leave that one to PCRE2 and try again. */
		for (i = 0, k = 0; i < n; i++)
			if (!skip[i] && k++ == (size_t)ce->expression) {
				skip[i] = 1;
				break;
			}
		hs_free_compile_error(ce);
		ce = NULL;
	}
	{
		const char **good = calloc(n + 1, sizeof(*good));
		const char **bad = calloc(n + 1, sizeof(*bad));
		size_t ng = 0, nb = 0;
		int rv;

		if (good == NULL || bad == NULL) {
			free(good);
			free(bad);
			goto fail;
		}
		for (i = 0; i < n; i++) {
			if (skip[i])
				bad[nb++] = patterns[i];
			else
				good[ng++] = patterns[i];
		}
		rv = index_build(d, good, ng, bad, nb);
		free(good);
		free(bad);
		if (rv != 0)
			goto fail;
	}
	d->refs = 1;
	free(flags);
	free(ids);
	free(use);
	free(skip);
	return d;
fail:
	hsdb_free(d);
	free(flags);
	free(ids);
	free(use);
	free(skip);
	return NULL;
}

size_t
hsdb_count(const struct hsdb *d)
{
	return d->n;
}

const char *
hsdb_pattern(const struct hsdb *d, size_t i)
{
	return d->pat[i];
}

size_t
hsdb_nbad(const struct hsdb *d)
{
	return d->nbad;
}

const char *
hsdb_bad(const struct hsdb *d, size_t i)
{
	return d->bad[i];
}

int
hsdb_serialize(const struct hsdb *d, char **blob, size_t *len)
{
	if (d->db == NULL) {
		*blob = NULL;
		*len = 0;
		return 0;
	}
	return hs_serialize_database(d->db, blob, len) == HS_SUCCESS ? 0 : -1;
}

struct hsdb *
hsdb_deserialize(const char *blob, size_t len, const char *const *pats,
    size_t npat, const char *const *bad, size_t nbad, const char **why)
{
	struct hsdb *d;
	hs_error_t rv;

	if ((d = calloc(1, sizeof(*d))) == NULL) {
		*why = "out of memory";
		return NULL;
	}
	if ((npat == 0) != (len == 0)) {
		*why = "patterns and database disagree";
		goto fail;
	}
	if (len > 0) {
		if ((rv = hs_deserialize_database(blob, len, &d->db)) != HS_SUCCESS) {
			*why = rv == HS_DB_VERSION_ERROR ? "another Hyperscan version" :
			    rv == HS_DB_PLATFORM_ERROR ? "another CPU platform" :
			    rv == HS_NOMEM ? "out of memory" : "not a database";
			goto fail;
		}
	}
	if (index_build(d, pats, npat, bad, nbad) != 0) {
		*why = "out of memory";
		goto fail;
	}
	d->refs = 1;
	return d;
fail:
	hsdb_free(d);
	return NULL;
}

void *
hsdb_main_scratch(struct hsdb *d)
{
	if (d->db != NULL && d->scratch == NULL &&
	    hs_alloc_scratch(d->db, &d->scratch) != HS_SUCCESS)
		d->scratch = NULL;
	return d->scratch;
}

struct scan_ctx {
	void	(*found)(void *, unsigned);
	void	 *ctx;
};

static int
on_match(unsigned id, unsigned long long from, unsigned long long to,
    unsigned flags, void *arg)
{
	struct scan_ctx *c = arg;

	(void)from; (void)to; (void)flags;
	c->found(c->ctx, id);
	return 0;
}

void
hsdb_scan(const struct hsdb *d, void *scratch, const char *name, size_t len,
    void (*found)(void *, unsigned), void *ctx)
{
	struct scan_ctx c = { found, ctx };

	if (d->db != NULL)
		(void)hs_scan(d->db, name, (unsigned)len, 0, scratch, on_match, &c);
}

void
hsdb_ref(struct hsdb *d)
{
	d->refs++;
}

void
hsdb_unref(struct hsdb *d)
{
	if (d != NULL && --d->refs == 0)
		hsdb_free(d);
}
