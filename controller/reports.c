/* Receiving router reports; a bad one is logged (rate-limited) and dropped. */
#include <nng/nng.h>
#include <nng/protocol/pipeline0/pull.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "health.h"
#include "log.h"
#include "metrics.h"
#include "proto.h"
#include "report.h"
#include "reports.h"

static struct ev_loop	*rloop;
static nng_socket	 pull_sock;
static ev_io		 pull_w;
static unsigned long	 bad_reports;

static void
pull_cb(struct ev_loop *l, ev_io *w, int revents)
{
	nng_msg *msg;
	struct report r;
	const char *why;
	uint32_t i;

	(void)l; (void)w; (void)revents;
	while (nng_recvmsg(pull_sock, &msg, NNG_FLAG_NONBLOCK) == 0) {
		if (report_decode(nng_msg_body(msg), nng_msg_len(msg), &r,
		    &why) != 0) {
			metrics_bad_report();
			/* Log the first and then every 1000th: a peer bug, not an attack. */
			if (bad_reports++ % 1000 == 0)
				log_warnx("%s: bad report from a router dropped: %s "
				    "(%lu so far)", __func__, why, bad_reports);
		} else {
			for (i = 0; i < r.n; i++)
				health_report((struct sockaddr *)&r.e[i].addr,
				    r.e[i].answered, r.e[i].failed);
			metrics_report(&r);
			report_free(&r);
		}
		nng_msg_free(msg);
	}
}

void
reports_init(struct ev_loop *loop, const char *rundir)
{
	char url[PATH_MAX + 16], path[PATH_MAX];
	int rv, fd;

	rloop = loop;
	snprintf(path, sizeof(path), "%s/%s", rundir, PROTO_EP_REPORT);
	snprintf(url, sizeof(url), "ipc://%s", path);
	if ((rv = nng_pull0_open(&pull_sock)) != 0)
		fatalx("%s: open: %s", __func__, nng_strerror(rv));
	if ((rv = nng_listen(pull_sock, url, NULL, 0)) != 0) {
		unlink(path);
		if ((rv = nng_listen(pull_sock, url, NULL, 0)) != 0)
			fatalx("%s: listen %s: %s", __func__, url, nng_strerror(rv));
	}
	if ((rv = nng_socket_get_int(pull_sock, NNG_OPT_RECVFD, &fd)) != 0)
		fatalx("%s: recv fd: %s", __func__, nng_strerror(rv));
	ev_io_init(&pull_w, pull_cb, fd, EV_READ);
	ev_io_start(loop, &pull_w);
}

void
reports_shutdown(void)
{
	ev_io_stop(rloop, &pull_w);
	nng_close(pull_sock);
}
