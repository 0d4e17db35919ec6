/*
 * router/cache: cache_store of a backend's reply (the bytes a backend
 * controls) to a fixed query for its question, then cache_lookup of that
 * query. Whatever is kept must be served back within bounds: no longer
 * than what was stored, with the asker's ID and question.
 */
#include "cache.h"
#include "dnswire.h"
#include "fuzz.h"

static const uint8_t query[] = {
	0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 1,
	1, 'A', 4, 'm', 'i', 'e', 'k', 2, 'n', 'l', 0, 0, 16, 0, 1,
	0, 0, 41, 0x10, 0, 0, 0, 0x80, 0, 0, 0,		/* OPT, DO, 4096 */
};

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct cache *c;
	struct cache_params p = { 4, 300, 0, 60, 3600 };
	struct dns_question dq;
	struct cache_key k;
	static uint8_t out[CACHE_ANSWER_MAX];
	uint8_t *reply = fuzz_dup(data, size);
	size_t n;
	enum cache_result r;

	if (c == NULL)
		c = cache_new(&p);
	FUZZ_ASSERT(dns_parse_query(query, sizeof(query), &dq) == DNS_QUERY_OK);
	cache_key(c, query, sizeof(query), &dq, &k);
	FUZZ_ASSERT(k.on);
	if (size >= DNS_HDRLEN + 15 &&
	    dns_same_question(reply, size, query, &dq) &&
	    cache_store(c, &k, 7, reply, size, 1000.0) != CACHE_NOT_STORED) {
		r = cache_lookup(c, &k, query, 7, 0, 65535, 1000.0, out, &n);
		FUZZ_ASSERT(r == CACHE_HIT);
		FUZZ_ASSERT(n <= size && n >= DNS_HDRLEN);
		FUZZ_ASSERT(memcmp(out, query, 2) == 0);
		FUZZ_ASSERT(memcmp(out + DNS_HDRLEN, query + DNS_HDRLEN,
		    dq.qname_len) == 0);
		/* Stale, then gone under another route's signature. */
		r = cache_lookup(c, &k, query, 7, 1, 65535, 1e9, out, &n);
		FUZZ_ASSERT(r == CACHE_MISS);
		FUZZ_ASSERT(cache_lookup(c, &k, query, 8, 1, 65535, 1000.0, out,
		    &n) == CACHE_MISS);
	}
	if (cache_entries(c) > 3)
		cache_flush(c);
	FUZZ_ASSERT(cache_entries(c) <= 4);
	free(reply);
	return 0;
}
