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
#include "util.h"

#define NONE		UINT32_MAX
#define JIT_MAX		512	/* beyond this many, skip JIT: the database comes soon */

/* A compiled PCRE2 pattern, shared by the matchers of successive tables. */
struct rx {
	pcre2_code	*code;
	unsigned	 refs;
	int		 jit;
};

struct matcher {
	size_t			 n;
	const char		**pat;		/* the caller's, for the next build */
	int32_t			*rid;		/* hsdb_find's answer per pattern */
	uint32_t		*dpos;		/* place in delta per pattern, or NONE */
	struct hsdb		*db;
	void			*scratch;	/* db's own */
	uint32_t		*db_route;	/* db id -> pattern index or NONE */
	size_t			 nids;
	size_t			 ndelta;
	uint32_t		*delta_index;	/* ascending pattern indexes */
	struct rx		**delta;
	size_t			 pending;	/* delta a database could take */
	pcre2_match_data	*md;
	pcre2_match_context	*mctx;		/* the limits of every match */
	unsigned		 limited;
	unsigned		 tried;		/* pending patterns matched one by one */
	uint32_t		*cand;		/* this query's database matches */
	size_t			 ncand;
};

static void
rx_unref(struct rx *x)
{
	if (x != NULL && --x->refs == 0) {
		pcre2_code_free(x->code);
		free(x);
	}
}

struct same_text {
	const struct matcher	*prev;
	const char		*p;
};

static int
same_text(const void *ctx, size_t k)
{
	const struct same_text *s = ctx;

	return strcmp(s->prev->pat[k], s->p) == 0;
}

/*
 * The place of p in prev, looked for from *j on (align_next): NONE when
 * not found near, and the caller asks the database.
 */
static uint32_t
align(const struct matcher *prev, size_t *j, const char *p)
{
	struct same_text s = { prev, p };
	size_t k;

	if (prev == NULL ||
	    (k = align_next(j, prev->n, same_text, &s)) == ALIGN_NONE)
		return NONE;
	return (uint32_t)k;
}

struct matcher *
matcher_build(const char *const *patterns, size_t n, struct hsdb *db,
    const struct matcher *prev, char *err, size_t errlen)
{
	struct matcher *m;
	size_t i, j = 0, nids = db != NULL ? hsdb_count(db) : 0;
	uint32_t *from = NULL;
	int same_db = prev != NULL && db != NULL && prev->db == db;

	if ((m = calloc(1, sizeof(*m))) == NULL)
		goto oom;
	m->n = n;
	m->nids = nids;
	if ((m->pat = malloc((n + 1) * sizeof(*m->pat))) == NULL ||
	    (m->rid = malloc((n + 1) * sizeof(*m->rid))) == NULL ||
	    (m->dpos = malloc((n + 1) * sizeof(*m->dpos))) == NULL ||
	    (from = malloc((n + 1) * sizeof(*from))) == NULL ||
	    (m->delta_index = calloc(n + 1, sizeof(uint32_t))) == NULL ||
	    (m->delta = calloc(n + 1, sizeof(*m->delta))) == NULL ||
	    (m->cand = calloc(n + 1, sizeof(uint32_t))) == NULL ||
	    (m->db_route = malloc((nids + 1) * sizeof(uint32_t))) == NULL)
		goto oom;
	if (n > 0)
		memcpy(m->pat, patterns, n * sizeof(*m->pat));
	for (i = 0; i < nids; i++)
		m->db_route[i] = NONE;
	if (db != NULL && nids > 0) {
		if ((m->scratch = hsdb_main_scratch(db)) == NULL)
			goto oom;
		m->db = db;
		hsdb_ref(db);
	}
	for (i = 0; i < n; i++) {
		long id;

		/* What prev found for the same text holds for this database. */
		from[i] = align(prev, &j, patterns[i]);
		if (db == NULL)
			id = HSDB_ABSENT;
		else if (same_db && from[i] != NONE)
			id = prev->rid[from[i]];
		else
			id = hsdb_find(db, patterns[i]);
		m->rid[i] = (int32_t)id;
		m->dpos[i] = NONE;
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
		m->dpos[i] = (uint32_t)m->ndelta;
		m->delta_index[m->ndelta++] = (uint32_t)i;
	}
	for (i = 0; i < m->ndelta; i++) {
		uint32_t k = m->delta_index[i];
		const char *p = patterns[k];
		struct rx *x;
		int ec = 0;
		PCRE2_SIZE eo = 0;

		/* Compiled for prev: the same text compiles the same. */
		if (from[k] != NONE && prev->dpos[from[k]] != NONE) {
			x = m->delta[i] = prev->delta[prev->dpos[from[k]]];
			x->refs++;
		} else {
			if ((x = calloc(1, sizeof(*x))) == NULL)
				goto oom;
			x->refs = 1;
			m->delta[i] = x;
			x->code = pcre2_compile((PCRE2_SPTR)p,
			    PCRE2_ZERO_TERMINATED,
			    PCRE2_CASELESS | PCRE2_NO_UTF_CHECK, &ec, &eo, NULL);
		}
		if (x->code == NULL) {
			char msg[256];

			pcre2_get_error_message(ec, (PCRE2_UCHAR *)msg, sizeof(msg));
			snprintf(err, errlen, "pattern %u '%s': %s at offset %zu",
			    k, p, msg, (size_t)eo);
			free(from);
			matcher_free(m);
			return NULL;
		}
		/* Without JIT PCRE2 interprets: slower, correct. */
		if (m->ndelta <= JIT_MAX && !x->jit) {
			(void)pcre2_jit_compile(x->code, PCRE2_JIT_COMPLETE);
			x->jit = 1;
		}
	}
	free(from);
	from = NULL;
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
	free(from);
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
		rc = pcre2_match(m->delta[d]->code, (PCRE2_SPTR)name, len, 0,
		    PCRE2_NO_UTF_CHECK, m->md, m->mctx);
		/* Pending: one a newer database would take. */
		m->tried += m->rid[m->delta_index[d]] == HSDB_ABSENT;
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

unsigned
matcher_take_tried(struct matcher *m)
{
	unsigned n = m->tried;

	m->tried = 0;
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
		rx_unref(m->delta[i]);
	free(m->delta);
	free(m->pat);
	free(m->rid);
	free(m->dpos);
	free(m->delta_index);
	free(m->cand);
	free(m->db_route);
	hsdb_unref(m->db);
	pcre2_match_data_free(m->md);
	pcre2_match_context_free(m->mctx);
	free(m);
}
