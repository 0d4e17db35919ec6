/*
 * The passive health window of a backend. Slots are indexed by tick modulo
 * the window; a slot whose tick is not the one asked for is stale (nothing
 * was reported in that 100 ms) and reads as empty.
 */
#include <stdlib.h>
#include <string.h>

#include "passive.h"
#include "util.h"

void
passive_params(struct passive_params *pp, unsigned window_ms,
    unsigned min_attempts, unsigned percent)
{
	pp->nslots = (window_ms + PASSIVE_SLOT_MS - 1) / PASSIVE_SLOT_MS;
	if (pp->nslots == 0)
		pp->nslots = 1;
	pp->min_attempts = min_attempts;
	pp->percent = percent;
}

void
passive_add(struct passive *p, const struct passive_params *pp, uint64_t tick,
    uint32_t answered, uint32_t failed, uint32_t unanswered)
{
	struct passive_slot *s;

	if (answered == 0 && failed == 0)
		return;
	if (p->slot == NULL)
		p->slot = xcalloc(pp->nslots, sizeof(*p->slot));
	s = &p->slot[tick % pp->nslots];
	if (s->tick != tick) {
		memset(s, 0, sizeof(*s));
		s->tick = tick;
	}
	/* Saturate: a window of 4 billion attempts has made its point. */
	s->answered = answered > UINT32_MAX - s->answered ? UINT32_MAX :
	    s->answered + answered;
	s->failed = failed > UINT32_MAX - s->failed ? UINT32_MAX :
	    s->failed + failed;
	s->unanswered = unanswered > UINT32_MAX - s->unanswered ? UINT32_MAX :
	    s->unanswered + unanswered;
	if (s->unanswered > s->failed)
		s->unanswered = s->failed;
}

enum passive_verdict
passive_judge(const struct passive *p, const struct passive_params *pp,
    uint64_t tick, struct passive_count *c)
{
	uint64_t answered = 0, failed = 0, unanswered = 0, window_answered = 0;
	unsigned i, judged = 0;

	memset(c, 0, sizeof(*c));
	if (p->slot == NULL || pp->min_attempts == 0)
		return PASSIVE_OK;
	/*
	 * Newest first, until min_attempts have ended: under load the last
	 * few hundred milliseconds decide (a dead backend leaves fast), under
	 * light load up to the whole window. The whole window's answers are
	 * summed too: any answer clears the backend of unanswered names.
	 */
	for (i = 0; i < pp->nslots && i <= tick; i++) {
		const struct passive_slot *s = &p->slot[(tick - i) % pp->nslots];

		if (s->tick != tick - i)
			continue;
		window_answered += s->answered;
		if (judged)
			continue;
		answered += s->answered;
		failed += s->failed;
		unanswered += s->unanswered;
		if (answered + failed >= pp->min_attempts) {
			judged = 1;
			c->slots = i + 1;
		}
	}
	if (!judged)
		return PASSIVE_OK;
	c->attempts = answered + failed;
	c->failed = failed;
	c->unanswered = unanswered;
	c->counted = failed - unanswered;
	if (c->counted * 100 >= (uint64_t)pp->percent * c->attempts)
		return PASSIVE_FAILING;
	if (window_answered > 0)
		return PASSIVE_OK;
	c->counted += unanswered;
	if (c->counted * 100 >= (uint64_t)pp->percent * c->attempts)
		return PASSIVE_SUSPECT;
	return PASSIVE_OK;
}

void
passive_clear(struct passive *p, const struct passive_params *pp)
{
	if (p->slot != NULL)
		memset(p->slot, 0, pp->nslots * sizeof(*p->slot));
}

void
passive_free(struct passive *p)
{
	free(p->slot);
	p->slot = NULL;
}
