/* Message headers shared by every message between processes. */
#include "proto.h"

void
proto_put_hdr(uint8_t *buf, enum proto_msg type, uint32_t length)
{
	proto_put32(buf, PROTO_MAGIC);
	proto_put16(buf + 4, PROTO_VERSION);
	proto_put16(buf + 6, (uint16_t)type);
	proto_put32(buf + 8, length);
	proto_put32(buf + 12, 0);
}

int
proto_check_hdr(const uint8_t *buf, size_t len, const char **why)
{
	if (len < PROTO_HDRLEN) {
		*why = "message shorter than its header";
		return -1;
	}
	if (proto_get32(buf) != PROTO_MAGIC) {
		*why = "bad magic";
		return -1;
	}
	if (proto_get16(buf + 4) != PROTO_VERSION) {
		*why = "protocol version mismatch";
		return -1;
	}
	if (proto_get32(buf + 8) != len) {
		*why = "length field does not match message size";
		return -1;
	}
	return proto_get16(buf + 6);
}

int
proto_check_msg(const uint8_t *buf, size_t len, enum proto_msg type,
    size_t minlen, const char **why)
{
	int t = proto_check_hdr(buf, len, why);

	if (t < 0)
		return -1;
	if (t != (int)type) {
		*why = "unexpected message type";
		return -1;
	}
	if (len < minlen) {
		*why = "message shorter than its fixed part";
		return -1;
	}
	return 0;
}

int
proto_hdr_version(const uint8_t *buf, size_t len)
{
	if (len < PROTO_HDRLEN || proto_get32(buf) != PROTO_MAGIC)
		return -1;
	return proto_get16(buf + 4);
}
