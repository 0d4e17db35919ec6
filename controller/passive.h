/*
 * Passive health: what routers saw of one backend on real traffic, kept
 * over a sliding window of 100 ms slots (routers report every 100 ms), and
 * whether that shows the backend failing. Judged are the newest attempts
 * that ended, at least health-passive-min-attempts of them within
 * health-passive-window; health-passive-failure-percent of them failed is
 * too many. A failure counts when another backend then answered the query.
 * A failure of a query that no backend answered is a fact about the name:
 * it counts only if the backend answered nothing at all in the window, and
 * even then only as a suspicion that a health check must confirm (a
 * backend alone on its route that died, or one that answers nothing but
 * names nobody answers, look the same to traffic).
 */
#ifndef DNSROUTER_PASSIVE_H
#define DNSROUTER_PASSIVE_H

#include <stdint.h>

#define PASSIVE_SLOT_MS		100

struct passive_slot {
	uint64_t	tick;		/* the 100 ms it holds (time / 100 ms) */
	uint32_t	answered;
	uint32_t	failed;		/* attempts that timed out or broke */
	uint32_t	unanswered;	/* of failed: queries no backend answered */
};

/* One backend's window: nslots slots, allocated by the first passive_add. */
struct passive {
	struct passive_slot	*slot;
};

struct passive_params {
	unsigned	nslots;		/* the window in slots, at least 1 */
	unsigned	min_attempts;	/* 0: passive health off */
	unsigned	percent;	/* failures per 100 attempts that fail it */
};

enum passive_verdict {
	PASSIVE_OK,
	PASSIVE_FAILING,	/* failures others answered: out of rotation */
	PASSIVE_SUSPECT,	/* answers nothing, queries nobody answered: check it */
};

/* What passive_judge judged: the newest attempts that ended. */
struct passive_count {
	uint64_t	attempts;	/* answered + failed */
	uint64_t	failed;
	uint64_t	unanswered;	/* of failed: queries no backend answered */
	uint64_t	counted;	/* failures that count (others answered, and
					   unanswered ones if it answered nothing) */
	unsigned	slots;		/* how many of the newest slots they span */
};

/* The params of a config's health-passive-* keys. */
void passive_params(struct passive_params *pp, unsigned window_ms,
    unsigned min_attempts, unsigned percent);
/* Add one router's report, made at tick, to p's window. */
void passive_add(struct passive *p, const struct passive_params *pp,
    uint64_t tick, uint32_t answered, uint32_t failed, uint32_t unanswered);
/* What p's window at tick shows of the backend; *c says why. */
enum passive_verdict passive_judge(const struct passive *p,
    const struct passive_params *pp, uint64_t tick, struct passive_count *c);
/* Forget everything (the backend came back). */
void passive_clear(struct passive *p, const struct passive_params *pp);
void passive_free(struct passive *p);

#endif
