/*
 * PROTO_REPORT, router -> controller over push/pull: what a router saw of
 * each backend on real traffic since its last report. The controller counts
 * a report with failures and no answers as a failed health check.
 *
 * Layout after the proto header (big endian):
 *   router u32, nentries u32,
 *   nentries x { family u8 (4|6), pad u8, port u16, addr[16],
 *                answered u32, failed u32 }
 */
#ifndef DNSROUTER_REPORT_H
#define DNSROUTER_REPORT_H

#include <sys/socket.h>
#include <stddef.h>
#include <stdint.h>

#define REPORT_MAX_ENTRIES	65535

struct report_entry {
	struct sockaddr_storage	addr;
	uint32_t		answered;
	uint32_t		failed;		/* attempts timed out or broken */
};

struct report {
	uint32_t		 router;
	uint32_t		 n;
	struct report_entry	*e;
};

/* Encode r as a PROTO_REPORT message into a malloc'd buffer; -1 on failure. */
int report_encode(const struct report *r, uint8_t **out, size_t *outlen);

/* Decode and validate; fills r with a malloc'd entry array (free r->e). -1 with why. */
int report_decode(const uint8_t *buf, size_t len, struct report *r,
    const char **why);

#endif
