/*
 * log-queries N (querylog.c): one answer in N logged as a line, for
 * debugging without dnstap: client, transport, name, type, rcode, answer
 * count, time taken and who answered.
 */
#ifndef DNSROUTER_QUERYLOG_H
#define DNSROUTER_QUERYLOG_H

#include <sys/socket.h>
#include <stddef.h>
#include <stdint.h>

struct router;

extern unsigned querylog_every;		/* log-queries; 0 = none */
extern unsigned querylog_left;		/* answers until the next one logged */

void querylog_init(const struct router *r);

/* Nonzero for the answer to log: every querylog_every-th. */
static inline int
querylog_due(void)
{
	if (querylog_every == 0 || --querylog_left != 0)
		return 0;
	querylog_left = querylog_every;
	return 1;
}

/*
 * Log the answer ans (alen bytes) to the query pkt (len bytes) from client
 * (over TCP if tcp), received at qtime: from backend, or (backend NULL) by
 * "by" (the cache, the router).
 */
void querylog_answer(const struct sockaddr *client, int tcp,
    const uint8_t *pkt, size_t len, const uint8_t *ans, size_t alen,
    double qtime, const struct sockaddr *backend, const char *by);

#endif
