/*
 * etcd v3 JSON gateway client (etcd 3.4: every call is a POST, keys and
 * values are base64, int64 fields come back as strings, a watch streams one
 * JSON object per line). libcurl's multi interface is driven from libev:
 * curl tells us which sockets to watch and when to wake it.
 */
#include <curl/curl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "etcd.h"
#include "etcd_api.h"
#include "log.h"
#include "util.h"

#define BACKOFF_MIN	0.1
#define BACKOFF_MAX	5.0
#define PING_INTERVAL	3.0
#define PING_TIMEOUT_MS	2000L
#define CALL_MS		10000L
/*
 * Keys per listing page. A page is parsed and applied in one callback:
 * 1,000 keep that to a few milliseconds (one reply of 40,000 took the
 * loop 300 ms), and cost etcd a round trip each.
 */
#define LIST_PAGE	1000L

enum op { OP_AUTH, OP_RANGE, OP_WATCH, OP_PING };

/* A call in flight: the shared request plus what this client needs. */
struct xfer {
	struct etcd_req	*req;
	enum op		 op;
};

struct sockw {
	ev_io	w;
	int	fd;
};

static struct ev_loop			*eloop;
static const struct config		*ecf;
static const struct etcd_handlers	*eh;
static void				*ectx;
static CURLM				*multi;
static ev_timer				 curl_w, retry_w, ping_w;
static struct xfer			*cur, *ping;
static int				 ep;		/* endpoint in use */
static int64_t				 rev;
static int				 need_range = 1;
static int				 connected;
static int				 failures;	/* in a row, for backoff and logs */
static char				*token;
/* A listing in pages, all at the revision of the first. */
static int				 list_open;	/* its first page is in */
static int64_t				 list_rev;
static char				*list_next;	/* first key of the next page */
static size_t				 list_nextlen;
static long				 list_keys;

static void	start(void);
static void	fail(const char *why);
static int	watch_lines(struct xfer *);

int
etcd_connected(void)
{
	return connected;
}

int64_t
etcd_revision(void)
{
	return rev;
}

const char *
etcd_endpoint(void)
{
	return ecf != NULL && ecf->netcd > 0 ? ecf->etcd[ep] : NULL;
}

static void
deliver_kv(json_t *j, int deleted)
{
	struct etcd_kv kv;

	if (etcd_kv_decode(j, deleted, &kv) != 0) {
		log_warnx("etcd: event with a bad key or value encoding skipped");
		return;
	}
	if (deleted)
		eh->del(ectx, kv.key, kv.klen);
	else
		eh->put(ectx, kv.key, kv.klen, kv.val, kv.vlen, kv.create_revision,
		    kv.mod_revision);
	if (kv.mod_revision > rev)
		rev = kv.mod_revision;
	etcd_kv_clear(&kv);
}

/* curl: watch replies are handled line by line as they arrive. */
static size_t
watch_write_cb(char *data, size_t size, size_t n, void *arg)
{
	struct xfer *x = arg;

	if (etcd_buf_add(&x->req->resp, data, size * n) != 0)
		return 0;	/* aborts the transfer */
	if (watch_lines(x) != 0)
		return 0;
	return size * n;
}

/*
 * Handle each complete line of the watch stream. Returns -1 to end the
 * stream (error, cancel, compaction), 0 to go on.
 */
static int
watch_lines(struct xfer *x)
{
	struct etcd_buf *b = &x->req->resp;
	char *nl, *line = b->p;
	int rc = 0, batch = 0;

	while (rc == 0 && (nl = memchr(line, '\n', b->len - (size_t)(line - b->p)))) {
		json_t *root, *res, *events, *ev;
		json_error_t jerr;
		const char *msg;
		size_t i;

		*nl = '\0';
		root = json_loads(line, 0, &jerr);
		line = nl + 1;
		if (root == NULL) {
			log_warnx("etcd: watch: bad JSON: %s", jerr.text);
			rc = -1;
			break;
		}
		if (json_object_get(root, "error") != NULL) {
			msg = etcd_error_message(root);
			log_warnx("etcd: watch error: %s", msg);
			json_decref(root);
			rc = -1;
			break;
		}
		res = json_object_get(root, "result");
		if (etcd_json_int64(json_object_get(res, "compact_revision")) > 0) {
			log_warnx("etcd: revision %lld was compacted away: "
			    "listing everything again", (long long)rev + 1);
			need_range = 1;
			failures = 0;
			rc = -1;
		} else if (json_is_true(json_object_get(res, "canceled"))) {
			json_t *why = json_object_get(res, "cancel_reason");

			log_warnx("etcd: watch canceled by the server: %s",
			    json_is_string(why) ? json_string_value(why) : "no reason given");
			/* An invalid token cancels the watch with HTTP 200: log in again. */
			free(token);
			token = NULL;
			rc = -1;
		} else if (json_is_true(json_object_get(res, "created"))) {
			connected = 1;
			failures = 0;
			log_info("etcd: watching %s%s from revision %lld",
			    ecf->etcd[ep], ecf->etcd_prefix, (long long)rev + 1);
		} else if ((events = json_object_get(res, "events")) != NULL &&
		    json_array_size(events) > 0) {
			json_array_foreach(events, i, ev) {
				json_t *type = json_object_get(ev, "type");

				/* PUT is the enum's zero: the gateway omits it. */
				deliver_kv(json_object_get(ev, "kv"),
				    json_is_string(type) &&
				    strcmp(json_string_value(type), "DELETE") == 0);
			}
			batch = 1;
		} else {
			/* Progress notification: nothing up to here was missed. */
			int64_t hr = etcd_header_revision(res);

			if (hr > rev)
				rev = hr;
		}
		json_decref(root);
	}
	if (batch)
		eh->synced(ectx);
	/* Keep the incomplete tail for the next read. */
	b->len -= (size_t)(line - b->p);
	memmove(b->p, line, b->len);
	if (b->p != NULL)
		b->p[b->len] = '\0';
	return rc;
}

static void
xfer_free(struct xfer *x)
{
	if (x == NULL)
		return;
	curl_multi_remove_handle(multi, x->req->easy);
	etcd_req_free(x->req);
	free(x);
}

static struct xfer *
xfer_new(enum op op, const char *path, char *body, long timeout_ms)
{
	struct xfer *x = xcalloc(1, sizeof(*x));

	x->op = op;
	x->req = etcd_req_new(ecf, ecf->etcd[ep], path, body,
	    op == OP_AUTH ? NULL : token, timeout_ms);
	curl_easy_setopt(x->req->easy, CURLOPT_PRIVATE, x);
	if (op == OP_WATCH) {
		curl_easy_setopt(x->req->easy, CURLOPT_WRITEFUNCTION,
		    watch_write_cb);
		curl_easy_setopt(x->req->easy, CURLOPT_WRITEDATA, x);
	}
	if (curl_multi_add_handle(multi, x->req->easy) != CURLM_OK)
		fatalx("%s: curl_multi_add_handle", __func__);
	return x;
}

/* A listing that did not finish is started again from its first page. */
static void
list_forget(void)
{
	free(list_next);
	list_next = NULL;
	list_nextlen = 0;
	list_open = 0;
	list_rev = 0;
	list_keys = 0;
}

static void
start(void)
{
	if (cur != NULL)
		return;
	if (ecf->etcd_user[0] != '\0' && token == NULL)
		cur = xfer_new(OP_AUTH, ETCD_PATH_AUTH, etcd_body_auth(
		    ecf->etcd_user, ecf->etcd_password), CALL_MS);
	else if (need_range)
		cur = xfer_new(OP_RANGE, ETCD_PATH_RANGE,
		    etcd_body_range_page(ecf->etcd_prefix, list_next,
		    list_nextlen, LIST_PAGE, list_rev), CALL_MS);
	else
		cur = xfer_new(OP_WATCH, ETCD_PATH_WATCH,
		    etcd_body_watch_prefix(ecf->etcd_prefix, rev + 1), 0L);
}

static void
retry_cb(struct ev_loop *l, ev_timer *w, int revents)
{
	(void)l; (void)w; (void)revents;
	start();
}

/* The current call failed: next endpoint, after a backoff with jitter. */
static void
fail(const char *why)
{
	double delay;

	if (connected || failures == 0)
		log_warnx("etcd: %s: %s; retrying%s", ecf->etcd[ep], why,
		    ecf->netcd > 1 ? " on the next endpoint" : "");
	else
		log_debug("etcd: %s: %s", ecf->etcd[ep], why);
	connected = 0;
	xfer_free(cur);
	cur = NULL;
	xfer_free(ping);
	ping = NULL;
	list_forget();
	ep = (ep + 1) % ecf->netcd;
	delay = BACKOFF_MIN * (1 << (failures < 6 ? failures : 6));
	if (delay > BACKOFF_MAX)
		delay = BACKOFF_MAX;
	delay *= 0.5 + (rnd32() % 1000) / 1000.0;	/* jitter: 0.5x to 1.5x */
	failures++;
	ev_timer_stop(eloop, &retry_w);
	ev_timer_set(&retry_w, delay, 0.);
	ev_timer_start(eloop, &retry_w);
}

static int
http_ok(struct xfer *x, CURLcode rc, const char **why)
{
	int unauthorized;

	if (etcd_req_status(x->req, rc, why, &unauthorized) == 0)
		return 1;
	if (unauthorized) {
		/* Tokens expire: authenticate again at once. */
		free(token);
		token = NULL;
	}
	return 0;
}

/*
 * One page of a listing. The first fixes the revision of every later
 * one, so the pages together are one snapshot; the handlers see
 * reset(), the puts of every page, then synced(), and nothing else
 * (the watch starts after the last page).
 */
static void
range_done(struct xfer *x)
{
	json_t *root, *kvs, *kv;
	struct etcd_kv last;
	int64_t hrev;
	long n;
	size_t i;

	if ((n = etcd_parse_range(x->req->resp.p, x->req->resp.len, &root,
	    &hrev)) < 0) {
		fail("bad JSON in range reply");
		return;
	}
	if (!list_open) {
		list_open = 1;
		list_rev = hrev;
		eh->reset(ectx);
	}
	kvs = json_object_get(root, "kvs");
	json_array_foreach(kvs, i, kv)
		deliver_kv(kv, 0);
	list_keys += n;
	if (n > 0 && json_is_true(json_object_get(root, "more"))) {
		if (etcd_kv_decode(json_array_get(kvs, (size_t)n - 1), 1,
		    &last) != 0) {
			json_decref(root);
			fail("bad key in range reply");
			return;
		}
		/* The next page starts right after the last key: key + NUL. */
		free(list_next);
		list_nextlen = last.klen + 1;
		list_next = xmalloc(list_nextlen);
		memcpy(list_next, last.key, last.klen);
		list_next[last.klen] = '\0';
		etcd_kv_clear(&last);
		json_decref(root);
		start();
		return;
	}
	json_decref(root);
	rev = list_rev;
	eh->synced(ectx);
	log_info("etcd: %s: %ld keys under %s at revision %lld", ecf->etcd[ep],
	    list_keys, ecf->etcd_prefix, (long long)rev);
	list_forget();
	need_range = 0;
	start();
}

static void
done(struct xfer *x, CURLcode rc)
{
	const char *why = NULL;
	char msg[256];

	if (x == ping) {
		ping = NULL;
		if (!http_ok(x, rc, &why) && cur != NULL && cur->op == OP_WATCH) {
			snprintf(msg, sizeof(msg), "liveness check: %s", why);
			xfer_free(x);
			fail(msg);
			return;
		}
		xfer_free(x);
		return;
	}
	cur = NULL;
	switch (x->op) {
	case OP_AUTH:
		if (!http_ok(x, rc, &why)) {
			fail(why);
			break;
		}
		free(token);
		if ((token = etcd_parse_token(x->req->resp.p,
		    x->req->resp.len)) == NULL) {
			fail("authentication failed");
			break;
		}
		start();
		break;
	case OP_RANGE:
		if (!http_ok(x, rc, &why))
			fail(why);
		else
			range_done(x);
		break;
	case OP_WATCH:
		if (need_range) {
			/* Compacted: list again at once. */
			connected = 0;
			xfer_free(x);
			start();
			return;
		}
		fail(http_ok(x, rc, &why) ? "watch stream ended" : why);
		break;
	case OP_PING:
		break;
	}
	xfer_free(x);
}

static void
check_done(void)
{
	CURLMsg *m;
	int left;

	while ((m = curl_multi_info_read(multi, &left)) != NULL) {
		struct xfer *x;

		if (m->msg != CURLMSG_DONE)
			continue;
		curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&x);
		done(x, m->data.result);
	}
}

static void
ping_cb(struct ev_loop *l, ev_timer *w, int revents)
{
	(void)l; (void)w; (void)revents;
	if (ping != NULL || cur == NULL || cur->op != OP_WATCH)
		return;
	ping = xfer_new(OP_PING, ETCD_PATH_STATUS, xstrdup("{}"),
	    PING_TIMEOUT_MS);
}

/* libev -> curl */

static void
sock_event_cb(struct ev_loop *l, ev_io *w, int revents)
{
	struct sockw *s = w->data;
	int running, action = (revents & EV_READ ? CURL_CSELECT_IN : 0) |
	    (revents & EV_WRITE ? CURL_CSELECT_OUT : 0);

	(void)l;
	curl_multi_socket_action(multi, s->fd, action, &running);
	check_done();
}

static void
curl_timer_cb(struct ev_loop *l, ev_timer *w, int revents)
{
	int running;

	(void)l; (void)w; (void)revents;
	curl_multi_socket_action(multi, CURL_SOCKET_TIMEOUT, 0, &running);
	check_done();
}

/* curl -> libev */

static int
sock_cb(CURL *e, curl_socket_t fd, int what, void *userp, void *socketp)
{
	struct sockw *s = socketp;
	int events = (what & CURL_POLL_IN ? EV_READ : 0) |
	    (what & CURL_POLL_OUT ? EV_WRITE : 0);

	(void)e; (void)userp;
	if (what == CURL_POLL_REMOVE) {
		if (s != NULL) {
			ev_io_stop(eloop, &s->w);
			free(s);
		}
		return 0;
	}
	if (s == NULL) {
		s = xcalloc(1, sizeof(*s));
		s->fd = fd;
		ev_init(&s->w, sock_event_cb);
		s->w.data = s;
		curl_multi_assign(multi, fd, s);
	}
	ev_io_stop(eloop, &s->w);
	ev_io_set(&s->w, fd, events);
	ev_io_start(eloop, &s->w);
	return 0;
}

static int
timer_cb(CURLM *m, long timeout_ms, void *userp)
{
	(void)m; (void)userp;
	ev_timer_stop(eloop, &curl_w);
	if (timeout_ms >= 0) {
		ev_timer_set(&curl_w, timeout_ms / 1000.0, 0.);
		ev_timer_start(eloop, &curl_w);
	}
	return 0;
}

void
etcd_init(struct ev_loop *loop, const struct config *cf,
    const struct etcd_handlers *h, void *ctx)
{
	eloop = loop;
	ecf = cf;
	eh = h;
	ectx = ctx;
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0 ||
	    (multi = curl_multi_init()) == NULL)
		fatalx("%s: cannot start libcurl", __func__);
	curl_multi_setopt(multi, CURLMOPT_SOCKETFUNCTION, sock_cb);
	curl_multi_setopt(multi, CURLMOPT_TIMERFUNCTION, timer_cb);
	ev_init(&curl_w, curl_timer_cb);
	ev_init(&retry_w, retry_cb);
	ev_timer_init(&ping_w, ping_cb, PING_INTERVAL, PING_INTERVAL);
	ev_timer_start(loop, &ping_w);
	ep = (int)(rnd32() % (uint32_t)cf->netcd);
	start();
}

void
etcd_shutdown(void)
{
	ev_timer_stop(eloop, &ping_w);
	ev_timer_stop(eloop, &retry_w);
	ev_timer_stop(eloop, &curl_w);
	xfer_free(cur);
	xfer_free(ping);
	cur = ping = NULL;
	curl_multi_cleanup(multi);
	curl_global_cleanup();
	free(token);
	token = NULL;
	list_forget();
}
