/* common/etcd_api: request bodies and reply parsing of etcd's JSON gateway. */
#include <jansson.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "etcd_api.h"

static json_t *
load(char *body)
{
	json_error_t jerr;
	json_t *o = json_loads(body, 0, &jerr);

	assert_non_null(o);
	free(body);
	return o;
}

static const char *
str(json_t *o, const char *k)
{
	json_t *v = json_object_get(o, k);

	assert_true(json_is_string(v));
	return json_string_value(v);
}

static void
test_prefix_range_ends_after_the_last_key_under_it(void **state)
{
	json_t *o;

	(void)state;
	o = load(etcd_body_range_prefix("/dnsrouter/", 0));
	assert_string_equal(str(o, "key"), "L2Ruc3JvdXRlci8=");	/* /dnsrouter/ */
	assert_string_equal(str(o, "range_end"), "L2Ruc3JvdXRlcjA=");	/* /dnsrouter0 */
	assert_null(json_object_get(o, "limit"));
	json_decref(o);
	o = load(etcd_body_range_prefix("a", 5));
	assert_string_equal(str(o, "range_end"), "Yg==");	/* b */
	assert_int_equal(json_integer_value(json_object_get(o, "limit")), 5);
	json_decref(o);
	/* A prefix ending in 0xff: its end is the shorter prefix plus one. */
	o = load(etcd_body_range_prefix("a\xff", 0));
	assert_string_equal(str(o, "range_end"), "Yg==");
	json_decref(o);
}

/* Pages of a listing: from a key, at a revision, a limited number. */
static void
test_range_page_starts_at_a_key_and_pins_the_revision(void **state)
{
	json_t *o;

	(void)state;
	o = load(etcd_body_range_page("/dnsrouter/", NULL, 0, 1000, 0));
	assert_string_equal(str(o, "key"), "L2Ruc3JvdXRlci8=");	/* /dnsrouter/ */
	assert_string_equal(str(o, "range_end"), "L2Ruc3JvdXRlcjA=");
	assert_int_equal(json_integer_value(json_object_get(o, "limit")), 1000);
	assert_null(json_object_get(o, "revision"));
	json_decref(o);
	/* The key after "/dnsrouter/a" is "/dnsrouter/a\0". */
	o = load(etcd_body_range_page("/dnsrouter/", "/dnsrouter/a", 13, 1000,
	    42));
	assert_string_equal(str(o, "key"), "L2Ruc3JvdXRlci9hAA==");
	assert_string_equal(str(o, "range_end"), "L2Ruc3JvdXRlcjA=");
	assert_string_equal(str(o, "revision"), "42");
	json_decref(o);
}

static void
test_put_carries_base64_and_the_lease_as_a_string(void **state)
{
	json_t *o;

	(void)state;
	o = load(etcd_body_put("/k", 2, "1.2.3.4:53,^a", 13, 0));
	assert_string_equal(str(o, "key"), "L2s=");
	assert_string_equal(str(o, "value"), "MS4yLjMuNDo1MyxeYQ==");
	assert_null(json_object_get(o, "lease"));
	json_decref(o);
	o = load(etcd_body_put("k", 1, "", 0, 7587868612486567181LL));
	assert_string_equal(str(o, "value"), "");
	assert_string_equal(str(o, "lease"), "7587868612486567181");
	json_decref(o);
}

static void
test_watch_lease_auth_and_delete_bodies(void **state)
{
	json_t *o, *c;

	(void)state;
	o = load(etcd_body_watch_prefix("/p/", 43));
	c = json_object_get(o, "create_request");
	assert_string_equal(str(c, "key"), "L3Av");
	assert_string_equal(str(c, "range_end"), "L3Aw");
	assert_string_equal(str(c, "start_revision"), "43");
	assert_true(json_is_true(json_object_get(c, "progress_notify")));
	json_decref(o);
	o = load(etcd_body_lease_grant(30));
	assert_string_equal(str(o, "TTL"), "30");
	json_decref(o);
	o = load(etcd_body_lease(-5));
	assert_string_equal(str(o, "ID"), "-5");
	json_decref(o);
	o = load(etcd_body_auth("root", "pw\"x"));
	assert_string_equal(str(o, "name"), "root");
	assert_string_equal(str(o, "password"), "pw\"x");
	json_decref(o);
	o = load(etcd_body_delete("/k", 2));
	assert_string_equal(str(o, "key"), "L2s=");
	assert_null(json_object_get(o, "range_end"));
	json_decref(o);
}

static void
test_range_reply_gives_revision_and_decoded_kvs(void **state)
{
	static const char reply[] =
	    "{\"header\":{\"revision\":\"57\"},\"kvs\":["
	    "{\"key\":\"L2Ruc3JvdXRlci9h\",\"value\":\"eCx5\",\"mod_revision\":\"12\","
	    "\"lease\":\"99\"},"
	    "{\"key\":\"L2Ruc3JvdXRlci9i\",\"mod_revision\":13}],\"count\":\"2\"}";
	struct etcd_kv kv;
	json_t *root;
	int64_t rev;

	(void)state;
	assert_int_equal(etcd_parse_range(reply, strlen(reply), &root, &rev), 2);
	assert_true(rev == 57);
	assert_int_equal(etcd_kv_decode(json_array_get(json_object_get(root,
	    "kvs"), 0), 0, &kv), 0);
	assert_int_equal(kv.klen, 12);
	assert_memory_equal(kv.key, "/dnsrouter/a", 12);
	assert_int_equal(kv.vlen, 3);
	assert_string_equal(kv.val, "x,y");
	assert_true(kv.mod_revision == 12 && kv.lease == 99);
	etcd_kv_clear(&kv);
	/* etcd leaves out empty values; int64 may come as a number. */
	assert_int_equal(etcd_kv_decode(json_array_get(json_object_get(root,
	    "kvs"), 1), 0, &kv), 0);
	assert_int_equal(kv.vlen, 0);
	assert_string_equal(kv.val, "");
	assert_true(kv.mod_revision == 13 && kv.lease == 0);
	etcd_kv_clear(&kv);
	json_decref(root);
	assert_int_equal(etcd_parse_range("{\"header\":{}}", 13, &root, &rev), 0);
	json_decref(root);
	assert_int_equal(etcd_parse_range("nonsense", 8, &root, &rev), -1);
	assert_null(root);
	assert_int_equal(etcd_parse_range(NULL, 0, &root, &rev), -1);
}

static void
test_bad_base64_is_refused(void **state)
{
	struct etcd_kv kv;
	json_t *j = json_pack("{s:s,s:s}", "key", "L2s=", "value", "!!!");

	(void)state;
	assert_int_equal(etcd_kv_decode(j, 0, &kv), -1);
	assert_null(kv.key);
	/* A deletion event has no value to decode. */
	assert_int_equal(etcd_kv_decode(j, 1, &kv), 0);
	assert_null(kv.val);
	etcd_kv_clear(&kv);
	json_decref(j);
	j = json_pack("{s:i}", "key", 5);
	assert_int_equal(etcd_kv_decode(j, 0, &kv), -1);
	json_decref(j);
}

static void
test_token_lease_and_error_replies(void **state)
{
	static const char grant[] = "{\"header\":{},\"ID\":\"7587\",\"TTL\":\"10\"}";
	static const char alive[] = "{\"result\":{\"ID\":\"7587\",\"TTL\":\"9\"}}\n"
	    "{\"result\":{}}\n";
	static const char gone[] = "{\"result\":{\"header\":{},\"ID\":\"7587\"}}";
	static const char err[] = "{\"error\":\"x\",\"code\":3,"
	    "\"message\":\"etcdserver: requested lease not found\"}";
	static const char werr[] = "{\"error\":{\"grpc_code\":14,"
	    "\"message\":\"unavailable\"}}";
	int64_t id, ttl;
	char *tok;
	json_t *o;

	(void)state;
	tok = etcd_parse_token("{\"header\":{},\"token\":\"abc.1\"}", 29);
	assert_string_equal(tok, "abc.1");
	free(tok);
	assert_null(etcd_parse_token("{\"token\":\"\"}", 12));
	assert_null(etcd_parse_token("{}", 2));
	assert_int_equal(etcd_parse_lease(grant, strlen(grant), &id, &ttl), 0);
	assert_true(id == 7587 && ttl == 10);
	assert_int_equal(etcd_parse_lease(alive, strlen(alive), &id, &ttl), 0);
	assert_true(id == 7587 && ttl == 9);
	assert_int_equal(etcd_parse_lease(gone, strlen(gone), &id, &ttl), 0);
	assert_true(ttl == 0);
	assert_int_equal(etcd_parse_lease("[", 1, &id, &ttl), -1);
	o = json_loads(err, 0, NULL);
	assert_string_equal(etcd_error_message(o),
	    "etcdserver: requested lease not found");
	json_decref(o);
	o = json_loads(werr, 0, NULL);
	assert_string_equal(etcd_error_message(o), "unavailable");
	json_decref(o);
	o = json_loads(grant, 0, NULL);
	assert_null(etcd_error_message(o));
	json_decref(o);
}

static void
test_reply_buffer_stays_terminated_and_bounded(void **state)
{
	struct etcd_buf b = { NULL, 0, 0 };
	char chunk[4096];

	(void)state;
	assert_int_equal(etcd_buf_add(&b, "ab", 2), 0);
	assert_int_equal(etcd_buf_add(&b, "c", 1), 0);
	assert_string_equal(b.p, "abc");
	memset(chunk, 'x', sizeof(chunk));
	while (b.len + sizeof(chunk) + 1 <= ETCD_RESP_MAX / 64)
		assert_int_equal(etcd_buf_add(&b, chunk, sizeof(chunk)), 0);
	assert_int_equal(b.p[b.len], '\0');
	free(b.p);
	b.p = NULL;
	b.len = b.cap = 0;
	/* Past the limit: refused, and the buffer is unchanged. */
	b.len = ETCD_RESP_MAX - 2;
	assert_int_equal(etcd_buf_add(&b, chunk, 8), -1);
	assert_int_equal(b.len, ETCD_RESP_MAX - 2);
	assert_null(b.p);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_prefix_range_ends_after_the_last_key_under_it),
		cmocka_unit_test(test_range_page_starts_at_a_key_and_pins_the_revision),
		cmocka_unit_test(test_put_carries_base64_and_the_lease_as_a_string),
		cmocka_unit_test(test_watch_lease_auth_and_delete_bodies),
		cmocka_unit_test(test_range_reply_gives_revision_and_decoded_kvs),
		cmocka_unit_test(test_bad_base64_is_refused),
		cmocka_unit_test(test_token_lease_and_error_replies),
		cmocka_unit_test(test_reply_buffer_stays_terminated_and_bounded),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
