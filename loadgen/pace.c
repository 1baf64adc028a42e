/*
 * pace.c - the open-loop schedule (pace.h): each connection's phase and its wake-ups.
 *
 * The phase is a pure function of the run seed and the connection's global index (the
 * arithmetic must not change: shard runs are checked against a single process).
 */
#include "pace.h"

uint64_t lg_pace_mix(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* c's phase: a pseudo-random offset in [0, period). */
static uint64_t phase_ns(const struct lg_worker *w, const struct lg_conn *c)
{
	uint64_t s = w->cfg->seed ^ (0xd1b54a32d192ed03ull * ((uint64_t)c->id + 1));

	return (uint64_t)((double)(lg_pace_mix(&s) >> 11) * 0x1p-53 * w->period_ns);
}

uint64_t lg_pace_due(const struct lg_worker *w, const struct lg_conn *c, uint64_t t)
{
	uint64_t k;

	if (!c->sched_t0 || t <= c->sched_t0)
		return 0; /* not started, or request 0 is not due before t */
	/* The estimate, then to the exact boundary of lg_pace_at's rounding. */
	k = (uint64_t)((double)(t - c->sched_t0) / w->period_ns);
	while (k > 0 && lg_pace_at(w, c, k - 1) >= t)
		k--;
	while (lg_pace_at(w, c, k) < t)
		k++;
	return k;
}

void lg_pace_start(struct lg_worker *w, struct lg_conn *c)
{
	if (lg_pace_open(w))
		c->sched_t0 = w->now + phase_ns(w, c);
}

int lg_pace_wake(struct lg_worker *w, struct lg_conn *c, uint64_t t)
{
	if (lg_sched_queued(&c->sched) && c->sched.key == t)
		return 0;
	return lg_sched_push(&w->sched, &c->sched, t);
}

void lg_pace_cancel(struct lg_worker *w, struct lg_conn *c)
{
	lg_sched_remove(&w->sched, &c->sched);
}
