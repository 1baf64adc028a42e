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
