/*
 * split: cut a zone file into N shard zone files that BIND (or NSD, Knot)
 * loads, by the first character of the label just below the origin, and
 * print the registrations that route each shard, as routes-file lines.
 *
 * Every shard gets the apex (SOA, NS and whatever else the apex holds:
 * the apex route names every shard) and the address records of in-zone
 * NS, MX and SRV targets its records name, so that each file is a whole
 * zone. Names at or below one label below the origin stay together (a
 * delegation with its glue, an empty non-terminal with what is under it);
 * a wildcard right below the origin goes to every shard, where it answers
 * for the names routed there that do not exist. In a signed zone each
 * RRset keeps its RRSIGs (same owner); NSECs that deny names routed to
 * another shard are copied there, and an NSEC3 chain goes to every shard.
 */
#include <errno.h>
#include <getopt.h>
#include <ldns/ldns.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "addr.h"
#include "ctl.h"
#include "shard.h"
#include "util.h"

static const char split_help[] =
    "usage: dnsrouterctl split ZONEFILE --shards N [--origin O] [--out DIR]\n"
    "           [--addr ADDR ...]\n"
    "\n"
    "Split ZONEFILE into N shard zone files (DIR/ORIGIN.shardK.zone, K = 1..N)\n"
    "by the first character of the label just below the origin, balancing\n"
    "the number of records. Each file holds the apex SOA and NS (and the rest\n"
    "of the apex, and the addresses of in-zone NS, MX and SRV targets), so\n"
    "each passes named-checkzone ORIGIN FILE. Prints, for each shard, its\n"
    "file and the routes-file lines that route it:\n"
    "  ADDR,(^|\\.)[a-m][^.]*\\.example\\.$   the shard's names\n"
    "  ADDR,^example\\.$                      the apex, on every shard\n"
    "(names are matched in lower case with their trailing dot).\n"
    "A signed zone is split without keys: each shard also gets the NSEC\n"
    "records (with their RRSIGs) that deny names routed to it, or the whole\n"
    "NSEC3 chain; split reads its output back and checks that the shards\n"
    "together are the zone.\n"
    "\n"
    "  --shards N   1 to 38\n"
    "  --origin O   the zone's origin (default: its $ORIGIN, else an absolute\n"
    "               SOA owner, else the file name: miek.nl, miek.nl.zone,\n"
    "               db.miek.nl)\n"
    "  --out DIR    where the shard files go (default: the current directory)\n"
    "  --addr ADDR  the backend serving shard K, given once per shard in\n"
    "               order (default: placeholders SHARD1_ADDR, ...)\n";

struct shard {
	ldns_rr_list	*rrs;		/* the shard's own names */
	ldns_rr_list	*targets;	/* in-zone names whose addresses it needs */
	ldns_rr_list	*copies;	/* NSECs of other shards' names it needs */
	size_t		 ncopies;	/* of them, NSEC records */
	char		 file[PATH_MAX];
};

/* An NSEC3 record or its signature: the whole chain goes to every shard. */
static int
is_nsec3(const ldns_rr *rr)
{
	ldns_rr_type t = ldns_rr_get_type(rr);

	if (t == LDNS_RR_TYPE_NSEC3)
		return 1;
	return t == LDNS_RR_TYPE_RRSIG && ldns_rr_rrsig_typecovered(rr) !=
	    NULL && ldns_rdf2rr_type(ldns_rr_rrsig_typecovered(rr)) ==
	    LDNS_RR_TYPE_NSEC3;
}

/* An RRSIG over an NSEC. */
static int
is_nsec_sig(const ldns_rr *rr)
{
	return ldns_rr_get_type(rr) == LDNS_RR_TYPE_RRSIG &&
	    ldns_rr_rrsig_typecovered(rr) != NULL &&
	    ldns_rdf2rr_type(ldns_rr_rrsig_typecovered(rr)) == LDNS_RR_TYPE_NSEC;
}

static ldns_zone *parse_zone(FILE *, const char *, const ldns_rdf *);

/* Text of a name, lower case (malloc'd by ldns). */
static char *
name_str(const ldns_rdf *d)
{
	ldns_rdf *c = ldns_rdf_clone(d);
	char *s;

	ldns_dname2canonical(c);
	s = ldns_rdf2str(c);
	ldns_rdf_deep_free(c);
	return s;
}

/* The in-zone name an NS, MX or SRV record points at, or NULL. */
static const ldns_rdf *
target_of(const ldns_rr *rr, const ldns_rdf *origin)
{
	const ldns_rdf *t = NULL;

	switch (ldns_rr_get_type(rr)) {
	case LDNS_RR_TYPE_NS:
		t = ldns_rr_rdf(rr, 0);
		break;
	case LDNS_RR_TYPE_MX:
		t = ldns_rr_rdf(rr, 1);
		break;
	case LDNS_RR_TYPE_SRV:
		t = ldns_rr_rdf(rr, 3);
		break;
	default:
		return NULL;
	}
	if (t == NULL || ldns_rdf_get_type(t) != LDNS_RDF_TYPE_DNAME ||
	    (ldns_dname_compare(t, origin) != 0 &&
	    !ldns_dname_is_subdomain(t, origin)))
		return NULL;
	return t;
}

static void
add_target(ldns_rr_list *targets, const ldns_rdf *t)
{
	ldns_rr *holder;
	size_t i;

	for (i = 0; i < ldns_rr_list_rr_count(targets); i++)
		if (ldns_dname_compare(ldns_rr_owner(ldns_rr_list_rr(targets,
		    i)), t) == 0)
			return;
	/* An empty record carries the name. */
	holder = ldns_rr_new();
	ldns_rr_set_owner(holder, ldns_rdf_clone(t));
	ldns_rr_list_push_rr(targets, holder);
}

/*
 * Shard of an owner below the origin (labels = its label count minus the
 * origin's): by the first character of its label just below the origin;
 * -1 for a wildcard right below the origin (every shard).
 */
static int
shard_of_owner(const ldns_rdf *owner, uint8_t below, const int *first, int n)
{
	ldns_rdf *label = ldns_dname_label(owner, (uint8_t)(below - 1));
	char *s;
	int k;

	if (label == NULL)
		return 0;
	s = ldns_rdf2str(label);
	ldns_rdf_deep_free(label);
	if (s == NULL)
		return 0;
	if (below == 1 && strcmp(s, "*.") == 0)
		k = -1;
	else
		k = shard_of_char(first, n, s[0]);
	free(s);
	return k;
}

/*
 * Which shard split gives a name whose label below the origin starts with
 * byte c: by the first character of the label's text, as shard_of_owner.
 */
static void
byte_shards(const int *first, int n, int out[256])
{
	uint8_t wire[3] = { 1, 0, 0 };
	ldns_rdf *d;
	char *s;
	int c;

	for (c = 0; c < 256; c++) {
		wire[1] = (uint8_t)c;
		out[c] = 0;
		d = ldns_rdf_new_frm_data(LDNS_RDF_TYPE_DNAME, sizeof(wire), wire);
		if (d == NULL)
			continue;
		if ((s = ldns_rdf2str(d)) != NULL)
			out[c] = shard_of_char(first, n, s[0]);
		free(s);
		ldns_rdf_deep_free(d);
	}
}

/*
 * The byte canonical order (RFC 4034 6.1) sorts a name below the origin
 * by first: the first byte of its label just below the origin, lower case.
 */
static int
order_byte(const ldns_rdf *name, uint8_t olabels)
{
	uint8_t below = (uint8_t)(ldns_dname_label_count(name) - olabels);
	ldns_rdf *label = ldns_dname_label(name, (uint8_t)(below - 1));
	int c = 0;

	if (label != NULL && ldns_rdf_size(label) > 1)
		c = ldns_rdf_data(label)[1];
	ldns_rdf_deep_free(label);
	return c >= 'A' && c <= 'Z' ? c + 32 : c;
}

/*
 * An NSEC proves that no name sorts between its owner and its next name.
 * Every shard that names in that span route to needs it (and its
 * signatures) to deny them: the spans that cross a shard's edge, the last
 * one that wraps to the apex past every other character, those before a
 * shard's first name. Copies go into sh[k].copies.
 */
static void
copy_nsecs(const ldns_rr_list *nsecs, const ldns_rdf *origin, uint8_t olabels,
    const int *first, int n, struct shard *sh)
{
	int bs[256], seen[SHARD_MAX], lo, hi, c, k, own;
	size_t i, j;

	byte_shards(first, n, bs);
	for (i = 0; i < ldns_rr_list_rr_count(nsecs); i++) {
		ldns_rr *rr = ldns_rr_list_rr(nsecs, i);
		const ldns_rdf *o = ldns_rr_owner(rr), *next;

		if (ldns_rr_get_type(rr) != LDNS_RR_TYPE_NSEC ||
		    (next = ldns_rr_rdf(rr, 0)) == NULL)
			continue;
		lo = order_byte(o, olabels);
		own = shard_of_owner(o, (uint8_t)(ldns_dname_label_count(o) -
		    olabels), first, n);
		if (own < 0)
			continue;	/* the wildcard's: in every shard already */
		if (ldns_dname_compare(next, origin) == 0 ||
		    !ldns_dname_is_subdomain(next, origin) ||
		    (hi = order_byte(next, olabels)) < lo)
			hi = 255;	/* the last NSEC: up to the end */
		memset(seen, 0, sizeof(seen));
		seen[own] = 1;
		for (c = lo; c <= hi; c++) {
			if (c >= 'A' && c <= 'Z')
				continue;	/* sorted as lower case */
			if (seen[k = bs[c]])
				continue;
			seen[k] = 1;
			ldns_rr_list_push_rr(sh[k].copies, rr);
			sh[k].ncopies++;
			for (j = 0; j < ldns_rr_list_rr_count(nsecs); j++) {
				ldns_rr *sig = ldns_rr_list_rr(nsecs, j);

				if (is_nsec_sig(sig) &&
				    ldns_dname_compare(ldns_rr_owner(sig), o) == 0)
					ldns_rr_list_push_rr(sh[k].copies, sig);
			}
		}
	}
}

/* A record's canonical wire form (RFC 4034 6.2), TTL included, hashed. */
static uint64_t
rr_hash(const ldns_rr *rr)
{
	ldns_rr *c = ldns_rr_clone(rr);
	uint64_t h = 0xcbf29ce484222325ULL;
	uint8_t *w = NULL;
	size_t n = 0, i;

	if (c == NULL)
		return 0;
	ldns_rr2canonical(c);
	if (ldns_rr2wire(&w, c, LDNS_SECTION_ANSWER, &n) == LDNS_STATUS_OK)
		for (i = 0; i < n; i++)
			h = (h ^ w[i]) * 0x100000001b3ULL;
	free(w);
	ldns_rr_free(c);
	return h;
}

static int
cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Sort v[0..n) and drop repeats: the new count. */
static size_t
sort_unique(uint64_t *v, size_t n)
{
	size_t i, o = 0;

	qsort(v, n, sizeof(*v), cmp_u64);
	for (i = 0; i < n; i++)
		if (o == 0 || v[o - 1] != v[i])
			v[o++] = v[i];
	return o;
}

struct hashes {
	uint64_t	*v;
	size_t		 n, cap;
};

static void
hashes_add(struct hashes *h, const ldns_rr *rr)
{
	if (h->n == h->cap) {
		h->cap = h->cap ? h->cap * 2 : 1024;
		if ((h->v = realloc(h->v, h->cap * sizeof(*h->v))) == NULL)
			abort();
	}
	h->v[h->n++] = rr_hash(rr);
}

/*
 * Read back what was written: each shard file must parse as a zone, and
 * their union (the copies are the input's own records) must be the input:
 * the same set of records, compared by a hash of their canonical form.
 */
static int
self_check(const char *zonefile, const ldns_rdf *origin, ldns_zone *z,
    struct shard *sh, int n)
{
	struct hashes want = { NULL, 0, 0 }, got = { NULL, 0, 0 };
	const ldns_rr_list *rrs = ldns_zone_rrs(z);
	const ldns_rr *odd = NULL;
	uint64_t missing = 0;
	size_t i, j, nw, ng;
	int k, rc = -1, lost = 0;
	FILE *fp;

	hashes_add(&want, ldns_zone_soa(z));
	for (i = 0; i < ldns_rr_list_rr_count(rrs); i++) {
		ldns_rr *rr = ldns_rr_list_rr(rrs, i);

		if (ldns_dname_compare(ldns_rr_owner(rr), origin) == 0 ||
		    ldns_dname_is_subdomain(ldns_rr_owner(rr), origin))
			hashes_add(&want, rr);
	}
	for (k = 0; k < n; k++) {
		ldns_zone *s;

		if ((fp = fopen(sh[k].file, "r")) == NULL) {
			fprintf(stderr, "dnsrouterctl: split: %s: %s\n",
			    sh[k].file, strerror(errno));
			goto out;
		}
		s = parse_zone(fp, sh[k].file, origin);
		fclose(fp);
		if (s == NULL)
			goto out;
		hashes_add(&got, ldns_zone_soa(s));
		for (j = 0; j < ldns_rr_list_rr_count(ldns_zone_rrs(s)); j++)
			hashes_add(&got, ldns_rr_list_rr(ldns_zone_rrs(s), j));
		ldns_zone_deep_free(s);
	}
	nw = sort_unique(want.v, want.n);
	ng = sort_unique(got.v, got.n);
	for (i = j = 0; i < nw || j < ng; ) {
		if (i < nw && j < ng && want.v[i] == got.v[j]) {
			i++;
			j++;
			continue;
		}
		/* The first hash one side has and the other lacks. */
		lost = j == ng || (i < nw && want.v[i] < got.v[j]);
		missing = lost ? want.v[i] : got.v[j];
		break;
	}
	if (i == nw && j == ng) {
		rc = 0;
		goto out;
	}
	if (lost) {
		odd = ldns_zone_soa(z);
		for (i = 0; i < ldns_rr_list_rr_count(rrs) && rr_hash(odd) !=
		    missing; i++)
			odd = ldns_rr_list_rr(rrs, i);
	}
	{
		char *t = odd != NULL ? ldns_rr2str(odd) : NULL;

		fprintf(stderr, "dnsrouterctl: split: %s: self-check failed: the "
		    "shards %s%s", zonefile, lost ? "lost " : "hold a record "
		    "that is not in the zone\n", lost ? (t ? t : "a record\n") :
		    "");
		free(t);
	}
out:
	free(want.v);
	free(got.v);
	return rc;
}

static int
write_shard(const struct shard *sh, int k, int n, const char *cls,
    const char *zonefile, const ldns_rr *soa, const ldns_rr_list *apex,
    const ldns_rr_list *everywhere, const ldns_rr_list *addrs,
    const ldns_rr_list *chain3)
{
	const char *base;
	FILE *fp;
	size_t i, j;

	if ((fp = fopen(sh->file, "w")) == NULL) {
		fprintf(stderr, "dnsrouterctl: split: %s: %s\n", sh->file,
		    strerror(errno));
		return -1;
	}
	base = strrchr(zonefile, '/');
	fprintf(fp, "; shard %d of %d of %s: names whose label below the "
	    "origin starts with %s\n; written by dnsrouterctl split\n",
	    k + 1, n, base != NULL ? base + 1 : zonefile, cls);
	ldns_rr_print(fp, soa);
	for (i = 0; i < ldns_rr_list_rr_count(apex); i++)
		ldns_rr_print(fp, ldns_rr_list_rr(apex, i));
	for (i = 0; i < ldns_rr_list_rr_count(everywhere); i++)
		ldns_rr_print(fp, ldns_rr_list_rr(everywhere, i));
	/* Addresses of targets that live in another shard. */
	for (i = 0; i < ldns_rr_list_rr_count(sh->targets); i++) {
		const ldns_rdf *t = ldns_rr_owner(ldns_rr_list_rr(sh->targets, i));

		for (j = 0; j < ldns_rr_list_rr_count(sh->rrs); j++)
			if (ldns_dname_compare(ldns_rr_owner(ldns_rr_list_rr(
			    sh->rrs, j)), t) == 0)
				break;
		if (j < ldns_rr_list_rr_count(sh->rrs))
			continue;
		for (j = 0; j < ldns_rr_list_rr_count(addrs); j++)
			if (ldns_dname_compare(ldns_rr_owner(ldns_rr_list_rr(
			    addrs, j)), t) == 0)
				ldns_rr_print(fp, ldns_rr_list_rr(addrs, j));
	}
	for (i = 0; i < ldns_rr_list_rr_count(sh->rrs); i++)
		ldns_rr_print(fp, ldns_rr_list_rr(sh->rrs, i));
	if (ldns_rr_list_rr_count(sh->copies) > 0)
		fprintf(fp, "; NSEC records of names in other shards that prove "
		    "denial for names routed here\n");
	for (i = 0; i < ldns_rr_list_rr_count(sh->copies); i++)
		ldns_rr_print(fp, ldns_rr_list_rr(sh->copies, i));
	for (i = 0; i < ldns_rr_list_rr_count(chain3); i++)
		ldns_rr_print(fp, ldns_rr_list_rr(chain3, i));
	if (fclose(fp) != 0) {
		fprintf(stderr, "dnsrouterctl: split: %s: %s\n", sh->file,
		    strerror(errno));
		return -1;
	}
	return 0;
}

/*
 * The zone's origin from its file name, as operators name zone files:
 * miek.nl, miek.nl.zone, miek.nl.db, db.miek.nl. NULL unless that leaves
 * a name of two labels or more (a file "rel.zone" names no zone).
 */
static ldns_rdf *
origin_from_file(const char *path)
{
	const char *base = strrchr(path, '/');
	char name[256], *p;
	size_t len;
	ldns_rdf *d = NULL;

	base = base != NULL ? base + 1 : path;
	if (strncmp(base, "db.", 3) == 0)
		base += 3;
	if ((len = strlen(base)) == 0 || len >= sizeof(name) - 1)
		return NULL;
	memcpy(name, base, len + 1);
	if (len > 5 && strcmp(name + len - 5, ".zone") == 0)
		name[len -= 5] = '\0';
	else if (len > 3 && strcmp(name + len - 3, ".db") == 0)
		name[len -= 3] = '\0';
	if (len == 0 || name[0] == '.' || name[len - 1] == '.' ||
	    strchr(name, '.') == NULL || strstr(name, "..") != NULL)
		return NULL;
	for (p = name; *p != '\0'; p++)
		if (!(*p >= 'a' && *p <= 'z') && !(*p >= 'A' && *p <= 'Z') &&
		    !(*p >= '0' && *p <= '9') && *p != '-' && *p != '_' &&
		    *p != '.')
			return NULL;
	name[len] = '.';
	name[len + 1] = '\0';
	if (ldns_str2rdf_dname(&d, name) != LDNS_STATUS_OK)
		return NULL;
	return d;
}

/* Parse fp relative to origin; the error, with its line, on stderr. */
static ldns_zone *
parse_zone(FILE *fp, const char *zonefile, const ldns_rdf *origin)
{
	ldns_zone *z = NULL;
	ldns_status st;
	int line = 0;

	if ((st = ldns_zone_new_frm_fp_l(&z, fp, origin, 3600,
	    LDNS_RR_CLASS_IN, &line)) != LDNS_STATUS_OK) {
		fprintf(stderr, "dnsrouterctl: split: %s:%d: %s\n", zonefile,
		    line, ldns_get_errorstr_by_id(st));
		return NULL;
	}
	if (ldns_zone_soa(z) == NULL) {
		fprintf(stderr, "dnsrouterctl: split: %s: no SOA record\n",
		    zonefile);
		ldns_zone_deep_free(z);
		return NULL;
	}
	return z;
}

/*
 * Parse fp into a zone with an SOA. Without *origin (no --origin) the
 * origin is, in this order: the file's $ORIGIN, an absolute SOA owner,
 * the file name; never the root zone unless asked for. A first parse
 * relative to a name no zone uses tells whether the SOA owner was
 * relative (ldns would otherwise take the root for the origin, and split
 * miek.nl as the root zone). Sets *origin when the file name gave it.
 */
static ldns_zone *
read_zone(FILE *fp, const char *zonefile, ldns_rdf **origin)
{
	ldns_rdf *probe = NULL;
	const ldns_rdf *owner;
	ldns_zone *z;

	if (*origin != NULL)
		return parse_zone(fp, zonefile, *origin);
	if (ldns_str2rdf_dname(&probe, "origin-unknown.dnsrouterctl.invalid.")
	    != LDNS_STATUS_OK)
		return NULL;
	z = parse_zone(fp, zonefile, probe);
	if (z != NULL) {
		owner = ldns_rr_owner(ldns_zone_soa(z));
		if (ldns_dname_compare(owner, probe) == 0 ||
		    ldns_dname_is_subdomain(owner, probe)) {
			/* The SOA owner was relative, with no $ORIGIN before it. */
			ldns_zone_deep_free(z);
			z = NULL;
			if ((*origin = origin_from_file(zonefile)) == NULL)
				fprintf(stderr, "dnsrouterctl: split: %s: cannot "
				    "tell the zone's origin (no $ORIGIN, a "
				    "relative SOA owner, and the file name names "
				    "no zone): give --origin\n", zonefile);
			else {
				rewind(fp);
				z = parse_zone(fp, zonefile, *origin);
			}
		}
	}
	ldns_rdf_deep_free(probe);
	return z;
}

int
cmd_split(int argc, char *argv[])
{
	static const struct option longopts[] = {
		CTL_COMMON_LONG,
		{ "shards", required_argument, NULL, 'n' },
		{ "origin", required_argument, NULL, 'o' },
		{ "out", required_argument, NULL, 'd' },
		{ "addr", required_argument, NULL, 'a' },
		{ NULL, 0, NULL, 0 }
	};
	struct shard sh[SHARD_MAX];
	const char *addrs[SHARD_MAX], *outdir = ".", *origin_arg = NULL;
	const char *zonefile, *why;
	struct sockaddr_storage ss;
	socklen_t sslen;
	ldns_zone *z = NULL;
	ldns_rdf *origin = NULL;
	ldns_rr_list *rrs, *apex, *everywhere, *addrrs, *nsecs, *chain3;
	ldns_rr *soa;
	uint64_t weight[SHARD_NCHARS], other = 0;
	int first[SHARD_MAX], n = 0, naddr = 0, ch, k, rc = CTL_EXIT_FAIL;
	uint8_t olabels;
	size_t i;
	char *end, *otext = NULL, cls[128], re[1024], base[PATH_MAX];
	FILE *fp;

	while ((ch = getopt_long(argc, argv, CTL_COMMON_SHORT "n:o:d:a:",
	    longopts, NULL)) != -1) {
		if (ctl_common_opt(ch, optarg, split_help))
			continue;
		switch (ch) {
		case 'n':
			errno = 0;
			n = (int)strtol(optarg, &end, 10);
			if (errno != 0 || *end != '\0' || n < 1 || n > SHARD_MAX) {
				fprintf(stderr, "dnsrouterctl: split: --shards "
				    "takes a number from 1 to %d\n", SHARD_MAX);
				return CTL_EXIT_USAGE;
			}
			break;
		case 'o':
			origin_arg = optarg;
			break;
		case 'd':
			outdir = optarg;
			break;
		case 'a':
			if (naddr == SHARD_MAX)
				ctl_usage(split_help);
			if (addr_parse(optarg, strlen(optarg), 53, &ss, &sslen,
			    &why) != 0 || strchr(optarg, ':') == NULL) {
				fprintf(stderr, "dnsrouterctl: split: --addr %s: "
				    "%s\n", optarg, strchr(optarg, ':') ? why :
				    "needs a port (ip:port or [ipv6]:port)");
				return CTL_EXIT_USAGE;
			}
			addrs[naddr++] = optarg;
			break;
		default:
			ctl_usage(split_help);
		}
	}
	if (argc - optind != 1 || n == 0)
		ctl_usage(split_help);
	if (naddr != 0 && naddr != n) {
		fprintf(stderr, "dnsrouterctl: split: %d --addr for %d shards: "
		    "give one per shard, or none\n", naddr, n);
		return CTL_EXIT_USAGE;
	}
	zonefile = argv[optind];

	if (origin_arg != NULL && ldns_str2rdf_dname(&origin, origin_arg) !=
	    LDNS_STATUS_OK) {
		fprintf(stderr, "dnsrouterctl: split: bad origin %s\n", origin_arg);
		return CTL_EXIT_USAGE;
	}
	if ((fp = fopen(zonefile, "r")) == NULL) {
		fprintf(stderr, "dnsrouterctl: split: %s: %s\n", zonefile,
		    strerror(errno));
		ldns_rdf_deep_free(origin);
		return CTL_EXIT_FAIL;
	}
	z = read_zone(fp, zonefile, &origin);
	fclose(fp);
	if (z == NULL) {
		ldns_rdf_deep_free(origin);
		return CTL_EXIT_FAIL;
	}
	soa = ldns_zone_soa(z);
	if (origin == NULL)
		origin = ldns_rdf_clone(ldns_rr_owner(soa));
	ldns_dname2canonical(origin);
	if (ldns_dname_compare(ldns_rr_owner(soa), origin) != 0) {
		fprintf(stderr, "dnsrouterctl: split: %s: the SOA is not at the "
		    "origin\n", zonefile);
		goto out;
	}
	otext = name_str(origin);
	olabels = ldns_dname_label_count(origin);

	/* Weigh each first character by its records. */
	memset(weight, 0, sizeof(weight));
	rrs = ldns_zone_rrs(z);
	for (i = 0; i < ldns_rr_list_rr_count(rrs); i++) {
		const ldns_rdf *o = ldns_rr_owner(ldns_rr_list_rr(rrs, i));
		uint8_t below = (uint8_t)(ldns_dname_label_count(o) - olabels);
		int idx;
		ldns_rdf *label;
		char *s;

		if (!ldns_dname_is_subdomain(o, origin) ||
		    is_nsec3(ldns_rr_list_rr(rrs, i)))
			continue;
		label = ldns_dname_label(o, (uint8_t)(below - 1));
		s = label ? ldns_rdf2str(label) : NULL;
		ldns_rdf_deep_free(label);
		if (s != NULL && (idx = shard_char_index(s[0])) >= 0)
			weight[idx]++;
		else
			other++;
		free(s);
	}
	if (shard_partition(weight, other, n, first) < 0) {
		fprintf(stderr, "dnsrouterctl: split: cannot make %d shards\n", n);
		goto out;
	}

	apex = ldns_rr_list_new();
	everywhere = ldns_rr_list_new();
	addrrs = ldns_rr_list_new();
	nsecs = ldns_rr_list_new();
	chain3 = ldns_rr_list_new();
	for (k = 0; k < n; k++) {
		sh[k].rrs = ldns_rr_list_new();
		sh[k].targets = ldns_rr_list_new();
		sh[k].copies = ldns_rr_list_new();
		sh[k].ncopies = 0;
	}
	for (i = 0; i < ldns_rr_list_rr_count(rrs); i++) {
		ldns_rr *rr = ldns_rr_list_rr(rrs, i);
		const ldns_rdf *o = ldns_rr_owner(rr), *t;
		ldns_rr_type type = ldns_rr_get_type(rr);

		if (is_nsec3(rr) && ldns_dname_is_subdomain(o, origin)) {
			/* Hashed owners: any shard may need any of them. */
			ldns_rr_list_push_rr(chain3, rr);
			continue;
		}
		if (ldns_dname_compare(o, origin) == 0) {
			ldns_rr_list_push_rr(apex, rr);
			if ((t = target_of(rr, origin)) != NULL)
				for (k = 0; k < n; k++)
					add_target(sh[k].targets, t);
			continue;
		}
		if (!ldns_dname_is_subdomain(o, origin)) {
			char *s = name_str(o);

			fprintf(stderr, "dnsrouterctl: split: %s: %s is not in "
			    "zone %s, left out\n", zonefile, s, otext);
			free(s);
			continue;
		}
		if (type == LDNS_RR_TYPE_A || type == LDNS_RR_TYPE_AAAA)
			ldns_rr_list_push_rr(addrrs, rr);
		k = shard_of_owner(o, (uint8_t)(ldns_dname_label_count(o) -
		    olabels), first, n);
		if (k < 0) {
			ldns_rr_list_push_rr(everywhere, rr);
			if ((t = target_of(rr, origin)) != NULL)
				for (k = 0; k < n; k++)
					add_target(sh[k].targets, t);
			continue;
		}
		ldns_rr_list_push_rr(sh[k].rrs, rr);
		if (type == LDNS_RR_TYPE_NSEC || is_nsec_sig(rr))
			ldns_rr_list_push_rr(nsecs, rr);
		if ((t = target_of(rr, origin)) != NULL)
			add_target(sh[k].targets, t);
	}
	copy_nsecs(nsecs, origin, olabels, first, n, sh);

	if (mkdir(outdir, 0755) == -1 && errno != EEXIST) {
		fprintf(stderr, "dnsrouterctl: split: %s: %s\n", outdir,
		    strerror(errno));
		goto free_lists;
	}
	snprintf(base, sizeof(base), "%s", strcmp(otext, ".") == 0 ? "root." :
	    otext);
	rc = 0;
	for (k = 0; k < n && rc == 0; k++) {
		char apexre[1024];

		if ((size_t)snprintf(sh[k].file, sizeof(sh[k].file),
		    "%s/%sshard%d.zone", outdir, base, k + 1) >=
		    sizeof(sh[k].file)) {
			fprintf(stderr, "dnsrouterctl: split: %s: path too "
			    "long\n", outdir);
			rc = CTL_EXIT_FAIL;
			break;
		}
		if (shard_class(first, n, k, cls, sizeof(cls)) < 0 ||
		    shard_regexp(first, n, k, otext, re, sizeof(re)) < 0 ||
		    shard_apex_regexp(otext, apexre, sizeof(apexre)) < 0) {
			fprintf(stderr, "dnsrouterctl: split: origin too long\n");
			rc = CTL_EXIT_FAIL;
			break;
		}
		if (write_shard(&sh[k], k, n, cls, zonefile, soa, apex,
		    everywhere, addrrs, chain3) != 0) {
			rc = CTL_EXIT_FAIL;
			break;
		}
		printf("# shard %d of %d: %zu records, names starting with %s: "
		    "%s\n", k + 1, n, ldns_rr_list_rr_count(sh[k].rrs), cls,
		    sh[k].file);
		if (sh[k].ncopies > 0)
			printf("#   and %zu NSEC records (%zu with their RRSIGs) of "
			    "names in other shards, for denial of names routed "
			    "here\n", sh[k].ncopies,
			    ldns_rr_list_rr_count(sh[k].copies));
		if (ldns_rr_list_rr_count(chain3) > 0)
			printf("#   and the whole NSEC3 chain: %zu records (NSEC3 "
			    "and RRSIG), %.0f%% of the zone\n",
			    ldns_rr_list_rr_count(chain3), 100.0 *
			    (double)ldns_rr_list_rr_count(chain3) /
			    (double)(ldns_rr_list_rr_count(rrs) + 1));
		if (naddr > 0) {
			printf("%s,%s\n%s,%s\n", addrs[k], re, addrs[k], apexre);
		} else {
			printf("SHARD%d_ADDR,%s\nSHARD%d_ADDR,%s\n", k + 1, re,
			    k + 1, apexre);
		}
	}
	if (rc == 0 && self_check(zonefile, origin, z, sh, n) != 0)
		rc = CTL_EXIT_FAIL;
free_lists:
	/* The lists borrow the zone's records: free only the lists. */
	ldns_rr_list_free(apex);
	ldns_rr_list_free(everywhere);
	ldns_rr_list_free(addrrs);
	ldns_rr_list_free(nsecs);
	ldns_rr_list_free(chain3);
	for (k = 0; k < n; k++) {
		ldns_rr_list_free(sh[k].rrs);
		ldns_rr_list_free(sh[k].copies);
		ldns_rr_list_deep_free(sh[k].targets);
	}
out:
	free(otext);
	ldns_rdf_deep_free(origin);
	ldns_zone_deep_free(z);
	return rc;
}
