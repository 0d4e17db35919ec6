/*
 * A hash index from byte-string keys to numbers (open addressing, linear
 * probing, at most half full). The map does not copy keys: each key's
 * bytes must stay where they are until it is deleted or the map freed.
 * The hash is seeded per map, so keys written by others (etcd) cannot be
 * chosen to collide.
 */
#ifndef DNSROUTER_STRMAP_H
#define DNSROUTER_STRMAP_H

#include <stddef.h>
#include <stdint.h>

struct strmap_slot {
	const void	*key;		/* NULL: empty */
	size_t		 len;
	uint64_t	 hash;
	size_t		 val;
};

struct strmap {
	struct strmap_slot	*s;
	size_t			 cap, n;	/* cap: 0 or a power of two */
	uint64_t		 seed;
};

/* An empty map with room for about n keys before it grows (n may be 0). */
void strmap_init(struct strmap *m, size_t n);
/* 1 and *val set if key (len bytes) is there, else 0. */
int strmap_get(const struct strmap *m, const void *key, size_t len,
    size_t *val);
/* Map key to val, replacing its value if it is there (the key is not copied). */
void strmap_put(struct strmap *m, const void *key, size_t len, size_t val);
/* Remove key; 0 if it was there, -1 if not. */
int strmap_del(struct strmap *m, const void *key, size_t len);
/* Forget every key, keep the room. */
void strmap_clear(struct strmap *m);
/* Free the slots (not the keys). */
void strmap_free(struct strmap *m);

#endif
