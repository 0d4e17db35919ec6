/*
 * Everything that crosses a process boundary: between the controller and
 * the routers, and between dnsrouterctl and the controller. Every message starts with struct proto_hdr; bump PROTO_VERSION on
 * any change to a message's layout. Both ends include this header only.
 */
#ifndef DNSROUTER_PROTO_H
#define DNSROUTER_PROTO_H

#include <stddef.h>
#include <stdint.h>

#define PROTO_MAGIC	0x444e5352u	/* "DNSR" */
/*
 * 2: status and error messages; 3: reports carry counters; 4: limit counters;
 * 5: reports count failures of queries no backend answered; 6: a route's
 * backend count is a u32 in tables; 7: the controller's Hyperscan database;
 * 8: status carries the zones' shards and SOA serials; 9: cache purges, and
 * reports carry the packet cache's counters; 10: reports carry the dnstap
 * counters; 11: the Hyperscan answer "deferred"
 */
#define PROTO_VERSION	11
#define PROTO_HDRLEN	16

enum proto_msg {
	/* controller -> routers, over pub/sub and as the req/rep answer */
	PROTO_TABLE = 1,	/* full route table, see routetable.h */
	/* router -> controller, req/rep: "send me the current table" */
	PROTO_SNAPSHOT_REQ = 2,
	/* router -> controller, push/pull: backend failures and counters */
	PROTO_REPORT = 3,
	/* dnsrouterctl -> controller, req/rep: "what do you see?" (header only) */
	PROTO_STATUS_REQ = 4,
	/* controller -> dnsrouterctl: the answer, see status.h */
	PROTO_STATUS = 5,
	/* controller -> dnsrouterctl: a request it cannot serve, with the reason */
	PROTO_ERROR = 6,
	/* router -> controller, req/rep: "a database newer than mine?" */
	PROTO_HSDB_REQ = 7,
	/* controller -> router: the answer, see hsdbmsg.h */
	PROTO_HSDB = 8,
	/* dnsrouterctl -> controller, req/rep: purge a name, see purgemsg.h */
	PROTO_PURGE_REQ = 9,
	/* controller -> routers over pub/sub, and the answer: recent purges */
	PROTO_PURGE = 10,
};

/* nng endpoints, relative to the run directory. */
#define PROTO_EP_TABLE		"table.ipc"	/* pub (controller) / sub */
#define PROTO_EP_SNAPSHOT	"snapshot.ipc"	/* rep (controller) / req */
#define PROTO_EP_REPORT		"report.ipc"	/* pull (controller) / push */
#define PROTO_EP_CONTROL	"control.ipc"	/* rep (controller) / req (dnsrouterctl) */
#define PROTO_EP_HSDB		"hsdb.ipc"	/* rep (controller) / req */

struct proto_hdr {
	uint32_t	magic;
	uint16_t	version;
	uint16_t	type;
	uint32_t	length;		/* whole message, header included */
	uint32_t	reserved;
};

/* Write a header for a message of type and total length into buf (16 bytes). */
void proto_put_hdr(uint8_t *buf, enum proto_msg type, uint32_t length);

/*
 * Check the header of a received message of len bytes: magic, version,
 * and that its length field equals len. Returns the type, or -1 with a
 * reason in *why.
 */
int proto_check_hdr(const uint8_t *buf, size_t len, const char **why);

/*
 * The opening of every decoder: proto_check_hdr, then that the message is
 * of type and at least minlen bytes long (header included). 0, or -1 with
 * a reason in *why.
 */
int proto_check_msg(const uint8_t *buf, size_t len, enum proto_msg type,
    size_t minlen, const char **why);

/*
 * The protocol version a message of len bytes was written with, whatever
 * it is (so a peer of another version can be named); -1 if it is not a
 * dnsrouter message at all.
 */
int proto_hdr_version(const uint8_t *buf, size_t len);

/* Big-endian field helpers shared by the encoders. */
static inline void
proto_put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static inline void
proto_put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static inline void
proto_put64(uint8_t *p, uint64_t v)
{
	proto_put32(p, (uint32_t)(v >> 32));
	proto_put32(p + 4, (uint32_t)v);
}

static inline uint16_t
proto_get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static inline uint32_t
proto_get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | p[3];
}

static inline uint64_t
proto_get64(const uint8_t *p)
{
	return (uint64_t)proto_get32(p) << 32 | proto_get32(p + 4);
}

#endif
