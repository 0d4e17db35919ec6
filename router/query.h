/*
 * In-flight queries (query.c): IDs, timeouts, retries, answers, and the
 * two interfaces it forwards and answers through: the client handle a
 * client transport fills in, and the upstream transports' ops.
 */
#ifndef DNSROUTER_QUERY_H
#define DNSROUTER_QUERY_H

#include <sys/socket.h>
#include <stddef.h>
#include <stdint.h>

#include "cache.h"

struct dns_question;
struct live_table;
struct router;

#define QUERY_MAX		16384	/* in-flight queries per router */
/*
 * libev priority of the backends' reply watchers: above the timeouts'
 * (default 0). After a stall (SIGSTOP, a slow pass) a reply and its
 * query's timeout are pending in the same pass, and libev runs the last
 * queued of a priority first: the timeout, which answered SERVFAIL to a
 * query whose reply was waiting.
 */
#define REPLY_PRI		1
#define QUERY_INLINE		512	/* query bytes kept without malloc */

/*
 * Where a query came from and how its answer goes back: filled in by the
 * transport that read the query (udp.c, tcp.c) and copied into the query,
 * so that query.c answers without naming a transport (Unbound's
 * comm_reply, Knot's transport table). The rules that differ between
 * transports stay behind the ops: RRL and batching for UDP, framing and
 * output limits for TCP, and which upstream transport forwards the query.
 */
struct client;
struct query;

/*
 * Toward backends: one per transport (upstream.c, upstream_tcp.c). A send
 * either takes the query (its answer or failure comes back later through
 * query_deliver or query_attempt_failed) or says why not.
 */
enum upstream_result {
	UPSTREAM_SENT,		/* queued or written */
	UPSTREAM_BUSY,		/* the router's own limit: no socket, ID or slot */
	UPSTREAM_UNREACHABLE,	/* the backend refused or cannot be reached */
};

struct upstream_ops {
	/* Give q a fresh ID and send it to the backend at to. */
	enum upstream_result (*send)(struct query *q, const struct sockaddr *to,
	    socklen_t tolen);
	/* q is done with what send gave it (q->up_conn non-NULL): ID, slot. */
	void (*release)(struct query *q);
};

struct client_ops {
	/* Send an answer of len bytes (the client's ID in place) to c. */
	void (*send)(const struct client *c, const uint8_t *buf, size_t len);
	/* One query of c is over, answered or not; NULL: nothing to do. */
	void (*done)(const struct client *c);
	/* The transport its queries go to backends over. */
	const struct upstream_ops *upstream;
	/*
	 * Stream transports: bytes queued toward c and not yet taken, or
	 * SIZE_MAX when c is gone; NULL for datagrams.
	 */
	size_t (*pending)(const struct client *c);
};

struct client {
	const struct client_ops	*ops;
	void			*conn;		/* the transport's connection, or NULL */
	int			 fd;		/* the socket to answer from, or -1 */
	socklen_t		 addrlen;
	struct sockaddr_storage	 addr;		/* the client; addrlen bytes of it */
};

struct query {
	uint32_t		 next, prev;	/* timeout list or free list */
	double			 deadline;
	double			 sent;		/* ev_now() at the attempt's start */
	double			 received;	/* ev_now() when the client's query came */
	struct live_table	*table;
	uint32_t		 route;
	int32_t			 backend;
	int32_t			 failed_backend; /* earlier attempt's, or -1 */
	uint8_t			 attempts;
	uint8_t			 active;
	uint8_t			 edns;
	uint16_t		 client_id;
	uint16_t		 up_id;
	uint16_t		 qend;		/* end of question in pkt */
	uint16_t		 qname_len;
	uint16_t		 len;
	struct cache_key	 ck;		/* ck.on: the answer is kept */
	void			*up_conn;	/* the upstream's for this attempt, or NULL */
	struct client		 client;	/* only addrlen bytes of its address set */
	uint8_t			*pkt;		/* inline or malloc'd */
	uint8_t			 inline_pkt[QUERY_INLINE];
};

void query_init(const struct router *r);
/* The packet cache, or NULL when cache-size is 0. */
struct cache *query_cache(void);
/* Queries in flight. */
uint32_t query_inflight(void);
/*
 * Route and forward the query pkt (len bytes) that dns_parse_query accepted
 * into q, or answer it at once (REFUSED, SERVFAIL), through client c (copied:
 * c need not outlive the call).
 */
void query_dispatch(const uint8_t *pkt, size_t len, const struct dns_question *q,
    const struct client *c);
/*
 * The same to one backend of route of the current table (there is one),
 * without a retry elsewhere: an UPDATE goes to its shard's primary only.
 */
void query_dispatch_to(const uint8_t *pkt, size_t len,
    const struct dns_question *q, const struct client *c, uint32_t route,
    uint32_t backend);
/* Answer a packet dns_parse_query rejected with rcode, through c. */
void query_answer_error(const uint8_t *pkt, size_t len,
    const struct dns_question *q, int rcode, const struct client *c);
/* The query with index idx (from an upstream ID map), or NULL. */
struct query *query_get(uint32_t idx);
uint32_t query_index(const struct query *q);
/* A backend reply that passed the checks: send it to the client, free q. */
void query_deliver(struct query *q, uint8_t *reply, size_t len);
/*
 * The current attempt failed (timeout, send error, TCP error): retry or
 * SERVFAIL. backend_fault: 1 when the backend failed (timeout, broken
 * connection, unreachable), counted against it and reported to the
 * controller's health checks; 0 when the router could not send (its own
 * buffers, IDs or connections exhausted): the attempt is taken back, not
 * blamed.
 */
void query_attempt_failed(struct query *q, int backend_fault);
/* Nonzero when reply carries q's question. */
int query_same_question(const struct query *q, const uint8_t *reply, size_t len);

#endif
