/*
 * What dnsrouterctl asks the running controller over req/rep on
 * control.ipc, and the answers.
 *
 * PROTO_STATUS_REQ: the header alone.
 * PROTO_STATUS, after the proto header (big endian):
 *   flags u32 (STATUS_ETCD_*), reserved u32, etcd_revision u64,
 *   endpoint_len u16, endpoint[endpoint_len] (the etcd URL in use),
 *   table_len u32, table[table_len]: a complete PROTO_TABLE message, the
 *   one the routers were last sent (table_len 0 before the first one),
 *   nzones u16 (at most STATUS_MAX_ZONES), for each zone:
 *     name_len u8, name[name_len] (text, "miek.nl."), nshards u16,
 *     agree u8 (1 agree, 0 differ, 2 unknown), nmembers u16 (at most
 *     STATUS_MAX_MEMBERS), for each backend of the zone's apex route:
 *       shard u16 (1..nshards), have u8, serial u32, addr_len u8,
 *       addr[addr_len] ("ip:port"), why_len u8, why[why_len] (no serial).
 * A request the controller cannot serve gets PROTO_ERROR (error.h).
 */
#ifndef DNSROUTER_STATUSMSG_H
#define DNSROUTER_STATUSMSG_H

#include <stddef.h>
#include <stdint.h>

#include "routetable.h"

#define STATUS_ETCD_CONFIGURED	0x01
#define STATUS_ETCD_CONNECTED	0x02	/* the watch is established */
#define STATUS_MAX_ENDPOINT	1024

#define STATUS_MAX_ZONES	64
#define STATUS_MAX_MEMBERS	1024

/* A backend of a zone's apex route: its shard and the serial it answered. */
struct status_member {
	char		 addr[64];
	unsigned	 shard;
	int		 have;
	uint32_t	 serial;
	char		 why[64];
};

struct status_zone {
	char			 name[256];
	unsigned		 nshards;
	int			 agree;		/* 1, 0, -1 unknown */
	struct status_member	*m;
	size_t			 nm;
};

struct status {
	uint32_t		 flags;
	int64_t			 etcd_revision;
	char			 endpoint[STATUS_MAX_ENDPOINT + 1];
	struct rt_table		*table;		/* NULL: no table published yet */
	struct status_zone	*zones;
	size_t			 nzones;
};

/* Write a PROTO_STATUS_REQ into buf (PROTO_HDRLEN bytes); returns its length. */
size_t status_request(uint8_t *buf);

/*
 * Encode a PROTO_STATUS message into a malloc'd buffer: flags, revision,
 * endpoint (NULL for none), table (an encoded PROTO_TABLE message of
 * tablelen bytes, or NULL) and nzones zones. -1 on failure.
 */
int status_encode(uint32_t flags, int64_t etcd_revision, const char *endpoint,
    const uint8_t *table, size_t tablelen, const struct status_zone *zones,
    size_t nzones, uint8_t **out, size_t *outlen);

/*
 * Decode and validate a PROTO_STATUS message, table included; fills s
 * (free with status_free). -1 with a reason in *why.
 */
int status_decode(const uint8_t *buf, size_t len, struct status *s,
    const char **why);

/* Free what status_decode allocated. */
void status_free(struct status *s);


#endif
