/*
 * test_loadgen_pace.c - the open-loop schedule's counts (pace.h): lg_pace_due is exactly
 * the number of intended times before t (checked against counting them one by one, with
 * periods that do not divide evenly), and a window of W seconds holds rate x W intended
 * times within one per connection, whatever the phases: the bound the integration tests
 * put on ringlab-load's totals.scheduled.
 */
#include <math.h>
#include <string.h>

#include "load.h"
#include "pace.h"
#include "tap.h"

static uint64_t rng = 88172645463325252ull;

/* Pseudo-random numbers: pace.c's splitmix64 step. */
static uint64_t next(void)
{
	return lg_pace_mix(&rng);
}

/* The intended times of c before t, counted one by one. */
static uint64_t due_by_counting(const struct lg_worker *w, const struct lg_conn *c, uint64_t t)
{
	uint64_t k = 0;

	if (!c->sched_t0)
		return 0;
	while (lg_pace_at(w, c, k) < t)
		k++;
	return k;
}

int main(void)
{
	static const double periods[] = {1e6, 333333.3333333333, 1e9 / 7.0, 8e6, 12345.678};
	static struct lg_conn conns[50];
	struct lg_config cfg;
	struct lg_worker w;
	uint64_t t, due, sum, s, per_lo, per_hi;
	int i, p, exact = 1, on_edges = 1, within = 1, each = 1;
	double rate, want;

	memset(&cfg, 0, sizeof(cfg));
	memset(&w, 0, sizeof(w));
	w.cfg = &cfg;
	memset(conns, 0, sizeof(conns));
	tap_ok(lg_pace_due(&w, &conns[0], 123456789) == 0,
	       "a schedule not started has nothing due");

	for (p = 0; p < (int)(sizeof(periods) / sizeof(periods[0])); p++) {
		w.period_ns = periods[p];
		for (i = 0; i < 200; i++) {
			conns[0].sched_t0 = 1000000000ull + next() % 1000000000ull;
			t = conns[0].sched_t0 - 50 + next() % (uint64_t)(400 * w.period_ns);
			due = lg_pace_due(&w, &conns[0], t);
			if (due != due_by_counting(&w, &conns[0], t))
				exact = 0;
			/* Exactly at an intended time, and one nanosecond past it. */
			t = lg_pace_at(&w, &conns[0], next() % 300);
			if (lg_pace_due(&w, &conns[0], t) != due_by_counting(&w, &conns[0], t) ||
			    lg_pace_due(&w, &conns[0], t + 1) != lg_pace_due(&w, &conns[0], t) + 1)
				on_edges = 0;
		}
	}
	tap_ok(exact, "lg_pace_due counts the intended times before t exactly");
	tap_ok(on_edges, "an intended time at t is not due before t, and is one nanosecond later");

	/* 50 connections at 5000/s in total (each every 10 ms) and at 7/s in total, phases
	 * from the seed (lg_pace_start), windows of 2 s and 1.3 s starting after every phase. */
	for (p = 0; p < 4; p++) {
		rate = p < 2 ? 5000.0 : 7.0;
		w.period_ns = 1e9 * 50 / rate;
		cfg.seed = next();
		w.now = 5000000000ull;
		for (i = 0; i < 50; i++) {
			conns[i].id = (uint32_t)i;
			lg_pace_start(&w, &conns[i]);
		}
		s = w.now + (uint64_t)w.period_ns + next() % 1000000000ull;
		t = p % 2 ? 1300000000ull : 2000000000ull;
		want = rate * (double)t / 1e9;
		per_lo = (uint64_t)floor((double)t / w.period_ns);
		per_hi = (uint64_t)ceil((double)t / w.period_ns);
		for (i = 0, sum = 0; i < 50; i++) {
			due = lg_pace_due(&w, &conns[i], s + t) - lg_pace_due(&w, &conns[i], s);
			if (due < per_lo || due > per_hi)
				each = 0;
			sum += due;
		}
		if (fabs((double)sum - want) > 50)
			within = 0;
		tap_diag("rate %.0f/s, window %.1f s: %llu intended (rate x window %.1f)", rate,
			 (double)t / 1e9, (unsigned long long)sum, want);
	}
	tap_ok(each, "each connection has floor or ceil of window / period intended times");
	tap_ok(within, "a window holds rate x window intended times, within one per connection");
	return tap_done();
}
