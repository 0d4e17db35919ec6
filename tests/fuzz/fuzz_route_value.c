/*
 * common/route_value: route_value_parse of a registration as it comes
 * from etcd or the routes file, in both forms ("ip:port,regexp" and JSON).
 * A value that parses is written back as JSON and must parse to the same.
 */
#include <netinet/in.h>
#include <jansson.h>

#include "addr.h"
#include "fuzz.h"
#include "route_value.h"

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	/* jansson seeds its hash from /dev/urandom: keep runs repeatable. */
	json_object_seed(1);
	return 0;
}

static void
check_value(const struct route_value *rv)
{
	size_t plen = strlen(rv->pattern);

	FUZZ_ASSERT(plen >= 1 && plen <= RT_MAX_PATTERN);
	FUZZ_ASSERT(rv->priority >= -1000000 && rv->priority <= 1000000);
	FUZZ_ASSERT(rv->primary == 0 || rv->primary == 1);
	FUZZ_ASSERT((rv->addr.ss_family == AF_INET &&
	    rv->addrlen == sizeof(struct sockaddr_in) &&
	    ((const struct sockaddr_in *)&rv->addr)->sin_port != 0) ||
	    (rv->addr.ss_family == AF_INET6 &&
	    rv->addrlen == sizeof(struct sockaddr_in6) &&
	    ((const struct sockaddr_in6 *)&rv->addr)->sin6_port != 0));
}

static void
check_same(const struct route_value *a, const struct route_value *b)
{
	FUZZ_ASSERT(b->addrlen == a->addrlen &&
	    memcmp(&b->addr, &a->addr, a->addrlen) == 0);
	FUZZ_ASSERT(b->priority == a->priority);
	FUZZ_ASSERT(b->primary == a->primary);
	FUZZ_ASSERT(strcmp(b->pattern, a->pattern) == 0);
}

static void
reparse(const char *s, const struct route_value *rv)
{
	struct route_value rv2;
	char err[256];

	if (route_value_parse(s, strlen(s), &rv2, err, sizeof(err)) != 0) {
		fprintf(stderr, "re-parse of '%s': %s\n", s, err);
		abort();
	}
	check_same(rv, &rv2);
}

/*
 * rv written back in both forms, as dnsrouterctl and operators would
 * register it: JSON when the regexp is UTF-8 (jansson's strings are), the
 * 2014 form when it has priority 0 and no trailing blank (which the
 * parser trims from the whole value).
 */
static void
check_roundtrip(const struct route_value *rv)
{
	char a[ADDR_STRLEN], *s;
	size_t plen = strlen(rv->pattern);
	json_t *o;

	addr_format((const struct sockaddr *)&rv->addr, a, sizeof(a));
	if ((o = json_pack("{s:s,s:s,s:i,s:b}", "addr", a, "match",
	    rv->pattern, "priority", (int)rv->priority, "primary",
	    rv->primary)) != NULL) {
		s = json_dumps(o, JSON_COMPACT);
		FUZZ_ASSERT(s != NULL);
		json_decref(o);
		reparse(s, rv);
		free(s);
	}
	if (rv->priority == 0 && !rv->primary &&
	    strchr(" \t\r\n", rv->pattern[plen - 1]) == NULL) {
		s = malloc(strlen(a) + 1 + plen + 1);
		FUZZ_ASSERT(s != NULL);
		sprintf(s, "%s,%s", a, rv->pattern);
		reparse(s, rv);
		free(s);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct route_value *rv = malloc(sizeof(*rv));
	char *s = (char *)fuzz_dup(data, size), err[256], tiny[4];

	FUZZ_ASSERT(rv != NULL);
	memset(err, 0x5a, sizeof(err));
	if (route_value_parse(s, size, rv, err, sizeof(err)) == 0) {
		check_value(rv);
		check_roundtrip(rv);
	} else {
		FUZZ_ASSERT(memchr(err, '\0', sizeof(err)) != NULL && err[0] != '\0');
		/* A short error buffer truncates, never overflows. */
		/* The same verdict every time (the cost probe counts steps). */
		FUZZ_ASSERT(route_value_parse(s, size, rv, tiny,
		    sizeof(tiny)) != 0);
		FUZZ_ASSERT(strlen(tiny) < sizeof(tiny));
	}
	free(s);
	free(rv);
	return 0;
}
