/* Hash index from byte strings to numbers. */
#include <stdlib.h>
#include <string.h>

#include "strmap.h"
#include "util.h"

#define MIN_CAP	16

static uint64_t
hash_bytes(const void *p, size_t n, uint64_t seed)
{
	const uint8_t *b = p;
	uint64_t h = 0xcbf29ce484222325ULL ^ seed;

	while (n--)
		h = (h ^ *b++) * 0x100000001b3ULL;
	/* FNV's low bits are weak: mix before masking (murmur3's finaliser). */
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	return h;
}

void
strmap_init(struct strmap *m, size_t n)
{
	memset(m, 0, sizeof(*m));
	m->seed = (uint64_t)rnd32() << 32 | rnd32();
	if (n > 0) {
		m->cap = MIN_CAP;
		while (m->cap < n * 2)
			m->cap *= 2;
		m->s = xcalloc(m->cap, sizeof(*m->s));
	}
}

/* The slot holding key, or the empty one where it would go. */
static size_t
find(const struct strmap *m, const void *key, size_t len, uint64_t h)
{
	size_t i = (size_t)h & (m->cap - 1);

	while (m->s[i].key != NULL) {
		if (m->s[i].hash == h && m->s[i].len == len &&
		    memcmp(m->s[i].key, key, len) == 0)
			break;
		i = (i + 1) & (m->cap - 1);
	}
	return i;
}

static void
grow(struct strmap *m)
{
	struct strmap_slot *old = m->s;
	size_t oldcap = m->cap, i, j;

	m->cap = oldcap ? oldcap * 2 : MIN_CAP;
	m->s = xcalloc(m->cap, sizeof(*m->s));
	for (i = 0; i < oldcap; i++) {
		if (old[i].key == NULL)
			continue;
		j = (size_t)old[i].hash & (m->cap - 1);
		while (m->s[j].key != NULL)
			j = (j + 1) & (m->cap - 1);
		m->s[j] = old[i];
	}
	free(old);
}

int
strmap_get(const struct strmap *m, const void *key, size_t len, size_t *val)
{
	size_t i;

	if (m->n == 0)
		return 0;
	i = find(m, key, len, hash_bytes(key, len, m->seed));
	if (m->s[i].key == NULL)
		return 0;
	*val = m->s[i].val;
	return 1;
}

void
strmap_put(struct strmap *m, const void *key, size_t len, size_t val)
{
	uint64_t h = hash_bytes(key, len, m->seed);
	size_t i;

	if ((m->n + 1) * 2 > m->cap)
		grow(m);
	i = find(m, key, len, h);
	if (m->s[i].key == NULL) {
		m->s[i].key = key;
		m->s[i].len = len;
		m->s[i].hash = h;
		m->n++;
	}
	m->s[i].val = val;
}

int
strmap_del(struct strmap *m, const void *key, size_t len)
{
	size_t i, j, home, mask = m->cap - 1;

	if (m->n == 0)
		return -1;
	i = find(m, key, len, hash_bytes(key, len, m->seed));
	if (m->s[i].key == NULL)
		return -1;
	/*
	 * Backward shift: later slots of the same probe run move up into
	 * the hole unless their home lies cyclically after it, so no
	 * tombstones are needed and lookups stay short.
	 */
	for (j = (i + 1) & mask; m->s[j].key != NULL; j = (j + 1) & mask) {
		home = (size_t)m->s[j].hash & mask;
		if (((j - home) & mask) >= ((j - i) & mask)) {
			m->s[i] = m->s[j];
			i = j;
		}
	}
	memset(&m->s[i], 0, sizeof(m->s[i]));
	m->n--;
	return 0;
}

void
strmap_clear(struct strmap *m)
{
	if (m->s != NULL)
		memset(m->s, 0, m->cap * sizeof(*m->s));
	m->n = 0;
}

void
strmap_free(struct strmap *m)
{
	free(m->s);
	m->s = NULL;
	m->cap = m->n = 0;
}
