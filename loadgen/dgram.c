/*
 * dgram.c - the datagram mode (lg_mode_dgram; lg_proto.datagram, e.g. udp): one connected
 * UDP socket per connection, one datagram per request, replies matched by sequence number.
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
 * A reply resolves its datagram (RTT recorded, record.h: corrected from the intended send
 * time, and uncorrected from the actual one in an open loop).  A datagram with no reply within
 * --timeout is counted lost and resolved (found by the periodic sweep), so a lost reply
 * never stalls a socket for longer than --timeout.  Also counted, never fatal: replies
 * arriving after a reply to a later datagram (reordered), second replies (duplicates,
 * recognised over the last LG_DG_HISTORY numbers) and replies to datagrams already
 * counted lost (late).  A reply whose bytes differ from what was sent (or, with
 * --reply-any/--expect, from the fixed text) is a mismatch and drops the socket.  A
 * request slot's mark says whether its datagram is pending, answered or lost; the
 * answered bits of the last LG_DG_HISTORY numbers and the highest number answered are the
 * mode's own state, per socket.
 *
 * The header (layouts in proto_udp.c) is this file's: the sequence number and the send
 * time, or with --sockperf sockperf's header (big endian: sequence number, flags, length)
 * and then the send time.  A reply's header must be the one sent, byte for byte, but for
 * sockperf's client bit, which the server clears.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "lg_mode.h"
#include "pace.h"
#include "record.h"
#include "udata.h"

#define HEADER 16u /* sequence number, send time */

/* --sockperf: sockperf's header (big endian), then the send time (HEADER_SP bytes). */
#define SP_FLAGS_AT 8u
#define SP_LEN_AT   10u
#define SP_TIME_AT  14u
#define HEADER_SP   22u
#define SP_CLIENT   0x0001u /* from a client: the server's reply clears it */
#define SP_PONG_REQ 0x0002u /* asks for a reply */

/* Answered bits kept per socket: duplicates are told from late replies this far back. */
#define LG_DG_HISTORY 8192u

/* What a request slot's mark says of its datagram. */
enum { LG_DG_PENDING = 0, LG_DG_ANSWERED, LG_DG_LOST };

/* The mode's state, per socket (indexed like the worker's conns[]). */
struct dgram_state {
	uint64_t *bits;	    /* LG_DG_HISTORY answered bits per socket */
	uint64_t *max_seen; /* highest sequence number answered + 1 */
};

static struct dgram_state *state(const struct lg_worker *w)
{
	return w->mode_state;
}

/* One datagram per buffer; one byte more than expected shows an oversized one. */
static void recv_buffers(const struct lg_worker *w, uint64_t *bsize, uint64_t *bcount)
{
	const struct lg_config *cfg = w->cfg;
	uint64_t dmax =
	    cfg->params.size > cfg->params.expect_len ? cfg->params.size : cfg->params.expect_len;

	*bsize = dmax + 1 < 2048 ? 2048 : dmax + 1;
	*bcount = (uint64_t)w->nconns * cfg->pipeline;
}

/* A datagram per window slot, built in place (the budget is checked by cli.c). */
static uint64_t send_buffer(const struct lg_worker *w)
{
	return w->cfg->params.size * (w->slot_mask + 1);
}

static int setup(struct lg_worker *w)
{
	struct dgram_state *st = calloc(1, sizeof(*st));

	if (!st)
		return -ENOMEM;
	w->mode_state = st;
	st->bits = calloc((size_t)w->nconns * (LG_DG_HISTORY / 64), sizeof(uint64_t));
	st->max_seen = calloc(w->nconns, sizeof(uint64_t));
	return st->bits && st->max_seen ? 0 : -ENOMEM;
}

static void teardown(struct lg_worker *w)
{
	struct dgram_state *st = state(w);

	if (st) {
		free(st->bits);
		free(st->max_seen);
	}
	free(st);
	w->mode_state = NULL;
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

static void put_be(uint8_t *p, uint64_t v, unsigned n)
{
	unsigned i;

	for (i = 0; i < n; i++)
		p[i] = (uint8_t)(v >> (8 * (n - 1 - i)));
}

static uint64_t get_be64(const uint8_t *p)
{
	uint64_t v = 0;
	unsigned i;

	for (i = 0; i < 8; i++)
		v = (v << 8) | p[i];
	return v;
}

/* Bytes of a datagram before the protocol's filler. */
static size_t header_len(const struct lg_config *cfg)
{
	return cfg->params.sockperf ? HEADER_SP : HEADER;
}

/* Writes the header of datagram seq, sent at `sent`: as it goes out, or (reply) as the
 * server must send it back.  Returns its length. */
static size_t header_put(const struct lg_config *cfg, uint8_t *p, uint64_t seq, uint64_t sent,
			 bool reply)
{
	if (!cfg->params.sockperf) {
		put64(p, seq);
		put64(p + 8, sent);
		return HEADER;
	}
	put_be(p, seq, 8);
	put_be(p + SP_FLAGS_AT, reply ? SP_PONG_REQ : SP_CLIENT | SP_PONG_REQ, 2);
	put_be(p + SP_LEN_AT, cfg->params.size, 4);
	put64(p + SP_TIME_AT, sent);
	return HEADER_SP;
}

/* The sequence number in the header at p (header_len() bytes). */
static uint64_t header_seq(const struct lg_config *cfg, const uint8_t *p)
{
	return cfg->params.sockperf ? get_be64(p) : get64(p);
}

/* c's answered bits. */
static uint64_t *bits_of(const struct lg_worker *w, const struct lg_conn *c)
{
	return state(w)->bits + (size_t)lg_conn_index(w, c) * (LG_DG_HISTORY / 64);
}

static void bit_set(uint64_t *bits, uint64_t seq, bool on)
{
	uint64_t b = seq % LG_DG_HISTORY, m = 1ull << (b % 64);

	if (on)
		bits[b / 64] |= m;
	else
		bits[b / 64] &= ~m;
}

static bool bit_get(const uint64_t *bits, uint64_t seq)
{
	uint64_t b = seq % LG_DG_HISTORY;

	return (bits[b / 64] >> (b % 64)) & 1;
}

/* Builds datagram `seq` in its slot of the send buffer and queues its send. */
static bool send_one(struct lg_worker *w, struct lg_conn *c, uint64_t seq, uint64_t intended)
{
	const struct lg_config *cfg = w->cfg;
	size_t size = (size_t)cfg->params.size;
	struct lg_slot *s = &c->slots[seq & w->slot_mask];
	uint8_t *buf = c->sbuf + (size_t)(seq & w->slot_mask) * size;
	struct io_uring_sqe *sqe = lg_sqe(w);
	size_t hl;

	if (!sqe)
		return false;
	s->intended = intended;
	s->sent = w->now;
	s->mark = LG_DG_PENDING;
	bit_set(bits_of(w, c), seq, false);
	hl = header_put(cfg, buf, seq, w->now, false);
	cfg->proto->request_produce(c->pstate, seq, hl, buf + hl, size - hl);
	io_uring_prep_send(sqe, c->fd, buf, size, MSG_NOSIGNAL);
	lg_sqe_file(w, sqe);
	io_uring_sqe_set_data64(sqe, rl_udata(c, RL_OP_SEND));
	c->inflight++;
	lg_record_sent(w, c, intended);
	if (w->in_window)
		w->dg.sent++;
	return true;
}

/* Releases datagrams that may go now and sends them (one SQE each). */
static void issue(struct lg_worker *w, struct lg_conn *c)
{
	uint64_t k = w->cfg->pipeline, t = w->now;

	if (c->state != LC_OPEN)
		return;
	while (c->issued - c->replied < k) {
		if (lg_pace_open(w)) {
			t = lg_pace_at(w, c, c->issued);
			if (t > w->now)
				break;
		}
		if (!send_one(w, c, c->issued, t))
			return;
		c->issued++;
	}
	if (!lg_pace_open(w))
		return;
	if (c->issued - c->replied < k)
		lg_pace_wake(w, c, t);
	else
		lg_pace_cancel(w, c);
}

/* The socket c is connected: arms its recv and starts sending. */
static void start(struct lg_worker *w, struct lg_conn *c)
{
	lg_conn_arm_recv(w, c);
	lg_pace_start(w, c);
	issue(w, c);
}

/* A datagram's send completed (the worker has counted it off c->inflight). */
static void on_send(struct lg_worker *w, struct lg_conn *c, const struct rl_cqe *cqe)
{
	if (c->state != LC_OPEN)
		return;
	if (cqe->res < 0) {
		lg_conn_fail(w, c, cqe->res == -ECONNREFUSED ? LG_ERR_RESET : LG_ERR_IO, cqe->res);
		return;
	}
	lg_record_bytes_out(w, (uint64_t)cqe->res);
}

/* Moves the window base over resolved datagrams and lets new ones go. */
static void advance(struct lg_worker *w, struct lg_conn *c)
{
	while (c->replied < c->issued && c->slots[c->replied & w->slot_mask].mark != LG_DG_PENDING)
		c->replied++;
	issue(w, c);
}

static void answer(struct lg_worker *w, struct lg_conn *c, uint64_t seq)
{
	struct lg_slot *s = &c->slots[seq & w->slot_mask];
	uint64_t *max_seen = &state(w)->max_seen[lg_conn_index(w, c)];

	s->mark = LG_DG_ANSWERED;
	bit_set(bits_of(w, c), seq, true);
	lg_record_reply(w, s->intended, s->sent);
	lg_record_done(c);
	if (w->in_window) {
		w->dg.answered++;
		if (seq + 1 < *max_seen)
			w->dg.reordered++;
	}
	if (seq + 1 > *max_seen)
		*max_seen = seq + 1;
}

static void mismatch(struct lg_worker *w, struct lg_conn *c, uint64_t seq, uint64_t off,
		     int expected, int got)
{
	struct lg_mismatch mm = {.offset = off, .expected = expected, .got = got};

	lg_conn_mismatch(w, c, seq, &mm);
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
		if (c->slots[seq & w->slot_mask].mark == LG_DG_PENDING)
			break;
	if (seq == c->issued) {
		if (w->in_window)
			w->dg.duplicates++; /* nothing outstanding: an extra reply */
		return;
	}
	answer(w, c, seq);
	advance(w, c);
}

/* Handles one received datagram of n bytes at p. */
static void on_datagram(struct lg_worker *w, struct lg_conn *c, const uint8_t *p, size_t n)
{
	const struct lg_config *cfg = w->cfg;
	size_t hl = header_len(cfg), i;
	uint8_t want[HEADER_SP];
	struct lg_mismatch mm;
	const struct lg_slot *s;
	uint64_t seq;
	bool done = false;

	if (cfg->params.reply_any) {
		on_fixed_reply(w, c, p, n);
		return;
	}
	if (n < hl) {
		mismatch(w, c, c->replied, n, -1, -1);
		return;
	}
	seq = header_seq(cfg, p);
	if (seq >= c->issued) {
		mismatch(w, c, seq, 0, -1, p[0]); /* a number never sent */
		return;
	}
	s = &c->slots[seq & w->slot_mask];
	if (seq < c->replied || s->mark != LG_DG_PENDING) {
		bool dup = c->issued - seq <= LG_DG_HISTORY && bit_get(bits_of(w, c), seq);

		if (w->in_window) {
			if (dup)
				w->dg.duplicates++;
			else
				w->dg.late++;
		}
		return;
	}
	header_put(cfg, want, seq, s->sent, true);
	for (i = 0; i < hl && p[i] == want[i]; i++)
		;
	if (i < hl) {
		mismatch(w, c, seq, i, want[i], p[i]); /* e.g. not the send time we wrote */
		return;
	}
	if (n != cfg->params.size) {
		mismatch(w, c, seq, n < cfg->params.size ? n : cfg->params.size, -1, -1);
		return;
	}
	if (cfg->proto->reply_verify(c->pstate, seq, hl, p + hl, n - hl, &done, &mm) < 0) {
		mismatch(w, c, seq, mm.offset, mm.expected, mm.got);
		return;
	}
	answer(w, c, seq);
	advance(w, c);
}

/* An empty datagram arrived (recv returned 0). */
static void on_empty(struct lg_worker *w, struct lg_conn *c)
{
	static const uint8_t nothing[1];

	on_datagram(w, c, nothing, 0);
}

/* Counts datagrams unanswered for --timeout as lost and moves the window on. */
static void sweep(struct lg_worker *w, struct lg_conn *c)
{
	uint64_t seq, timeout = w->cfg->timeout_ns;
	bool any = false;

	for (seq = c->replied; seq < c->issued; seq++) {
		struct lg_slot *s = &c->slots[seq & w->slot_mask];

		if (s->mark != LG_DG_PENDING || w->now - s->sent < timeout)
			continue;
		s->mark = LG_DG_LOST;
		lg_record_done(c);
		any = true;
		if (w->in_window)
			w->dg.lost++;
	}
	if (any)
		advance(w, c);
}

const struct lg_mode_ops lg_mode_dgram = {
    .name = "dgram",
    .sock_type = SOCK_DGRAM,
    .recv_buffers = recv_buffers,
    .send_buffer = send_buffer,
    .setup = setup,
    .teardown = teardown,
    .connected = start,
    .on_bytes = on_datagram,
    .on_eof = on_empty,
    .on_send = on_send,
    .timer = issue,
    .sweep = sweep,
};
