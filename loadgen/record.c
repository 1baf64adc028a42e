/*
 * record.c - a worker's measurements (record.h): the latency histograms of the interval
 * and of the window, the request, byte and error counts.
 */
#include "record.h"
#include "pace.h"

void lg_record_reply(struct lg_worker *w, uint64_t intended, uint64_t sent)
{
	int64_t corrected = (int64_t)(w->now - intended);

	rl_hist_record(&w->cur.hist, corrected);
	w->cur.requests++;
	if (!w->in_window)
		return; /* ramp-up and warm-up: progress only */
	w->requests++;
	rl_hist_record(&w->hist_c, corrected);
	if (lg_pace_open(w))
		rl_hist_record(&w->hist_u, (int64_t)(w->now - sent));
}

void lg_record_since(struct lg_worker *w, struct rl_hist *h, uint64_t intended)
{
	if (w->in_window)
		rl_hist_record(h, (int64_t)(w->now - intended));
}

void lg_record_sent(struct lg_worker *w, struct lg_conn *c, uint64_t intended)
{
	c->nsent++;
	if (w->in_window && w->now > intended && w->now - intended > w->pace.send_late_max_ns)
		w->pace.send_late_max_ns = w->now - intended;
}

/* The requests of c intended before t and not finished by now. */
static uint64_t unfinished(const struct lg_worker *w, const struct lg_conn *c, uint64_t t)
{
	uint64_t due = lg_pace_due(w, c, t);

	return due > c->ndone ? due - c->ndone : 0;
}

void lg_record_window_start(struct lg_worker *w)
{
	unsigned i;

	if (!lg_pace_open(w))
		return;
	for (i = 0; i < w->nconns; i++)
		w->pace.behind_start += unfinished(w, &w->conns[i], w->win_start);
}

void lg_record_window_end(struct lg_worker *w)
{
	uint64_t end = w->now < w->win_end ? w->now : w->win_end, ks, ke, late;
	unsigned i;

	if (!lg_pace_open(w) || !w->win_start || w->now < w->win_start)
		return;
	if (!w->window_seen)
		lg_record_window_start(w); /* the window went by between two batches */
	for (i = 0; i < w->nconns; i++) {
		const struct lg_conn *c = &w->conns[i];

		ks = lg_pace_due(w, c, w->win_start);
		ke = lg_pace_due(w, c, end);
		w->pace.scheduled += ke - ks;
		/* Requests go in order: the first nsent are the ones sent. */
		w->pace.sent += (c->nsent < ks ? ks : c->nsent > ke ? ke : c->nsent) - ks;
		w->pace.behind_end += unfinished(w, c, end);
		if (c->nsent < ke) { /* due before E and not sent: late until E */
			late = end - lg_pace_at(w, c, c->nsent);
			if (late > w->pace.send_late_max_ns)
				w->pace.send_late_max_ns = late;
		}
	}
}

void lg_record_error(struct lg_worker *w, enum lg_err_kind kind, int err)
{
	lg_errors_count(&w->err, kind, err);
	w->cur.errors++;
}

int lg_record_init(struct lg_worker *w)
{
	int ret = lg_hist_init(&w->hist_c);

	if (!ret && lg_pace_open(w))
		ret = lg_hist_init(&w->hist_u);
	if (!ret)
		ret = lg_interval_init(&w->cur);
	if (!ret)
		ret = lg_pub_init(&w->pub);
	return ret;
}

void lg_record_free(struct lg_worker *w)
{
	rl_hist_free(&w->hist_c);
	rl_hist_free(&w->hist_u);
	rl_hist_free(&w->hist_connect);
	rl_hist_free(&w->hist_ttfb);
	lg_interval_free(&w->cur);
	lg_pub_free(&w->pub);
}
