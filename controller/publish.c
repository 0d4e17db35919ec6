/*
 * Table publishing. Pub/sub is lossy (a slow or late subscriber misses
 * messages), so every message is the whole table with a generation number,
 * republished every second, and routers that start ask for a snapshot.
 */
#include <nng/nng.h>
#include <nng/protocol/pubsub0/pub.h>
#include <nng/protocol/reqrep0/rep.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dbcompile.h"
#include "endpoint.h"
#include "log.h"
#include "proto.h"
#include "publish.h"
#include "util.h"

#define REPUBLISH_INTERVAL	1.0

/* Bytes after the header and epoch/generation: the table's content. */
#define CONTENT_OFF		(PROTO_HDRLEN + 16)

static struct ev_loop	*ploop;
static nng_socket	 pub_sock, rep_sock;
static ev_io		 rep_w;
static ev_timer		 repub_w;
static ev_async		 newsub_w;
static uint64_t		 epoch, generation;
static uint8_t		*cur;
static size_t		 curlen;
static struct purge_list purges;	/* the last PURGE_KEEP, oldest first */
static uint8_t		*purge_msg;	/* purges, encoded */
static size_t		 purge_len;

static void
send_current(nng_socket s, const char *what)
{
	int rv;

	if (cur == NULL)
		return;
	if ((rv = nng_send(s, cur, curlen, NNG_FLAG_NONBLOCK)) != 0 &&
	    rv != NNG_EAGAIN)
		log_warnx("%s: %s: %s", __func__, what, nng_strerror(rv));
}

static void
send_purges(void)
{
	int rv;

	if (purge_msg != NULL && (rv = nng_send(pub_sock, purge_msg, purge_len,
	    NNG_FLAG_NONBLOCK)) != 0 && rv != NNG_EAGAIN)
		log_warnx("%s: %s", __func__, nng_strerror(rv));
}

static void
repub_cb(struct ev_loop *l, ev_timer *w, int revents)
{
	(void)l; (void)w; (void)revents;
	send_current(pub_sock, "publish");
	send_purges();
}

/*
 * A router's subscription just connected. What was published before that
 * never reached it (a router that took its first table as a snapshot could
 * otherwise miss the next change until the periodic republication), so
 * the current table goes out again at once.
 */
static void
newsub_cb(struct ev_loop *l, ev_async *w, int revents)
{
	(void)l; (void)w; (void)revents;
	send_current(pub_sock, "publish to a new subscriber");
	send_purges();
}

/* nng's thread: hand over to the loop. */
static void
pipe_cb(void)
{
	ev_async_send(ploop, &newsub_w);
}

static void
rep_cb(struct ev_loop *l, ev_io *w, int revents)
{
	nng_msg *msg;
	const char *why;
	int rv, type;

	(void)l; (void)w; (void)revents;
	while ((rv = nng_recvmsg(rep_sock, &msg, NNG_FLAG_NONBLOCK)) == 0) {
		type = proto_check_hdr(nng_msg_body(msg), nng_msg_len(msg), &why);
		nng_msg_free(msg);
		if (type != PROTO_SNAPSHOT_REQ) {
			log_warnx("%s: bad request from a router dropped: %s",
			    __func__, type < 0 ? why : "unexpected type");
			continue;
		}
		send_current(rep_sock, "snapshot");
	}
}

void
publish_init(struct ev_loop *loop, const char *rundir)
{
	int fd, rv;

	ploop = loop;
	epoch = (uint64_t)rnd32() << 32 | rnd32();
	ev_async_init(&newsub_w, newsub_cb);
	ev_async_start(loop, &newsub_w);
	if ((rv = nng_pub0_open(&pub_sock)) != 0)
		fatalx("%s: pub socket: %s", __func__, nng_strerror(rv));
	endpoint_listen_cb(pub_sock, rundir, PROTO_EP_TABLE, 0, 0, pipe_cb);
	if ((rv = nng_rep0_open(&rep_sock)) != 0)
		fatalx("%s: rep socket: %s", __func__, nng_strerror(rv));
	fd = endpoint_listen(rep_sock, rundir, PROTO_EP_SNAPSHOT, 1,
	    ENDPOINT_REQ_MAXSZ);
	ev_io_init(&rep_w, rep_cb, fd, EV_READ);
	ev_io_start(loop, &rep_w);
	ev_timer_init(&repub_w, repub_cb, REPUBLISH_INTERVAL, REPUBLISH_INTERVAL);
	ev_timer_start(loop, &repub_w);
}

int
publish_table(struct rt_table *t)
{
	uint8_t *buf;
	size_t len;

	t->epoch = epoch;
	t->generation = generation + 1;
	if (rt_encode(t, &buf, &len) != 0) {
		log_warnx("%s: table cannot be encoded; routers keep the last one",
		    __func__);
		return 0;
	}
	if (cur != NULL && len == curlen &&
	    memcmp(buf + CONTENT_OFF, cur + CONTENT_OFF, len - CONTENT_OFF) == 0) {
		free(buf);
		return 0;
	}
	generation++;
	free(cur);
	cur = buf;
	curlen = len;
	log_info("route table generation %llu: %u routes, %u backends",
	    (unsigned long long)generation, t->nroutes, t->nbackends);
	send_current(pub_sock, "publish");
	dbcompile_table(t);
	return 1;
}

int
publish_purge(const struct purge_name *p, uint8_t **out, size_t *outlen)
{
	uint8_t *buf;
	size_t len;

	if (purges.n == PURGE_KEEP)
		memmove(&purges.p[0], &purges.p[1],
		    (PURGE_KEEP - 1) * sizeof(purges.p[0]));
	else
		purges.n++;
	purges.p[purges.n - 1] = *p;
	purges.epoch = epoch;
	purges.seq++;
	if (purge_encode(&purges, &buf, &len) != 0)
		return -1;
	free(purge_msg);
	purge_msg = buf;
	purge_len = len;
	send_purges();
	if ((*out = malloc(len)) == NULL)
		return -1;
	memcpy(*out, buf, len);
	*outlen = len;
	return 0;
}

const uint8_t *
publish_current(size_t *len)
{
	*len = curlen;
	return cur;
}

void
publish_shutdown(void)
{
	ev_io_stop(ploop, &rep_w);
	ev_timer_stop(ploop, &repub_w);
	ev_async_stop(ploop, &newsub_w);
	nng_close(pub_sock);
	nng_close(rep_sock);
	free(cur);
	cur = NULL;
	free(purge_msg);
	purge_msg = NULL;
}
