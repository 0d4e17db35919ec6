/*
 * proto/report: report_decode of a PROTO_REPORT message as the controller
 * receives it from a router. What decodes must encode back to the same
 * length and decode to the same counts.
 */
#include <netinet/in.h>

#include "fuzz.h"
#include "report.h"

static void
check_report(const struct report *r, size_t len)
{
	uint32_t i, k, sum;

	FUZZ_ASSERT(r->n <= REPORT_MAX_ENTRIES && r->nroutes <= REPORT_MAX_ROUTES);
	FUZZ_ASSERT(len <= report_maxlen());
	FUZZ_ASSERT((r->n == 0) == (r->e == NULL));
	FUZZ_ASSERT((r->nroutes == 0) == (r->routes == NULL));
	for (i = 0; i < r->n; i++) {
		const struct report_entry *e = &r->e[i];

		FUZZ_ASSERT(e->addr.ss_family == AF_INET ||
		    e->addr.ss_family == AF_INET6);
		for (k = 0, sum = 0; k < REPORT_NRCODE; k++)
			sum += e->rcode[k];
		FUZZ_ASSERT(e->answered == sum);
		FUZZ_ASSERT(e->unanswered <= e->failed);
	}
}

static void
check_same(const struct report *a, const struct report *b)
{
	uint32_t i;

	FUZZ_ASSERT(a->router == b->router && a->epoch == b->epoch &&
	    a->generation == b->generation);
	FUZZ_ASSERT(memcmp(a->global, b->global, sizeof(a->global)) == 0);
	FUZZ_ASSERT(a->n == b->n && a->nroutes == b->nroutes);
	for (i = 0; i < a->n; i++) {
		const struct report_entry *x = &a->e[i], *y = &b->e[i];

		/* calloc'd entries: the unused sockaddr bytes are zero in both. */
		FUZZ_ASSERT(memcmp(&x->addr, &y->addr, sizeof(x->addr)) == 0);
		FUZZ_ASSERT(x->queries == y->queries && x->failed == y->failed &&
		    x->unanswered == y->unanswered &&
		    x->answered == y->answered && x->latency_us == y->latency_us);
		FUZZ_ASSERT(memcmp(x->rcode, y->rcode, sizeof(x->rcode)) == 0);
		FUZZ_ASSERT(memcmp(x->bucket, y->bucket, sizeof(x->bucket)) == 0);
	}
	FUZZ_ASSERT(a->nroutes == 0 || memcmp(a->routes, b->routes,
	    a->nroutes * sizeof(*a->routes)) == 0);
}

static void
one(const uint8_t *buf, size_t len)
{
	struct report r, r2;
	const char *why = NULL;
	uint8_t *enc;
	size_t enclen;

	if (report_decode(buf, len, &r, &why) != 0) {
		FUZZ_ASSERT(why != NULL);
		/* "nothing to free then": the struct says so too. */
		FUZZ_ASSERT(r.e == NULL && r.routes == NULL);
		return;
	}
	check_report(&r, len);
	FUZZ_ASSERT(report_encode(&r, &enc, &enclen) == 0);
	FUZZ_ASSERT(enclen == len);
	FUZZ_ASSERT(report_decode(enc, enclen, &r2, &why) == 0);
	check_same(&r, &r2);
	free(enc);
	report_free(&r2);
	report_free(&r);
	FUZZ_ASSERT(r.e == NULL && r.routes == NULL && r.n == 0);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *buf = fuzz_dup(data, size), *fixed;

	one(buf, size);
	free(buf);
	if ((fixed = fuzz_fix_hdr(data, size, PROTO_REPORT)) != NULL) {
		one(fixed, size);
		free(fixed);
	}
	return 0;
}
