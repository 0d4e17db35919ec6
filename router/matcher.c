/*
 * The matcher. A name is scanned once against the Hyperscan database
 * (about 100 ns for 10,000 patterns), which yields the matching patterns it
 * holds; the patterns it does not hold are tried with PCRE2 JIT (about 12 ns
 * each) in route order, merged with those candidates, so the first route
 * in order that matches and is accepted wins, exactly as a linear scan.
 */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hsdb.h"
#include "matcher.h"
#include "routetable.h"

#define NONE		UINT32_MAX
#define JIT_MAX		512	/* beyond this many, skip JIT: the database comes soon */

struct matcher {
	size_t			 n;
	struct hsdb		*db;
	void			*scratch;
	uint32_t		*db_route;	/* db id -> pattern index or NONE */
	size_t			 nids;
	size_t			 ndelta;
	uint32_t		*delta_index;	/* ascending pattern indexes */
	pcre2_code		**delta;
	size_t			 pending;	/* delta a database could take */
	pcre2_match_data	*md;
	pcre2_match_context	*mctx;		/* the limits of every match */
	unsigned		 limited;
	uint32_t		*cand;		/* this query's database matches */
	size_t			 ncand;
};

struct matcher *
matcher_build(const char *const *patterns, size_t n, struct hsdb *db,
    char *err, size_t errlen)
{
	struct matcher *m;
	size_t i, nids = db != NULL ? hsdb_count(db) : 0;

	if ((m = calloc(1, sizeof(*m))) == NULL)
		goto oom;
	m->n = n;
	m->nids = nids;
	if ((m->delta_index = calloc(n + 1, sizeof(uint32_t))) == NULL ||
	    (m->delta = calloc(n + 1, sizeof(pcre2_code *))) == NULL ||
	    (m->cand = calloc(n + 1, sizeof(uint32_t))) == NULL ||
	    (m->db_route = malloc((nids + 1) * sizeof(uint32_t))) == NULL)
		goto oom;
	for (i = 0; i < nids; i++)
		m->db_route[i] = NONE;
	if (db != NULL && nids > 0) {
		if (hsdb_scratch(db, &m->scratch) != 0)
			goto oom;
		m->db = db;
		hsdb_ref(db);
	}
	for (i = 0; i < n; i++) {
		long id = db != NULL ? hsdb_find(db, patterns[i]) : HSDB_ABSENT;

		if (id >= 0 && m->db_route[id] == NONE) {
			m->db_route[id] = (uint32_t)i;
			continue;
		}
		/*
		 * PCRE2 for the rest: a second route with the same text (tried
		 * in its own place), a pattern Hyperscan refused, and one the
		 * database does not hold yet. Only the last is pending: a new
		 * database would not take the others either, so counting them
		 * would compile again after every compile.
		 */
		if (id == HSDB_ABSENT)
			m->pending++;
		m->delta_index[m->ndelta++] = (uint32_t)i;
	}
	for (i = 0; i < m->ndelta; i++) {
		const char *p = patterns[m->delta_index[i]];
		int ec;
		PCRE2_SIZE eo;

		m->delta[i] = pcre2_compile((PCRE2_SPTR)p, PCRE2_ZERO_TERMINATED,
		    PCRE2_CASELESS | PCRE2_NO_UTF_CHECK, &ec, &eo, NULL);
		if (m->delta[i] == NULL) {
			char msg[256];

			pcre2_get_error_message(ec, (PCRE2_UCHAR *)msg, sizeof(msg));
			snprintf(err, errlen, "pattern %u '%s': %s at offset %zu",
			    m->delta_index[i], p, msg, (size_t)eo);
			matcher_free(m);
			return NULL;
		}
		/* Without JIT PCRE2 interprets: slower, correct. */
		if (m->ndelta <= JIT_MAX)
			(void)pcre2_jit_compile(m->delta[i], PCRE2_JIT_COMPLETE);
	}
	/* One match block serves every pattern: no allocation per query. */
	if ((m->md = pcre2_match_data_create(1, NULL)) == NULL ||
	    (m->mctx = pcre2_match_context_create(NULL)) == NULL)
		goto oom;
	/* A regexp written to backtrack must not cost every query its time. */
	pcre2_set_match_limit(m->mctx, RT_MATCH_LIMIT);
	pcre2_set_depth_limit(m->mctx, RT_DEPTH_LIMIT);
	pcre2_set_heap_limit(m->mctx, RT_HEAP_LIMIT_KIB);
	return m;
oom:
	snprintf(err, errlen, "out of memory");
	matcher_free(m);
	return NULL;
}

static void
found(void *ctx, unsigned id)
{
	struct matcher *m = ctx;
	uint32_t idx;

	/* A database from another process: trust no id it reports. */
	if (id >= m->nids || (idx = m->db_route[id]) == NONE ||
	    m->ncand == m->n)
		return;
	m->cand[m->ncand++] = idx;
}

static int
cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

long
matcher_first(struct matcher *m, const char *name, size_t len,
    int (*accept)(void *ctx, size_t index), void *ctx)
{
	size_t c = 0, d = 0, k;
	int rc;

	m->ncand = 0;
	if (m->db != NULL)
		hsdb_scan(m->db, m->scratch, name, len, found, m);
	if (m->ncand > 1) {
		if (m->ncand > 16)
			qsort(m->cand, m->ncand, sizeof(uint32_t), cmp_u32);
		else
			for (k = 1; k < m->ncand; k++) {
				uint32_t v = m->cand[k];
				size_t j = k;

				for (; j > 0 && m->cand[j - 1] > v; j--)
					m->cand[j] = m->cand[j - 1];
				m->cand[j] = v;
			}
	}
	/* Merge: database matches and one-by-one patterns in index order. */
	while (c < m->ncand || d < m->ndelta) {
		if (d == m->ndelta ||
		    (c < m->ncand && m->cand[c] < m->delta_index[d])) {
			if (accept(ctx, m->cand[c]))
				return (long)m->cand[c];
			c++;
			continue;
		}
		rc = pcre2_match(m->delta[d], (PCRE2_SPTR)name, len, 0,
		    PCRE2_NO_UTF_CHECK, m->md, m->mctx);
		if (rc >= 0 && accept(ctx, m->delta_index[d]))
			return (long)m->delta_index[d];
		if (rc < 0 && rc != PCRE2_ERROR_NOMATCH)
			m->limited++;
		d++;
	}
	return -1;
}

unsigned
matcher_take_limited(struct matcher *m)
{
	unsigned n = m->limited;

	m->limited = 0;
	return n;
}

size_t
matcher_count(const struct matcher *m)
{
	return m->n;
}

size_t
matcher_pending(const struct matcher *m)
{
	return m->pending;
}

void
matcher_free(struct matcher *m)
{
	size_t i;

	if (m == NULL)
		return;
	for (i = 0; i < m->ndelta && m->delta != NULL; i++)
		pcre2_code_free(m->delta[i]);
	free(m->delta);
	free(m->delta_index);
	free(m->cand);
	free(m->db_route);
	if (m->scratch != NULL)
		hsdb_scratch_free(m->scratch);
	hsdb_unref(m->db);
	pcre2_match_data_free(m->md);
	pcre2_match_context_free(m->mctx);
	free(m);
}
