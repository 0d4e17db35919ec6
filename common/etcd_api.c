/*
 * The etcd v3 JSON gateway calls shared by the controller's watch and by
 * dnsrouterctl: configured curl handles, request bodies, reply parsing.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base64.h"
#include "etcd_api.h"
#include "log.h"
#include "util.h"

int
etcd_buf_add(struct etcd_buf *b, const char *data, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		size_t ncap = b->cap ? b->cap : 4096;
		char *np;

		while (ncap < b->len + n + 1)
			ncap *= 2;
		if (ncap > ETCD_RESP_MAX)
			return -1;
		if ((np = realloc(b->p, ncap)) == NULL)
			fatal("%s", __func__);
		b->p = np;
		b->cap = ncap;
	}
	memcpy(b->p + b->len, data, n);
	b->len += n;
	b->p[b->len] = '\0';
	return 0;
}

static size_t
write_cb(char *data, size_t size, size_t n, void *arg)
{
	struct etcd_buf *b = arg;

	if (etcd_buf_add(b, data, size * n) != 0)
		return 0;	/* aborts the transfer */
	return size * n;
}

static const struct etcd_preload *preload;

void
etcd_api_preload(const struct etcd_preload *p)
{
	preload = p;
}

/* A file's contents as loaded before the chroot, else its path. */
static void
set_file(CURL *e, CURLoption blobopt, CURLoption pathopt,
    const struct curl_blob *blob, const char *path)
{
	if (blob != NULL && blob->data != NULL)
		curl_easy_setopt(e, blobopt, blob);
	else
		curl_easy_setopt(e, pathopt, path);
}

struct etcd_req *
etcd_req_new(const struct config *cf, const char *endpoint, const char *path,
    char *body, const char *token, long timeout_ms)
{
	struct etcd_req *r = xcalloc(1, sizeof(*r));
	char url[CONFIG_STRLEN + 64], auth[1024];
	CURL *e;

	if ((e = r->easy = curl_easy_init()) == NULL)
		fatalx("%s: curl_easy_init", __func__);
	r->body = body;
	snprintf(url, sizeof(url), "%s%s", endpoint, path);
	r->hdrs = curl_slist_append(NULL, "Content-Type: application/json");
	if (token != NULL) {
		snprintf(auth, sizeof(auth), "Authorization: %s", token);
		r->hdrs = curl_slist_append(r->hdrs, auth);
	}
	curl_easy_setopt(e, CURLOPT_URL, url);
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, r->hdrs);
	curl_easy_setopt(e, CURLOPT_POSTFIELDS, r->body);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, write_cb);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, &r->resp);
	curl_easy_setopt(e, CURLOPT_PRIVATE, r);
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, r->errbuf);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, ETCD_CONNECT_MS);
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, timeout_ms);
	curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(e, CURLOPT_TCP_KEEPIDLE, 5L);
	curl_easy_setopt(e, CURLOPT_TCP_KEEPINTVL, 2L);
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
	if (cf->etcd_cacert[0] != '\0' ||
	    (preload != NULL && preload->ca.data != NULL))
		set_file(e, CURLOPT_CAINFO_BLOB, CURLOPT_CAINFO,
		    preload != NULL ? &preload->ca : NULL, cf->etcd_cacert);
	if (cf->etcd_cert[0] != '\0') {
		set_file(e, CURLOPT_SSLCERT_BLOB, CURLOPT_SSLCERT,
		    preload != NULL ? &preload->cert : NULL, cf->etcd_cert);
		set_file(e, CURLOPT_SSLKEY_BLOB, CURLOPT_SSLKEY,
		    preload != NULL ? &preload->key : NULL, cf->etcd_key);
	}
	if (preload != NULL && preload->resolve != NULL)
		curl_easy_setopt(e, CURLOPT_RESOLVE, preload->resolve);
	return r;
}

void
etcd_req_free(struct etcd_req *r)
{
	if (r == NULL)
		return;
	curl_easy_cleanup(r->easy);
	curl_slist_free_all(r->hdrs);
	free(r->body);
	free(r->resp.p);
	free(r);
}

int
etcd_req_status(struct etcd_req *r, CURLcode rc, const char **why,
    int *unauthorized)
{
	long status = 0;

	*unauthorized = 0;
	if (rc != CURLE_OK) {
		*why = r->errbuf[0] ? r->errbuf : curl_easy_strerror(rc);
		return -1;
	}
	curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &status);
	if (status == 401) {
		*unauthorized = 1;
		*why = "authentication required or token expired";
		return -1;
	}
	if (status != 200) {
		json_t *root = json_loadb(r->resp.p ? r->resp.p : "", r->resp.len,
		    0, NULL);
		const char *m = root != NULL ? etcd_error_message(root) : NULL;

		/* etcd says why, e.g. "authentication failed, invalid user ID or password". */
		snprintf(r->errbuf, sizeof(r->errbuf), "HTTP status %ld%s%s",
		    status, m != NULL ? ": " : "", m != NULL ? m : "");
		json_decref(root);
		*why = r->errbuf;
		return -1;
	}
	return 0;
}

static char *
dump(json_t *o)
{
	char *s;

	if (o == NULL)
		fatalx("%s: json_pack", __func__);
	if ((s = json_dumps(o, JSON_COMPACT)) == NULL)
		fatalx("%s: json_dumps", __func__);
	json_decref(o);
	return s;
}

/* base64 of n bytes, malloc'd. */
static char *
b64(const char *s, size_t n)
{
	char *out = xmalloc(BASE64_LEN(n) + 1);

	base64_encode((const uint8_t *)s, n, out);
	return out;
}

/* The range end that covers every key starting with prefix. */
static char *
b64_prefix_end(const char *prefix)
{
	size_t n = strlen(prefix);
	char *end = xmalloc(n + 1), *out;

	memcpy(end, prefix, n + 1);
	/* The prefix with its last byte plus one (a trailing 0xff is dropped). */
	while (n > 0 && (unsigned char)end[n - 1] == 0xff)
		n--;
	if (n == 0) {
		free(end);
		return xstrdup("AA==");	/* "\0": every key */
	}
	end[n - 1]++;
	out = b64(end, n);
	free(end);
	return out;
}

static char *
int64_str(int64_t v, char *buf, size_t len)
{
	snprintf(buf, len, "%lld", (long long)v);
	return buf;
}

char *
etcd_body_auth(const char *user, const char *password)
{
	return dump(json_pack("{s:s,s:s}", "name", user, "password", password));
}

char *
etcd_body_range_prefix(const char *prefix, long limit)
{
	char *k = b64(prefix, strlen(prefix)), *e = b64_prefix_end(prefix);
	json_t *o = json_pack("{s:s,s:s}", "key", k, "range_end", e);

	if (limit > 0)
		json_object_set_new(o, "limit", json_integer(limit));
	free(k);
	free(e);
	return dump(o);
}

char *
etcd_body_range_page(const char *prefix, const char *from, size_t fromlen,
    long limit, int64_t revision)
{
	char *k = from != NULL ? b64(from, fromlen) : b64(prefix, strlen(prefix));
	char *e = b64_prefix_end(prefix), num[32];
	json_t *o = json_pack("{s:s,s:s}", "key", k, "range_end", e);

	if (limit > 0)
		json_object_set_new(o, "limit", json_integer(limit));
	if (revision > 0)
		json_object_set_new(o, "revision",
		    json_string(int64_str(revision, num, sizeof(num))));
	free(k);
	free(e);
	return dump(o);
}

char *
etcd_body_put(const char *key, size_t klen, const char *val, size_t vlen,
    int64_t lease)
{
	char *k = b64(key, klen), *v = b64(val, vlen), num[32];
	json_t *o = json_pack("{s:s,s:s}", "key", k, "value", v);

	if (lease != 0)
		json_object_set_new(o, "lease",
		    json_string(int64_str(lease, num, sizeof(num))));
	free(k);
	free(v);
	return dump(o);
}

char *
etcd_body_delete(const char *key, size_t klen)
{
	char *k = b64(key, klen);
	json_t *o = json_pack("{s:s}", "key", k);

	free(k);
	return dump(o);
}

char *
etcd_body_watch_prefix(const char *prefix, int64_t start)
{
	char *k = b64(prefix, strlen(prefix)), *e = b64_prefix_end(prefix);
	char num[32];
	json_t *o = json_pack("{s:{s:s,s:s,s:s,s:b}}", "create_request",
	    "key", k, "range_end", e,
	    "start_revision", int64_str(start, num, sizeof(num)),
	    "progress_notify", 1);

	free(k);
	free(e);
	return dump(o);
}

char *
etcd_body_lease_grant(long ttl)
{
	char num[32];

	return dump(json_pack("{s:s}", "TTL", int64_str(ttl, num, sizeof(num))));
}

char *
etcd_body_lease(int64_t id)
{
	char num[32];

	return dump(json_pack("{s:s}", "ID", int64_str(id, num, sizeof(num))));
}

int64_t
etcd_json_int64(json_t *v)
{
	if (json_is_integer(v))
		return (int64_t)json_integer_value(v);
	if (json_is_string(v))
		return strtoll(json_string_value(v), NULL, 10);
	return 0;
}

int64_t
etcd_header_revision(json_t *root)
{
	return etcd_json_int64(json_object_get(json_object_get(root, "header"),
	    "revision"));
}

const char *
etcd_error_message(json_t *root)
{
	json_t *e = json_object_get(root, "error"), *m;

	/* Streams: {"error": {"message": ...}}; unary calls: {"error": "...", "message": "..."}. */
	if (json_is_object(e)) {
		m = json_object_get(e, "message");
		return json_is_string(m) ? json_string_value(m) : "(no message)";
	}
	m = json_object_get(root, "message");
	if (json_is_string(m) && (e != NULL || json_object_get(root, "code")))
		return json_string_value(m);
	if (json_is_string(e))
		return json_string_value(e);
	return e != NULL ? "(no message)" : NULL;
}

/* Decode a base64 member of o into a malloc'd, NUL-terminated buffer; NULL if bad. */
static char *
b64_member(json_t *o, const char *name, size_t *len)
{
	json_t *v = json_object_get(o, name);
	char *out;
	long n;

	if (v == NULL) {
		*len = 0;
		return xcalloc(1, 1);	/* etcd omits empty values */
	}
	if (!json_is_string(v))
		return NULL;
	out = xmalloc(json_string_length(v) / 4 * 3 + 1);
	if ((n = base64_decode(json_string_value(v), json_string_length(v),
	    (uint8_t *)out)) < 0) {
		free(out);
		return NULL;
	}
	out[n] = '\0';
	*len = (size_t)n;
	return out;
}

int
etcd_kv_decode(json_t *kv, int deleted, struct etcd_kv *out)
{
	memset(out, 0, sizeof(*out));
	out->mod_revision = etcd_json_int64(json_object_get(kv, "mod_revision"));
	out->create_revision = etcd_json_int64(json_object_get(kv,
	    "create_revision"));
	out->lease = etcd_json_int64(json_object_get(kv, "lease"));
	if ((out->key = b64_member(kv, "key", &out->klen)) == NULL)
		return -1;
	if (!deleted && (out->val = b64_member(kv, "value", &out->vlen)) == NULL) {
		free(out->key);
		out->key = NULL;
		return -1;
	}
	return 0;
}

void
etcd_kv_clear(struct etcd_kv *kv)
{
	free(kv->key);
	free(kv->val);
	memset(kv, 0, sizeof(*kv));
}

long
etcd_parse_range(const char *resp, size_t len, json_t **root, int64_t *rev)
{
	json_error_t jerr;

	*root = json_loadb(resp ? resp : "", len, 0, &jerr);
	if (*root == NULL || !json_is_object(*root)) {
		json_decref(*root);
		*root = NULL;
		return -1;
	}
	*rev = etcd_header_revision(*root);
	return (long)json_array_size(json_object_get(*root, "kvs"));
}

char *
etcd_parse_token(const char *resp, size_t len)
{
	json_error_t jerr;
	json_t *root = json_loadb(resp ? resp : "", len, 0, &jerr), *t;
	char *tok = NULL;

	t = json_object_get(root, "token");
	if (json_is_string(t) && json_string_length(t) > 0)
		tok = xstrdup(json_string_value(t));
	json_decref(root);
	return tok;
}

int
etcd_parse_lease(const char *resp, size_t len, int64_t *id, int64_t *ttl)
{
	json_error_t jerr;
	json_t *root, *o;

	/* A keepalive reply is a stream: the first object is the answer. */
	root = json_loadb(resp ? resp : "", len, JSON_DISABLE_EOF_CHECK, &jerr);
	if (root == NULL || !json_is_object(root)) {
		json_decref(root);
		return -1;
	}
	/* A keepalive streams {"result": {...}}; a grant answers directly. */
	o = json_object_get(root, "result");
	if (o == NULL)
		o = root;
	*id = etcd_json_int64(json_object_get(o, "ID"));
	*ttl = etcd_json_int64(json_object_get(o, "TTL"));
	json_decref(root);
	return 0;
}
