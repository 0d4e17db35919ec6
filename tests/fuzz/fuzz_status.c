/*
 * proto/proto and proto/status: the header check every receiver runs first,
 * and what dnsrouterctl decodes from the controller: PROTO_STATUS (with the
 * route table inside it) and PROTO_ERROR. A decoded status re-encodes to
 * a message that decodes the same.
 */
#include "fuzz.h"
#include "routetable.h"
#include "error.h"
#include "statusmsg.h"

static void
check_hdr(const uint8_t *buf, size_t len)
{
	const char *why = NULL;
	int type, version;

	type = proto_check_hdr(buf, len, &why);
	version = proto_hdr_version(buf, len);
	if (type < 0) {
		FUZZ_ASSERT(type == -1 && why != NULL);
		return;
	}
	FUZZ_ASSERT(type <= 0xffff && len >= PROTO_HDRLEN);
	FUZZ_ASSERT(version == PROTO_VERSION);
	FUZZ_ASSERT(proto_get32(buf + 8) == len);
}

static void
check_status(const uint8_t *buf, size_t len)
{
	struct status s, s2;
	const char *why = NULL;
	uint8_t *tab = NULL, *enc;
	size_t tablen = 0, enclen, elen;

	if (status_decode(buf, len, &s, &why) != 0) {
		FUZZ_ASSERT(why != NULL);
		status_free(&s);	/* must be harmless after a failure */
		return;
	}
	elen = strlen(s.endpoint);
	FUZZ_ASSERT(elen <= STATUS_MAX_ENDPOINT);
	if (s.table != NULL)
		FUZZ_ASSERT(rt_encode(s.table, &tab, &tablen) == 0);
	FUZZ_ASSERT(status_encode(s.flags, s.etcd_revision, s.endpoint, tab,
	    tablen, s.zones, s.nzones, &enc, &enclen) == 0);
	FUZZ_ASSERT(enclen == len);
	FUZZ_ASSERT(status_decode(enc, enclen, &s2, &why) == 0);
	FUZZ_ASSERT(s2.flags == s.flags && s2.etcd_revision == s.etcd_revision);
	FUZZ_ASSERT(strcmp(s2.endpoint, s.endpoint) == 0);
	FUZZ_ASSERT((s2.table == NULL) == (s.table == NULL));
	FUZZ_ASSERT(s2.nzones == s.nzones);
	for (elen = 0; elen < s.nzones; elen++)
		FUZZ_ASSERT(strcmp(s2.zones[elen].name, s.zones[elen].name) == 0 &&
		    s2.zones[elen].nm == s.zones[elen].nm &&
		    s2.zones[elen].agree == s.zones[elen].agree);
	if (s.table != NULL)
		FUZZ_ASSERT(s2.table->nbackends == s.table->nbackends &&
		    s2.table->nroutes == s.table->nroutes &&
		    s2.table->generation == s.table->generation);
	free(enc);
	free(tab);
	status_free(&s2);
	status_free(&s);
	FUZZ_ASSERT(s.table == NULL);
}

static void
check_error(const uint8_t *buf, size_t len)
{
	char msg[ERROR_MAX + 1], small[8];
	const char *why = NULL;

	if (error_decode(buf, len, msg, sizeof(msg), &why) != 0) {
		FUZZ_ASSERT(why != NULL);
		return;
	}
	FUZZ_ASSERT(strlen(msg) == len - PROTO_HDRLEN);
	FUZZ_ASSERT(error_decode(buf, len, small, sizeof(small), &why) == 0);
	FUZZ_ASSERT(strlen(small) < sizeof(small) &&
	    strncmp(small, msg, sizeof(small) - 1) == 0);
	FUZZ_ASSERT(error_decode(buf, len, small, 0, &why) == -1);
}

static void
one(const uint8_t *buf, size_t len)
{
	check_hdr(buf, len);
	check_status(buf, len);
	check_error(buf, len);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *buf = fuzz_dup(data, size), *fixed;

	one(buf, size);
	free(buf);
	/* The input's own type: status and error messages both get through. */
	if ((fixed = fuzz_fix_hdr(data, size, 0)) != NULL) {
		one(fixed, size);
		free(fixed);
	}
	return 0;
}
