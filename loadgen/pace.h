/*
 * pace.h - the open-loop schedule: when each connection's k-th request (or connect) is
 * intended to go.
 *
 * With --rate a connection's requests are intended at sched_t0 + k * period, where period
 * is the worker's period_ns (its senders' share of the rate) and sched_t0 the moment the
 * connection started plus a pseudo-random phase in [0, period) drawn from the run seed and
 * the connection's global index, so that the connections do not fire together and a shard
 * (or another thread split) gives connection i the schedule a single process would have.
 * Without --rate (closed loop) a request is intended when it is sent.  A connection that
 * waits for its next intended time sits in the worker's timer heap (lg_sched.h).
 */
#ifndef RL_LG_PACE_H
#define RL_LG_PACE_H

#include <stdbool.h>
#include <stdint.h>

#include "lg_conn.h"
#include "worker.h"

/* True when the run is open loop (--rate): requests go at their intended times. */
static inline bool lg_pace_open(const struct lg_worker *w)
{
	return w->period_ns > 0;
}

/* The intended time of c's k-th request (open loop only). */
static inline uint64_t lg_pace_at(const struct lg_worker *w, const struct lg_conn *c, uint64_t k)
{
	return c->sched_t0 + (uint64_t)((double)k * w->period_ns);
}

/* Open loop: how many of c's requests are intended before t (0 while c's schedule has not
 * started).  Exact: the count of k with lg_pace_at(w, c, k) < t. */
uint64_t lg_pace_due(const struct lg_worker *w, const struct lg_conn *c, uint64_t t);

/* Open loop: starts c's schedule now, at its phase (sched_t0).  Closed loop: nothing. */
void lg_pace_start(struct lg_worker *w, struct lg_conn *c);

/* Wakes c at time t (the worker calls its mode's timer hook then), unless it is already
 * waiting for t.  Returns 0 or -ENOSPC. */
int lg_pace_wake(struct lg_worker *w, struct lg_conn *c, uint64_t t);

/* c no longer waits for a time. */
void lg_pace_cancel(struct lg_worker *w, struct lg_conn *c);

/* One step of splitmix64 on the state *s: a well mixed 64-bit value (the phases here, and
 * each connection's protocol seed in worker.c). */
uint64_t lg_pace_mix(uint64_t *s);

#endif
