/*
 * Zones, their shards and the serials their backends hold (zones.h).
 * Small tables searched linearly: a zone has a few shards of a few
 * replicas, and checks ask at most once per backend per interval.
 */
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "log.h"
#include "strmap.h"
#include "util.h"
#include "zones.h"

static struct zone	 zones[ZONES_MAX];
static size_t		 nzones;
static int		 full_logged;

int
zones_apex_name(const char *p, char *out)
{
	size_t n = 0;

	if (*p++ != '^')
		return -1;
	for (; *p != '\0' && !(p[0] == '\\' && p[1] == '.' && p[2] == '$' &&
	    p[3] == '\0'); p++) {
		char c = *p;

		if (c == '\\') {
			if (*++p != '.' && *p != '-' && *p != '_')
				return -1;
			c = *p;
		} else if (c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		else if (!(c >= 'a' && c <= 'z') && !(c >= '0' && c <= '9') &&
		    c != '-' && c != '_')
			return -1;
		if (c == '.' && (n == 0 || out[n - 1] == '.'))
			return -1;
		if (n + 3 > ZONE_NAME_MAX)
			return -1;
		out[n++] = c;
	}
	if (*p == '\0' || n == 0)
		return -1;	/* no "\.$" at the end, or the root */
	out[n++] = '.';
	out[n] = '\0';
	return 0;
}

static struct zone *
zone_find(struct zone *v, size_t n, const char *name)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strcmp(v[i].name, name) == 0)
			return &v[i];
	return NULL;
}

static struct zone_member *
member_find(const struct zone *z, const struct sockaddr *addr)
{
	size_t i;

	if (z == NULL)
		return NULL;
	for (i = 0; i < z->nm; i++)
		if (addr_equal((const struct sockaddr *)&z->m[i].addr, addr))
			return &z->m[i];
	return NULL;
}

static int
cmp_seq(const void *a, const void *b)
{
	const struct reg *x = *(const struct reg *const *)a;
	const struct reg *y = *(const struct reg *const *)b;

	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static uint64_t
str_hash(const char *p)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (; *p != '\0'; p++)
		h = (h ^ (uint8_t)*p) * 0x100000001b3ULL;
	return h;
}

static int
cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/*
 * A backend's shard is the set of patterns it is registered with: each
 * apex backend gets a signature of that set (order and repeats aside),
 * in one pass over the registrations.
 */
struct sig {
	char		 key[ADDR_KEYLEN];
	uint64_t	*h;
	size_t		 n, cap;
	uint64_t	 sig;
};

static void
signatures(const struct registry *r, const struct reg **apex, size_t k,
    struct sig *sigs, size_t *nsigs, struct strmap *map)
{
	size_t i, j, v, n = 0;

	for (i = 0; i < k; i++) {
		addr_key((const struct sockaddr *)&apex[i]->addr, sigs[n].key);
		if (!strmap_get(map, sigs[n].key, ADDR_KEYLEN, &v)) {
			strmap_put(map, sigs[n].key, ADDR_KEYLEN, n);
			n++;
		}
	}
	for (i = 0; i < r->n; i++) {
		char key[ADDR_KEYLEN];
		struct sig *s;

		addr_key((const struct sockaddr *)&r->v[i].addr, key);
		if (!strmap_get(map, key, ADDR_KEYLEN, &v))
			continue;
		s = &sigs[v];
		if (s->n == s->cap) {
			s->cap = s->cap ? s->cap * 2 : 4;
			s->h = xreallocarray(s->h, s->cap, sizeof(*s->h));
		}
		s->h[s->n++] = str_hash(r->v[i].pattern);
	}
	for (i = 0; i < n; i++) {
		struct sig *s = &sigs[i];
		uint64_t h = 0xcbf29ce484222325ULL, last = 0;

		qsort(s->h, s->n, sizeof(*s->h), cmp_u64);
		for (j = 0; j < s->n; j++)
			if (j == 0 || s->h[j] != last)
				h = (h ^ (last = s->h[j])) * 0x100000001b3ULL;
		s->sig = h;
	}
	*nsigs = n;
}

void
zones_sync(const struct registry *r)
{
	struct zone nz[ZONES_MAX];
	size_t n = 0, i, j, k, v, nsigs, skipped = 0;
	const struct reg **apex;
	struct sig *sigs;
	struct strmap map;
	char name[ZONE_NAME_MAX], key[ADDR_KEYLEN];

	/* Registrations of apex patterns, in registration order. */
	apex = xcalloc(r->n + 1, sizeof(*apex));
	for (i = k = 0; i < r->n; i++)
		if (r->v[i].pattern[0] == '^' &&
		    zones_apex_name(r->v[i].pattern, name) == 0)
			apex[k++] = &r->v[i];
	if (k == 0) {
		free(apex);
		zones_free();
		return;
	}
	qsort(apex, k, sizeof(*apex), cmp_seq);
	sigs = xcalloc(k, sizeof(*sigs));
	strmap_init(&map, k);
	signatures(r, apex, k, sigs, &nsigs, &map);

	memset(nz, 0, sizeof(nz));
	for (i = 0; i < k; i++) {
		const struct sockaddr *sa = (const struct sockaddr *)&apex[i]->addr;
		struct zone *z, *old;
		struct zone_member *m, *om;

		zones_apex_name(apex[i]->pattern, name);
		old = zone_find(zones, nzones, name);
		if ((z = zone_find(nz, n, name)) == NULL) {
			if (n == ZONES_MAX) {
				skipped++;
				continue;
			}
			z = &nz[n++];
			memcpy(z->name, name, sizeof(z->name));
			z->m = xcalloc(ZONE_MEMBERS_MAX, sizeof(*z->m));
			z->sig = xcalloc(ZONE_MEMBERS_MAX, sizeof(*z->sig));
			z->logged = old != NULL ? old->logged : -1;
		}
		if (member_find(z, sa) != NULL)
			continue;	/* two priorities of one apex */
		if (z->nm == ZONE_MEMBERS_MAX) {
			skipped++;
			continue;
		}
		m = &z->m[z->nm++];
		memcpy(&m->addr, &apex[i]->addr, sizeof(m->addr));
		addr_key(sa, key);
		strmap_get(&map, key, ADDR_KEYLEN, &v);
		for (j = 0; j < z->nshards && z->sig[j] != sigs[v].sig; j++)
			;
		if (j == z->nshards)
			z->sig[z->nshards++] = sigs[v].sig;
		m->shard = (unsigned)j + 1;
		if ((om = member_find(old, sa)) != NULL) {
			m->have = om->have;
			m->serial = om->serial;
			memcpy(m->why, om->why, sizeof(m->why));
		} else
			snprintf(m->why, sizeof(m->why), "not checked yet");
	}
	for (i = 0; i < nsigs; i++)
		free(sigs[i].h);
	free(sigs);
	strmap_free(&map);
	free(apex);
	if (skipped > 0 && !full_logged)
		log_warnx("zones: %zu apex registrations not followed (at most %d "
		    "zones of %d backends)", skipped, ZONES_MAX, ZONE_MEMBERS_MAX);
	full_logged = skipped > 0;
	zones_free();
	memcpy(zones, nz, sizeof(nz));
	nzones = n;
}

size_t
zones_of(const struct sockaddr *addr, char (*names)[ZONE_NAME_MAX], size_t max)
{
	size_t i, n = 0;

	for (i = 0; i < nzones && n < max; i++)
		if (member_find(&zones[i], addr) != NULL)
			memcpy(names[n++], zones[i].name, ZONE_NAME_MAX);
	return n;
}

static int
agree_log(struct zone *z)
{
	int a = zones_agree(z, NULL);
	size_t i;
	char buf[512], as[ADDR_STRLEN];
	int off = 0;

	if (a < 0 || a == z->logged)
		return a;
	if (a == 0) {
		for (i = 0; i < z->nm && off < (int)sizeof(buf) - 80; i++)
			if (z->m[i].have)
				off += snprintf(buf + off, sizeof(buf) - (size_t)off,
				    "%s%s (shard %u) %u", i ? ", " : "",
				    addr_format((struct sockaddr *)&z->m[i].addr,
				    as, sizeof(as)), z->m[i].shard,
				    z->m[i].serial);
		log_warnx("zone %s: the shards' SOA serials differ: %s (its "
		    "shards answer from different versions of the zone)",
		    z->name, off > 0 ? buf : "?");
	} else if (z->logged == 0) {
		for (i = 0; i < z->nm && !z->m[i].have; i++)
			;
		log_info("zone %s: the SOA serials of its %u shard%s agree again "
		    "(%u)", z->name, z->nshards, z->nshards == 1 ? "" : "s",
		    i < z->nm ? z->m[i].serial : 0);
	}
	z->logged = a;
	return a;
}

void
zones_serial(const struct sockaddr *addr, const char *zone, int have,
    uint32_t serial, const char *why)
{
	struct zone *z = zone_find(zones, nzones, zone);
	struct zone_member *m = member_find(z, addr);

	if (m == NULL)
		return;		/* the registration went away meanwhile */
	m->have = have;
	m->serial = have ? serial : 0;
	snprintf(m->why, sizeof(m->why), "%s", have ? "" : why);
	agree_log(z);
}

size_t
zones_count(void)
{
	return nzones;
}

const struct zone *
zones_get(size_t i)
{
	return i < nzones ? &zones[i] : NULL;
}

int
zones_agree(const struct zone *z, int (*up)(void *ctx,
    const struct sockaddr *addr))
{
	unsigned s;
	size_t i;
	int seen, shard_seen;
	uint32_t serial = 0, shard_serial = 0;

	seen = 0;
	for (s = 1; s <= z->nshards; s++) {
		shard_seen = 0;
		for (i = 0; i < z->nm; i++) {
			const struct zone_member *m = &z->m[i];

			if (m->shard != s || !m->have || (up != NULL &&
			    !up(NULL, (const struct sockaddr *)&m->addr)))
				continue;
			if (shard_seen && m->serial != shard_serial)
				return 0;	/* replicas differ */
			shard_seen = 1;
			shard_serial = m->serial;
		}
		if (!shard_seen)
			return -1;
		if (seen && shard_serial != serial)
			return 0;
		seen = 1;
		serial = shard_serial;
	}
	return seen ? 1 : -1;
}

void
zones_metrics(FILE *f, int (*up)(void *ctx, const struct sockaddr *addr))
{
	char as[ADDR_STRLEN];
	size_t i, j;

	if (nzones == 0)
		return;
	fprintf(f, "# HELP dnsrouter_zone_shards Shards of a zone: sets of "
	    "backends registered with the same regexps, its apex among them.\n"
	    "# TYPE dnsrouter_zone_shards gauge\n");
	for (i = 0; i < nzones; i++)
		fprintf(f, "dnsrouter_zone_shards{zone=\"%s\"} %u\n",
		    zones[i].name, zones[i].nshards);
	fprintf(f, "# HELP dnsrouter_zone_serials_agree 1 when every shard of "
	    "the zone holds the same SOA serial, 0 when they differ, -1 while "
	    "some shard's is unknown (backends in rotation only).\n"
	    "# TYPE dnsrouter_zone_serials_agree gauge\n");
	for (i = 0; i < nzones; i++)
		fprintf(f, "dnsrouter_zone_serials_agree{zone=\"%s\"} %d\n",
		    zones[i].name, zones_agree(&zones[i], up));
	fprintf(f, "# HELP dnsrouter_zone_serial The apex SOA serial a backend "
	    "of the zone's shard answered its last health check with.\n"
	    "# TYPE dnsrouter_zone_serial gauge\n");
	for (i = 0; i < nzones; i++)
		for (j = 0; j < zones[i].nm; j++)
			if (zones[i].m[j].have)
				fprintf(f, "dnsrouter_zone_serial{zone=\"%s\","
				    "shard=\"%u\",backend=\"%s\"} %u\n",
				    zones[i].name, zones[i].m[j].shard,
				    addr_format((const struct sockaddr *)
				    &zones[i].m[j].addr, as, sizeof(as)),
				    zones[i].m[j].serial);
}

void
zones_free(void)
{
	size_t i;

	for (i = 0; i < nzones; i++) {
		free(zones[i].m);
		free(zones[i].sig);
	}
	memset(zones, 0, sizeof(zones));
	nzones = 0;
}
