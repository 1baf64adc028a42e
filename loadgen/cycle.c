/*
 * cycle.c - the connection-per-request mode (lg_mode_cycle; lg_proto.conn_per_request,
 * e.g. greeting): each connection slot connects, receives the server's reply up to EOF,
 * closes and connects again, for the whole run.
 *
 * A slot's k-th connect is *intended* at once in a closed loop (the moment the previous
 * cycle closed), and at sched_t0 + k * period in an open loop (--rate R: R connections per
 * second in total, each slot at R/N per second from a random phase; pace.h).  Three
 * latencies are measured from the intended connect time (so a late connect, because the
 * slot was still busy, counts its wait: coordinated omission corrected):
 *   connect     the connect completion;
 *   first byte  the first byte of the reply (time to first byte);
 *   total       the server's EOF after a complete, verified reply (the main histogram,
 *               and the one the progress line and --hgrm/--log show).
 * In an open loop the total is also recorded from the actual connect (uncorrected).
 *
 * The reply is the one request of the connection's pipeline (pipeline.h: nothing to send,
 * a reply to verify).  A clean cycle ends with the server's EOF; the slot then closes
 * (flagged LCF_MODE) and, once the close completed, starts the next cycle.  Any error
 * (connect failure, timeout, mismatch, a reply cut short, bytes after the reply) drops the
 * slot for good, like a connection of the other modes, so errors stay visible; the run
 * ends early once every slot is gone (w->cycling counts the slots left).
 */
#include <errno.h>
#include <stdlib.h>
#include <sys/socket.h>

#include "lg_mode.h"
#include "pace.h"
#include "pipeline.h"
#include "record.h"

#define LCF_RECYCLE LCF_MODE /* closing after a clean reply: connect the slot again */

/* The mode's state: connects started per slot (the index of the next intended one). */
struct cycle_state {
	uint64_t *cycles;
};

static uint64_t *cycles_of(const struct lg_worker *w, const struct lg_conn *c)
{
	return &((struct cycle_state *)w->mode_state)->cycles[lg_conn_index(w, c)];
}

static int setup(struct lg_worker *w)
{
	struct cycle_state *st = calloc(1, sizeof(*st));
	int ret;

	if (!st)
		return -ENOMEM;
	w->mode_state = st;
	st->cycles = calloc(w->nconns, sizeof(*st->cycles));
	if (!st->cycles)
		return -ENOMEM;
	ret = lg_hist_init(&w->hist_connect);
	if (!ret)
		ret = lg_hist_init(&w->hist_ttfb);
	return ret;
}

static void teardown(struct lg_worker *w)
{
	struct cycle_state *st = w->mode_state;

	if (st)
		free(st->cycles);
	free(st);
	w->mode_state = NULL;
}

static void connect_now(struct lg_worker *w, struct lg_conn *c, uint64_t intended)
{
	c->slots[0].intended = intended;
	c->slots[0].sent = w->now;
	(*cycles_of(w, c))++;
	lg_record_sent(w, c, intended);
	c->issued = c->produced = c->replied = 0;
	c->reply_off = c->prod_off = 0;
	if (lg_conn_connect(w, c, SOCK_STREAM) < 0)
		w->cycling--; /* the slot is dead */
}

/* Slot c is idle: connects now or waits for its next intended connect (open loop). */
static void next(struct lg_worker *w, struct lg_conn *c)
{
	uint64_t t;

	if (!lg_pace_open(w)) {
		connect_now(w, c, w->now);
		return;
	}
	t = lg_pace_at(w, c, *cycles_of(w, c));
	if (t > w->now)
		lg_pace_wake(w, c, t);
	else
		connect_now(w, c, t);
}

/* Starts slot c's first cycle (ramp-up). */
static void begin(struct lg_worker *w, struct lg_conn *c)
{
	w->cycling++;
	lg_pace_start(w, c);
	next(w, c);
}

/* The scheduled connect time of c has come. */
static void timer(struct lg_worker *w, struct lg_conn *c)
{
	if (c->state != LC_IDLE)
		return;
	connect_now(w, c, lg_pace_at(w, c, *cycles_of(w, c)));
}

/* c's connect succeeded: records the connect latency, arms the recv. */
static void connected(struct lg_worker *w, struct lg_conn *c)
{
	c->issued = c->produced = 1; /* the request: nothing to send, a reply expected */
	lg_record_since(w, &w->hist_connect, c->slots[0].intended);
	lg_conn_arm_recv(w, c);
}

/* Verifies the reply (its EOF, which must follow, finishes the request); its first byte
 * records the time to first byte. */
static void on_bytes(struct lg_worker *w, struct lg_conn *c, const uint8_t *p, size_t n)
{
	if (!c->replied && !c->reply_off)
		lg_record_since(w, &w->hist_ttfb, c->slots[0].intended);
	lg_pipeline_verify(w, c, p, n, NULL);
}

/* The server closed c: a complete reply is a finished request, anything less an error. */
static void on_eof(struct lg_worker *w, struct lg_conn *c)
{
	const struct lg_slot *s = &c->slots[0];
	struct lg_mismatch mm;

	if (c->replied < c->issued) {
		/* The reply was cut short: a mismatch at the first missing byte. */
		mm.offset = c->reply_off;
		mm.expected = -1;
		mm.got = -1;
		lg_conn_mismatch(w, c, c->replied, &mm);
		return;
	}
	lg_record_reply(w, s->intended, s->sent);
	lg_record_done(c);
	c->flags |= LCF_RECYCLE;
	lg_conn_close(w, c);
}

/* No complete reply and EOF within --timeout of the connect. */
static void sweep(struct lg_worker *w, struct lg_conn *c)
{
	if (w->now - c->slots[0].sent >= w->cfg->timeout_ns)
		lg_conn_fail(w, c, LG_ERR_TIMEOUT, -ETIMEDOUT);
}

/* c has closed: after a clean request the slot is made reusable and goes on. */
static bool closed(struct lg_worker *w, struct lg_conn *c)
{
	if (!(c->flags & LCF_RECYCLE)) {
		w->cycling--; /* dropped */
		return false;
	}
	c->flags &= (uint8_t) ~(LCF_RECYCLE | LCF_CLOSE_SENT | LCF_RECV_ARMED | LCF_SEND_BUSY);
	c->state = LC_IDLE;
	c->fd = -1;
	c->slen = c->soff = 0;
	if (w->now < w->win_end)
		next(w, c);
	return true;
}

const struct lg_mode_ops lg_mode_cycle = {
    .name = "cycle",
    .sock_type = SOCK_STREAM,
    .setup = setup,
    .teardown = teardown,
    .begin = begin,
    .connected = connected,
    .on_bytes = on_bytes,
    .on_eof = on_eof,
    .on_send = lg_pipeline_on_send, /* never called: the request is empty */
    .timer = timer,
    .sweep = sweep,
    .closed = closed,
};
