/*
 * The controller's Hyperscan database for routers, over req/rep on
 * PROTO_EP_HSDB. The controller compiles each table's patterns once
 * (controller/dbcompile.c); a router whose table holds patterns its
 * database lacks asks, and is answered with the newest database, or told
 * to ask again, or to compile for itself (router/dbfetch.c).
 *
 * PROTO_HSDB_REQ, router -> controller, after the proto header:
 *   have u64      id of the database the router holds (0: none)
 * PROTO_HSDB, controller -> router, after the proto header:
 *   id u64, status u32 (enum hsdb_status), npat u32, nbad u32, bloblen u32,
 *   npat x pattern\0      the compiled patterns, in id order,
 *   nbad x pattern\0      those Hyperscan left out (PCRE2 matches them),
 *   blob[bloblen]         hs_serialize_database's output
 * (everything but id and status is zero unless status is HSDB_DB).
 */
#ifndef DNSROUTER_HSDBMSG_H
#define DNSROUTER_HSDBMSG_H

#include <stddef.h>
#include <stdint.h>

#include "proto.h"
#include "routetable.h"

#define HSDB_REQ_LEN		(PROTO_HDRLEN + 8)
#define HSDB_FIXED		(PROTO_HDRLEN + 24)
/* Bounds a decoder checks: a table's patterns and a generous database. */
#define HSDB_MAX_PATTERNS	RT_MAX_ROUTES
#define HSDB_MAX_LEN		(1u << 30)

enum hsdb_status {
	HSDB_DB = 0,		/* the newest database follows */
	HSDB_COMPILING = 1,	/* none newer than yours yet: ask again soon */
	HSDB_SAME = 2,		/* yours is the newest and none is compiling */
	HSDB_NONE = 3,		/* the controller cannot compile: do it yourself */
	HSDB_DEFERRED = 4,	/* a compile waits until it pays: ask in a second */
};

struct hsdb_msg {
	uint64_t	 id;
	enum hsdb_status status;
	uint32_t	 npat, nbad;
	const char	**pat;		/* point into the message */
	const char	**bad;
	const char	*blob;
	size_t		 bloblen;
};

/* Write a PROTO_HSDB_REQ for a router holding database have into buf. */
void hsdb_encode_req(uint8_t buf[HSDB_REQ_LEN], uint64_t have);

/* Check a PROTO_HSDB_REQ; 0 with *have set, or -1 with a reason in *why. */
int hsdb_decode_req(const uint8_t *buf, size_t len, uint64_t *have,
    const char **why);

/*
 * Encode a PROTO_HSDB answer (pat, bad and blob are used with HSDB_DB only)
 * into a malloc'd *out. -1 if it would pass the limits above.
 */
int hsdb_encode(uint64_t id, enum hsdb_status status, const char *const *pat,
    uint32_t npat, const char *const *bad, uint32_t nbad, const char *blob,
    size_t bloblen, uint8_t **out, size_t *outlen);

/*
 * Validate and decode a PROTO_HSDB answer of len bytes; m's pointers point
 * into buf, which must outlive m. Release with hsdb_msg_free. 0, or -1 with
 * a reason in *why.
 */
int hsdb_decode(const uint8_t *buf, size_t len, struct hsdb_msg *m,
    const char **why);
void hsdb_msg_free(struct hsdb_msg *m);

#endif
