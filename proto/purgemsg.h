/*
 * Purging names from the routers' packet caches (dnsrouterctl purge).
 *
 * PROTO_PURGE_REQ, dnsrouterctl -> controller, req/rep; after the header:
 *   qtype u16 (0 = every type), namelen u8, pad u8 (0), name[namelen]
 *   (uncompressed wire form, any case).
 * PROTO_PURGE, controller -> routers over pub/sub, and to dnsrouterctl as
 * the answer; after the header:
 *   epoch u64, seq u64 (of the newest purge), n u16, pad u16 (0),
 *   n x { qtype u16, namelen u8, pad u8, name[namelen] }, oldest first:
 *   the last PURGE_KEEP purges, seq - n + 1 to seq. Pub/sub is lossy, so
 *   the controller sends the list again every second; a router applies
 *   the purges newer than the last it saw, and empties its cache when it
 *   missed more than the list holds.
 */
#ifndef DNSROUTER_PURGEMSG_H
#define DNSROUTER_PURGEMSG_H

#include <stddef.h>
#include <stdint.h>

#include "dnswire.h"

#define PURGE_KEEP	64

struct purge_name {
	uint16_t	qtype;		/* 0 = every type */
	uint8_t		len;
	uint8_t		name[DNS_NAME_WIRE_MAX];
};

struct purge_list {
	uint64_t		epoch;
	uint64_t		seq;
	uint16_t		n;
	struct purge_name	p[PURGE_KEEP];
};

/* Encode a PROTO_PURGE_REQ for p into a malloc'd buffer; -1 on failure. */
int purge_req_encode(const struct purge_name *p, uint8_t **out, size_t *outlen);
/* Decode one; the name must be a valid uncompressed wire name. -1 with why. */
int purge_req_decode(const uint8_t *buf, size_t len, struct purge_name *p,
    const char **why);
/* Encode a PROTO_PURGE for l into a malloc'd buffer; -1 on failure. */
int purge_encode(const struct purge_list *l, uint8_t **out, size_t *outlen);
/* Decode and validate a PROTO_PURGE into l; -1 with why. */
int purge_decode(const uint8_t *buf, size_t len, struct purge_list *l,
    const char **why);

#endif
