/*
 * The controller's Hyperscan database on its way to a router: compiled,
 * serialized, encoded as PROTO_HSDB, decoded, deserialized, and then
 * matching as the original does. Damage is refused with a reason.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "hsdb.h"
#include "hsdbmsg.h"
#include "proto.h"

static const char *const pats[] = {
	"^[ab]\\.miek", "(a)\\1", "\\.zone7\\.example\\.?$", "^x1\\.",
};
#define NPATS	(sizeof(pats) / sizeof(pats[0]))

struct found {
	unsigned ids[8];
	size_t n;
};

static void
found_cb(void *ctx, unsigned id)
{
	struct found *f = ctx;

	if (f->n < 8)
		f->ids[f->n++] = id;
}

static void
scan(struct hsdb *db, const char *name, struct found *f)
{
	void *scratch = hsdb_main_scratch(db);

	memset(f, 0, sizeof(*f));
	assert_non_null(scratch);
	hsdb_scan(db, scratch, name, strlen(name), found_cb, f);
}

/* db through the wire: serialize, encode, decode, deserialize. */
static struct hsdb *
ship(const struct hsdb *db, uint8_t **msgp, size_t *lenp)
{
	const char *p[NPATS], *b[NPATS], *why = NULL;
	char *blob;
	size_t bloblen, i;
	struct hsdb_msg m;
	struct hsdb *out;

	for (i = 0; i < hsdb_count(db); i++)
		p[i] = hsdb_pattern(db, i);
	for (i = 0; i < hsdb_nbad(db); i++)
		b[i] = hsdb_bad(db, i);
	assert_int_equal(hsdb_serialize(db, &blob, &bloblen), 0);
	assert_int_equal(hsdb_encode(42, HSDB_DB, p, (uint32_t)hsdb_count(db),
	    b, (uint32_t)hsdb_nbad(db), blob, bloblen, msgp, lenp), 0);
	free(blob);
	assert_int_equal(hsdb_decode(*msgp, *lenp, &m, &why), 0);
	assert_true(m.id == 42 && m.status == HSDB_DB);
	out = hsdb_deserialize(m.blob, m.bloblen, m.pat, m.npat, m.bad, m.nbad,
	    &why);
	hsdb_msg_free(&m);
	return out;
}

static void
test_a_shipped_database_matches_as_the_compiled_one(void **state)
{
	struct hsdb *db, *got;
	struct found a, b;
	uint8_t *msg;
	size_t len, i;

	(void)state;
	if (!hsdb_available())
		skip();
	assert_non_null(db = hsdb_compile(pats, NPATS));
	/* The backreference is Hyperscan's to refuse, PCRE2's to match. */
	assert_int_equal(hsdb_count(db), NPATS - 1);
	assert_int_equal(hsdb_nbad(db), 1);
	assert_non_null(got = ship(db, &msg, &len));
	free(msg);
	assert_int_equal(hsdb_count(got), hsdb_count(db));
	for (i = 0; i < NPATS; i++)
		assert_int_equal(hsdb_find(got, pats[i]), hsdb_find(db, pats[i]));
	assert_int_equal(hsdb_find(got, "(a)\\1"), HSDB_UNSUPPORTED);
	assert_int_equal(hsdb_find(got, "^new\\."), HSDB_ABSENT);
	scan(db, "a.miek.nl.", &a);
	scan(got, "a.miek.nl.", &b);
	assert_int_equal(a.n, 1);
	assert_int_equal(b.n, 1);
	assert_int_equal(a.ids[0], b.ids[0]);
	scan(got, "www.zone7.example.", &b);
	assert_int_equal(b.n, 1);
	assert_int_equal(b.ids[0], hsdb_find(db, "\\.zone7\\.example\\.?$"));
	hsdb_unref(got);
	hsdb_unref(db);
}

static void
test_a_damaged_blob_is_refused_with_a_reason(void **state)
{
	const char *why = NULL, *p[] = { "^x1\\." };
	struct hsdb *db;
	char *blob;
	size_t len;

	(void)state;
	if (!hsdb_available())
		skip();
	assert_non_null(db = hsdb_compile(p, 1));
	assert_int_equal(hsdb_serialize(db, &blob, &len), 0);
	blob[len / 2] ^= 0x5a;
	blob[8] ^= 0x5a;
	assert_null(hsdb_deserialize(blob, len, p, 1, NULL, 0, &why));
	assert_non_null(why);
	why = NULL;
	/* Patterns without a database, or a database without patterns. */
	assert_null(hsdb_deserialize(blob, 0, p, 1, NULL, 0, &why));
	assert_non_null(why);
	free(blob);
	hsdb_unref(db);
}

static void
test_answers_without_a_database_carry_nothing_else(void **state)
{
	struct hsdb_msg m;
	const char *why = NULL;
	uint8_t *msg;
	size_t len;

	(void)state;
	assert_int_equal(hsdb_encode(7, HSDB_COMPILING, NULL, 0, NULL, 0, NULL,
	    0, &msg, &len), 0);
	assert_int_equal(len, HSDB_FIXED);
	assert_int_equal(hsdb_decode(msg, len, &m, &why), 0);
	assert_int_equal(m.status, HSDB_COMPILING);
	assert_true(m.id == 7 && m.npat == 0 && m.pat == NULL);
	msg[PROTO_HDRLEN + 11] = HSDB_DEFERRED;
	assert_int_equal(hsdb_decode(msg, len, &m, &why), 0);
	assert_int_equal(m.status, HSDB_DEFERRED);
	/* An unknown status, and a count that the message cannot hold. */
	msg[PROTO_HDRLEN + 11] = HSDB_DEFERRED + 1;
	assert_int_equal(hsdb_decode(msg, len, &m, &why), -1);
	assert_string_equal(why, "unknown status");
	free(msg);
}

static void
test_pattern_lists_are_checked_against_the_message(void **state)
{
	const char *p[] = { "^a", "^b" }, *why = NULL;
	struct hsdb_msg m;
	uint8_t *msg;
	size_t len;

	(void)state;
	assert_int_equal(hsdb_encode(1, HSDB_DB, p, 2, NULL, 0, "blob", 4, &msg,
	    &len), 0);
	assert_int_equal(hsdb_decode(msg, len, &m, &why), 0);
	assert_int_equal(m.npat, 2);
	assert_string_equal(m.pat[1], "^b");
	assert_int_equal(m.bloblen, 4);
	assert_memory_equal(m.blob, "blob", 4);
	hsdb_msg_free(&m);
	/* One pattern more than the message holds. */
	msg[PROTO_HDRLEN + 15] = 3;
	assert_int_equal(hsdb_decode(msg, len, &m, &why), -1);
	assert_null(m.pat);
	/* The last pattern's terminator gone. */
	msg[PROTO_HDRLEN + 15] = 2;
	msg[HSDB_FIXED + 5] = 'x';
	assert_int_equal(hsdb_decode(msg, len, &m, &why), -1);
	free(msg);
}

static void
test_requests_round_trip(void **state)
{
	uint8_t buf[HSDB_REQ_LEN];
	const char *why = NULL;
	uint64_t have = 0;

	(void)state;
	hsdb_encode_req(buf, 0x1122334455667788ULL);
	assert_int_equal(hsdb_decode_req(buf, sizeof(buf), &have, &why), 0);
	assert_true(have == 0x1122334455667788ULL);
	assert_int_equal(hsdb_decode_req(buf, sizeof(buf) - 1, &have, &why), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_a_shipped_database_matches_as_the_compiled_one),
		cmocka_unit_test(test_a_damaged_blob_is_refused_with_a_reason),
		cmocka_unit_test(test_answers_without_a_database_carry_nothing_else),
		cmocka_unit_test(test_pattern_lists_are_checked_against_the_message),
		cmocka_unit_test(test_requests_round_trip),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
