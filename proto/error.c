/* Encoding and validating decoding of PROTO_ERROR messages. */
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "proto.h"

int
error_encode(const char *msg, uint8_t **out, size_t *outlen)
{
	size_t n = strlen(msg), len;
	uint8_t *buf;

	if (n > ERROR_MAX)
		n = ERROR_MAX;
	len = PROTO_HDRLEN + n;
	if ((buf = malloc(len)) == NULL)
		return -1;
	proto_put_hdr(buf, PROTO_ERROR, (uint32_t)len);
	memcpy(buf + PROTO_HDRLEN, msg, n);
	*out = buf;
	*outlen = len;
	return 0;
}

int
error_decode(const uint8_t *buf, size_t len, char *msg, size_t msglen,
    const char **why)
{
	size_t n;

	if (msglen == 0) {
		*why = "no room for the message";
		return -1;
	}
	if (proto_check_msg(buf, len, PROTO_ERROR, PROTO_HDRLEN, why) != 0)
		return -1;
	n = len - PROTO_HDRLEN;
	if (n > ERROR_MAX || memchr(buf + PROTO_HDRLEN, '\0', n) != NULL) {
		*why = "bad error message";
		return -1;
	}
	if (n >= msglen)
		n = msglen - 1;
	memcpy(msg, buf + PROTO_HDRLEN, n);
	msg[n] = '\0';
	return 0;
}
