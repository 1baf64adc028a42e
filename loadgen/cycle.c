/*
 * cycle.c - one request per connection (lg_proto.conn_per_request, e.g. greeting): each
 * connection slot connects, receives the server's reply up to EOF, closes and connects
 * again, for the whole run.
 *
 * A slot's k-th connect is *intended* at once in a closed loop (the moment the previous
 * cycle closed), and at sched_t0 + k * period in an open loop (--rate R: R connections per
 * second in total, each slot at R/N per second from a random phase).  Three latencies are
 * measured from the intended connect time (so a late connect, because the slot was still
 * busy, counts its wait: coordinated omission corrected):
 *   connect     the connect completion;
 *   first byte  the first byte of the reply (time to first byte);
 *   total       the server's EOF after a complete, verified reply (the main histogram,
 *               and the one the progress line and --hgrm/--log show).
 * In an open loop the total is also recorded from the actual connect (uncorrected).
 *
 * A clean cycle ends with the server's EOF; the slot then closes and starts the next
 * cycle.  Any error (connect failure, timeout, mismatch, a reply cut short, bytes after
 * the reply) drops the slot for good, like a connection of the other protocols, so errors
 * stay visible; the run ends early once every slot is gone.
 */
#include <errno.h>

#include "log.h"
#include "worker.h"

static bool open_loop(const struct lg_worker *w)
{
	return w->period_ns > 0;
}

static void connect_now(struct lg_worker *w, struct lg_conn *c, uint64_t intended)
{
	c->slots[0].intended = intended;
	c->slots[0].sent = w->now;
	c->cycles++;
	c->issued = c->produced = c->replied = 0;
	c->reply_off = c->prod_off = 0;
	lg_conn_connect(w, c);
}

void lg_cycle_begin(struct lg_worker *w, struct lg_conn *c)
{
	w->cycling++;
	if (open_loop(w)) {
		c->sched_t0 = w->now + lg_conn_phase_ns(w, c);
	}
	lg_cycle_next(w, c);
}

void lg_cycle_next(struct lg_worker *w, struct lg_conn *c)
{
	uint64_t t;

	if (!open_loop(w)) {
		connect_now(w, c, w->now);
		return;
	}
	t = c->sched_t0 + (uint64_t)((double)c->cycles * w->period_ns);
	if (t > w->now)
		lg_sched_push(&w->sched, &c->sched, t);
	else
		connect_now(w, c, t);
}

void lg_cycle_timer(struct lg_worker *w, struct lg_conn *c)
{
	if (c->state != LC_IDLE)
		return;
	connect_now(w, c, c->sched_t0 + (uint64_t)((double)c->cycles * w->period_ns));
}

void lg_cycle_connected(struct lg_worker *w, struct lg_conn *c)
{
	c->issued = c->produced = 1; /* the request: nothing to send, a reply expected */
	if (w->in_window)
		rl_hist_record(&w->hist_connect, (int64_t)(w->now - c->slots[0].intended));
	lg_traffic_arm_recv(w, c);
}

void lg_cycle_first_byte(struct lg_worker *w, struct lg_conn *c)
{
	if (w->in_window)
		rl_hist_record(&w->hist_ttfb, (int64_t)(w->now - c->slots[0].intended));
}

void lg_cycle_eof(struct lg_worker *w, struct lg_conn *c)
{
	const struct lg_slot *s = &c->slots[0];
	int64_t total = (int64_t)(w->now - s->intended);
	struct lg_mismatch mm;

	if (c->replied < c->issued) {
		/* The reply was cut short: a mismatch at the first missing byte. */
		mm.offset = c->reply_off;
		mm.expected = -1;
		mm.got = -1;
		lg_traffic_report_mismatch(w, c, &mm);
		lg_conn_fail(w, c, LG_ERR_MISMATCH, -EBADMSG);
		return;
	}
	rl_hist_record(&w->cur.hist, total);
	w->cur.requests++;
	if (w->in_window) {
		w->requests++;
		rl_hist_record(&w->hist_c, total);
		if (open_loop(w))
			rl_hist_record(&w->hist_u, (int64_t)(w->now - s->sent));
	}
	c->flags |= LCF_RECYCLE;
	lg_conn_close(w, c);
}

void lg_cycle_recycle(struct lg_worker *w, struct lg_conn *c)
{
	c->flags &= (uint8_t) ~(LCF_RECYCLE | LCF_CLOSE_SENT | LCF_RECV_ARMED | LCF_SEND_BUSY);
	c->state = LC_IDLE;
	c->fd = -1;
	c->slen = c->soff = 0;
	if (w->now >= w->win_end)
		return;
	lg_cycle_next(w, c);
}
