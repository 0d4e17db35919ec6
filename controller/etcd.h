/*
 * An etcd v3 client over its JSON gateway, driven by the controller's libev
 * loop through libcurl's multi interface: nothing blocks. It lists every key
 * under the prefix (in pages, at one revision), then watches from the next
 * revision; on any disconnect
 * it reconnects (next endpoint, backoff with jitter) and resumes the watch
 * from the last revision seen, so no change is missed; after a compaction
 * it lists again. A liveness request every few seconds catches a stalled
 * endpoint that still holds the TCP connection.
 */
#ifndef DNSROUTER_ETCD_H
#define DNSROUTER_ETCD_H

#include <ev.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"

struct etcd_handlers {
	/*
	 * A full listing follows (puts, page by page, then synced): what it
	 * holds replaces every key seen so far. A listing cut short by a
	 * failure is followed by a new reset.
	 */
	void	(*reset)(void *ctx);
	/* key (created at create_revision) was written with value (neither NUL-terminated). */
	void	(*put)(void *ctx, const char *key, size_t klen, const char *val,
		    size_t vlen, int64_t create_revision, int64_t mod_revision);
	/* key was deleted (or its lease expired). */
	void	(*del)(void *ctx, const char *key, size_t klen);
	/* A listing or a batch of events is complete: apply it. */
	void	(*synced)(void *ctx);
};

/* Start listing and watching cf's etcd endpoints (there must be some). */
void etcd_init(struct ev_loop *loop, const struct config *cf,
    const struct etcd_handlers *h, void *ctx);
/* Nonzero while a watch is established. */
int etcd_connected(void);
/* The last revision seen (0: none yet). */
int64_t etcd_revision(void);
/* The endpoint in use or being tried next; NULL before etcd_init. */
const char *etcd_endpoint(void);
/* Stop everything and free it. */
void etcd_shutdown(void);

#endif
