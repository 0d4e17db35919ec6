/*
 * common/etcd_api: the parsers of etcd's JSON gateway replies, which
 * come from the network: range (and etcd_kv_decode over its kvs), token,
 * lease, error messages, and the reply buffer curl appends to.
 *
 * The watch stream's line loop, watch_lines() in controller/etcd.c, is
 * static and bound to that file's curl and libev state; this target feeds
 * each input line through the etcd_api calls that loop makes, in its order.
 */
#include <jansson.h>

#include "etcd_api.h"
#include "fuzz.h"

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	/* jansson seeds its hash from /dev/urandom: keep runs repeatable. */
	json_object_seed(1);
	return 0;
}

static void
check_kv(json_t *j, int deleted)
{
	struct etcd_kv kv;

	memset(&kv, 0x5a, sizeof(kv));
	if (etcd_kv_decode(j, deleted, &kv) != 0) {
		FUZZ_ASSERT(kv.key == NULL && kv.val == NULL);
		return;
	}
	FUZZ_ASSERT(kv.key != NULL && kv.key[kv.klen] == '\0');
	if (deleted)
		FUZZ_ASSERT(kv.val == NULL);
	else
		FUZZ_ASSERT(kv.val != NULL && kv.val[kv.vlen] == '\0');
	etcd_kv_clear(&kv);
	FUZZ_ASSERT(kv.key == NULL && kv.val == NULL);
}

static void
check_range(const char *resp, size_t len)
{
	json_t *root = NULL, *kvs, *kv;
	int64_t rev = 0;
	long n;
	size_t i;

	n = etcd_parse_range(resp, len, &root, &rev);
	if (n < 0) {
		FUZZ_ASSERT(n == -1 && root == NULL);
		return;
	}
	FUZZ_ASSERT(root != NULL && json_is_object(root));
	FUZZ_ASSERT(rev == etcd_header_revision(root));
	(void)etcd_error_message(root);
	kvs = json_object_get(root, "kvs");
	FUZZ_ASSERT((size_t)n == json_array_size(kvs));
	json_array_foreach(kvs, i, kv) {
		check_kv(kv, 0);
		check_kv(kv, 1);
	}
	json_decref(root);
}

static void
check_watch_line(const char *line)
{
	json_t *root, *res, *events, *ev;
	json_error_t jerr;
	size_t i;

	if ((root = json_loads(line, 0, &jerr)) == NULL)
		return;
	if (json_object_get(root, "error") != NULL) {
		FUZZ_ASSERT(etcd_error_message(root) != NULL);
		json_decref(root);
		return;
	}
	res = json_object_get(root, "result");
	(void)etcd_json_int64(json_object_get(res, "compact_revision"));
	(void)etcd_header_revision(res);
	events = json_object_get(res, "events");
	json_array_foreach(events, i, ev) {
		json_t *type = json_object_get(ev, "type");

		check_kv(json_object_get(ev, "kv"), json_is_string(type) &&
		    strcmp(json_string_value(type), "DELETE") == 0);
	}
	json_decref(root);
}

/* The input arrives in chunks; the first byte says how long they are. */
static void
check_buf(const char *data, size_t size)
{
	struct etcd_buf b = { NULL, 0, 0 };
	size_t off, chunk = size > 0 ? (unsigned char)data[0] % 64 + 1 : 1;

	for (off = 0; off < size; off += chunk) {
		size_t n = size - off < chunk ? size - off : chunk;

		FUZZ_ASSERT(etcd_buf_add(&b, data + off, n) == 0);
		FUZZ_ASSERT(b.len == off + n && b.len < b.cap && b.p[b.len] == '\0');
	}
	FUZZ_ASSERT(b.len == size && (size == 0 || memcmp(b.p, data, size) == 0));
	free(b.p);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *resp = (char *)fuzz_dup(data, size), *tok, *lines, *p, *nl;
	int64_t id = 0, ttl = 0;

	check_range(resp, size);
	if ((tok = etcd_parse_token(resp, size)) != NULL) {
		FUZZ_ASSERT(tok[0] != '\0');
		free(tok);
	}
	(void)etcd_parse_lease(resp, size, &id, &ttl);
	check_buf(resp, size);

	/* watch_lines() parses each line NUL-terminated, in place. */
	lines = malloc(size + 1);
	FUZZ_ASSERT(lines != NULL);
	memcpy(lines, data, size);
	lines[size] = '\0';
	for (p = lines; (nl = memchr(p, '\n', size - (size_t)(p - lines))) != NULL;
	    p = nl + 1) {
		*nl = '\0';
		check_watch_line(p);
	}
	free(lines);
	free(resp);
	return 0;
}
