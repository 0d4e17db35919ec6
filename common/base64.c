/* Base64 encoding and strict decoding. */
#include "base64.h"

static const char alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

void
base64_encode(const uint8_t *src, size_t n, char *dst)
{
	size_t i;

	for (i = 0; i + 2 < n; i += 3) {
		*dst++ = alphabet[src[i] >> 2];
		*dst++ = alphabet[(src[i] & 3) << 4 | src[i + 1] >> 4];
		*dst++ = alphabet[(src[i + 1] & 15) << 2 | src[i + 2] >> 6];
		*dst++ = alphabet[src[i + 2] & 63];
	}
	if (i < n) {
		*dst++ = alphabet[src[i] >> 2];
		if (i + 1 < n) {
			*dst++ = alphabet[(src[i] & 3) << 4 | src[i + 1] >> 4];
			*dst++ = alphabet[(src[i + 1] & 15) << 2];
		} else {
			*dst++ = alphabet[(src[i] & 3) << 4];
			*dst++ = '=';
		}
		*dst++ = '=';
	}
	*dst = '\0';
}

static int
value(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

long
base64_decode(const char *src, size_t len, uint8_t *dst)
{
	size_t i, out = 0;

	if (len % 4 != 0)
		return -1;
	for (i = 0; i < len; i += 4) {
		int a = value(src[i]), b = value(src[i + 1]);
		int c = src[i + 2] == '=' ? -2 : value(src[i + 2]);
		int d = src[i + 3] == '=' ? -2 : value(src[i + 3]);

		if (a < 0 || b < 0 || c == -1 || d == -1 ||
		    ((c == -2 || d == -2) && i + 4 != len) || (c == -2 && d != -2))
			return -1;
		dst[out++] = (uint8_t)(a << 2 | b >> 4);
		if (c >= 0)
			dst[out++] = (uint8_t)((b & 15) << 4 | c >> 2);
		if (d >= 0)
			dst[out++] = (uint8_t)((c & 3) << 6 | d);
	}
	return (long)out;
}
