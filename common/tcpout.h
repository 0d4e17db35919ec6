/*
 * The output side of DNS over TCP (RFC 7766): messages queued with their
 * two-byte length, written with as few system calls as the kernel takes.
 * The router's client connections (router/tcp.c) and its backend
 * connections (router/upstream_tcp.c) both queue this way.
 */
#ifndef DNSROUTER_TCPOUT_H
#define DNSROUTER_TCPOUT_H

#include <sys/types.h>
#include <stddef.h>
#include <stdint.h>

struct tcpout_msg;

struct tcpout {
	struct tcpout_msg	*head, *tail;
	size_t			 off;	/* bytes of head already written */
	size_t			 bytes;	/* queued and not yet written, framing included */
};

/* Messages written per call at most. */
#define TCPOUT_IOV	64

/* Queue msg (len <= 65535) framed; tag names it for tcpout_drop (0: none). */
void tcpout_push(struct tcpout *o, const uint8_t *msg, size_t len,
    uint32_t tag);

/*
 * Write what fd takes of the queue (never raising SIGPIPE): the bytes
 * written, or -1 with errno (EAGAIN when it takes nothing now).
 */
ssize_t tcpout_write(struct tcpout *o, int fd);

/*
 * Take the message tagged tag out of the queue unless it is partly
 * written (removing that would break the stream's framing). 1 if removed.
 */
int tcpout_drop(struct tcpout *o, uint32_t tag);

/* Nothing left to write. */
static inline int
tcpout_empty(const struct tcpout *o)
{
	return o->head == NULL;
}

/* Free everything queued. */
void tcpout_clear(struct tcpout *o);

#endif
