/* The regexps that passed route_value's check. */
#include <stdlib.h>
#include <string.h>

#include "pattern_cache.h"
#include "strmap.h"
#include "util.h"

static struct strmap	  passed;	/* pattern -> index into pats */
static char		**pats;
static size_t		  npats, cap, bytes;

void
pattern_cache_free(void)
{
	size_t i;

	for (i = 0; i < npats; i++)
		free(pats[i]);
	free(pats);
	pats = NULL;
	npats = cap = bytes = 0;
	strmap_free(&passed);
}

static void
remember(const char *p, size_t len)
{
	if (bytes + len + 1 > PATTERN_CACHE_BYTES)
		pattern_cache_free();
	if (npats == cap) {
		cap = cap ? cap * 2 : 256;
		if ((pats = realloc(pats, cap * sizeof(*pats))) == NULL)
			abort();
	}
	pats[npats] = xmalloc(len + 1);
	memcpy(pats[npats], p, len + 1);
	strmap_put(&passed, pats[npats], len, npats);
	npats++;
	bytes += len + 1;
}

int
pattern_cache_parse(const char *s, size_t len, struct route_value *rv,
    char *err, size_t errlen)
{
	size_t plen, i;

	if (route_value_parse_syntax(s, len, rv, err, errlen) != 0)
		return -1;
	plen = strlen(rv->pattern);
	if (strmap_get(&passed, rv->pattern, plen, &i))
		return 0;
	if (route_value_check_regexp(rv->pattern, plen, err, errlen) != 0)
		return -1;
	remember(rv->pattern, plen);
	return 0;
}
