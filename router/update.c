/*
 * Dynamic updates (RFC 2136) and NOTIFY (RFC 1996) through the router.
 *
 * An UPDATE names its zone in the question; the zone's route (its first
 * match) gives the zone's backends and their shards (shards.h). Every name
 * the update's prerequisites and updates touch must route to one shard:
 * the update goes, unchanged but for its ID, to that shard's primary (the
 * backend registered with "primary": true, or the shard's only backend),
 * once, without a retry elsewhere. TSIG passes through: the MAC covers
 * the original ID, which the TSIG record carries (RFC 8945 4.3). What
 * cannot go to one primary is REFUSED, and why is logged (at most once a
 * second): names in several shards, the apex of a sharded zone (every
 * shard holds it), a shard with no primary.
 *
 * A NOTIFY is routed like a query of its zone; no route is NOTAUTH.
 */
#include <stdio.h>
#include <string.h>

#include "addr.h"
#include "dnsrr.h"
#include "dnswire.h"
#include "log.h"
#include "query.h"
#include "router.h"
#include "routetable.h"
#include "shards.h"
#include "table.h"
#include "update.h"

static struct ev_loop	*loop;

void
update_init(const struct router *r)
{
	loop = r->loop;
}

#define REFUSE_REASONS	12

static void
refuse(const uint8_t *pkt, size_t len, const struct dns_question *q,
    const struct client *c, int rcode, const char *why, const char *detail)
{
	/*
	 * At most once a second per reason (the reasons are a handful of
	 * string constants): a flood of one kind hides no other kind.
	 */
	static struct {
		const char	*why;
		double		 last;
	} seen[REFUSE_REASONS];
	char who[ADDR_STRLEN];
	unsigned i;

	for (i = 0; i < REFUSE_REASONS && seen[i].why != NULL &&
	    seen[i].why != why; i++)
		;
	if (i == REFUSE_REASONS)
		i = 0;		/* more reasons than slots: share the first */
	if (seen[i].why != why || ev_now(loop) - seen[i].last >= 1.0) {
		seen[i].why = why;
		seen[i].last = ev_now(loop);
		log_warnx("update of %s from %s: %s%s%s", q->text,
		    addr_format((const struct sockaddr *)&c->addr, who,
		    sizeof(who)), why, detail[0] ? ": " : "", detail);
	}
	query_answer_error(pkt, len, q, rcode, c);
	if (c->ops->done != NULL)
		c->ops->done(c);
}

/* The shard the names of the update route to: >= 0, or -1 with why. */
static int
one_shard(struct live_table *t, const struct shards *sh, const uint8_t *pkt,
    size_t len, const char **why, char *name)
{
	struct dns_rr_iter it;
	struct dns_rr rr;
	int shard = -1, rc;

	if (dns_rr_iter_init(&it, pkt, len) != 0) {
		*why = "malformed";
		return -2;
	}
	while ((rc = dns_rr_next(&it, &rr)) == 1) {
		long r;

		if (rr.section == DNS_SECTION_ADDITIONAL)
			continue;	/* TSIG, OPT */
		r = table_match(t, name, dns_name_text(rr.owner, name));
		if (r < 0 || sh->first_shard[r] == SHARD_NONE) {
			*why = "a name outside the zone's routes";
			return -1;
		}
		if ((uint32_t)r == sh->zone_route && sh->n > 1) {
			*why = "the apex of a sharded zone (each shard holds "
			    "its own copy)";
			return -1;
		}
		if (shard >= 0 && shard != sh->first_shard[r]) {
			*why = "names in more than one shard";
			return -1;
		}
		shard = sh->first_shard[r];
	}
	if (rc != 0) {
		*why = "malformed";
		return -2;
	}
	if (shard < 0) {
		if (sh->n > 1) {
			*why = "no names: which shard is not known";
			return -1;
		}
		shard = 0;
	}
	name[0] = '\0';
	return shard;
}

void
update_dispatch(const uint8_t *pkt, size_t len, const struct dns_question *q,
    const struct client *c)
{
	struct live_table *t = table_current();
	const struct shards *sh;
	const struct rt_route *zr;
	const char *why = "";
	char name[DNS_NAME_TEXT_MAX];
	uint32_t j, primary = UINT32_MAX, members = 0, only = 0;
	long r;
	int shard;

	if (t == NULL) {
		refuse(pkt, len, q, c, DNS_RCODE_SERVFAIL, "no table yet", "");
		return;
	}
	if (q->qtype != DNS_TYPE_SOA) {
		/* RFC 2136 3.1.1: the zone section's type is SOA. */
		refuse(pkt, len, q, c, DNS_RCODE_FORMERR, "zone type not SOA", "");
		return;
	}
	r = table_match(t, q->text, q->text_len);
	if (r < 0 || t->rt->routes[r].nbackends == 0) {
		refuse(pkt, len, q, c, DNS_RCODE_NOTAUTH, "no route for the zone",
		    "");
		return;
	}
	if ((sh = shards_cached(t->rt, (uint32_t)r, &why)) == NULL) {
		refuse(pkt, len, q, c, DNS_RCODE_SERVFAIL, why, "");
		return;
	}
	name[0] = '\0';
	if ((shard = one_shard(t, sh, pkt, len, &why, name)) < 0) {
		refuse(pkt, len, q, c, shard == -2 ? DNS_RCODE_FORMERR :
		    DNS_RCODE_REFUSED, why, name);
		return;
	}
	zr = &t->rt->routes[r];
	for (j = 0; j < zr->nbackends; j++) {
		uint32_t b = zr->backends[j];

		if (sh->shard_of[b] != shard)
			continue;
		members++;
		only = b;
		if (t->rt->backends[b].flags & RT_FLAG_PRIMARY)
			primary = b;
	}
	if (primary == UINT32_MAX && members == 1)
		primary = only;
	if (primary == UINT32_MAX) {
		snprintf(name, sizeof(name), "shard %d has %u backends and none "
		    "registered as primary", shard + 1, members);
		refuse(pkt, len, q, c, DNS_RCODE_REFUSED, "no primary", name);
		return;
	}
	query_dispatch_to(pkt, len, q, c, (uint32_t)r, primary);
}

void
notify_dispatch(const uint8_t *pkt, size_t len, const struct dns_question *q,
    const struct client *c)
{
	struct live_table *t = table_current();

	if (t != NULL && table_match(t, q->text, q->text_len) < 0) {
		query_answer_error(pkt, len, q, DNS_RCODE_NOTAUTH, c);
		if (c->ops->done != NULL)
			c->ops->done(c);
		return;
	}
	query_dispatch(pkt, len, q, c);
}
