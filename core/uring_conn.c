/*
 * uring_conn.c - the io_uring engine's data path: how a connection's bytes come in and go
 * out (the loop and the dispatch are in engine_uring.c; uring_loop.h has the state).
 *
 * What it shows: one multishot RECV per connection (IORING_RECV_MULTISHOT with
 * IOSQE_BUFFER_SELECT) taking buffers from the loop's provided-buffer ring; each
 * completion's buffer is handed to the protocol and recycled at once, or lent to the
 * connection when the protocol echoes it (rl_conn_send_input: sent straight from the
 * provided buffer, at most lend_max buffers out per loop).  At most one SEND (one
 * segment) or SENDMSG (several) per connection in flight, fed from its ordered send
 * queue; a short send resends the rest.  Once per loop turn the dirty connections are
 * flushed into SQEs, which all go in the next io_uring_enter; a connection whose
 * multishot ended with -ENOBUFS waits in a FIFO and is re-armed once buffers are back.
 * Backpressure: past sendq_high bytes queued, the recv is cancelled (ASYNC_CANCEL) until
 * the queue drains to half.
 */
#include <assert.h>
#include <errno.h>
#include <string.h>
#include <sys/socket.h>

#include "policy.h"
#include "server.h"
#include "udata.h"
#include "uring_loop.h"

/* ---- lending ---- */

/* Bytes a connection still has to send: the lent buffer's, then its queue's. */
static size_t unsent(const struct uconn *c)
{
	return c->lent_len + rl_sendq_bytes(&c->base.sq);
}

/* Gives a connection's lent receive buffer back to the ring. */
void ul_lend_return(struct uloop *l, struct uconn *c)
{
	if (!c->lent)
		return;
	assert(l->nlent > 0);
	rl_bufring_recycle(&l->br, c->lent_bid);
	c->lent = NULL;
	c->lent_len = 0;
	l->nlent--;
}

/*
 * loop->send_input: keeps the receive buffer being delivered and sends `n` bytes of it
 * as they are, when nothing else is queued or in flight on the connection (order) and
 * fewer than lend_max buffers are out.  -EAGAIN: the caller copies them instead.
 */
int ul_send_input(struct rl_loop *loop, struct rl_conn *bc, const void *p, size_t n)
{
	struct uloop *l = (struct uloop *)loop;
	struct uconn *c = (struct uconn *)bc;
	const uint8_t *b = p;

	if (c != l->in_conn || l->in_lent || !n || b < l->in_buf || b + n > l->in_buf + l->in_len ||
	    l->nlent >= l->lend_max)
		return -EAGAIN;
	if (c->lent || us_send_busy(c) || us_closing(c) || us_lingering(c) ||
	    rl_sendq_bytes(&bc->sq) || rl_conn_closing(bc))
		return -EAGAIN;
	c->lent = b;
	c->lent_len = (uint32_t)n;
	c->lent_bid = (uint16_t)l->in_bid;
	l->in_lent = true;
	l->nlent++;
	l->base.stats.sent_in_place++;
	rl_conn_mark_dirty(bc);
	return 0;
}

/* ---- receive ---- */

/* The protocol still takes input: it has not asked to close or pause, nor has the peer
 * sent FIN. */
static bool takes_input(const struct rl_conn *bc)
{
	return !rl_conn_closing(bc) && !rl_conn_peer_eof(bc) && !rl_conn_input_paused(bc);
}

/* A recv is armed on a connection that is not closing and has none (nor waits for
 * buffers), when it lingers (reading the peer's last bytes before close) or when it is
 * not draining, not held back by backpressure, and its protocol takes input. */
static bool wants_recv(const struct uconn *c)
{
	if (us_closing(c) || !us_recv_idle(c))
		return false;
	if (us_lingering(c))
		return true;
	return !us_draining(c) && !us_backpressured(c) && takes_input(&c->base);
}

void ul_arm_recv(struct uloop *l, struct uconn *c)
{
	struct io_uring_sqe *sqe;

	if (!wants_recv(c))
		return;
	sqe = ul_sqe_get(l);
	if (!sqe)
		return;
	rl_bufring_prep_recv(sqe, c->fd, &l->br);
	ul_sqe_conn_file(sqe, c);
	io_uring_sqe_set_data64(sqe, rl_udata(c, RL_OP_RECV));
	c->inflight++;
	us_set_recv(c, RECV_ARMED);
}

void ul_starved_remove(struct uconn *c)
{
	if (!us_starved(c))
		return;
	rl_list_remove(&c->starved);
	us_set_recv(c, RECV_IDLE);
}

/* ---- send and flush ---- */

static void send_head(struct uloop *l, struct uconn *c)
{
	struct iovec iov[RL_SENDQ_IOV_MAX];
	struct msghdr *msg = NULL;
	struct io_uring_sqe *sqe;
	int n;

	assert(!us_send_busy(c));
	/* A table slot costs two SQEs (fill, close) and saves a file lookup per request:
	 * worth it from a connection's second send on, not for a greeting and a close. */
	if (!c->fixed && c->sent_once)
		ul_register_file(l, c);
	c->sent_once = true;
	if (c->lent_len) {
		sqe = ul_sqe_get(l);
		if (!sqe)
			return;
		io_uring_prep_send(sqe, c->fd, c->lent, c->lent_len, MSG_NOSIGNAL);
		ul_sqe_conn_file(sqe, c);
		io_uring_sqe_set_data64(sqe, rl_udata(c, RL_OP_SEND));
		c->inflight++;
		us_set_send(c, SEND_BUSY_LENT);
		return;
	}
	n = rl_sendq_iov(&c->base.sq, iov, RL_SENDQ_IOV_MAX);
	if (!n)
		return;
	if (n > 1) {
		/* The kernel copies a SENDMSG's msghdr and iovecs when it takes the SQE, so they
		 * live in the ring's scratch until the submit, not in every connection.  Taken
		 * before the SQE: making room may submit, which must not send an empty SQE. */
		msg = rl_ring_scratch(&l->r, sizeof(*msg) + (size_t)n * sizeof(iov[0]));
		if (msg) {
			memset(msg, 0, sizeof(*msg));
			msg->msg_iov = (struct iovec *)(msg + 1);
			memcpy(msg->msg_iov, iov, (size_t)n * sizeof(iov[0]));
			msg->msg_iovlen = (size_t)n;
		}
	}
	sqe = ul_sqe_get(l);
	if (!sqe)
		return;
	if (msg) /* else one chunk: a kernel without stable submission sends the rest next */
		io_uring_prep_sendmsg(sqe, c->fd, msg, MSG_NOSIGNAL);
	else
		io_uring_prep_send(sqe, c->fd, iov[0].iov_base, iov[0].iov_len, MSG_NOSIGNAL);
	ul_sqe_conn_file(sqe, c);
	io_uring_sqe_set_data64(sqe, rl_udata(c, RL_OP_SEND));
	c->inflight++;
	us_set_send(c, SEND_BUSY);
}

/* Turns what protocols queued since the last turn into SQEs. */
static void flush_batch(struct uloop *l, struct rl_list *batch)
{
	struct rl_conn *bc;
	int ret;

	while ((bc = rl_dirty_pop(batch))) {
		struct uconn *c = (struct uconn *)bc;

		if (us_closing(c) || us_lingering(c))
			continue;
		ret = rl_conn_run_deferred(bc);
		if (ret < 0) {
			ul_conn_fail(l, c, ret);
			continue;
		}
		if ((bc->flags & RL_CONN_ABORT)) {
			ul_conn_start_close(l, c);
			continue;
		}
		if (rl_policy_pause(&l->base.srv->cfg, rl_sendq_bytes(&bc->sq), c->backpressured))
			c->backpressured = true; /* the peer is not reading: stop reading it */
		if (rl_conn_input_paused(bc) || us_backpressured(c)) {
			if (us_recv_armed(c))
				ul_submit_cancel(l, c, false);
		} else {
			ul_arm_recv(l, c); /* resumed, if it was paused */
		}
		if ((bc->flags & RL_CONN_CLOSE_AFTER) && !l->lingering &&
		    (us_send_busy(c) || unsent(c))) {
			/* Closing once flushed: the tick cuts it off if the peer never reads. */
			l->lingering = true;
			ul_arm_tick(l);
		}
		if (us_send_busy(c))
			continue; /* the send completion comes back here */
		if (unsent(c))
			send_head(l, c);
		else if (bc->flags & RL_CONN_CLOSE_AFTER)
			ul_conn_linger(l, c);
	}
}

/* A flush can dirty other connections (a protocol's on_close broadcasting): loop. */
void ul_flush_dirty(struct uloop *l)
{
	struct rl_list batch;

	while (rl_loop_take_dirty(&l->base, &batch))
		flush_batch(l, &batch);
}

/* Re-arms connections whose recv ended with -ENOBUFS, now that buffers are back. */
void ul_rearm_starved(struct uloop *l)
{
	unsigned budget = l->br.count;
	struct rl_list *n;

	while (budget-- && (n = rl_list_pop(&l->starved))) {
		struct uconn *c = rl_list_entry(n, struct uconn, starved);

		us_set_recv(c, RECV_IDLE);
		ul_arm_recv(l, c);
	}
}

/* ---- completions ---- */

void ul_on_recv(struct uloop *l, struct uconn *c, const struct rl_cqe *cqe)
{
	bool more = cqe->flags & IORING_CQE_F_MORE;
	int ret;

	if (!more) {
		us_set_recv(c, RECV_IDLE);
		us_inflight_dec(c);
	}
	if (cqe->res > 0) {
		unsigned bid = cqe->flags >> IORING_CQE_BUFFER_SHIFT;
		uint8_t *p =
		    (cqe->flags & IORING_CQE_F_BUFFER) ? rl_bufring_take(&l->br, bid) : NULL;

		if (!p) {
			rl_err("io_uring: recv completion without a valid buffer (flags 0x%x)",
			       cqe->flags);
			ul_conn_fail(l, c, -EIO);
			return;
		}
		l->in_lent = false;
		if (us_lingering(c)) {
			l->base.stats.discarded += (uint64_t)cqe->res;
		} else if (!us_closing(c)) {
			l->in_conn = c;
			l->in_buf = p;
			l->in_len = (size_t)cqe->res;
			l->in_bid = bid;
			ret = rl_conn_deliver(&c->base, p, (size_t)cqe->res, l->base.now_ns);
			l->in_conn = NULL;
			if (ret < 0)
				ul_conn_fail(l, c, ret);
		}
		if (!l->in_lent) /* else it comes back when its send completes */
			rl_bufring_recycle(&l->br, bid);
	} else if (cqe->res == 0) {
		if (us_lingering(c))
			ul_conn_start_close(l, c); /* the peer closed too: now close quietly */
		else if (!us_closing(c))
			rl_conn_eof(&c->base);
	} else if (cqe->res == -ENOBUFS) {
		l->base.stats.enobufs++;
		if (!more && !us_closing(c)) { /* its recv ended above: idle */
			us_set_recv(c, RECV_STARVED);
			rl_list_insert_tail(&l->starved, &c->starved);
		}
	} else if (cqe->res != -ECANCELED) {
		if (us_lingering(c))
			ul_conn_start_close(l, c);
		else
			ul_conn_fail(l, c, cqe->res);
	}
	if (!more && us_draining(c))
		rl_conn_close(&c->base); /* stopping: all it read is answered; close after */
	else if (!more)
		ul_arm_recv(l, c); /* the multishot ended for a benign reason: keep reading */
}

void ul_on_send(struct uloop *l, struct uconn *c, const struct rl_cqe *cqe)
{
	bool lent = us_send_lent(c);

	us_inflight_dec(c);
	us_set_send(c, SEND_IDLE); /* asserts it was busy */
	if (lent) {
		assert(c->lent && (cqe->res <= 0 || (uint32_t)cqe->res <= c->lent_len));
		if (cqe->res > 0) {
			c->lent += cqe->res;
			c->lent_len -= (uint32_t)cqe->res;
		}
		if (cqe->res <= 0 || !c->lent_len)
			ul_lend_return(l, c); /* all sent (a short send resends the rest) */
	}
	if (cqe->res <= 0) {
		ul_conn_fail(l, c, cqe->res ? cqe->res : -EPIPE);
		return;
	}
	if (!lent)
		rl_sendq_consume(&c->base.sq, (size_t)cqe->res);
	l->base.stats.bytes_out += (uint64_t)cqe->res;
	c->base.last_active_ns = l->base.now_ns;
	if (us_closing(c))
		return;
	if (us_backpressured(c) &&
	    !rl_policy_pause(&l->base.srv->cfg, rl_sendq_bytes(&c->base.sq), true)) {
		c->backpressured = false;
		ul_arm_recv(l, c);
	}
	if (!unsent(c))
		rl_conn_sent(&c->base);
	/* More queued, or a close waiting for the queue to empty: the flush decides. */
	if (unsent(c) || (c->base.flags & RL_CONN_CLOSE_AFTER))
		rl_conn_mark_dirty(&c->base);
}
