/*
 * Answers dnsrouterctl's status requests. Anything else that arrives,
 * including a request of another protocol version, gets a PROTO_ERROR
 * naming what went wrong, so the client can say so instead of timing out.
 */
#include <nng/nng.h>
#include <nng/protocol/reqrep0/rep.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "control.h"
#include "etcd.h"
#include "endpoint.h"
#include "log.h"
#include "proto.h"
#include "publish.h"
#include "error.h"
#include "statusmsg.h"

static struct ev_loop		*cloop;
static const struct config	*ccf;
static nng_socket		 sock;
static ev_io			 sock_w;

static void
reply(nng_msg *req, uint8_t *buf, size_t len)
{
	int rv;

	/* The request message carries the reply's routing: reuse it. */
	nng_msg_clear(req);
	if (nng_msg_append(req, buf, len) != 0) {
		nng_msg_free(req);
		return;
	}
	if ((rv = nng_sendmsg(sock, req, NNG_FLAG_NONBLOCK)) != 0) {
		log_debug("%s: %s", __func__, nng_strerror(rv));
		nng_msg_free(req);
	}
}

static void
answer_error(nng_msg *req, const char *why)
{
	uint8_t *buf;
	size_t len;
	char msg[256];

	snprintf(msg, sizeof(msg), "controller (protocol version %d): %s",
	    PROTO_VERSION, why);
	if (error_encode(msg, &buf, &len) != 0) {
		nng_msg_free(req);
		return;
	}
	reply(req, buf, len);
	free(buf);
}

static void
answer_status(nng_msg *req)
{
	const uint8_t *table;
	size_t tablelen, len;
	uint32_t flags = 0;
	int64_t rev = 0;
	uint8_t *buf;

	table = publish_current(&tablelen);
	if (ccf->netcd > 0) {
		flags |= STATUS_ETCD_CONFIGURED;
		if (etcd_connected())
			flags |= STATUS_ETCD_CONNECTED;
		rev = etcd_revision();
	}
	if (status_encode(flags, rev, ccf->netcd > 0 ? etcd_endpoint() : NULL,
	    table, tablelen, &buf, &len) != 0) {
		answer_error(req, "status cannot be encoded");
		return;
	}
	reply(req, buf, len);
	free(buf);
}

static void
sock_cb(struct ev_loop *l, ev_io *w, int revents)
{
	const char *why = NULL;
	nng_msg *msg;
	int type;

	(void)l; (void)w; (void)revents;
	while (nng_recvmsg(sock, &msg, NNG_FLAG_NONBLOCK) == 0) {
		type = proto_check_hdr(nng_msg_body(msg), nng_msg_len(msg), &why);
		if (type == PROTO_STATUS_REQ) {
			answer_status(msg);
			continue;
		}
		if (type >= 0)
			why = "unexpected request type";
		log_debug("%s: bad control request: %s", __func__, why);
		answer_error(msg, why);
	}
}

void
control_init(struct ev_loop *loop, const struct config *cf, const char *dir)
{
	int fd, rv;

	cloop = loop;
	ccf = cf;
	if ((rv = nng_rep0_open(&sock)) != 0)
		fatalx("%s: open: %s", __func__, nng_strerror(rv));
	fd = endpoint_listen(sock, dir, PROTO_EP_CONTROL, 1,
	    ENDPOINT_REQ_MAXSZ);
	ev_io_init(&sock_w, sock_cb, fd, EV_READ);
	ev_io_start(loop, &sock_w);
}

void
control_shutdown(void)
{
	ev_io_stop(cloop, &sock_w);
	nng_close(sock);
}
