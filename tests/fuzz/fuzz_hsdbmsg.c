/*
 * proto/hsdbmsg: hsdb_decode of a PROTO_HSDB answer as a router receives it
 * from the controller, and hsdb_decode_req of a request as the controller
 * receives it. What decodes must encode back to the same bytes.
 */
#include "fuzz.h"
#include "hsdbmsg.h"

/* Equal but for the header's reserved word, which decoders ignore. */
static int
same(const uint8_t *a, const uint8_t *b, size_t len)
{
	return memcmp(a, b, 12) == 0 &&
	    memcmp(a + PROTO_HDRLEN, b + PROTO_HDRLEN, len - PROTO_HDRLEN) == 0;
}

static void
one(const uint8_t *buf, size_t len)
{
	struct hsdb_msg m;
	const char *why = NULL;
	uint8_t *enc;
	size_t enclen;
	uint64_t have;
	uint32_t i;

	if (hsdb_decode_req(buf, len, &have, &why) == 0) {
		uint8_t req[HSDB_REQ_LEN];

		FUZZ_ASSERT(len == HSDB_REQ_LEN);
		hsdb_encode_req(req, have);
		FUZZ_ASSERT(same(req, buf, len));
	} else
		FUZZ_ASSERT(why != NULL);
	why = NULL;
	if (hsdb_decode(buf, len, &m, &why) != 0) {
		FUZZ_ASSERT(why != NULL);
		FUZZ_ASSERT(m.pat == NULL && m.bad == NULL);
		return;
	}
	FUZZ_ASSERT((size_t)m.npat + m.nbad <= HSDB_MAX_PATTERNS);
	FUZZ_ASSERT(m.bloblen <= len);
	for (i = 0; i < m.npat; i++)
		FUZZ_ASSERT(m.pat[i][0] != '\0');
	for (i = 0; i < m.nbad; i++)
		FUZZ_ASSERT(m.bad[i][0] != '\0');
	FUZZ_ASSERT(hsdb_encode(m.id, m.status, m.pat, m.npat, m.bad, m.nbad,
	    m.blob, m.bloblen, &enc, &enclen) == 0);
	FUZZ_ASSERT(enclen == len && same(enc, buf, len));
	free(enc);
	hsdb_msg_free(&m);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *buf = fuzz_dup(data, size), *fixed;

	one(buf, size);
	free(buf);
	if ((fixed = fuzz_fix_hdr(data, size, 0)) != NULL) {
		one(fixed, size);
		free(fixed);
	}
	return 0;
}
