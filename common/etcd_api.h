/*
 * What every etcd v3 JSON gateway client of dnsrouter needs, whether it
 * drives curl from an event loop (the controller) or blocks (dnsrouterctl):
 * a configured curl handle for one endpoint (TLS, client certificate,
 * token), the JSON bodies of the calls, and the parsing of their replies.
 * etcd 3.4: every call is a POST, keys and values are base64, int64 fields
 * come back as strings.
 */
#ifndef DNSROUTER_ETCD_API_H
#define DNSROUTER_ETCD_API_H

#include <curl/curl.h>
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"

#define ETCD_CONNECT_MS	2000L
#define ETCD_RESP_MAX	(256u << 20)	/* a reply larger than this is refused */

/* Gateway paths. */
#define ETCD_PATH_AUTH		"/v3/auth/authenticate"
#define ETCD_PATH_RANGE		"/v3/kv/range"
#define ETCD_PATH_PUT		"/v3/kv/put"
#define ETCD_PATH_DELETE	"/v3/kv/deleterange"
#define ETCD_PATH_WATCH		"/v3/watch"
#define ETCD_PATH_STATUS	"/v3/maintenance/status"
#define ETCD_PATH_GRANT		"/v3/lease/grant"
#define ETCD_PATH_KEEPALIVE	"/v3/lease/keepalive"
#define ETCD_PATH_REVOKE	"/v3/lease/revoke"

/* A reply being received: grows up to ETCD_RESP_MAX, always NUL-terminated. */
struct etcd_buf {
	char	*p;
	size_t	 len, cap;
};

/* One call on one endpoint; free with etcd_req_free. */
struct etcd_req {
	CURL			*easy;
	struct curl_slist	*hdrs;
	char			*body;
	struct etcd_buf		 resp;
	char			 errbuf[CURL_ERROR_SIZE];
};

/* One key-value from a range reply or a watch event (malloc'd key and value). */
struct etcd_kv {
	char	*key;
	size_t	 klen;
	char	*val;		/* NULL for a deletion event */
	size_t	 vlen;
	int64_t	 mod_revision;
	int64_t	 create_revision;
	int64_t	 lease;		/* 0: none */
};

/*
 * What a chrooted process (the controller) loaded before its chroot, for
 * every request made after etcd_api_preload: the TLS files' contents (a
 * blob with data NULL: the config's path, read by curl) and CURLOPT_RESOLVE
 * entries pinning etcd's host names to addresses (NULL: none). Blobs are
 * copied into each handle; p must stay valid until the next call (NULL:
 * none).
 */
struct etcd_preload {
	struct curl_blob	 ca, cert, key;
	struct curl_slist	*resolve;
};
void etcd_api_preload(const struct etcd_preload *p);

/*
 * A POST of body (taken over, freed by etcd_req_free) to endpoint + path,
 * with cf's CA, client certificate and key, and an Authorization header
 * when token is not NULL; timeout_ms 0 means none (a watch). The reply
 * goes to req->resp unless the caller sets its own CURLOPT_WRITEFUNCTION.
 */
struct etcd_req *etcd_req_new(const struct config *cf, const char *endpoint,
    const char *path, char *body, const char *token, long timeout_ms);
/* Free a request and its handle (remove it from any multi handle first). */
void etcd_req_free(struct etcd_req *r);
/* Append n bytes to b; -1 when b would grow past ETCD_RESP_MAX. */
int etcd_buf_add(struct etcd_buf *b, const char *data, size_t n);

/*
 * Judge a finished call: 0 on HTTP 200; else -1 with a reason in *why
 * (points into r or at a constant). *unauthorized is set on HTTP 401.
 */
int etcd_req_status(struct etcd_req *r, CURLcode rc, const char **why,
    int *unauthorized);

/* JSON request bodies (malloc'd strings); keys and values are raw bytes. */
char *etcd_body_auth(const char *user, const char *password);
/* Every key under prefix, or (limit > 0) at most limit of them. */
char *etcd_body_range_prefix(const char *prefix, long limit);
/*
 * One page of a listing of prefix: at most limit keys from key from
 * (fromlen bytes; from NULL: the prefix itself) to the end of the
 * prefix, as of revision (0: the newest). A reply's "more" says whether
 * keys remain after its last one.
 */
char *etcd_body_range_page(const char *prefix, const char *from,
    size_t fromlen, long limit, int64_t revision);
char *etcd_body_put(const char *key, size_t klen, const char *val,
    size_t vlen, int64_t lease);
char *etcd_body_delete(const char *key, size_t klen);
/* A watch of every key under prefix from revision start, with progress notifications. */
char *etcd_body_watch_prefix(const char *prefix, int64_t start);
char *etcd_body_lease_grant(long ttl);
char *etcd_body_lease(int64_t id);	/* keepalive and revoke */

/* An int64 field: a string (etcd's gateway) or a number; 0 if absent. */
int64_t etcd_json_int64(json_t *v);
/* The revision in a reply's "header" (0 if absent). */
int64_t etcd_header_revision(json_t *root);
/* The message of an error reply, or NULL. */
const char *etcd_error_message(json_t *root);

/*
 * Decode one "kv" object (key, value, mod_revision, lease); with deleted
 * the value is not read. Returns 0, or -1 when the key or value is not
 * valid base64 (nothing to free then). Free with etcd_kv_clear.
 */
int etcd_kv_decode(json_t *kv, int deleted, struct etcd_kv *out);
/* Free what etcd_kv_decode allocated. */
void etcd_kv_clear(struct etcd_kv *kv);

/*
 * Parse a range reply of len bytes: *root gets the decoded JSON (decref
 * it) whose "kvs" array the caller walks with etcd_kv_decode, *rev the
 * revision. Returns the number of kvs, or -1 for bad JSON.
 */
long etcd_parse_range(const char *resp, size_t len, json_t **root, int64_t *rev);
/* The token of an authenticate reply, malloc'd; NULL if there is none. */
char *etcd_parse_token(const char *resp, size_t len);
/* Lease ID and TTL of a grant or keepalive reply (TTL <= 0: lease gone). -1 on bad JSON. */
int etcd_parse_lease(const char *resp, size_t len, int64_t *id, int64_t *ttl);

#endif
