/*
 * engine_uring.c - the io_uring engine: one ring per thread, completion-driven.
 *
 * Per loop: a ring (ring.c, best setup flags the kernel grants), a provided-buffer ring
 * (bufring.c), one multishot accept on the loop's listener, one multishot recv per
 * connection selecting from the buffer ring, and at most one send per connection in
 * flight, fed from its ordered send queue (sendq.c).  Received bytes are handed to the
 * protocol and the buffer is recycled at once, so no connection can hold buffers hostage.
 * A protocol's file operations go through the same ring; when it does file I/O the loop
 * also registers a pool of buffers (fixedbuf.c), and a read or write into one of them goes
 * as READ_FIXED / WRITE_FIXED.  Where the ring would hand an operation to an io-wq thread
 * every time (buffered writes on tmpfs and ext4; creating opens, renames and unlinks on
 * tmpfs), the loop thread makes the system call itself instead (fileinline.c).
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
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bufring.h"
#include "clock.h"
#include "fileinline.h"
#include "fixedbuf.h"
#include "log.h"
#include "ring.h"
#include "server.h"
#include "udata.h"

#define SEND_IOV_MAX	  8
#define ACCEPT_BACKOFF_NS (100 * RL_NSEC_PER_MSEC)
#define DRAIN_TICK_NS	  (20 * RL_NSEC_PER_MSEC)
#define LINGER_TICK_NS	  (100 * RL_NSEC_PER_MSEC)
#define BUFFER_GROUP	  0
/* Registered buffers for file I/O, 8 MiB per loop: the 1 MiB read-ahead of about six
 * downloads at once (more use heap chunks).  The size is the file server's read and write
 * chunk (servers/file.c IO_CHUNK). */
#define FILE_BUF_COUNT 32u
#define FILE_BUF_SIZE  (256u * 1024u)

enum {
	US_RECV_ARMED = 1u << 0,
	US_SEND_BUSY = 1u << 1,
	US_CLOSING = 1u << 2,
	US_CLOSE_SENT = 1u << 3,
	US_STARVED = 1u << 4,
	US_PAUSED = 1u << 5,	  /* backpressure: the peer is not reading */
	US_RECV_CANCEL = 1u << 6, /* a cancel of the recv is in flight */
	US_LINGER = 1u << 7,	  /* FIN sent; reading until the peer closes */
	US_DRAIN = 1u << 8,	  /* server stopping: read no more, answer what was read */
	US_SEND_LENT = 1u << 9,	  /* the send in flight is from the lent receive buffer */
};

struct uconn {
	struct rl_conn base; /* first: rl_conn_open() finds the protocol state after us */
	struct uconn *prev, *next;
	struct uconn *starved_next;
	int fd;
	unsigned inflight; /* CQEs still owed to this connection */
	unsigned st;
	/* Echoed input sent straight from its provided buffer (rl_conn_send_input): the
	 * unsent part, and the buffer to give back once it is all sent.  It goes before
	 * anything in the send queue, which only fills while it is unsent. */
	const uint8_t *lent;
	uint32_t lent_len;
	uint16_t lent_bid;
	struct msghdr msg;
	struct iovec iov[SEND_IOV_MAX];
};

struct uloop {
	_Alignas(16) struct rl_loop base; /* user_data carries the op in the low 4 bits */
	struct rl_ring r;
	struct rl_bufring br;
	struct rl_fixedbuf fixed; /* registered buffers, when the protocol does file I/O */
	struct rl_fileinline fin; /* which file operations go inline (fileinline.h) */
	int lfd;
	uint64_t wake_buf;
	struct uconn *live;
	unsigned nlive;
	unsigned max_conns;
	struct uconn *starved_head, *starved_tail;
	/* The receive buffer being delivered (lendable to its connection), and lending's
	 * bound: at most lend_max buffers out, so slow readers cannot drain the ring. */
	struct uconn *in_conn;
	const uint8_t *in_buf;
	size_t in_len;
	unsigned in_bid;
	bool in_lent;
	unsigned nlent, lend_max;
	bool accept_armed;
	bool accept_paused;
	bool draining;
	bool lingering; /* some connection waits to flush before it closes */
	bool tick_armed;
	uint64_t backoff_until; /* 0: no accept back-off */
	uint64_t drain_deadline;
	struct __kernel_timespec tick_ts;
	int fatal;
};

static struct io_uring_sqe *sqe_get(struct uloop *l)
{
	struct io_uring_sqe *sqe = rl_ring_sqe(&l->r);

	if (!sqe && !l->fatal) {
		rl_err("io_uring: no SQE available even after submitting; stopping this loop");
		l->fatal = -EIO;
	}
	return sqe;
}

/* Bytes a connection still has to send: the lent buffer's, then its queue's. */
static size_t unsent(const struct uconn *c)
{
	return c->lent_len + rl_sendq_bytes(&c->base.sq);
}

/* Gives a connection's lent receive buffer back to the ring. */
static void lend_return(struct uloop *l, struct uconn *c)
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
static int uring_send_input(struct rl_loop *loop, struct rl_conn *bc, const void *p, size_t n)
{
	struct uloop *l = (struct uloop *)loop;
	struct uconn *c = (struct uconn *)bc;
	const uint8_t *b = p;

	if (c != l->in_conn || l->in_lent || !n || b < l->in_buf || b + n > l->in_buf + l->in_len ||
	    l->nlent >= l->lend_max)
		return -EAGAIN;
	if (c->lent || (c->st & (US_SEND_BUSY | US_CLOSING | US_LINGER)) ||
	    rl_sendq_bytes(&bc->sq) || (bc->flags & (RL_CONN_ABORT | RL_CONN_CLOSE_AFTER)))
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

/* ---- accept ---- */

static void arm_accept(struct uloop *l)
{
	struct io_uring_sqe *sqe;

	if (l->accept_armed || l->draining || l->accept_paused || l->backoff_until)
		return;
	sqe = sqe_get(l);
	if (!sqe)
		return;
	io_uring_prep_multishot_accept(sqe, l->lfd, NULL, NULL, SOCK_CLOEXEC);
	io_uring_sqe_set_data64(sqe, rl_udata(l, RL_OP_ACCEPT));
	l->accept_armed = true;
}

static void cancel_accept(struct uloop *l)
{
	struct io_uring_sqe *sqe;

	if (!l->accept_armed)
		return;
	sqe = sqe_get(l);
	if (!sqe)
		return;
	io_uring_prep_cancel64(sqe, rl_udata(l, RL_OP_ACCEPT), 0);
	io_uring_sqe_set_data64(sqe, rl_udata(l, RL_OP_CANCEL));
}

/* ---- timer ---- */

static uint64_t tick_interval(const struct uloop *l)
{
	uint64_t sweep = rl_guard_sweep_ns(&l->base.srv->cfg), t = UINT64_MAX;

	if (l->draining)
		t = DRAIN_TICK_NS;
	if (l->backoff_until && ACCEPT_BACKOFF_NS < t)
		t = ACCEPT_BACKOFF_NS;
	if (l->lingering && LINGER_TICK_NS < t)
		t = LINGER_TICK_NS;
	if (sweep && !l->draining && sweep < t)
		t = sweep; /* idle timeout, line deadline */
	return t;
}

static void arm_tick(struct uloop *l)
{
	struct io_uring_sqe *sqe;
	uint64_t t = tick_interval(l);

	if (l->tick_armed || t == UINT64_MAX)
		return;
	sqe = sqe_get(l);
	if (!sqe)
		return;
	l->tick_ts.tv_sec = (long long)(t / RL_NSEC_PER_SEC);
	l->tick_ts.tv_nsec = (long long)(t % RL_NSEC_PER_SEC);
	io_uring_prep_timeout(sqe, &l->tick_ts, 0, 0);
	io_uring_sqe_set_data64(sqe, rl_udata(l, RL_OP_TICK));
	l->tick_armed = true;
}

/* ---- connections ---- */

static bool wants_recv(const struct uconn *c)
{
	if (c->st & US_LINGER) /* draining the peer's last bytes before close */
		return !(c->st & (US_CLOSING | US_STARVED | US_RECV_ARMED | US_RECV_CANCEL));
	return !(c->st & (US_CLOSING | US_PAUSED | US_STARVED | US_RECV_ARMED | US_DRAIN)) &&
	       !(c->base.flags &
		 (RL_CONN_CLOSE_AFTER | RL_CONN_ABORT | RL_CONN_EOF | RL_CONN_PAUSED));
}

static void arm_recv(struct uloop *l, struct uconn *c)
{
	struct io_uring_sqe *sqe;

	if (!wants_recv(c))
		return;
	sqe = sqe_get(l);
	if (!sqe)
		return;
	io_uring_prep_recv_multishot(sqe, c->fd, NULL, 0, 0);
	sqe->flags |= IOSQE_BUFFER_SELECT;
	sqe->buf_group = BUFFER_GROUP;
	io_uring_sqe_set_data64(sqe, rl_udata(c, RL_OP_RECV));
	c->inflight++;
	c->st |= US_RECV_ARMED;
}

static void submit_cancel(struct uloop *l, struct uconn *c, bool all)
{
	struct io_uring_sqe *sqe = sqe_get(l);

	if (!sqe)
		return;
	if (all)
		io_uring_prep_cancel_fd(sqe, c->fd, IORING_ASYNC_CANCEL_ALL);
	else
		io_uring_prep_cancel64(sqe, rl_udata(c, RL_OP_RECV), 0);
	if (!all)
		c->st |= US_RECV_CANCEL;
	io_uring_sqe_set_data64(sqe, rl_udata(c, RL_OP_CANCEL));
	c->inflight++;
}

static void starved_remove(struct uloop *l, struct uconn *c)
{
	struct uconn **pp, *prev = NULL;

	if (!(c->st & US_STARVED))
		return;
	for (pp = &l->starved_head; *pp; prev = *pp, pp = &(*pp)->starved_next) {
		if (*pp == c) {
			*pp = c->starved_next;
			if (l->starved_tail == c)
				l->starved_tail = prev;
			break;
		}
	}
	c->st &= ~US_STARVED;
}

static void conn_start_close(struct uloop *l, struct uconn *c)
{
	struct io_uring_sqe *sqe;

	if (c->st & US_CLOSING)
		return;
	c->st |= US_CLOSING;
	c->base.flags |= RL_CONN_ABORT; /* protocols' late sends are dropped */
	starved_remove(l, c);
	if (c->inflight) {
		/*
		 * Ending the socket completes every request on it (the multishot recv with 0, a
		 * send with -EPIPE) at the cost of one syscall.  An async cancel by fd would do
		 * the same but walks every request in flight on the ring, which makes a wave of
		 * idle cuts quadratic; it stays as the fallback (a socket already reset).
		 */
		if (shutdown(c->fd, SHUT_RDWR) < 0)
			submit_cancel(l, c, true);
		return;
	}
	sqe = sqe_get(l);
	if (!sqe)
		return;
	io_uring_prep_close(sqe, c->fd);
	io_uring_sqe_set_data64(sqe, rl_udata(c, RL_OP_CLOSE));
	c->inflight++;
	c->st |= US_CLOSE_SENT;
}

/* Called after every completion of `c`: close once idle, free after the close. */
static void conn_settle(struct uloop *l, struct uconn *c)
{
	struct io_uring_sqe *sqe;

	if (!(c->st & US_CLOSING) || c->inflight)
		return;
	if (!(c->st & US_CLOSE_SENT)) {
		sqe = sqe_get(l);
		if (!sqe)
			return;
		io_uring_prep_close(sqe, c->fd);
		io_uring_sqe_set_data64(sqe, rl_udata(c, RL_OP_CLOSE));
		c->inflight++;
		c->st |= US_CLOSE_SENT;
		return;
	}
	if (c->prev)
		c->prev->next = c->next;
	else
		l->live = c->next;
	if (c->next)
		c->next->prev = c->prev;
	l->nlive--;
	l->base.stats.closed++;
	lend_return(l, c); /* lent but never sent: the connection closed first */
	rl_conn_release(&c->base);
	free(c);
	if (l->accept_paused && l->nlive < l->max_conns) {
		l->accept_paused = false;
		arm_accept(l);
	}
}

static void conn_fail(struct uloop *l, struct uconn *c, int err)
{
	if (!(c->st & US_CLOSING)) {
		rl_stats_drop(&l->base.stats, err);
		rl_debug("connection %llu dropped: %s", (unsigned long long)c->base.id,
			 strerror(-err));
	}
	conn_start_close(l, c);
}

/*
 * Closes a connection whose replies are all sent, without losing them: a close() with
 * unread input in the socket makes the kernel send a reset, which discards replies still
 * in flight.  When input is waiting: FIN first (shutdown SHUT_WR), then read and discard
 * until the peer closes too, every byte sent is acknowledged (checked on the tick), or
 * the close deadline passes -- the "lingering close".
 */
static void conn_linger(struct uloop *l, struct uconn *c)
{
	struct io_uring_sqe *sqe;

	if ((c->base.flags & RL_CONN_EOF) || !rl_socket_unread(c->fd)) {
		/* Nothing unread: close() sends a plain FIN and loses nothing. */
		conn_start_close(l, c);
		return;
	}
	sqe = sqe_get(l);
	if (!sqe)
		return;
	io_uring_prep_shutdown(sqe, c->fd, SHUT_WR);
	io_uring_sqe_set_data64(sqe, rl_udata(c, RL_OP_SHUTDOWN));
	c->inflight++;
	c->st |= US_LINGER;
	c->st &= ~US_PAUSED;
	if (!l->lingering) {
		l->lingering = true;
		arm_tick(l);
	}
	arm_recv(l, c);
}

static void conn_new(struct uloop *l, int fd)
{
	struct rl_server *srv = l->base.srv;
	struct uconn *c = calloc(1, rl_conn_alloc_size(srv, sizeof(*c)));
	int ret;

	if (!c) {
		close(fd);
		l->base.stats.errors++;
		return;
	}
	ret = rl_guard_admit(srv, &c->base, fd);
	if (ret < 0) { /* --max-conns-per-source: closed at once */
		close(fd);
		free(c);
		rl_guard_note_refused(srv, &l->base.stats, ret);
		return;
	}
	c->fd = fd;
	c->next = l->live;
	if (l->live)
		l->live->prev = c;
	l->live = c;
	l->nlive++;
	l->base.stats.accepted++;
	rl_server_tune_socket(srv, fd);
	ret = rl_conn_open(&c->base, &l->base, sizeof(*c), l->base.now_ns);
	if (ret < 0) {
		conn_fail(l, c, ret);
		conn_settle(l, c);
		return;
	}
	if (l->draining) {
		/* Accepted as the server stopped: it gets what the protocol sends on open (a
		 * greeting), then a polite close. */
		c->st |= US_DRAIN;
		rl_conn_close(&c->base);
		return;
	}
	arm_recv(l, c);
}

static void send_head(struct uloop *l, struct uconn *c)
{
	struct io_uring_sqe *sqe;
	int n;

	assert(!(c->st & US_SEND_BUSY));
	if (c->lent_len) {
		sqe = sqe_get(l);
		if (!sqe)
			return;
		io_uring_prep_send(sqe, c->fd, c->lent, c->lent_len, MSG_NOSIGNAL);
		io_uring_sqe_set_data64(sqe, rl_udata(c, RL_OP_SEND));
		c->inflight++;
		c->st |= US_SEND_BUSY | US_SEND_LENT;
		return;
	}
	n = rl_sendq_iov(&c->base.sq, c->iov, SEND_IOV_MAX);
	if (!n)
		return;
	sqe = sqe_get(l);
	if (!sqe)
		return;
	if (n == 1) {
		io_uring_prep_send(sqe, c->fd, c->iov[0].iov_base, c->iov[0].iov_len, MSG_NOSIGNAL);
	} else {
		memset(&c->msg, 0, sizeof(c->msg));
		c->msg.msg_iov = c->iov;
		c->msg.msg_iovlen = (size_t)n;
		io_uring_prep_sendmsg(sqe, c->fd, &c->msg, MSG_NOSIGNAL);
	}
	io_uring_sqe_set_data64(sqe, rl_udata(c, RL_OP_SEND));
	c->inflight++;
	c->st |= US_SEND_BUSY;
}

/* Turns what protocols queued since the last turn into SQEs. */
static void flush_list(struct uloop *l, struct rl_conn *bc)
{
	size_t high = l->base.srv->cfg.sendq_high;
	struct rl_conn *next;
	int ret;

	for (; bc; bc = next) {
		struct uconn *c = (struct uconn *)bc;

		next = bc->dirty_next;
		bc->flags &= ~RL_CONN_DIRTY;
		if (c->st & (US_CLOSING | US_LINGER))
			continue;
		ret = rl_conn_run_deferred(bc);
		if (ret < 0) {
			conn_fail(l, c, ret);
			continue;
		}
		if ((bc->flags & RL_CONN_ABORT)) {
			conn_start_close(l, c);
			continue;
		}
		if (rl_sendq_bytes(&bc->sq) >= high)
			c->st |= US_PAUSED; /* the peer is not reading: stop reading it */
		if ((bc->flags & RL_CONN_PAUSED) || (c->st & US_PAUSED)) {
			if ((c->st & US_RECV_ARMED) && !(c->st & US_RECV_CANCEL))
				submit_cancel(l, c, false);
		} else {
			arm_recv(l, c); /* resumed, if it was paused */
		}
		if ((bc->flags & RL_CONN_CLOSE_AFTER) && !l->lingering &&
		    ((c->st & US_SEND_BUSY) || unsent(c))) {
			/* Closing once flushed: the tick cuts it off if the peer never reads. */
			l->lingering = true;
			arm_tick(l);
		}
		if (c->st & US_SEND_BUSY)
			continue; /* the send completion comes back here */
		if (unsent(c))
			send_head(l, c);
		else if (bc->flags & RL_CONN_CLOSE_AFTER)
			conn_linger(l, c);
	}
}

/* A flush can dirty other connections (a protocol's on_close broadcasting): loop. */
static void flush_dirty(struct uloop *l)
{
	struct rl_conn *bc;

	while ((bc = rl_loop_take_dirty(&l->base)))
		flush_list(l, bc);
}

/* Re-arms connections whose recv ended with -ENOBUFS, now that buffers are back. */
static void rearm_starved(struct uloop *l)
{
	unsigned budget = l->br.count;

	while (l->starved_head && budget--) {
		struct uconn *c = l->starved_head;

		l->starved_head = c->starved_next;
		if (!l->starved_head)
			l->starved_tail = NULL;
		c->st &= ~US_STARVED;
		arm_recv(l, c);
	}
}

static void on_recv(struct uloop *l, struct uconn *c, const struct rl_cqe *cqe)
{
	bool more = cqe->flags & IORING_CQE_F_MORE;
	int ret;

	if (!more) {
		c->st &= ~(US_RECV_ARMED | US_RECV_CANCEL);
		c->inflight--;
	}
	if (cqe->res > 0) {
		unsigned bid = cqe->flags >> IORING_CQE_BUFFER_SHIFT;
		uint8_t *p =
		    (cqe->flags & IORING_CQE_F_BUFFER) ? rl_bufring_take(&l->br, bid) : NULL;

		if (!p) {
			rl_err("io_uring: recv completion without a valid buffer (flags 0x%x)",
			       cqe->flags);
			conn_fail(l, c, -EIO);
			return;
		}
		l->in_lent = false;
		if (c->st & US_LINGER) {
			l->base.stats.discarded += (uint64_t)cqe->res;
		} else if (!(c->st & US_CLOSING)) {
			l->in_conn = c;
			l->in_buf = p;
			l->in_len = (size_t)cqe->res;
			l->in_bid = bid;
			ret = rl_conn_deliver(&c->base, p, (size_t)cqe->res, l->base.now_ns);
			l->in_conn = NULL;
			if (ret < 0)
				conn_fail(l, c, ret);
		}
		if (!l->in_lent) /* else it comes back when its send completes */
			rl_bufring_recycle(&l->br, bid);
	} else if (cqe->res == 0) {
		if (c->st & US_LINGER)
			conn_start_close(l, c); /* the peer closed too: now close quietly */
		else if (!(c->st & US_CLOSING))
			rl_conn_eof(&c->base);
	} else if (cqe->res == -ENOBUFS) {
		l->base.stats.enobufs++;
		if (!more && !(c->st & US_CLOSING) && !(c->st & US_STARVED)) {
			c->st |= US_STARVED;
			c->starved_next = NULL;
			if (l->starved_tail)
				l->starved_tail->starved_next = c;
			else
				l->starved_head = c;
			l->starved_tail = c;
		}
	} else if (cqe->res != -ECANCELED) {
		if (c->st & US_LINGER)
			conn_start_close(l, c);
		else
			conn_fail(l, c, cqe->res);
	}
	if (!more && (c->st & US_DRAIN) && !(c->st & US_LINGER))
		rl_conn_close(&c->base); /* stopping: all it read is answered; close after */
	else if (!more)
		arm_recv(l, c); /* the multishot ended for a benign reason: keep reading */
}

static void on_send(struct uloop *l, struct uconn *c, const struct rl_cqe *cqe)
{
	bool lent = c->st & US_SEND_LENT;

	assert(c->inflight > 0 && (c->st & US_SEND_BUSY));
	c->inflight--;
	c->st &= ~(US_SEND_BUSY | US_SEND_LENT);
	if (lent) {
		assert(c->lent && (cqe->res <= 0 || (uint32_t)cqe->res <= c->lent_len));
		if (cqe->res > 0) {
			c->lent += cqe->res;
			c->lent_len -= (uint32_t)cqe->res;
		}
		if (cqe->res <= 0 || !c->lent_len)
			lend_return(l, c); /* all sent (a short send resends the rest) */
	}
	if (cqe->res <= 0) {
		conn_fail(l, c, cqe->res ? cqe->res : -EPIPE);
		return;
	}
	if (!lent)
		rl_sendq_consume(&c->base.sq, (size_t)cqe->res);
	l->base.stats.bytes_out += (uint64_t)cqe->res;
	c->base.last_active_ns = l->base.now_ns;
	if (c->st & US_CLOSING)
		return;
	if ((c->st & US_PAUSED) && rl_sendq_bytes(&c->base.sq) <= l->base.srv->cfg.sendq_high / 2) {
		c->st &= ~US_PAUSED;
		arm_recv(l, c);
	}
	if (!unsent(c))
		rl_conn_sent(&c->base);
	/* More queued, or a close waiting for the queue to empty: the flush decides. */
	if (unsent(c) || (c->base.flags & RL_CONN_CLOSE_AFTER))
		rl_conn_mark_dirty(&c->base);
}

/* With --evict-idle: the connection to close when full (guard.h), or NULL. */
static struct uconn *pick_victim(struct uloop *l, uint64_t *age)
{
	struct uconn *c, *best = NULL;
	uint64_t a;

	*age = 0;
	if (!l->base.srv->cfg.evict_idle_ns)
		return NULL;
	for (c = l->live; c; c = c->next) {
		a = (c->st & US_CLOSING)
			? 0
			: rl_guard_evict_age(&l->base.srv->cfg, &c->base, l->base.now_ns, false);
		if (a > *age) {
			*age = a;
			best = c;
		}
	}
	return best;
}

static void on_accept(struct uloop *l, const struct rl_cqe *cqe)
{
	struct uconn *victim;
	uint64_t age;

	if (!(cqe->flags & IORING_CQE_F_MORE))
		l->accept_armed = false;
	if (cqe->res >= 0) {
		victim = l->max_conns && l->nlive >= l->max_conns ? pick_victim(l, &age) : NULL;
		if (victim) {
			/* Full: the quietest connection makes room for this one. */
			rl_guard_note_evict(l->base.srv, &l->base.stats, age);
			conn_start_close(l, victim);
			conn_new(l, cqe->res);
		} else if (l->max_conns && l->nlive >= l->max_conns) {
			close(cqe->res);
			l->base.stats.refused++;
			l->accept_paused = true;
			cancel_accept(l);
		} else {
			conn_new(l, cqe->res);
		}
	} else if (cqe->res == -EMFILE || cqe->res == -ENFILE || cqe->res == -ENOBUFS ||
		   cqe->res == -ENOMEM) {
		if (!l->backoff_until)
			rl_debug("accept: %s with %u connections open; retrying in 100 ms",
				 strerror(-cqe->res), l->nlive);
		l->base.stats.accept_backoffs++;
		l->backoff_until = l->base.now_ns + ACCEPT_BACKOFF_NS;
		cancel_accept(l);
		arm_tick(l);
	} else if (cqe->res != -ECANCELED) {
		rl_debug("accept: %s", strerror(-cqe->res));
	}
	if (!l->accept_armed)
		arm_accept(l);
}

/* Preps a file read or write: READ_FIXED / WRITE_FIXED when the buffer is one of the loop's
 * registered buffers, plain READ / WRITE otherwise. */
static void prep_file_rw(struct io_uring_sqe *sqe, const struct rl_fixedbuf *fb,
			 const struct rl_fileop *op)
{
	int idx = rl_fixedbuf_index(fb, op->buf, op->len);
	int opcode;

	if (op->kind == RL_FOP_READ)
		opcode = idx >= 0 ? IORING_OP_READ_FIXED : IORING_OP_READ;
	else
		opcode = idx >= 0 ? IORING_OP_WRITE_FIXED : IORING_OP_WRITE;
	io_uring_prep_rw(opcode, sqe, op->fd, op->buf, (unsigned)op->len, op->off);
	if (idx >= 0)
		sqe->buf_index = (__u16)idx;
}

/* Runs a protocol's file operation through the ring (loop->submit_fileop). */
static int uring_fileop(struct rl_loop *loop, struct rl_fileop *op)
{
	struct uloop *l = (struct uloop *)loop;
	struct uconn *c = (struct uconn *)op->conn;
	struct io_uring_sqe *sqe;

	if (rl_fileinline_try(&l->fin, op))
		return RL_FILEOP_FINISHED;
	sqe = sqe_get(l);
	if (!sqe)
		return -EBUSY;
	switch (op->kind) {
	case RL_FOP_OPEN:
		io_uring_prep_openat2(sqe, op->dirfd, op->path, &op->how);
		break;
	case RL_FOP_READ:
	case RL_FOP_WRITE:
		prep_file_rw(sqe, loop->fixedbuf, op);
		break;
	case RL_FOP_FSYNC:
		io_uring_prep_fsync(sqe, op->fd, 0);
		break;
	case RL_FOP_CLOSE:
		rl_fileinline_forget(&l->fin, op->fd);
		io_uring_prep_close(sqe, op->fd);
		break;
	case RL_FOP_RENAME:
		io_uring_prep_renameat(sqe, op->dirfd, op->path, op->dirfd, op->path2, 0);
		break;
	case RL_FOP_UNLINK:
		io_uring_prep_unlinkat(sqe, op->dirfd, op->path, 0);
		break;
	case RL_FOP_STATX:
		io_uring_prep_statx(sqe, op->fd, "", AT_EMPTY_PATH, STATX_BASIC_STATS, op->stx);
		break;
	}
	io_uring_sqe_set_data64(sqe, rl_udata(op, RL_OP_FILE));
	c->inflight++;
	return 0;
}

static void start_drain(struct uloop *l)
{
	struct uconn *c;

	if (l->draining)
		return;
	l->draining = true;
	l->drain_deadline = l->base.now_ns + l->base.srv->cfg.drain_timeout_ns;
	cancel_accept(l);
	/* Stop reading first; once a connection's recv has ended, every byte it read has
	 * been answered, and it closes after those replies are sent. */
	for (c = l->live; c; c = c->next) {
		c->st |= US_DRAIN;
		if ((c->st & US_RECV_ARMED) && !(c->st & US_RECV_CANCEL))
			submit_cancel(l, c, false);
		else if (!(c->st & US_RECV_ARMED))
			rl_conn_close(&c->base);
	}
	arm_tick(l);
}

static void on_tick(struct uloop *l)
{
	uint64_t idle = l->base.srv->cfg.idle_timeout_ns;
	struct uconn *c, *next;

	l->tick_armed = false;
	l->lingering = false;
	if (l->backoff_until && l->base.now_ns >= l->backoff_until) {
		l->backoff_until = 0;
		arm_accept(l);
	}
	if (l->accept_paused && l->base.srv->cfg.evict_idle_ns) {
		l->accept_paused = false; /* full: look again for a connection to evict */
		arm_accept(l);
	}
	for (c = l->live; c; c = next) {
		next = c->next;
		if (c->st & US_CLOSING)
			continue;
		if ((c->st & US_LINGER) && !rl_socket_unacked(c->fd)) {
			conn_start_close(l, c); /* the peer has every byte: stop lingering */
			continue;
		}
		if (l->draining && l->base.now_ns >= l->drain_deadline) {
			conn_start_close(l, c);
		} else if (c->base.flags & RL_CONN_CLOSE_AFTER) {
			if (l->base.now_ns < c->base.close_deadline_ns) {
				l->lingering = true;
				continue;
			}
			rl_debug("connection %llu did not read its last replies in time",
				 (unsigned long long)c->base.id);
			l->base.stats.idle_closed++;
			conn_start_close(l, c);
		} else if (!l->draining && rl_guard_line_expired(&c->base, l->base.now_ns)) {
			rl_guard_line_cut(&c->base, &l->base.stats); /* error line, then close */
		} else if (idle && l->base.now_ns - c->base.last_active_ns >= idle) {
			l->base.stats.idle_closed++;
			conn_start_close(l, c);
		}
	}
	arm_tick(l);
}

static void arm_wake(struct uloop *l)
{
	struct io_uring_sqe *sqe = sqe_get(l);

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
		on_accept(l, cqe);
		return;
	case RL_OP_RECV:
		on_recv(l, c, cqe);
		break;
	case RL_OP_SEND:
		on_send(l, c, cqe);
		break;
	case RL_OP_CANCEL:
		if (ptr == l)
			return; /* accept cancel */
		c->inflight--;
		break;
	case RL_OP_CLOSE:
	case RL_OP_SHUTDOWN:
		c->inflight--;
		break;
	case RL_OP_FILE: {
		struct rl_fileop *op = ptr;

		c = (struct uconn *)op->conn;
		c->inflight--;
		if (op->kind == RL_FOP_OPEN)
			rl_fileinline_forget(&l->fin,
					     cqe->res); /* a new file under a reused number */
		rl_conn_fileop_done(op, cqe->res);
		break;
	}
	case RL_OP_TICK:
		on_tick(l);
		return;
	case RL_OP_WAKE:
		if (atomic_load(&l->base.srv->stopping))
			start_drain(l);
		else
			arm_wake(l);
		return;
	default:
		rl_err("io_uring: completion with unknown user_data 0x%llx",
		       (unsigned long long)cqe->user_data);
		return;
	}
	conn_settle(l, c);
}

/*
 * Registers the loop's file I/O buffers.  Without them (RLIMIT_MEMLOCK too low even for a
 * few, an old kernel) file I/O still works: plain READ and WRITE on heap chunks.
 */
static void setup_file_buffers(struct uloop *l)
{
	int ret = rl_fixedbuf_init(&l->fixed, &l->r.ring, FILE_BUF_COUNT, FILE_BUF_SIZE);

	if (ret) {
		rl_debug("loop %u: registering file buffers failed (%s); file reads and writes "
			 "use heap buffers",
			 l->base.index, strerror(-ret));
		return;
	}
	l->base.fixedbuf = &l->fixed;
	rl_debug("loop %u: %u registered file buffers of %u bytes%s", l->base.index, l->fixed.count,
		 l->fixed.size, l->fixed.count < FILE_BUF_COUNT ? " (fewer: RLIMIT_MEMLOCK)" : "");
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
	rl_debug("loop %u: %u provided buffers of %u bytes", l->base.index, cfg->buf_count,
		 cfg->buf_size);
	if (l->base.srv->proto->on_fileop) {
		setup_file_buffers(l);
		rl_fileinline_init(&l->fin, !rl_ring_feature_off("inline-write"));
	}
	return 0;
}

static void *loop_main(void *arg)
{
	struct uloop *l = arg;
	struct rl_server *srv = l->base.srv;
	struct rl_cqe cqe;
	int ret;

	l->lfd = rl_server_listen_fd(srv, l->base.index);
	l->base.submit_fileop = uring_fileop;
	if (!rl_ring_feature_off("lend"))
		l->base.send_input = uring_send_input;
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
	arm_accept(l);
	arm_tick(l);
	while (!l->fatal) {
		flush_dirty(l);
		rl_bufring_commit(&l->br);
		rearm_starved(l);
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
	if (l->fin.probes || l->fin.inline_meta)
		rl_debug("loop %u: done inline: file writes %llu (%llu RWF_NOWAIT probes), "
			 "creating opens, renames and unlinks %llu",
			 l->base.index, (unsigned long long)l->fin.inline_writes,
			 (unsigned long long)l->fin.probes, (unsigned long long)l->fin.inline_meta);
	rl_fileinline_free(&l->fin);
	if (l->r.overflows || l->r.submit_busy)
		rl_debug("loop %u: CQ overflows %llu, submits that met a full CQ %llu",
			 l->base.index, (unsigned long long)l->r.overflows,
			 (unsigned long long)l->r.submit_busy);
	/* Fatal exit only: free what is left.  io_uring_queue_exit cancels in-flight I/O. */
	while (l->live) {
		struct uconn *c = l->live;

		l->live = c->next;
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
