/*
 * The matcher: PCRE2 with JIT, scanned in route order. ~12 ns per pattern,
 * which is fine for tens of routes; large tables need a multi-pattern engine
 * behind the same interface (see issue "Performance").
 */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "matcher.h"

struct matcher {
	size_t			 n;
	pcre2_code		**codes;
	pcre2_match_data	*md;
};

struct matcher *
matcher_build(const char *const *patterns, size_t n, char *err, size_t errlen)
{
	struct matcher *m;
	size_t i;

	if ((m = calloc(1, sizeof(*m))) == NULL ||
	    (n && (m->codes = calloc(n, sizeof(*m->codes))) == NULL)) {
		snprintf(err, errlen, "out of memory");
		free(m);
		return NULL;
	}
	m->n = n;
	for (i = 0; i < n; i++) {
		int ec;
		PCRE2_SIZE eo;

		m->codes[i] = pcre2_compile((PCRE2_SPTR)patterns[i],
		    PCRE2_ZERO_TERMINATED, PCRE2_CASELESS | PCRE2_NO_UTF_CHECK,
		    &ec, &eo, NULL);
		if (m->codes[i] == NULL) {
			char msg[256];

			pcre2_get_error_message(ec, (PCRE2_UCHAR *)msg, sizeof(msg));
			snprintf(err, errlen, "pattern %zu '%s': %s at offset %zu",
			    i, patterns[i], msg, (size_t)eo);
			matcher_free(m);
			return NULL;
		}
		/* Without JIT (e.g. no executable memory) PCRE2 interprets: slower, correct. */
		(void)pcre2_jit_compile(m->codes[i], PCRE2_JIT_COMPLETE);
	}
	/* One match block serves every pattern: no allocation per query. */
	if ((m->md = pcre2_match_data_create(1, NULL)) == NULL) {
		snprintf(err, errlen, "out of memory");
		matcher_free(m);
		return NULL;
	}
	return m;
}

long
matcher_first(struct matcher *m, const char *name, size_t len,
    int (*accept)(void *ctx, size_t index), void *ctx)
{
	size_t i;

	for (i = 0; i < m->n; i++) {
		int rc = pcre2_match(m->codes[i], (PCRE2_SPTR)name, len, 0,
		    PCRE2_NO_UTF_CHECK, m->md, NULL);

		if (rc >= 0 && accept(ctx, i))
			return (long)i;
	}
	return -1;
}

size_t
matcher_count(const struct matcher *m)
{
	return m->n;
}

void
matcher_free(struct matcher *m)
{
	size_t i;

	if (m == NULL)
		return;
	for (i = 0; i < m->n && m->codes != NULL; i++)
		pcre2_code_free(m->codes[i]);
	free(m->codes);
	pcre2_match_data_free(m->md);
	free(m);
}
