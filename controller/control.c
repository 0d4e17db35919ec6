/*
 * Answers dnsrouterctl's status and purge requests. Anything else that arrives,
 * including a request of another protocol version, gets a PROTO_ERROR
 * naming what went wrong, so the client can say so instead of timing out.
 */
#include <nng/nng.h>
#include <nng/protocol/reqrep0/rep.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "addr.h"
#include "control.h"
#include "dnswire.h"
#include "etcd.h"
#include "endpoint.h"
#include "health.h"
#include "log.h"
#include "proto.h"
#include "publish.h"
#include "purgemsg.h"
#include "error.h"
#include "statusmsg.h"
#include "util.h"
#include "zones.h"

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

/* The zones as status tells them (zones.h), malloc'd. */
static struct status_zone *
status_zones(size_t *n)
{
	struct status_zone *v;
	size_t i, j;

	*n = zones_count();
	v = xcalloc(*n + 1, sizeof(*v));
	for (i = 0; i < *n; i++) {
		const struct zone *z = zones_get(i);

		snprintf(v[i].name, sizeof(v[i].name), "%s", z->name);
		v[i].nshards = z->nshards;
		v[i].agree = zones_agree(z, health_up);
		v[i].m = xcalloc(z->nm + 1, sizeof(*v[i].m));
		v[i].nm = z->nm;
		for (j = 0; j < z->nm; j++) {
			struct status_member *m = &v[i].m[j];

			addr_format((const struct sockaddr *)&z->m[j].addr,
			    m->addr, sizeof(m->addr));
			m->shard = z->m[j].shard;
			m->have = z->m[j].have;
			m->serial = z->m[j].serial;
			snprintf(m->why, sizeof(m->why), "%s", z->m[j].why);
		}
	}
	return v;
}

static void
answer_status(nng_msg *req)
{
	const uint8_t *table;
	struct status_zone *zs;
	size_t tablelen, len, nz, i;
	uint32_t flags = 0;
	int64_t rev = 0;
	uint8_t *buf;
	int rv;

	table = publish_current(&tablelen);
	if (ccf->netcd > 0) {
		flags |= STATUS_ETCD_CONFIGURED;
		if (etcd_connected())
			flags |= STATUS_ETCD_CONNECTED;
		rev = etcd_revision();
	}
	zs = status_zones(&nz);
	rv = status_encode(flags, rev, ccf->netcd > 0 ? etcd_endpoint() : NULL,
	    table, tablelen, zs, nz, &buf, &len);
	for (i = 0; i < nz; i++)
		free(zs[i].m);
	free(zs);
	if (rv != 0) {
		answer_error(req, "status cannot be encoded");
		return;
	}
	reply(req, buf, len);
	free(buf);
}

static void
answer_purge(nng_msg *req)
{
	struct purge_name p;
	const char *why;
	char text[DNS_NAME_TEXT_MAX];
	uint8_t *buf;
	size_t len;

	if (purge_req_decode(nng_msg_body(req), nng_msg_len(req), &p,
	    &why) != 0) {
		answer_error(req, why);
		return;
	}
	if (publish_purge(&p, &buf, &len) != 0) {
		answer_error(req, "purge cannot be encoded");
		return;
	}
	dns_name_text(p.name, text);
	log_info("purge of %s (type %u) sent to routers", text, p.qtype);
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
		if (type == PROTO_PURGE_REQ) {
			answer_purge(msg);
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
