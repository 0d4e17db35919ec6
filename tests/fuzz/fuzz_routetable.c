/*
 * proto/routetable: rt_decode of a PROTO_TABLE message as a router receives
 * it from the controller, and rt_peek. What decodes must encode back to a
 * message of the same length that decodes to the same table.
 */
#include <netinet/in.h>

#include "fuzz.h"
#include "routetable.h"

/* Everything rt_decode promises about a table it returns. */
static void
check_table(const struct rt_table *t)
{
	uint32_t i, j;

	FUZZ_ASSERT(t->nbackends <= RT_MAX_BACKENDS);
	FUZZ_ASSERT(t->nroutes <= RT_MAX_ROUTES);
	for (i = 0; i < t->nbackends; i++) {
		const struct rt_backend *b = &t->backends[i];

		FUZZ_ASSERT((b->flags & ~(RT_FLAG_UP | RT_FLAG_PRIMARY)) == 0);
		FUZZ_ASSERT((b->addr.ss_family == AF_INET &&
		    b->addrlen == sizeof(struct sockaddr_in) &&
		    ((const struct sockaddr_in *)&b->addr)->sin_port != 0) ||
		    (b->addr.ss_family == AF_INET6 &&
		    b->addrlen == sizeof(struct sockaddr_in6) &&
		    ((const struct sockaddr_in6 *)&b->addr)->sin6_port != 0));
	}
	for (i = 0; i < t->nroutes; i++) {
		const struct rt_route *r = &t->routes[i];

		FUZZ_ASSERT(r->patlen >= 1 && r->patlen <= RT_MAX_PATTERN);
		FUZZ_ASSERT(strlen(r->pattern) == r->patlen);
		FUZZ_ASSERT(r->nbackends <= RT_MAX_BACKENDS);
		for (j = 0; j < r->nbackends; j++)
			FUZZ_ASSERT(r->backends[j] < t->nbackends);
	}
}

static int
same_backend(const struct rt_backend *a, const struct rt_backend *b)
{
	if (a->addr.ss_family != b->addr.ss_family || a->addrlen != b->addrlen ||
	    a->flags != b->flags)
		return 0;
	if (a->addr.ss_family == AF_INET) {
		const struct sockaddr_in *x = (const struct sockaddr_in *)&a->addr;
		const struct sockaddr_in *y = (const struct sockaddr_in *)&b->addr;

		return x->sin_port == y->sin_port &&
		    x->sin_addr.s_addr == y->sin_addr.s_addr;
	}
	return memcmp(&a->addr, &b->addr, sizeof(struct sockaddr_in6)) == 0;
}

static void
check_same(const struct rt_table *a, const struct rt_table *b)
{
	uint32_t i;

	FUZZ_ASSERT(a->epoch == b->epoch && a->generation == b->generation);
	FUZZ_ASSERT(a->nbackends == b->nbackends && a->nroutes == b->nroutes);
	for (i = 0; i < a->nbackends; i++)
		FUZZ_ASSERT(same_backend(&a->backends[i], &b->backends[i]));
	for (i = 0; i < a->nroutes; i++) {
		const struct rt_route *x = &a->routes[i], *y = &b->routes[i];

		FUZZ_ASSERT(x->priority == y->priority);
		FUZZ_ASSERT(x->nbackends == y->nbackends);
		FUZZ_ASSERT(x->patlen == y->patlen);
		FUZZ_ASSERT(x->nbackends == 0 || memcmp(x->backends, y->backends,
		    4 * (size_t)x->nbackends) == 0);
		FUZZ_ASSERT(strcmp(x->pattern, y->pattern) == 0);
	}
}

static void
one(const uint8_t *buf, size_t len)
{
	struct rt_table *t, *t2;
	const char *why = NULL;
	uint64_t epoch, gen;
	uint8_t *enc, *enc2;
	size_t enclen, enclen2;
	int peek;

	peek = rt_peek(buf, len, &epoch, &gen);
	if ((t = rt_decode(buf, len, &why)) == NULL) {
		FUZZ_ASSERT(why != NULL);
		return;
	}
	check_table(t);
	FUZZ_ASSERT(peek == 0 && epoch == t->epoch && gen == t->generation);

	/* Unused address bytes are not kept: equal length, not equal bytes. */
	FUZZ_ASSERT(rt_encode(t, &enc, &enclen) == 0);
	FUZZ_ASSERT(enclen == len);
	why = NULL;
	t2 = rt_decode(enc, enclen, &why);
	FUZZ_ASSERT(t2 != NULL);
	check_same(t, t2);
	FUZZ_ASSERT(rt_encode(t2, &enc2, &enclen2) == 0);
	FUZZ_ASSERT(enclen2 == enclen && memcmp(enc, enc2, enclen) == 0);
	free(enc);
	free(enc2);
	rt_free(t2);
	rt_free(t);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *buf = fuzz_dup(data, size), *fixed;

	one(buf, size);
	free(buf);
	if ((fixed = fuzz_fix_hdr(data, size, PROTO_TABLE)) != NULL) {
		one(fixed, size);
		free(fixed);
	}
	return 0;
}
