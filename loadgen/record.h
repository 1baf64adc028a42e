/*
 * record.h - what a worker measures as its requests complete: latencies, request and byte
 * counts and errors, into the current one-second interval and, inside the measurement
 * window, into the run's totals.
 *
 * Latency is taken at the batch clock (w->now).  Corrected latency runs from the intended
 * send time (coordinated omission corrected): it goes into the interval histogram and the
 * window's hist_c.  Uncorrected latency runs from the actual send and is kept only in an
 * open loop (in a closed loop the two are the same).  Samples before the window (ramp-up,
 * warm-up) show in the progress line only.
 *
 * Open loop, the schedule against the window (w->pace, stats.h): each connection counts
 * its requests sent and finished (nsent, ndone; both in request order, except that udp
 * may finish out of order).  At the window start S the worker notes the requests intended
 * before S that are not finished (behind_start); when it stops, at E, it counts per
 * connection the requests intended in [S, E) (scheduled), how many of them were sent,
 * and those intended before E that are not finished (behind_end).  Every request finished
 * in the window is either one of the behind_start or one scheduled, and every scheduled
 * one either finished in the window or is among the behind_end: so, exactly,
 * finished = scheduled + behind_start - behind_end.
 */
#ifndef RL_LG_RECORD_H
#define RL_LG_RECORD_H

#include <stdint.h>

#include "hist.h"
#include "lg_conn.h"
#include "stats.h"
#include "worker.h"

/* One request completed now: it was intended at `intended` and sent at `sent`. */
void lg_record_reply(struct lg_worker *w, uint64_t intended, uint64_t sent);

/* c's request, intended at `intended`, is being sent now (cycle: its connect). */
void lg_record_sent(struct lg_worker *w, struct lg_conn *c, uint64_t intended);

/* One more of c's requests is finished (completed, or counted lost). */
static inline void lg_record_done(struct lg_conn *c)
{
	c->ndone++;
}

/* Open loop: the window has started (the first batch inside it): notes behind_start. */
void lg_record_window_start(struct lg_worker *w);

/* Open loop: the worker stops: counts the schedule of the window up to E (or up to now,
 * when it stops earlier).  Nothing when the window had not started. */
void lg_record_window_end(struct lg_worker *w);

/* Inside the window only: records now - intended into h (a mode's extra histogram). */
void lg_record_since(struct lg_worker *w, struct rl_hist *h, uint64_t intended);

/* n bytes were received. */
static inline void lg_record_bytes_in(struct lg_worker *w, uint64_t n)
{
	w->cur.bytes_in += n;
	if (w->in_window)
		w->bytes_in += n;
}

/* n bytes were sent. */
static inline void lg_record_bytes_out(struct lg_worker *w, uint64_t n)
{
	w->cur.bytes_out += n;
	if (w->in_window)
		w->bytes_out += n;
}

/* Counts one error of `kind` (err: a negative errno, or 0) in the run and the interval. */
void lg_record_error(struct lg_worker *w, enum lg_err_kind kind, int err);

/* Prepares the worker's interval and window histograms (hist_u only in an open loop).
 * Returns 0 or -ENOMEM; lg_record_free frees whatever was made. */
int lg_record_init(struct lg_worker *w);

/* Frees the histograms and intervals (after the worker was joined). */
void lg_record_free(struct lg_worker *w);

#endif
