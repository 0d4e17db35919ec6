/*
 * purge: drop a name (of one type, or every type) from every router's
 * packet cache, through the running controller, which sends the purge to
 * the routers at once and again every second (proto/purgemsg.h).
 */
#include <getopt.h>
#include <ldns/ldns.h>
#include <nng/nng.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "dnswire.h"
#include "proto.h"
#include "purgemsg.h"

static const char purge_help[] =
    "usage: dnsrouterctl purge [-f file] NAME [TYPE]\n"
    "\n"
    "Drop NAME's answers (of TYPE only, when given) from the packet cache of\n"
    "every router of the running dnsrouter (cache-size in dnsrouter.conf).\n"
    "The next query for it goes to a backend.\n";

/* The wire form of the text name into p; -1 after saying why. */
static int
name_wire(const char *text, struct purge_name *p)
{
	ldns_rdf *d = NULL;

	if (ldns_str2rdf_dname(&d, text) != LDNS_STATUS_OK || d == NULL ||
	    ldns_rdf_size(d) > DNS_NAME_WIRE_MAX) {
		fprintf(stderr, "dnsrouterctl: purge: '%s' is not a domain "
		    "name\n", text);
		ldns_rdf_deep_free(d);
		return -1;
	}
	p->len = (uint8_t)ldns_rdf_size(d);
	memcpy(p->name, ldns_rdf_data(d), p->len);
	ldns_rdf_deep_free(d);
	return 0;
}

int
cmd_purge(int argc, char *argv[])
{
	static const struct option longopts[] = {
		CTL_COMMON_LONG,
		{ NULL, 0, NULL, 0 }
	};
	struct config cf;
	struct purge_name p;
	static struct purge_list l;
	const char *why;
	uint8_t *req, *buf;
	size_t reqlen, len;
	int ch, rc;
	ldns_rr_type t;

	while ((ch = getopt_long(argc, argv, CTL_COMMON_SHORT, longopts,
	    NULL)) != -1) {
		if (!ctl_common_opt(ch, optarg, purge_help))
			ctl_usage(purge_help);
	}
	if (argc - optind < 1 || argc - optind > 2)
		ctl_usage(purge_help);
	memset(&p, 0, sizeof(p));
	if (name_wire(argv[optind], &p) != 0)
		return CTL_EXIT_USAGE;
	if (argc - optind == 2) {
		if ((t = ldns_get_rr_type_by_name(argv[optind + 1])) == 0) {
			fprintf(stderr, "dnsrouterctl: purge: unknown type '%s'\n",
			    argv[optind + 1]);
			return CTL_EXIT_USAGE;
		}
		p.qtype = (uint16_t)t;
	}
	ctl_config(&cf);
	if (purge_req_encode(&p, &req, &reqlen) != 0) {
		fprintf(stderr, "dnsrouterctl: purge: out of memory\n");
		return CTL_EXIT_FAIL;
	}
	buf = ctl_ask(cf.rundir, "purge", req, reqlen, &len);
	free(req);
	if (buf == NULL)
		return CTL_EXIT_FAIL;
	rc = ctl_answer_check(buf, len, "purge");
	if (rc == 0 && purge_decode(buf, len, &l, &why) != 0) {
		fprintf(stderr, "dnsrouterctl: purge: bad answer from the "
		    "controller: %s\n", why);
		rc = -1;
	}
	nng_free(buf, len);
	if (rc != 0)
		return CTL_EXIT_FAIL;
	printf("purge %llu of %s%s%s sent to every router\n",
	    (unsigned long long)l.seq, argv[optind], p.qtype ? " " : "",
	    p.qtype ? argv[optind + 1] : "");
	return 0;
}
