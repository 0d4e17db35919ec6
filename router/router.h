/*
 * The router process: forwards queries from its inherited listeners to the
 * backends chosen by the current route table. Single-threaded, one libev
 * loop; no allocation, no ldns and no formatted logging per UDP query.
 */
#ifndef DNSROUTER_ROUTER_H
#define DNSROUTER_ROUTER_H

#include <sys/socket.h>
#include <ev.h>
#include <stdint.h>

#include "config.h"
#include "dnswire.h"
#include "report.h"
#include "routetable.h"

#include "child.h"	/* CHILD_FD_*: what the master hands over */

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
#define TCP_MAX_PIPELINE	64	/* in-flight queries per TCP client */

/*
 * The router's state that every module needs, filled in by main.c and
 * handed to each module's init, which keeps what it uses: no module but
 * main.c reads a router-wide global.
 */
struct router {
	struct ev_loop		*loop;
	const struct config	*conf;
	const char		*endpoint_dir;	/* the controller's: "/controller" in the chroot */
	uint32_t		*count;		/* stats.c's counters (enum report_global) */
	int			 index;		/* this router's slot */
};

/*
 * What one backend saw since the last report: plain integers, bumped on
 * the query path and sent and zeroed every REPORT_INTERVAL. A failed
 * attempt is counted when its query ends (answered by the retry, or not
 * at all), so that unanswered can tell the two apart.
 */
struct bcount {
	uint32_t	queries;	/* attempts sent */
	uint32_t	answered;
	uint32_t	failed;		/* attempts timed out or broken */
	uint32_t	unanswered;	/* of failed: queries no backend answered */
	uint32_t	rcode[REPORT_NRCODE];
	uint32_t	bucket[REPORT_NBUCKET];	/* latency, see report.h */
	uint64_t	latency_us;
};

/* A decoded route table with what the router derives from it. */
struct live_table {
	struct rt_table	*rt;
	struct matcher	*m;
	uint32_t	*rr;		/* round-robin position per route */
	uint32_t	*nup;		/* healthy backends per route */
	struct bcount	*bc;		/* per backend, since the last report */
	uint32_t	*rq;		/* queries per route, since the last report */
	uint32_t	*touched;	/* routes with rq > 0, ntouched of them */
	uint32_t	 ntouched;
	int		 refs;		/* queries using it, +1 while current */
	struct live_table	*retired_next;	/* table.c's, once refs reached 0 */
};

enum route_status {
	ROUTE_FOUND,		/* *route set */
	ROUTE_NONE,		/* no route matched: REFUSED */
	ROUTE_DOWN,		/* matched, none healthy, or no table: SERVFAIL */
};

/*
 * table.c: receiving tables from the controller. first() is called once,
 * when the first table can serve; released(t) when a table that was
 * replaced has ended its last query, from the loop (never inside
 * table_unref), just before t is freed.
 */
void table_init(const struct router *r, void (*first)(void),
    void (*released)(struct live_table *t));
void table_shutdown(void);
/* The table new queries use, or NULL before the first one arrived. */
struct live_table *table_current(void);
void table_ref(struct live_table *t);
void table_unref(struct live_table *t);
/* Match a lower-cased name to the first route with a healthy backend. */
enum route_status table_route(struct live_table *t, const char *name, size_t len,
    uint32_t *route);
/*
 * Next healthy backend of route in round-robin order, or -1. With exclude
 * (a retry), any healthy backend but that one, without moving the rotation.
 */
int table_pick(struct live_table *t, uint32_t route, int exclude);

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

/* query.c: in-flight queries, IDs, timeouts, retries, answers */
struct query {
	uint32_t		 next, prev;	/* timeout list or free list */
	double			 deadline;
	double			 sent;		/* ev_now() at the attempt's start */
	struct live_table		*table;
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
	void			*up_conn;	/* the upstream's for this attempt, or NULL */
	struct client		 client;	/* only addrlen bytes of its address set */
	uint8_t			*pkt;		/* inline or malloc'd */
	uint8_t			 inline_pkt[QUERY_INLINE];
};

void query_init(const struct router *r);
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

/* sendbatch.c: a batch of datagrams in one system call (io_uring or sendmmsg) */
#define SENDBATCH_MAX		64
void sendbatch_init(void);
void sendbatch_shutdown(void);
/*
 * Send m[0..n) on fd without blocking; res[i] is bytes sent or -errno (a
 * full socket buffer: -EAGAIN). Every message is tried.
 */
void sendbatch(int fd, struct mmsghdr *m, unsigned n, int *res);

/*
 * upstream.c: UDP sockets toward backends, on random ports, renewed.
 * Queued queries leave in one batch per socket before the loop next blocks.
 */
void upstream_init(const struct router *r);
extern const struct upstream_ops upstream_udp;

/* upstream_tcp.c: persistent pipelined TCP connections toward backends */
void upstream_tcp_init(const struct router *r);
extern const struct upstream_ops upstream_tcp;

/* compile.c: a router's own Hyperscan database, built in a thread */
struct hsdb;
void compile_init(const struct router *r, void (*done)(struct hsdb *db));
/* Build a database of rt's patterns unless one is being built. */
void compile_start(const struct rt_table *rt);
void compile_shutdown(void);

/* dbfetch.c: the controller's Hyperscan database */
/*
 * Dial the controller's database endpoint and ask at once. A
 * database that arrives goes to got_db; compile_here is called when the
 * router must compile for itself.
 */
void dbfetch_init(const struct router *r, void (*got_db)(struct hsdb *db),
    void (*compile_here)(void), void (*no_db_soon)(void));
/* The current table holds patterns its database lacks: ask for a newer one. */
void dbfetch_want(void);
/*
 * Nonzero while a database may be on its way (asked, and the controller
 * did not say it is still compiling); no_db_soon() is called when it says
 * so, or when the router gives up and compiles itself.
 */
int dbfetch_coming(void);
void dbfetch_shutdown(void);

/*
 * stats.c: the router's counters, and telling the controller what real
 * traffic saw of each backend
 */
/* The global counters (enum report_global), for struct router's count. */
uint32_t *stats_counters(void);
void stats_init(const struct router *r);
/* t is going away (its last query ended): report what it still holds. */
void stats_table_done(struct live_table *t);
void stats_shutdown(void);

/* udp.c: client-side UDP listeners */
void udp_init(const struct router *r, int fd);
/* Send the queued answers now (they leave before the loop blocks anyway). */
void udp_flush(void);
/* Start reading queries (once there is a table) / stop for good. */
void udp_start(void);
void udp_stop(void);

/*
 * xfr.c: zone transfers (AXFR, IXFR in full) merged from the zone's shards.
 * Takes a query dns_parse_query accepted whose type is AXFR or IXFR: 1
 * when it holds c until the transfer ends (then c's done is called), 0
 * when it answered at once (refused, over UDP, no table).
 */
void xfr_init(const struct router *r);
int xfr_start(const uint8_t *pkt, size_t len, const struct dns_question *q,
    const struct client *c);
void xfr_shutdown(void);

/*
 * update.c: UPDATE (RFC 2136) to the primary of the one shard its names
 * route to; NOTIFY (RFC 1996) routed like a query. Each answers or
 * forwards through c as query_dispatch does.
 */
void update_init(const struct router *r);
void update_dispatch(const uint8_t *pkt, size_t len,
    const struct dns_question *q, const struct client *c);
void notify_dispatch(const uint8_t *pkt, size_t len,
    const struct dns_question *q, const struct client *c);

/* tcp.c: client-side TCP listeners and connections */
void tcp_init(const struct router *r, int fd);
void tcp_start(void);
void tcp_stop(void);

#endif
