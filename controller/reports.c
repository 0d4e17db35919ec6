/* Receiving router reports; a bad one is logged (rate-limited) and dropped. */
#include <nng/nng.h>
#include <nng/protocol/pipeline0/pull.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "health.h"
#include "endpoint.h"
#include "log.h"
#include "metrics.h"
#include "proto.h"
#include "report.h"
#include "reports.h"

static struct ev_loop	*rloop;
static nng_socket	 pull_sock;
static ev_io		 pull_w;
static unsigned long	 bad_reports;
static uint64_t		 tried;		/* every router's, since the start */

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
			tried += r.global[RG_PENDING_TRIED];
			for (i = 0; i < r.n; i++)
				health_report((struct sockaddr *)&r.e[i].addr,
				    r.e[i].answered, r.e[i].failed,
				    r.e[i].unanswered);
			metrics_report(&r);
			report_free(&r);
		}
		nng_msg_free(msg);
	}
}

void
reports_init(struct ev_loop *loop, const char *rundir)
{
	int rv, fd;

	rloop = loop;
	if ((rv = nng_pull0_open(&pull_sock)) != 0)
		fatalx("%s: open: %s", __func__, nng_strerror(rv));
	fd = endpoint_listen(pull_sock, rundir, PROTO_EP_REPORT, 1,
	    report_maxlen());
	ev_io_init(&pull_w, pull_cb, fd, EV_READ);
	ev_io_start(loop, &pull_w);
}

uint64_t
reports_pending_tried(void)
{
	return tried;
}

void
reports_shutdown(void)
{
	ev_io_stop(rloop, &pull_w);
	nng_close(pull_sock);
}
