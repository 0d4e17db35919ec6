/*
 * common/dnswire: dns_tcp_frame splitting a client's (or a backend's) TCP
 * byte stream into messages, each handed to dns_parse_query as
 * router/tcp.c does. The stream arrives in reads of a size the first input
 * byte picks, into a buffer grown only to what dns_tcp_frame asks for; the
 * messages must be the same as when the whole stream is there at once.
 */
#include "dnswire.h"
#include "fuzz.h"

#define MAX_FRAMES	70000	/* 3 bytes each at least: more than any input */

struct frames {
	size_t	off[MAX_FRAMES];	/* into the stream, of the length bytes */
	size_t	len[MAX_FRAMES];
	size_t	n;
	int	bad;			/* dns_tcp_frame said -1 */
};

static struct frames whole;

/* One call's promises, for len bytes at buf. */
static long
frame(const uint8_t *buf, size_t len, size_t *need)
{
	long m;

	*need = (size_t)-1;
	m = dns_tcp_frame(buf, len, need);
	if (m > 0) {
		FUZZ_ASSERT(len >= 2 && m >= DNS_HDRLEN && m <= 65535);
		FUZZ_ASSERT((size_t)m == ((size_t)buf[0] << 8 | buf[1]));
		FUZZ_ASSERT((size_t)m + 2 <= len);
	} else if (m == 0) {
		FUZZ_ASSERT(*need > len && *need <= 65535 + 2);
		FUZZ_ASSERT(len >= 2 ? *need == ((size_t)buf[0] << 8 | buf[1]) + 2 :
		    *need == 2);
	} else {
		FUZZ_ASSERT(m == -1 && len >= 2 &&
		    ((size_t)buf[0] << 8 | buf[1]) < DNS_HDRLEN);
	}
	return m;
}

static void
handle_message(const uint8_t *msg, size_t len)
{
	/* A copy of exactly the message: reading past it is a bug. */
	uint8_t *m = fuzz_dup(msg, len);
	struct dns_question q;

	if (dns_parse_query(m, len, &q) == DNS_QUERY_OK)
		FUZZ_ASSERT(q.end <= len);
	free(m);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *s = data + 1;
	size_t slen = size > 0 ? size - 1 : 0, off, need, chunk, got, rlen, rcap;
	size_t nframes = 0, consumed = 0;
	uint8_t *rbuf;
	long m;

	if (size == 0)
		return 0;
	chunk = (size_t)data[0] * 4 + 1;

	whole.n = 0;
	whole.bad = 0;
	for (off = 0; (m = frame(s + off, slen - off, &need)) > 0;
	    off += (size_t)m + 2) {
		FUZZ_ASSERT(whole.n < MAX_FRAMES);
		whole.off[whole.n] = off;
		whole.len[whole.n++] = (size_t)m;
		handle_message(s + off + 2, (size_t)m);
	}
	whole.bad = m < 0;

	/* The same stream read by read, as router/tcp.c buffers it. */
	rcap = 2;
	rbuf = malloc(rcap);
	FUZZ_ASSERT(rbuf != NULL);
	rlen = 0;
	m = 0;
	for (got = 0; got < slen && m >= 0; ) {
		size_t n = slen - got < chunk ? slen - got : chunk;

		if (n > rcap - rlen)
			n = rcap - rlen;
		memcpy(rbuf + rlen, s + got, n);
		rlen += n;
		got += n;
		for (off = 0; (m = frame(rbuf + off, rlen - off, &need)) > 0;
		    off += (size_t)m + 2) {
			FUZZ_ASSERT(nframes < whole.n);
			FUZZ_ASSERT(whole.off[nframes] == consumed &&
			    whole.len[nframes] == (size_t)m);
			FUZZ_ASSERT(memcmp(rbuf + off, s + consumed,
			    (size_t)m + 2) == 0);
			consumed += (size_t)m + 2;
			nframes++;
		}
		if (m < 0)
			break;
		memmove(rbuf, rbuf + off, rlen - off);
		rlen -= off;
		if (need > rcap) {
			rbuf = realloc(rbuf, need);
			FUZZ_ASSERT(rbuf != NULL);
			rcap = need;
		}
		/* There is always room for the next read. */
		FUZZ_ASSERT(rlen < rcap);
	}
	FUZZ_ASSERT(nframes == whole.n);
	FUZZ_ASSERT((m < 0) == whole.bad);
	free(rbuf);
	return 0;
}
