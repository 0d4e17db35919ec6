/* Small utilities: descriptors, unpredictable numbers, allocation that cannot fail. */
#ifndef DNSROUTER_UTIL_H
#define DNSROUTER_UTIL_H

#include <stddef.h>
#include <stdint.h>

/* Set or clear O_NONBLOCK; -1 on error. */
int fd_nonblock(int fd, int on);

/* Remove one signal from the blocked mask (the master blocks SIGHUP). */
void unblock_signal(int sig);

/* Fill buf from the kernel's CSPRNG (getrandom); fatal if it fails. */
void rnd_fill(void *buf, size_t len);
/* An unpredictable 16-bit number, from a buffer refilled by getrandom. */
uint16_t rnd16(void);
/*
 * An unpredictable 16-bit query ID that used(ctx, id) says is free, into
 * *id: -1 when 17 draws in a row were taken (the ID space is nearly full;
 * the caller answers or retries elsewhere rather than loop).
 */
int rnd_free_id(int (*used)(const void *ctx, uint16_t id), const void *ctx,
    uint16_t *id);
/* An unpredictable 32-bit number. */
uint32_t rnd32(void);

/* calloc/malloc/strdup that exit with a message when memory runs out. */
void *xcalloc(size_t n, size_t size);
void *xmalloc(size_t size);
/* realloc of n * size bytes, checked for overflow; fatal when out of memory. */
void *xreallocarray(void *p, size_t n, size_t size);
char *xstrdup(const char *s);

/*
 * One step of a walk of two lists side by side: a table and the one
 * before, which differ by a route added or removed here and there. The
 * first k at *j or up to ALIGN_AHEAD - 1 places on (below n) for which
 * same(ctx, k): *j moves past it. ALIGN_NONE, *j unchanged, if there is
 * none (the caller looks the item up another way).
 */
#define ALIGN_AHEAD	4
#define ALIGN_NONE	((size_t)-1)
size_t align_next(size_t *j, size_t n,
    int (*same)(const void *ctx, size_t k), const void *ctx);

#endif
