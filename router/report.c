/*
 * Reports to the controller: every 100 ms, for each backend of the current
 * table that saw traffic, how many attempts it answered and how many failed.
 * A dead backend under load thus leaves rotation within a few reports,
 * long before the next health check. Push is lossy; so are reports.
 */
#include <nng/nng.h>
#include <nng/protocol/pipeline0/push.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "proto.h"
#include "report.h"
#include "router.h"
#include "util.h"

#define REPORT_INTERVAL	0.1

static nng_socket	push_sock;
static ev_timer		report_w;
static uint32_t		router_index;

static void
report_cb(struct ev_loop *l, ev_timer *w, int revents)
{
	struct rtable *t = table_current();
	struct report r;
	uint8_t *buf;
	size_t len;
	uint32_t i;
	int rv;

	(void)l; (void)w; (void)revents;
	if (t == NULL)
		return;
	r.router = router_index;
	r.n = 0;
	r.e = NULL;
	for (i = 0; i < t->rt->nbackends; i++)
		if (t->answered[i] || t->failed[i])
			r.n++;
	if (r.n == 0)
		return;
	r.e = xcalloc(r.n, sizeof(*r.e));
	r.n = 0;
	for (i = 0; i < t->rt->nbackends; i++) {
		if (!t->answered[i] && !t->failed[i])
			continue;
		memcpy(&r.e[r.n].addr, &t->rt->backends[i].addr,
		    sizeof(r.e[r.n].addr));
		r.e[r.n].answered = t->answered[i];
		r.e[r.n].failed = t->failed[i];
		t->answered[i] = t->failed[i] = 0;
		r.n++;
	}
	if (report_encode(&r, &buf, &len) == 0) {
		if ((rv = nng_send(push_sock, buf, len, NNG_FLAG_NONBLOCK)) != 0 &&
		    rv != NNG_EAGAIN)
			log_debug("%s: nng_send: %s", __func__, nng_strerror(rv));
		free(buf);
	}
	free(r.e);
}

void
report_init(const char *dir, int router)
{
	char url[PATH_MAX + 16];
	int rv;

	router_index = (uint32_t)router;
	snprintf(url, sizeof(url), "ipc://%s/%s", dir, PROTO_EP_REPORT);
	if ((rv = nng_push0_open(&push_sock)) != 0)
		fatalx("%s: open: %s", __func__, nng_strerror(rv));
	nng_socket_set_ms(push_sock, NNG_OPT_RECONNMINT, 20);
	nng_socket_set_ms(push_sock, NNG_OPT_RECONNMAXT, 500);
	nng_socket_set_ms(push_sock, NNG_OPT_SENDTIMEO, 0);
	if ((rv = nng_dial(push_sock, url, NULL, NNG_FLAG_NONBLOCK)) != 0)
		fatalx("%s: dial %s: %s", __func__, url, nng_strerror(rv));
	ev_timer_init(&report_w, report_cb, REPORT_INTERVAL, REPORT_INTERVAL);
	ev_timer_start(loop, &report_w);
}

void
report_shutdown(void)
{
	ev_timer_stop(loop, &report_w);
	nng_close(push_sock);
}
