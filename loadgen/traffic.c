/*
 * traffic.c - requests out, replies in: the per-connection data path of a worker.
 *
 * Each connection numbers its requests 0, 1, 2, ... and keeps four counters:
 *   replied <= produced <= issued, with issued - replied <= --pipeline.
 * A request is *issued* when it may go (closed loop: as soon as the pipeline has room;
 * open loop: once its intended time has come and the pipeline has room), *produced* when
 * the protocol has copied it into the connection's send buffer (that is when its send time
 * is stamped: the batch in which the send carrying its first byte is prepared), and
 * *replied* once every byte of its reply has arrived and matched.
 *
 * Sends: one in flight per connection.  Requests issued while it is in flight, and all
 * requests issued in the same batch, go out together in the next send (coalescing); a
 * short send resumes from where it stopped.  Receives: one multishot recv per connection
 * selecting from the worker's provided-buffer ring; the bytes are verified in place and
 * the buffer goes straight back.  A recv that ends (no IORING_CQE_F_MORE) is re-armed;
 * one that ended with -ENOBUFS waits on the starved list until buffers are back.
 *
 * Latency, per reply, at the batch clock: corrected = now - intended send time, recorded
 * in the interval and the window histograms; uncorrected = now - actual send time (open
 * loop only; in a closed loop the two are the same and only one is kept).
 */
#include <errno.h>
#include <stddef.h>
#include <string.h>

#include "log.h"
#include "udata.h"
#include "worker.h"

#define MISMATCH_LOG_MAX 10

static bool open_loop(const struct lg_worker *w)
{
	return w->period_ns > 0;
}

static uint64_t intended_at(const struct lg_worker *w, const struct lg_conn *c, uint64_t k)
{
	return c->sched_t0 + (uint64_t)((double)k * w->period_ns);
}

/* True once request r's first byte has been handed to a send. */
static bool is_sent(const struct lg_conn *c, uint64_t r)
{
	return r < c->produced || (r == c->produced && c->prod_off > 0);
}

void lg_traffic_mark_dirty(struct lg_worker *w, struct lg_conn *c)
{
	if (c->flags & LCF_DIRTY)
		return;
	c->flags |= LCF_DIRTY;
	c->next_dirty = w->dirty;
	w->dirty = c;
}

void lg_traffic_arm_recv(struct lg_worker *w, struct lg_conn *c)
{
	struct io_uring_sqe *sqe;

	if (c->state != LC_OPEN || (c->flags & (LCF_RECV_ARMED | LCF_STARVED)))
		return;
	sqe = lg_sqe(w);
	if (!sqe)
		return;
	io_uring_prep_recv_multishot(sqe, c->fd, NULL, 0, 0);
	lg_sqe_file(w, sqe);
	sqe->flags |= IOSQE_BUFFER_SELECT;
	sqe->buf_group = LG_BUFFER_GROUP;
	io_uring_sqe_set_data64(sqe, rl_udata(c, RL_OP_RECV));
	c->inflight++;
	c->flags |= LCF_RECV_ARMED;
}

void lg_traffic_start(struct lg_worker *w, struct lg_conn *c)
{
	lg_traffic_arm_recv(w, c);
	if (open_loop(w)) {
		c->sched_t0 = w->now + lg_conn_phase_ns(w, c);
	}
	lg_traffic_issue(w, c);
}

void lg_traffic_issue(struct lg_worker *w, struct lg_conn *c)
{
	uint64_t before = c->issued, k = w->cfg->pipeline, t = 0;

	if (c->state != LC_OPEN || w->cfg->proto->conn_per_request)
		return;
	if (w->cfg->proto->datagram) {
		lg_dgram_issue(w, c);
		return;
	}
	if (!open_loop(w)) {
		c->issued = c->replied + k;
	} else {
		while (c->issued - c->replied < k) {
			t = intended_at(w, c, c->issued);
			if (t > w->now)
				break;
			c->slots[c->issued & w->slot_mask].intended = t;
			c->issued++;
		}
		if (c->issued - c->replied < k) {
			/* Room in the pipeline: wake up at the next intended time. */
			if (!lg_sched_queued(&c->sched) || c->sched.key != t)
				lg_sched_push(&w->sched, &c->sched, t);
		} else {
			/* Pipeline full: the next reply decides (the request will be late, and its
			 * corrected latency counts the wait from its intended time). */
			lg_sched_remove(&w->sched, &c->sched);
		}
	}
	if (c->issued != before)
		lg_traffic_mark_dirty(w, c);
}

/* Copies issued requests into the empty send buffer, stamping their send times. */
static void fill(struct lg_worker *w, struct lg_conn *c)
{
	const struct lg_proto *p = w->cfg->proto;
	bool closed = !open_loop(w);

	if (p->broadcast) {
		lg_chat_fill(w, c);
		return;
	}
	while (c->produced < c->issued && c->slen < w->sbuf_cap) {
		uint64_t i = c->produced, len = p->request_len(c->pstate, i);
		uint64_t left = len - c->prod_off, room = w->sbuf_cap - c->slen;
		size_t n = (size_t)(left < room ? left : room);

		if (c->prod_off == 0) {
			struct lg_slot *s = &c->slots[i & w->slot_mask];

			s->sent = w->now;
			if (closed)
				s->intended = w->now;
		}
		if (n)
			p->request_produce(c->pstate, i, c->prod_off, c->sbuf + c->slen, n);
		c->slen += (uint32_t)n;
		c->prod_off += n;
		if (c->prod_off == len) {
			c->produced++;
			c->prod_off = 0;
		}
	}
}

static void send_more(struct lg_worker *w, struct lg_conn *c)
{
	struct io_uring_sqe *sqe;

	if (c->soff == c->slen) {
		c->soff = c->slen = 0;
		fill(w, c);
	}
	if (c->soff == c->slen)
		return;
	sqe = lg_sqe(w);
	if (!sqe)
		return;
	io_uring_prep_send(sqe, c->fd, c->sbuf + c->soff, c->slen - c->soff, MSG_NOSIGNAL);
	lg_sqe_file(w, sqe);
	io_uring_sqe_set_data64(sqe, rl_udata(c, RL_OP_SEND));
	c->inflight++;
	c->flags |= LCF_SEND_BUSY;
}

void lg_traffic_flush(struct lg_worker *w)
{
	struct lg_conn *c;

	while ((c = w->dirty)) {
		w->dirty = c->next_dirty;
		c->flags &= ~LCF_DIRTY;
		if (c->state == LC_OPEN && !(c->flags & LCF_SEND_BUSY))
			send_more(w, c);
	}
}

static enum lg_err_kind io_kind(int res)
{
	return res == -ECONNRESET || res == -EPIPE ? LG_ERR_RESET : LG_ERR_IO;
}

void lg_traffic_on_send(struct lg_worker *w, struct lg_conn *c, const struct rl_cqe *cqe)
{
	c->inflight--;
	c->flags &= ~LCF_SEND_BUSY;
	if (c->state != LC_OPEN)
		return;
	if (cqe->res <= 0) {
		lg_conn_fail(w, c, io_kind(cqe->res ? cqe->res : -EPIPE),
			     cqe->res ? cqe->res : -EPIPE);
		return;
	}
	c->soff += (uint32_t)cqe->res;
	w->cur.bytes_out += (uint64_t)cqe->res;
	if (w->in_window)
		w->bytes_out += (uint64_t)cqe->res;
	if (c->soff < c->slen || c->produced < c->issued)
		lg_traffic_mark_dirty(w, c); /* the rest, and whatever was issued meanwhile */
}

static void record(struct lg_worker *w, struct lg_conn *c, uint64_t r)
{
	const struct lg_slot *s = &c->slots[r & w->slot_mask];
	int64_t corrected = (int64_t)(w->now - s->intended);

	rl_hist_record(&w->cur.hist, corrected);
	w->cur.requests++;
	if (!w->in_window)
		return; /* ramp-up and warm-up: progress only */
	w->requests++;
	rl_hist_record(&w->hist_c, corrected);
	if (open_loop(w))
		rl_hist_record(&w->hist_u, (int64_t)(w->now - s->sent));
}

void lg_traffic_report_mismatch(struct lg_worker *w, const struct lg_conn *c,
				const struct lg_mismatch *mm)
{
	if (atomic_fetch_add(&w->run->mismatch_logged, 1) >= MISMATCH_LOG_MAX)
		return;
	if (mm->got < 0) {
		rl_warn("reply cut short on connection %u, request %llu: EOF after %llu bytes",
			c->id, (unsigned long long)c->replied, (unsigned long long)mm->offset);
		return;
	}
	rl_warn("reply mismatch on connection %u, request %llu, reply byte %llu: got 0x%02x, "
		"expected 0x%02x",
		c->id, (unsigned long long)c->replied, (unsigned long long)mm->offset,
		(unsigned)mm->got & 0xffu, (unsigned)mm->expected & 0xffu);
}

/* Verifies n received bytes against the outstanding requests, oldest first. */
static void consume(struct lg_worker *w, struct lg_conn *c, const uint8_t *p, size_t n)
{
	const struct lg_proto *proto = w->cfg->proto;
	struct lg_mismatch mm;
	bool done, completed = false;
	long k;

	while (n) {
		if (!is_sent(c, c->replied)) {
			lg_conn_fail(w, c, LG_ERR_UNEXPECTED, -EPROTO);
			return;
		}
		done = false;
		k = proto->reply_verify(c->pstate, c->replied, c->reply_off, p, n, &done, &mm);
		if (k < 0) {
			lg_traffic_report_mismatch(w, c, &mm);
			lg_conn_fail(w, c, LG_ERR_MISMATCH, -EBADMSG);
			return;
		}
		if (k == 0 && !done) {
			lg_conn_fail(w, c, LG_ERR_UNEXPECTED, -EPROTO);
			return;
		}
		p += k;
		n -= (size_t)k;
		c->reply_off += (uint64_t)k;
		if (done && proto->conn_per_request) {
			c->replied++; /* complete; the EOF that follows finishes it (cycle.c) */
			c->reply_off = 0;
		} else if (done) {
			record(w, c, c->replied);
			if (proto->reply_done)
				proto->reply_done(c->pstate, c->replied);
			c->replied++;
			c->reply_off = 0;
			completed = true;
		}
	}
	if (completed)
		lg_traffic_issue(w, c);
}

static void starve(struct lg_worker *w, struct lg_conn *c)
{
	c->flags |= LCF_STARVED;
	c->next_starved = NULL;
	if (w->starved_tail)
		w->starved_tail->next_starved = c;
	else
		w->starved_head = c;
	w->starved_tail = c;
}

void lg_traffic_on_recv(struct lg_worker *w, struct lg_conn *c, const struct rl_cqe *cqe)
{
	bool more = cqe->flags & IORING_CQE_F_MORE;
	int res = cqe->res;

	if (!more) {
		c->flags &= ~LCF_RECV_ARMED;
		c->inflight--;
	}
	if (res > 0) {
		unsigned bid = cqe->flags >> IORING_CQE_BUFFER_SHIFT;
		uint8_t *p =
		    (cqe->flags & IORING_CQE_F_BUFFER) ? rl_bufring_take(&w->br, bid) : NULL;

		if (!p) {
			rl_err("thread %u: recv completion without a valid buffer (flags 0x%x)",
			       w->index, cqe->flags);
			lg_conn_fail(w, c, LG_ERR_IO, -EIO);
			return;
		}
		if (c->state == LC_OPEN) {
			w->cur.bytes_in += (uint64_t)res;
			if (w->in_window)
				w->bytes_in += (uint64_t)res;
			if (w->cfg->proto->conn_per_request && !c->replied && !c->reply_off)
				lg_cycle_first_byte(w, c);
			if (w->cfg->proto->datagram)
				lg_dgram_on_datagram(w, c, p, (size_t)res);
			else if (w->cfg->proto->broadcast)
				lg_chat_on_bytes(w, c, p, (size_t)res);
			else
				consume(w, c, p, (size_t)res);
		}
		rl_bufring_recycle(&w->br, bid);
	} else if (res == 0 && w->cfg->proto->datagram) {
		static const uint8_t nothing[1];

		if (cqe->flags & IORING_CQE_F_BUFFER)
			rl_bufring_recycle(&w->br, cqe->flags >> IORING_CQE_BUFFER_SHIFT);
		if (c->state == LC_OPEN)
			lg_dgram_on_datagram(w, c, nothing, 0); /* an empty datagram */
	} else if (res == 0) {
		if (w->cfg->proto->conn_per_request && c->state == LC_OPEN)
			lg_cycle_eof(w, c);
		else
			lg_conn_fail(w, c, LG_ERR_EOF, 0);
	} else if (res == -ENOBUFS) {
		if (!more && c->state == LC_OPEN && !(c->flags & LCF_STARVED))
			starve(w, c);
	} else if (res != -ECANCELED) {
		lg_conn_fail(w, c, io_kind(res), res);
	}
	if (!more) /* the multishot ended for a benign reason: keep reading */
		lg_traffic_arm_recv(w, c);
}

void lg_traffic_rearm_starved(struct lg_worker *w)
{
	unsigned budget = rl_bufring_available(&w->br);

	while (w->starved_head && budget--) {
		struct lg_conn *c = w->starved_head;

		w->starved_head = c->next_starved;
		if (!w->starved_head)
			w->starved_tail = NULL;
		c->flags &= ~LCF_STARVED;
		lg_traffic_arm_recv(w, c);
	}
}

void lg_traffic_timers(struct lg_worker *w)
{
	struct lg_sched_node *n;

	bool cycle = w->cfg->proto->conn_per_request;
	struct lg_conn *c;

	while ((n = lg_sched_pop_due(&w->sched, w->now))) {
		c = (struct lg_conn *)((char *)n - offsetof(struct lg_conn, sched));
		if (cycle)
			lg_cycle_timer(w, c);
		else
			lg_traffic_issue(w, c);
	}
}

void lg_traffic_sweep(struct lg_worker *w)
{
	uint64_t timeout = w->cfg->timeout_ns;
	unsigned i;

	w->next_sweep = w->now + w->sweep_ns;
	for (i = 0; i < w->next_connect; i++) {
		struct lg_conn *c = &w->conns[i];

		if (c->state == LC_CONNECTING && w->now - c->t_connect >= timeout) {
			lg_conn_fail(w, c, LG_ERR_CONNECT_TIMEOUT, -ETIMEDOUT);
		} else if (c->state == LC_OPEN && w->cfg->proto->datagram) {
			lg_dgram_sweep(w, c);
		} else if (c->state == LC_OPEN && c->replied < c->issued &&
			   is_sent(c, c->replied) &&
			   w->now - c->slots[c->replied & w->slot_mask].sent >= timeout) {
			lg_conn_fail(w, c, LG_ERR_TIMEOUT, -ETIMEDOUT);
		} else if (c->state == LC_OPEN && w->cfg->proto->conn_per_request &&
			   w->now - c->slots[0].sent >= timeout) {
			lg_conn_fail(w, c, LG_ERR_TIMEOUT, -ETIMEDOUT); /* no EOF after the reply */
		}
	}
}

void lg_traffic_stop(struct lg_worker *w, struct lg_conn *c)
{
	struct lg_conn **pp, *prev = NULL;

	lg_sched_remove(&w->sched, &c->sched);
	if (!(c->flags & LCF_STARVED))
		return;
	for (pp = &w->starved_head; *pp; prev = *pp, pp = &(*pp)->next_starved) {
		if (*pp == c) {
			*pp = c->next_starved;
			if (w->starved_tail == c)
				w->starved_tail = prev;
			break;
		}
	}
	c->flags &= ~LCF_STARVED;
}
