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

#include "base64.h"
#include "etcd.h"
#include "log.h"
#include "util.h"

#define BACKOFF_MIN	0.1
#define BACKOFF_MAX	5.0
#define PING_INTERVAL	3.0
#define PING_TIMEOUT_MS	2000L
#define CONNECT_MS	2000L
#define CALL_MS		10000L
#define RESP_MAX	(256u << 20)	/* a listing larger than this is refused */

enum op { OP_AUTH, OP_RANGE, OP_WATCH, OP_PING };

struct xfer {
	CURL			*easy;
	enum op			 op;
	char			*body;
	struct curl_slist	*hdrs;
	char			*resp;
	size_t			 len, cap;
	char			 errbuf[CURL_ERROR_SIZE];
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
static char				 range_key[BASE64_LEN(CONFIG_STRLEN) + 1];
static char				 range_end[BASE64_LEN(CONFIG_STRLEN) + 1];

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

/* int64 fields arrive as strings (or numbers from other gateways). */
static int64_t
json_int64(json_t *v)
{
	if (json_is_integer(v))
		return (int64_t)json_integer_value(v);
	if (json_is_string(v))
		return strtoll(json_string_value(v), NULL, 10);
	return 0;
}

/* Decode a base64 member of o into a malloc'd buffer; NULL if bad. */
static uint8_t *
b64_member(json_t *o, const char *name, size_t *len)
{
	json_t *v = json_object_get(o, name);
	const char *s;
	uint8_t *out;
	long n;

	if (v == NULL) {
		*len = 0;
		return xcalloc(1, 1);	/* etcd omits empty values */
	}
	if (!json_is_string(v))
		return NULL;
	s = json_string_value(v);
	out = xmalloc(json_string_length(v) / 4 * 3 + 1);
	if ((n = base64_decode(s, json_string_length(v), out)) < 0) {
		free(out);
		return NULL;
	}
	*len = (size_t)n;
	return out;
}

static void
deliver_kv(json_t *kv, int deleted)
{
	uint8_t *key, *val = NULL;
	size_t klen, vlen = 0;
	int64_t mrev = json_int64(json_object_get(kv, "mod_revision"));
	int64_t crev = json_int64(json_object_get(kv, "create_revision"));

	if ((key = b64_member(kv, "key", &klen)) == NULL) {
		log_warnx("etcd: event with a bad key skipped");
		return;
	}
	if (deleted)
		eh->del(ectx, (char *)key, klen);
	else if ((val = b64_member(kv, "value", &vlen)) == NULL)
		log_warnx("etcd: key %.*s: bad value encoding, skipped",
		    (int)klen, key);
	else
		eh->put(ectx, (char *)key, klen, (char *)val, vlen, crev, mrev);
	if (mrev > rev)
		rev = mrev;
	free(key);
	free(val);
}

/* curl: where the bytes of a reply go. Watch replies are handled line by line. */
static size_t
write_cb(char *data, size_t size, size_t n, void *arg)
{
	struct xfer *x = arg;
	size_t total = size * n;

	if (x->len + total + 1 > x->cap) {
		size_t ncap = x->cap ? x->cap : 4096;

		while (ncap < x->len + total + 1)
			ncap *= 2;
		if (ncap > RESP_MAX)
			return 0;	/* aborts the transfer */
		x->resp = realloc(x->resp, ncap);
		if (x->resp == NULL)
			fatal("%s", __func__);
		x->cap = ncap;
	}
	memcpy(x->resp + x->len, data, total);
	x->len += total;
	x->resp[x->len] = '\0';
	if (x->op == OP_WATCH && watch_lines(x) != 0)
		return 0;
	return total;
}

/*
 * Handle each complete line of the watch stream. Returns -1 to end the
 * stream (error, cancel, compaction), 0 to go on.
 */
static int
watch_lines(struct xfer *x)
{
	char *nl, *line = x->resp;
	int rc = 0, batch = 0;

	while (rc == 0 && (nl = memchr(line, '\n', x->len - (size_t)(line - x->resp)))) {
		json_t *root, *res, *events, *ev;
		json_error_t jerr;
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
			json_t *m = json_object_get(json_object_get(root, "error"),
			    "message");

			log_warnx("etcd: watch error: %s", json_is_string(m) ?
			    json_string_value(m) : "(no message)");
			json_decref(root);
			rc = -1;
			break;
		}
		res = json_object_get(root, "result");
		if (json_int64(json_object_get(res, "compact_revision")) > 0) {
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
			int64_t hr = json_int64(json_object_get(json_object_get(res,
			    "header"), "revision"));

			if (hr > rev)
				rev = hr;
		}
		json_decref(root);
	}
	if (batch)
		eh->synced(ectx);
	/* Keep the incomplete tail for the next read. */
	x->len -= (size_t)(line - x->resp);
	memmove(x->resp, line, x->len);
	if (x->resp != NULL)
		x->resp[x->len] = '\0';
	return rc;
}

static void
xfer_free(struct xfer *x)
{
	if (x == NULL)
		return;
	curl_multi_remove_handle(multi, x->easy);
	curl_easy_cleanup(x->easy);
	curl_slist_free_all(x->hdrs);
	free(x->body);
	free(x->resp);
	free(x);
}

static struct xfer *
xfer_new(enum op op, const char *path, char *body, long timeout_ms)
{
	struct xfer *x = xcalloc(1, sizeof(*x));
	char url[CONFIG_STRLEN + 64], auth[1024];
	CURL *e;

	if ((e = x->easy = curl_easy_init()) == NULL)
		fatalx("%s: curl_easy_init", __func__);
	x->op = op;
	x->body = body;
	snprintf(url, sizeof(url), "%s%s", ecf->etcd[ep], path);
	x->hdrs = curl_slist_append(NULL, "Content-Type: application/json");
	if (token != NULL && op != OP_AUTH) {
		snprintf(auth, sizeof(auth), "Authorization: %s", token);
		x->hdrs = curl_slist_append(x->hdrs, auth);
	}
	curl_easy_setopt(e, CURLOPT_URL, url);
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, x->hdrs);
	curl_easy_setopt(e, CURLOPT_POSTFIELDS, x->body);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, write_cb);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, x);
	curl_easy_setopt(e, CURLOPT_PRIVATE, x);
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, x->errbuf);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, CONNECT_MS);
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, timeout_ms);
	curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(e, CURLOPT_TCP_KEEPIDLE, 5L);
	curl_easy_setopt(e, CURLOPT_TCP_KEEPINTVL, 2L);
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
	if (ecf->etcd_cacert[0] != '\0')
		curl_easy_setopt(e, CURLOPT_CAINFO, ecf->etcd_cacert);
	if (ecf->etcd_cert[0] != '\0') {
		curl_easy_setopt(e, CURLOPT_SSLCERT, ecf->etcd_cert);
		curl_easy_setopt(e, CURLOPT_SSLKEY, ecf->etcd_key);
	}
	if (curl_multi_add_handle(multi, e) != CURLM_OK)
		fatalx("%s: curl_multi_add_handle", __func__);
	return x;
}

static char *
json_body(json_t *o)
{
	char *s = json_dumps(o, JSON_COMPACT);

	json_decref(o);
	if (s == NULL)
		fatalx("json_dumps");
	return s;
}

static void
start(void)
{
	char rs[32];

	if (cur != NULL)
		return;
	if (ecf->etcd_user[0] != '\0' && token == NULL) {
		cur = xfer_new(OP_AUTH, "/v3/auth/authenticate",
		    json_body(json_pack("{s:s,s:s}", "name", ecf->etcd_user,
		    "password", ecf->etcd_password)), CALL_MS);
	} else if (need_range) {
		cur = xfer_new(OP_RANGE, "/v3/kv/range", json_body(json_pack(
		    "{s:s,s:s}", "key", range_key, "range_end", range_end)),
		    CALL_MS);
	} else {
		snprintf(rs, sizeof(rs), "%lld", (long long)rev + 1);
		cur = xfer_new(OP_WATCH, "/v3/watch", json_body(json_pack(
		    "{s:{s:s,s:s,s:s,s:b}}", "create_request", "key", range_key,
		    "range_end", range_end, "start_revision", rs,
		    "progress_notify", 1)), 0L);
	}
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
	long status = 0;

	if (rc != CURLE_OK) {
		*why = x->errbuf[0] ? x->errbuf : curl_easy_strerror(rc);
		return 0;
	}
	curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &status);
	if (status == 401) {
		/* Tokens expire: authenticate again at once. */
		free(token);
		token = NULL;
		*why = "authentication required or token expired";
		return 0;
	}
	if (status != 200) {
		static char msg[256];
		json_t *root = json_loadb(x->resp ? x->resp : "", x->len, 0, NULL);
		json_t *m = json_object_get(root, "message");

		/* etcd says why (e.g. "authentication failed, invalid user ID or password"). */
		if (!json_is_string(m))
			m = json_object_get(root, "error");
		snprintf(msg, sizeof(msg), "HTTP status %ld%s%s", status,
		    json_is_string(m) ? ": " : "",
		    json_is_string(m) ? json_string_value(m) : "");
		json_decref(root);
		*why = msg;
		return 0;
	}
	return 1;
}

static void
range_done(struct xfer *x)
{
	json_error_t jerr;
	json_t *root, *kvs, *kv;
	size_t i;

	if ((root = json_loadb(x->resp ? x->resp : "", x->len, 0, &jerr)) == NULL) {
		fail("bad JSON in range reply");
		return;
	}
	rev = json_int64(json_object_get(json_object_get(root, "header"),
	    "revision"));
	eh->reset(ectx);
	kvs = json_object_get(root, "kvs");
	json_array_foreach(kvs, i, kv)
		deliver_kv(kv, 0);
	eh->synced(ectx);
	log_info("etcd: %s: %zu keys under %s at revision %lld", ecf->etcd[ep],
	    json_array_size(kvs), ecf->etcd_prefix, (long long)rev);
	json_decref(root);
	need_range = 0;
	start();
}

static void
done(struct xfer *x, CURLcode rc)
{
	const char *why = NULL;
	json_error_t jerr;
	json_t *root;
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
		root = json_loadb(x->resp ? x->resp : "", x->len, 0, &jerr);
		if (root == NULL || !json_is_string(json_object_get(root, "token"))) {
			json_decref(root);
			fail("authentication failed");
			break;
		}
		free(token);
		token = xstrdup(json_string_value(json_object_get(root, "token")));
		json_decref(root);
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
	ping = xfer_new(OP_PING, "/v3/maintenance/status", xstrdup("{}"),
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
	char end[CONFIG_STRLEN];
	size_t n = strlen(cf->etcd_prefix);

	eloop = loop;
	ecf = cf;
	eh = h;
	ectx = ctx;
	/* The range end of a prefix: the prefix with its last byte plus one. */
	memcpy(end, cf->etcd_prefix, n);
	end[n - 1]++;
	base64_encode((const uint8_t *)cf->etcd_prefix, n, range_key);
	base64_encode((const uint8_t *)end, n, range_end);
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
}
