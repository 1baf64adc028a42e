/*
 * pipeline.c - requests out and replies matched on a byte stream (pipeline.h): issuing
 * under the pipeline bound and the open-loop schedule, coalesced sends from the dirty
 * list, in-order reply verification and the reply timeout.
 */
#include <errno.h>

#include "pace.h"
#include "pipeline.h"
#include "record.h"
#include "udata.h"

/* True once request r's first byte has been handed to a send. */
static bool is_sent(const struct lg_conn *c, uint64_t r)
{
	return r < c->produced || (r == c->produced && c->prod_off > 0);
}

void lg_pipeline_mark_dirty(struct lg_worker *w, struct lg_conn *c)
{
	if (c->flags & LCF_DIRTY)
		return;
	c->flags |= LCF_DIRTY;
	rl_list_insert_head(&w->dirty, &c->dirty);
}

void lg_pipeline_start(struct lg_worker *w, struct lg_conn *c)
{
	lg_conn_arm_recv(w, c);
	lg_pace_start(w, c);
	lg_pipeline_issue(w, c);
}

void lg_pipeline_issue(struct lg_worker *w, struct lg_conn *c)
{
	uint64_t before = c->issued, k = w->cfg->pipeline, t = 0;

	if (c->state != LC_OPEN)
		return;
	if (!lg_pace_open(w)) {
		c->issued = c->replied + k;
	} else {
		while (c->issued - c->replied < k) {
			t = lg_pace_at(w, c, c->issued);
			if (t > w->now)
				break;
			c->slots[c->issued & w->slot_mask].intended = t;
			c->issued++;
		}
		if (c->issued - c->replied < k) {
			/* Room in the pipeline: wake up at the next intended time. */
			lg_pace_wake(w, c, t);
		} else {
			/* Pipeline full: the next reply decides (the request will be late, and its
			 * corrected latency counts the wait from its intended time). */
			lg_pace_cancel(w, c);
		}
	}
	if (c->issued != before)
		lg_pipeline_mark_dirty(w, c);
}

struct lg_slot *lg_pipeline_stamp(struct lg_worker *w, struct lg_conn *c, uint64_t i)
{
	struct lg_slot *s = &c->slots[i & w->slot_mask];

	s->sent = w->now;
	if (!lg_pace_open(w))
		s->intended = w->now;
	lg_record_sent(w, c, s->intended);
	return s;
}

static void send_more(struct lg_worker *w, struct lg_conn *c, lg_pipeline_fill_fn *fill)
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

void lg_pipeline_flush(struct lg_worker *w, lg_pipeline_fill_fn *fill)
{
	struct rl_list *n;

	while ((n = rl_list_pop(&w->dirty))) {
		struct lg_conn *c = rl_list_entry(n, struct lg_conn, dirty);

		c->flags &= ~LCF_DIRTY;
		if (c->state == LC_OPEN && !(c->flags & LCF_SEND_BUSY))
			send_more(w, c, fill);
	}
}

void lg_pipeline_on_send(struct lg_worker *w, struct lg_conn *c, const struct rl_cqe *cqe)
{
	c->flags &= ~LCF_SEND_BUSY;
	if (c->state != LC_OPEN)
		return;
	if (cqe->res <= 0) {
		lg_conn_fail(w, c, lg_conn_io_kind(cqe->res ? cqe->res : -EPIPE),
			     cqe->res ? cqe->res : -EPIPE);
		return;
	}
	c->soff += (uint32_t)cqe->res;
	lg_record_bytes_out(w, (uint64_t)cqe->res);
	if (c->soff < c->slen || c->produced < c->issued)
		lg_pipeline_mark_dirty(w, c); /* the rest, and whatever was issued meanwhile */
}

long lg_pipeline_verify(struct lg_worker *w, struct lg_conn *c, const uint8_t *p, size_t n,
			lg_pipeline_reply_fn *done)
{
	struct lg_mismatch mm;
	long k, replies = 0;
	bool complete;

	while (n) {
		if (!is_sent(c, c->replied)) {
			lg_conn_fail(w, c, LG_ERR_UNEXPECTED, -EPROTO);
			return -EPROTO;
		}
		complete = false;
		k = w->cfg->proto->reply_verify(c->pstate, c->replied, c->reply_off, p, n,
						&complete, &mm);
		if (k < 0) {
			lg_conn_mismatch(w, c, c->replied, &mm);
			return -EBADMSG;
		}
		if (k == 0 && !complete) {
			lg_conn_fail(w, c, LG_ERR_UNEXPECTED, -EPROTO);
			return -EPROTO;
		}
		p += k;
		n -= (size_t)k;
		c->reply_off += (uint64_t)k;
		if (complete) {
			if (done)
				done(w, c);
			c->replied++;
			c->reply_off = 0;
			replies++;
		}
	}
	return replies;
}

void lg_pipeline_on_eof(struct lg_worker *w, struct lg_conn *c)
{
	lg_conn_fail(w, c, LG_ERR_EOF, 0);
}

void lg_pipeline_sweep(struct lg_worker *w, struct lg_conn *c)
{
	if (c->replied < c->issued && is_sent(c, c->replied) &&
	    w->now - c->slots[c->replied & w->slot_mask].sent >= w->cfg->timeout_ns)
		lg_conn_fail(w, c, LG_ERR_TIMEOUT, -ETIMEDOUT);
}
