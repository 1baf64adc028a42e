/*
 * dgram.c - the datagram data path (lg_proto.datagram, e.g. udp): one connected UDP
 * socket per connection, one datagram per request, replies matched by sequence number.
 *
 * Each socket numbers its datagrams 0, 1, 2, ...; `issued` is the next number, `replied`
 * the lowest one still unresolved (the window base), and at most --pipeline datagrams are
 * unresolved at once (closed loop: the next goes as soon as one resolves; open loop: at
 * its intended time if the window has room).  Datagram k is built in slot k % window of
 * the socket's send buffer and goes out in its own send SQE; all the sends of a batch are
 * submitted together by the one io_uring_enter of the batch.  Replies come from one
 * multishot recv per socket on the worker's provided-buffer ring: each completion is one
 * datagram.
 *
 * A reply resolves its datagram (RTT recorded: corrected from the intended send time, and
 * uncorrected from the actual one in an open loop).  A datagram with no reply within
 * --timeout is counted lost and resolved (found by the periodic sweep), so a lost reply
 * never stalls a socket for longer than --timeout.  Also counted, never fatal: replies
 * arriving after a reply to a later datagram (reordered), second replies (duplicates,
 * recognised over the last LG_DG_HISTORY numbers) and replies to datagrams already
 * counted lost (late).  A reply whose bytes differ from what was sent (or, with
 * --reply-any/--expect, from the fixed text) is a mismatch and drops the socket.
 */
#include <errno.h>
#include <string.h>

#include "log.h"
#include "udata.h"
#include "worker.h"

#define HEADER 16u

static bool open_loop(const struct lg_worker *w)
{
	return w->period_ns > 0;
}

static void put64(uint8_t *p, uint64_t v)
{
	int i;

	for (i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get64(const uint8_t *p)
{
	uint64_t v = 0;
	int i;

	for (i = 7; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

static void bit_set(struct lg_conn *c, uint64_t seq, bool on)
{
	uint64_t b = seq % LG_DG_HISTORY, m = 1ull << (b % 64);

	if (on)
		c->dg_bits[b / 64] |= m;
	else
		c->dg_bits[b / 64] &= ~m;
}

static bool bit_get(const struct lg_conn *c, uint64_t seq)
{
	uint64_t b = seq % LG_DG_HISTORY;

	return (c->dg_bits[b / 64] >> (b % 64)) & 1;
}

void lg_dgram_start(struct lg_worker *w, struct lg_conn *c)
{
	lg_traffic_arm_recv(w, c);
	if (open_loop(w)) {
		c->sched_t0 = w->now + lg_conn_phase_ns(w, c);
	}
	lg_dgram_issue(w, c);
}

/* Builds datagram `seq` in its slot of the send buffer and queues its send. */
static bool send_one(struct lg_worker *w, struct lg_conn *c, uint64_t seq, uint64_t intended)
{
	const struct lg_config *cfg = w->cfg;
	size_t size = (size_t)cfg->params.size;
	struct lg_slot *s = &c->slots[seq & w->slot_mask];
	uint8_t *buf = c->sbuf + (size_t)(seq & w->slot_mask) * size;
	struct io_uring_sqe *sqe = lg_sqe(w);

	if (!sqe)
		return false;
	s->intended = intended;
	s->sent = w->now;
	s->dg = LG_DG_PENDING;
	bit_set(c, seq, false);
	put64(buf, seq);
	put64(buf + 8, w->now);
	cfg->proto->request_produce(c->pstate, seq, HEADER, buf + HEADER, size - HEADER);
	io_uring_prep_send(sqe, c->fd, buf, size, MSG_NOSIGNAL);
	lg_sqe_file(w, sqe);
	io_uring_sqe_set_data64(sqe, rl_udata(c, RL_OP_SEND));
	c->inflight++;
	if (w->in_window)
		w->dg.sent++;
	return true;
}

void lg_dgram_issue(struct lg_worker *w, struct lg_conn *c)
{
	uint64_t k = w->cfg->pipeline, t = w->now;

	if (c->state != LC_OPEN)
		return;
	while (c->issued - c->replied < k) {
		if (open_loop(w)) {
			t = c->sched_t0 + (uint64_t)((double)c->issued * w->period_ns);
			if (t > w->now)
				break;
		}
		if (!send_one(w, c, c->issued, t))
			return;
		c->issued++;
	}
	if (!open_loop(w))
		return;
	if (c->issued - c->replied < k) {
		if (!lg_sched_queued(&c->sched) || c->sched.key != t)
			lg_sched_push(&w->sched, &c->sched, t);
	} else {
		lg_sched_remove(&w->sched, &c->sched);
	}
}

void lg_dgram_on_send(struct lg_worker *w, struct lg_conn *c, const struct rl_cqe *cqe)
{
	c->inflight--;
	if (c->state != LC_OPEN)
		return;
	if (cqe->res < 0) {
		lg_conn_fail(w, c, cqe->res == -ECONNREFUSED ? LG_ERR_RESET : LG_ERR_IO, cqe->res);
		return;
	}
	w->cur.bytes_out += (uint64_t)cqe->res;
	if (w->in_window)
		w->bytes_out += (uint64_t)cqe->res;
}

/* Moves the window base over resolved datagrams and lets new ones go. */
static void advance(struct lg_worker *w, struct lg_conn *c)
{
	while (c->replied < c->issued && c->slots[c->replied & w->slot_mask].dg != LG_DG_PENDING)
		c->replied++;
	lg_dgram_issue(w, c);
}

static void answer(struct lg_worker *w, struct lg_conn *c, uint64_t seq)
{
	struct lg_slot *s = &c->slots[seq & w->slot_mask];
	int64_t rtt = (int64_t)(w->now - s->intended);

	s->dg = LG_DG_ANSWERED;
	bit_set(c, seq, true);
	rl_hist_record(&w->cur.hist, rtt);
	w->cur.requests++;
	if (w->in_window) {
		w->requests++;
		w->dg.answered++;
		rl_hist_record(&w->hist_c, rtt);
		if (open_loop(w))
			rl_hist_record(&w->hist_u, (int64_t)(w->now - s->sent));
		if (seq + 1 < c->max_seen)
			w->dg.reordered++;
	}
	if (seq + 1 > c->max_seen)
		c->max_seen = seq + 1;
}

static void mismatch(struct lg_worker *w, struct lg_conn *c, uint64_t seq, uint64_t off,
		     int expected, int got)
{
	struct lg_mismatch mm = {.offset = off, .expected = expected, .got = got};
	uint64_t keep = c->replied;

	c->replied = seq; /* the report names the datagram */
	lg_traffic_report_mismatch(w, c, &mm);
	c->replied = keep;
	lg_conn_fail(w, c, LG_ERR_MISMATCH, -EBADMSG);
}

/* --reply-any / --expect: the reply is fixed text; it answers the oldest pending one. */
static void on_fixed_reply(struct lg_worker *w, struct lg_conn *c, const uint8_t *p, size_t n)
{
	const struct lg_proto_params *pp = &w->cfg->params;
	uint64_t seq;
	size_t i;

	if (pp->expect) {
		for (i = 0; i < n && i < pp->expect_len && p[i] == pp->expect[i]; i++)
			;
		if (i < n || n != pp->expect_len) {
			mismatch(w, c, c->replied, i, i < pp->expect_len ? pp->expect[i] : -1,
				 i < n ? p[i] : -1);
			return;
		}
	}
	for (seq = c->replied; seq < c->issued; seq++)
		if (c->slots[seq & w->slot_mask].dg == LG_DG_PENDING)
			break;
	if (seq == c->issued) {
		if (w->in_window)
			w->dg.duplicates++; /* nothing outstanding: an extra reply */
		return;
	}
	answer(w, c, seq);
	advance(w, c);
}

void lg_dgram_on_datagram(struct lg_worker *w, struct lg_conn *c, const uint8_t *p, size_t n)
{
	const struct lg_config *cfg = w->cfg;
	struct lg_mismatch mm;
	const struct lg_slot *s;
	uint64_t seq;
	bool done = false;

	if (cfg->params.reply_any) {
		on_fixed_reply(w, c, p, n);
		return;
	}
	if (n < HEADER) {
		mismatch(w, c, c->replied, n, -1, -1);
		return;
	}
	seq = get64(p);
	if (seq >= c->issued) {
		mismatch(w, c, seq, 0, -1, p[0]); /* a number never sent */
		return;
	}
	s = &c->slots[seq & w->slot_mask];
	if (seq < c->replied || s->dg != LG_DG_PENDING) {
		bool dup = c->issued - seq <= LG_DG_HISTORY && bit_get(c, seq);

		if (w->in_window) {
			if (dup)
				w->dg.duplicates++;
			else
				w->dg.late++;
		}
		return;
	}
	if (get64(p + 8) != s->sent) {
		mismatch(w, c, seq, 8, -1, -1); /* not the send time we wrote */
		return;
	}
	if (n != cfg->params.size) {
		mismatch(w, c, seq, n < cfg->params.size ? n : cfg->params.size, -1, -1);
		return;
	}
	if (cfg->proto->reply_verify(c->pstate, seq, HEADER, p + HEADER, n - HEADER, &done, &mm) <
	    0) {
		mismatch(w, c, seq, mm.offset, mm.expected, mm.got);
		return;
	}
	answer(w, c, seq);
	advance(w, c);
}

void lg_dgram_sweep(struct lg_worker *w, struct lg_conn *c)
{
	uint64_t seq, timeout = w->cfg->timeout_ns;
	bool any = false;

	for (seq = c->replied; seq < c->issued; seq++) {
		struct lg_slot *s = &c->slots[seq & w->slot_mask];

		if (s->dg != LG_DG_PENDING || w->now - s->sent < timeout)
			continue;
		s->dg = LG_DG_LOST;
		any = true;
		if (w->in_window)
			w->dg.lost++;
	}
	if (any)
		advance(w, c);
}
