/*
 * engine_uring.c - the io_uring engine: one ring per thread, completion-driven.
 *
 * Per loop: a ring (ring.c, best setup flags the kernel grants), a provided-buffer ring
 * (bufring.c), one multishot accept on the loop's listener, a registered file table
 * holding every connection's socket, one multishot recv per connection selecting from
 * the buffer ring, and at most one send per connection in flight, fed from its ordered
 * send queue (sendq.c).  Received bytes are handed to the protocol and the buffer is
 * recycled at once, so no connection can hold buffers hostage.
 * A protocol's file operations go through the same ring; when it does file I/O the loop
 * also registers a pool of buffers (fixedbuf.c), and a read or write into one of them goes
 * as READ_FIXED / WRITE_FIXED.
 *
 * The engine is four files around one private header (uring_loop.h: struct uloop, struct
 * uconn, a connection's state enums and their asserted transitions):
 *   engine_uring.c  this file: the loop thread -- ring, buffer ring and file buffer set-up,
 *                   the main loop (flush, commit buffers, re-arm the starved, submit and
 *                   wait), and handle(), which dispatches each completion by its op
 *   uring_conn.c    the data path: multishot recv, sends from the send queue, lending of
 *                   receive buffers, the flush of dirty connections, starved re-arm
 *   uring_life.c    a connection's life: multishot accept (back-off, --max-conns,
 *                   eviction), close and settle, cancel, lingering close, the tick (idle
 *                   cut, linger deadline, drain)
 *   uring_file.c    a protocol's file operations through the ring, registered buffers
 *
 * The failure paths the design notes warn about, and what happens here:
 *   SQ full           rl_ring_sqe() submits and retries; -EBUSY: reap, then retry.
 *   CQ overflow       the CQ is 8x the SQ and completions are copied out before handling.
 *   -ENOBUFS          the multishot recv ended: the connection joins a FIFO of starved
 *                     connections, re-armed (at most `buf_count` per turn) once buffers
 *                     are back -- every turn, not only when that connection sends.
 *   EMFILE/ENFILE     the multishot accept ended: accept pauses for 100 ms on the loop
 *                     timer (no spin); open connections keep being served.
 *   backpressure      a connection with more than sendq_high bytes queued (a peer that
 *                     sends but does not read) has its recv cancelled until it drains.
 *   teardown          shutdown(2) the socket, which completes every request on it
 *                     (async cancel by fd only if that fails), then close through the
 *                     ring; the connection is freed when its last CQE has arrived.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "log.h"
#include "server.h"
#include "udata.h"
#include "uring_loop.h"

static void arm_wake(struct uloop *l)
{
	struct io_uring_sqe *sqe = ul_sqe_get(l);

	if (!sqe)
		return;
	io_uring_prep_read(sqe, l->base.wake_fd, &l->wake_buf, sizeof(l->wake_buf), 0);
	io_uring_sqe_set_data64(sqe, rl_udata(l, RL_OP_WAKE));
}

static void handle(struct uloop *l, const struct rl_cqe *cqe)
{
	void *ptr = rl_udata_ptr(cqe->user_data);
	struct uconn *c = ptr;

	switch (rl_udata_op(cqe->user_data)) {
	case RL_OP_ACCEPT:
		ul_on_accept(l, cqe);
		return;
	case RL_OP_RECV:
		ul_on_recv(l, c, cqe);
		break;
	case RL_OP_SEND:
		ul_on_send(l, c, cqe);
		break;
	case RL_OP_CANCEL:
		if (ptr == l)
			return; /* accept cancel */
		us_inflight_dec(c);
		break;
	case RL_OP_CLOSE:
	case RL_OP_SHUTDOWN:
		us_inflight_dec(c);
		break;
	case RL_OP_FILE: {
		struct rl_fileop *op = ptr;

		c = (struct uconn *)op->conn;
		us_inflight_dec(c);
		rl_conn_fileop_done(op, cqe->res);
		break;
	}
	case RL_OP_TICK:
		ul_on_tick(l);
		return;
	case RL_OP_FILES:
		ul_on_files_update(l, cqe);
		return;
	case RL_OP_WAKE:
		if (atomic_load(&l->base.srv->stopping))
			ul_start_drain(l);
		else
			arm_wake(l);
		return;
	default:
		rl_err("io_uring: completion with unknown user_data 0x%llx",
		       (unsigned long long)cqe->user_data);
		return;
	}
	ul_conn_settle(l, c);
}

static int loop_setup(struct uloop *l)
{
	const struct rl_server_config *cfg = &l->base.srv->cfg;
	int ret;

	ret = rl_ring_init(&l->r, cfg->sq_entries, cfg->cq_entries);
	if (ret) {
		rl_err("io_uring setup failed: %s", strerror(-ret));
		return ret;
	}
	ret = rl_bufring_init(&l->br, &l->r.ring, cfg->buf_count, cfg->buf_size, BUFFER_GROUP);
	if (ret) {
		rl_err("provided buffer ring (%u x %u bytes) failed: %s", cfg->buf_count,
		       cfg->buf_size, strerror(-ret));
		rl_ring_exit(&l->r);
		return ret;
	}
	l->lend_max = cfg->buf_count / 4;
	ul_setup_fixed_files(l);
	rl_debug("loop %u: %u provided buffers of %u bytes", l->base.index, cfg->buf_count,
		 cfg->buf_size);
	if (l->base.srv->proto->on_fileop)
		ul_setup_file_buffers(l);
	return 0;
}

static void *loop_main(void *arg)
{
	struct uloop *l = arg;
	struct rl_server *srv = l->base.srv;
	struct rl_list *n;
	struct rl_cqe cqe;
	int ret;

	rl_list_init(&l->live);
	rl_list_init(&l->starved);
	l->lfd = rl_server_listen_fd(srv, l->base.index);
	l->base.submit_fileop = ul_fileop;
	if (!rl_ring_feature_off("lend"))
		l->base.send_input = ul_send_input;
	l->max_conns =
	    srv->cfg.max_conns ? (srv->cfg.max_conns + srv->cfg.threads - 1) / srv->cfg.threads : 0;
	ret = loop_setup(l);

	rl_server_thread_ready(l->base.srv, ret);
	if (ret) {
		rl_server_thread_done(l->base.srv, &l->base.stats, 0);
		return NULL;
	}
	l->base.now_ns = rl_now_ns();
	arm_wake(l);
	ul_arm_accept(l);
	ul_arm_tick(l);
	while (!l->fatal) {
		ul_flush_dirty(l);
		rl_bufring_commit(&l->br);
		ul_rearm_starved(l);
		if (l->draining && !l->nlive)
			break;
		ret = rl_ring_submit_wait(&l->r, 1, 0);
		if (ret < 0) {
			rl_err("io_uring_enter: %s", strerror(-ret));
			l->fatal = ret;
			break;
		}
		l->base.now_ns = rl_now_ns();
		while (rl_ring_next(&l->r, &cqe))
			handle(l, &cqe);
	}
	if (l->fixed.count)
		rl_debug("loop %u: file buffers lent %llu times, all busy %llu times (heap used)",
			 l->base.index, (unsigned long long)l->fixed.lent,
			 (unsigned long long)l->fixed.missed);
	if (l->r.overflows || l->r.submit_busy)
		rl_debug("loop %u: CQ overflows %llu, submits that met a full CQ %llu",
			 l->base.index, (unsigned long long)l->r.overflows,
			 (unsigned long long)l->r.submit_busy);
	/* Fatal exit only: free what is left.  io_uring_queue_exit cancels in-flight I/O. */
	while ((n = rl_list_pop(&l->live))) {
		struct uconn *c = rl_list_entry(n, struct uconn, link);

		close(c->fd);
		rl_conn_release(&c->base);
		free(c);
	}
	rl_fixedbuf_free(&l->fixed, &l->r.ring);
	rl_bufring_free(&l->br, &l->r.ring);
	rl_ring_exit(&l->r);
	rl_server_thread_done(l->base.srv, &l->base.stats, l->fatal);
	return NULL;
}

static int uring_start(struct rl_server *srv)
{
	return rl_loops_start(srv, sizeof(struct uloop), loop_main, 0);
}

const struct rl_engine rl_engine_uring = {
    .name = "uring",
    .start = uring_start,
    .stop = rl_loops_stop,
    .join = rl_loops_join,
};
