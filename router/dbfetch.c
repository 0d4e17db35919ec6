/*
 * The controller's Hyperscan database (controller/dbcompile.c), asked for
 * whenever the router's table holds patterns its database lacks, and at
 * start. While the controller compiles, the router asks again every
 * 100 ms, every second while the controller defers a compile (it waits
 * until one pays: controller/dbcompile.c); meanwhile it matches with its
 * old database plus PCRE2 for the changed patterns. It compiles for
 * itself only when the controller cannot (no Hyperscan there), when the
 * database does not fit this process (another Hyperscan version or CPU),
 * or when nothing answers for FETCH_GIVE_UP seconds.
 */
#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>
#include <stdlib.h>

#include "dbfetch.h"
#include "endpoint.h"
#include "hsdb.h"
#include "hsdbmsg.h"
#include "log.h"
#include "proto.h"
#include "router.h"

#define FETCH_FIRST	0.02	/* until the endpoint first answers: nng drops a
				   request sent before it is connected */
#define FETCH_AGAIN	0.1	/* after "compiling" */
#define FETCH_DEFERRED	1.0	/* after "deferred": no compile before it pays */
#define FETCH_RESEND	1.0	/* a request without an answer is sent again */
#define FETCH_GIVE_UP	10.0	/* then compile here */

static struct ev_loop	*loop;
static nng_socket	 sock;
static ev_io		 rep_w;
static ev_timer		 again_w;
static void		(*got)(struct hsdb *);
static void		(*fallback)(void);
static void		(*not_soon)(void);
static int		 compiling;	/* the last answer: none yet, compiling */
static uint64_t		 have;		/* id of the last database taken */
static int		 asking;	/* a request is out, or will be */
static int		 local;		/* databases do not fit: compile here */
static int		 answered;	/* the controller answered once */
static double		 unanswered_since;

static void
send_req(void)
{
	uint8_t buf[HSDB_REQ_LEN];
	int rv;

	hsdb_encode_req(buf, have);
	/* A new request replaces one still unanswered. */
	if ((rv = nng_send(sock, buf, sizeof(buf), NNG_FLAG_NONBLOCK)) != 0 &&
	    rv != NNG_EAGAIN)
		log_debug("%s: nng_send: %s", __func__, nng_strerror(rv));
	ev_timer_stop(loop, &again_w);
	ev_timer_set(&again_w, answered ? FETCH_RESEND : FETCH_FIRST, 0.);
	ev_timer_start(loop, &again_w);
}

static void
give_up(const char *why)
{
	asking = 0;
	ev_timer_stop(loop, &again_w);
	log_info("%s: %s: this router compiles its own database", __func__, why);
	not_soon();
	fallback();
}

static void
again_cb(struct ev_loop *l, ev_timer *w, int revents)
{
	(void)w; (void)revents;
	if (!asking)
		return;
	if (ev_now(l) - unanswered_since >= FETCH_GIVE_UP) {
		give_up("no answer from the controller");
		return;
	}
	send_req();
}

static void
take(const uint8_t *buf, size_t len)
{
	struct hsdb_msg m;
	struct hsdb *db;
	const char *why;

	if (hsdb_decode(buf, len, &m, &why) != 0) {
		log_warnx("%s: bad database answer dropped: %s", __func__, why);
		return;
	}
	unanswered_since = ev_now(loop);
	answered = 1;
	switch (m.status) {
	case HSDB_COMPILING:
	case HSDB_DEFERRED:
		compiling = 1;
		not_soon();
		ev_timer_stop(loop, &again_w);
		ev_timer_set(&again_w, m.status == HSDB_COMPILING ?
		    FETCH_AGAIN : FETCH_DEFERRED, 0.);
		ev_timer_start(loop, &again_w);
		return;
	case HSDB_SAME:
		asking = 0;
		ev_timer_stop(loop, &again_w);
		return;
	case HSDB_NONE:
		give_up("the controller has no database");
		return;
	case HSDB_DB:
		break;
	}
	compiling = 0;
	asking = 0;
	ev_timer_stop(loop, &again_w);
	db = hsdb_deserialize(m.blob, m.bloblen, m.pat, m.npat, m.bad, m.nbad,
	    &why);
	hsdb_msg_free(&m);
	if (db == NULL) {
		local = 1;
		give_up(why);
		return;
	}
	have = m.id;
	log_info("%s: database of %u patterns from the controller", __func__,
	    m.npat + m.nbad);
	got(db);
}

static void
rep_cb(struct ev_loop *l, ev_io *w, int revents)
{
	nng_msg *msg;
	int rv;

	(void)l; (void)w; (void)revents;
	while ((rv = nng_recvmsg(sock, &msg, NNG_FLAG_NONBLOCK)) == 0) {
		take(nng_msg_body(msg), nng_msg_len(msg));
		nng_msg_free(msg);
	}
	if (rv != NNG_EAGAIN && rv != NNG_ESTATE)
		log_warnx("%s: nng_recvmsg: %s", __func__, nng_strerror(rv));
}

void
dbfetch_init(const struct router *r, void (*got_db)(struct hsdb *),
    void (*compile_here)(void), void (*no_db_soon)(void))
{
	int rv;

	loop = r->loop;
	got = got_db;
	fallback = compile_here;
	not_soon = no_db_soon;
	if ((rv = nng_req0_open(&sock)) != 0)
		fatalx("%s: open %s: %s", __func__, PROTO_EP_HSDB,
		    nng_strerror(rv));
	/* Resending is ours (again_cb): a database is large. */
	nng_socket_set_ms(sock, NNG_OPT_REQ_RESENDTIME, NNG_DURATION_INFINITE);
	ev_io_init(&rep_w, rep_cb, endpoint_dial(sock, r->endpoint_dir, PROTO_EP_HSDB, 1),
	    EV_READ);
	ev_io_start(loop, &rep_w);
	ev_timer_init(&again_w, again_cb, FETCH_RESEND, 0.);
	if (hsdb_available())
		dbfetch_want();
}

void
dbfetch_want(void)
{
	if (local) {
		fallback();
		return;
	}
	if (asking)
		return;
	asking = 1;
	unanswered_since = ev_now(loop);
	send_req();
}

int
dbfetch_coming(void)
{
	return asking && !compiling;
}

void
dbfetch_shutdown(void)
{
	ev_io_stop(loop, &rep_w);
	ev_timer_stop(loop, &again_w);
	nng_close(sock);
}
