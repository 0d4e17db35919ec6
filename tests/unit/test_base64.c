/* common/base64: etcd's keys and values travel base64-encoded. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "base64.h"

static void
test_rfc4648_vectors_encode(void **state)
{
	static const char *in[] = { "", "f", "fo", "foo", "foob", "fooba", "foobar" };
	static const char *out[] = { "", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==",
	    "Zm9vYmE=", "Zm9vYmFy" };
	char buf[16];
	size_t i;

	(void)state;
	for (i = 0; i < 7; i++) {
		base64_encode((const uint8_t *)in[i], strlen(in[i]), buf);
		assert_string_equal(buf, out[i]);
		assert_int_equal(strlen(buf), BASE64_LEN(strlen(in[i])));
	}
}

static void
test_decode_round_trips_every_byte(void **state)
{
	uint8_t src[256], back[256];
	char enc[BASE64_LEN(256) + 1];
	size_t n;

	(void)state;
	for (n = 0; n < 256; n++)
		src[n] = (uint8_t)(255 - n);
	for (n = 0; n <= 256; n += 17) {
		base64_encode(src, n, enc);
		assert_int_equal(base64_decode(enc, strlen(enc), back), (long)n);
		assert_memory_equal(src, back, n);
	}
}

static void
test_decode_rejects_bad_input(void **state)
{
	uint8_t out[16];

	(void)state;
	assert_int_equal(base64_decode("Zm9", 3, out), -1);	/* not a multiple of 4 */
	assert_int_equal(base64_decode("Zm9*", 4, out), -1);	/* bad character */
	assert_int_equal(base64_decode("Z===", 4, out), -1);	/* too much padding */
	assert_int_equal(base64_decode("Zg==Zg==", 8, out), -1);	/* padding inside */
	assert_int_equal(base64_decode("Zm=v", 4, out), -1);	/* data after padding */
	assert_int_equal(base64_decode("Zm9v", 4, out), 3);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rfc4648_vectors_encode),
		cmocka_unit_test(test_decode_round_trips_every_byte),
		cmocka_unit_test(test_decode_rejects_bad_input),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
