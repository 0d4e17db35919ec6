/*
 * One request/reply with the running controller over
 * rundir/controller/control.ipc, for the subcommands that ask it (status,
 * purge): the dial, the deadline and the checks every answer needs.
 */
#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>

#include "ctl.h"
#include "endpoint.h"
#include "error.h"
#include "proto.h"

#define ASK_TIMEOUT_MS	3000

uint8_t *
ctl_ask(const char *rundir, const char *what, const uint8_t *req,
    size_t reqlen, size_t *len)
{
	char url[PATH_MAX + 64];
	uint8_t *buf = NULL;
	nng_socket s;
	int rv;

	snprintf(url, sizeof(url), "ipc://%s/%s/%s", rundir, ENDPOINT_DIR,
	    PROTO_EP_CONTROL);
	if ((rv = nng_req0_open(&s)) != 0) {
		fprintf(stderr, "dnsrouterctl: %s: %s\n", what, nng_strerror(rv));
		return NULL;
	}
	nng_socket_set_ms(s, NNG_OPT_SENDTIMEO, ASK_TIMEOUT_MS);
	nng_socket_set_ms(s, NNG_OPT_RECVTIMEO, ASK_TIMEOUT_MS);
	if ((rv = nng_dial(s, url, NULL, 0)) != 0) {
		fprintf(stderr, "dnsrouterctl: %s: cannot reach the "
		    "controller at %s: %s (is dnsrouter running with this "
		    "rundir?)\n", what, url, nng_strerror(rv));
		nng_close(s);
		return NULL;
	}
	if ((rv = nng_send(s, (void *)(uintptr_t)req, reqlen, 0)) != 0 ||
	    (rv = nng_recv(s, &buf, len, NNG_FLAG_ALLOC)) != 0) {
		fprintf(stderr, "dnsrouterctl: %s: no answer from the "
		    "controller at %s: %s\n", what, url, nng_strerror(rv));
		buf = NULL;
	}
	nng_close(s);
	return buf;
}

int
ctl_answer_check(const uint8_t *buf, size_t len, const char *what)
{
	char msg[ERROR_MAX + 1];
	const char *why;
	int v = proto_hdr_version(buf, len);

	if (v < 0) {
		fprintf(stderr, "dnsrouterctl: %s: the answer is not a "
		    "dnsrouter message\n", what);
		return -1;
	}
	if (v != PROTO_VERSION) {
		fprintf(stderr, "dnsrouterctl: %s: the running controller "
		    "speaks protocol version %d, this dnsrouterctl %d: use the "
		    "dnsrouterctl of the running dnsrouter's version\n", what, v,
		    PROTO_VERSION);
		return -1;
	}
	if (proto_check_hdr(buf, len, &why) == PROTO_ERROR) {
		if (error_decode(buf, len, msg, sizeof(msg), &why) == 0)
			why = msg;
		fprintf(stderr, "dnsrouterctl: %s: %s\n", what, why);
		return -1;
	}
	return 0;
}
