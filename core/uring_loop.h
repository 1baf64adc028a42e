/*
 * uring_loop.h - the io_uring engine's private header: what a loop (struct uloop) and a
 * connection (struct uconn) hold, a connection's state (an enum per concern, with its
 * predicates and asserted transitions), and the functions the engine's files call in one
 * another.  Only those files include it; protocols see core/conn.h, never this.  Which
 * file does what: the top of engine_uring.c.  The prototypes below are grouped by the file
 * that defines them.
 *
 * Every function here runs in the loop's own thread, on its own loop and connections.
 */
#ifndef RL_URING_LOOP_H
#define RL_URING_LOOP_H

#include <assert.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include "bufring.h"
#include "conn.h"
#include "fixedbuf.h"
#include "list.h"
#include "log.h"
#include "ring.h"

#define BUFFER_GROUP 0

/*
 * A connection's state: one small enum per concern, each a uint8_t in struct uconn, read
 * through the predicates and changed through the us_set_*() helpers below, which assert
 * that the transition is legal (asserts are compiled out of release builds).
 *
 *   recv_st   its multishot recv.  RECV_IDLE: none in flight; RECV_ARMED: in flight;
 *             RECV_CANCELLING: in flight, and a cancel of it too (backpressure, drain);
 *             RECV_STARVED: it ended with -ENOBUFS and the connection waits in the loop's
 *             starved FIFO for buffers.  IDLE -> ARMED -> (CANCELLING ->) IDLE, and
 *             IDLE -> STARVED -> IDLE.
 *   send_st   its one send.  SEND_IDLE, SEND_BUSY (from the send queue), SEND_BUSY_LENT
 *             (from the lent receive buffer).  IDLE -> BUSY or BUSY_LENT -> IDLE.
 *   life      how it reads while it lives.  LIFE_OPEN; LIFE_DRAIN: the server is stopping,
 *             read no more and answer what was read; LIFE_LINGER: FIN sent, read and
 *             discard until the peer closes (it outranks DRAIN).  OPEN -> DRAIN -> LINGER,
 *             OPEN -> LINGER.  It stays what it was once closing starts: a lingering
 *             connection counts what it discards to the end.
 *   close_st  CLOSE_NONE; CLOSE_PENDING: closing, waiting for its CQEs; CLOSE_SENT: its
 *             CLOSE is submitted, and it is freed when that completes.  NONE -> PENDING
 *             -> SENT.
 *   backpressured  apart from all these: the peer is not reading what it is sent, so its
 *             recv is cancelled until the send queue drains (uring_conn.c).
 * All zero (IDLE, IDLE, OPEN, NONE, false) in a new connection.  `inflight` counts the CQEs
 * still owed to it; it is freed only at 0, closing, with its CLOSE sent.
 */
enum us_recv { RECV_IDLE, RECV_ARMED, RECV_CANCELLING, RECV_STARVED };
enum us_send { SEND_IDLE, SEND_BUSY, SEND_BUSY_LENT };
enum us_life { LIFE_OPEN, LIFE_DRAIN, LIFE_LINGER };
enum us_close { CLOSE_NONE, CLOSE_PENDING, CLOSE_SENT };

struct uconn {
	struct rl_conn base;	/* first: rl_conn_open() finds the protocol state after us */
	struct rl_list link;	/* on the loop's list of connections, newest first */
	struct rl_list starved; /* on the loop's starved FIFO while RECV_STARVED */
	int fd;
	unsigned inflight; /* CQEs still owed to this connection */
	uint8_t recv_st;   /* enum us_recv */
	uint8_t send_st;   /* enum us_send */
	uint8_t life;	   /* enum us_life */
	uint8_t close_st;  /* enum us_close */
	bool backpressured;
	bool fixed;	/* also in the ring's file table, at index fd: recv and send use that */
	bool sent_once; /* has had a send: the next one registers the file (uring_conn.c) */
	/* Echoed input sent straight from its provided buffer (rl_conn_send_input): the
	 * unsent part, and the buffer to give back once it is all sent.  It goes before
	 * anything in the send queue, which only fills while it is unsent. */
	const uint8_t *lent;
	uint32_t lent_len;
	uint16_t lent_bid;
	/* No msghdr or iovecs here: a send's live in the ring's scratch (uring_conn.c). */
};

/* ---- state predicates ---- */

/* No recv in flight, and not starved: one may be armed. */
static inline bool us_recv_idle(const struct uconn *c)
{
	return c->recv_st == RECV_IDLE;
}

/* A recv in flight and no cancel of it: one may be sent. */
static inline bool us_recv_armed(const struct uconn *c)
{
	return c->recv_st == RECV_ARMED;
}

/* A recv in flight, cancelled or not. */
static inline bool us_recv_in_flight(const struct uconn *c)
{
	return c->recv_st == RECV_ARMED || c->recv_st == RECV_CANCELLING;
}

static inline bool us_starved(const struct uconn *c)
{
	return c->recv_st == RECV_STARVED;
}

static inline bool us_send_busy(const struct uconn *c)
{
	return c->send_st != SEND_IDLE;
}

/* The send in flight is from the lent receive buffer. */
static inline bool us_send_lent(const struct uconn *c)
{
	return c->send_st == SEND_BUSY_LENT;
}

/* The server is stopping and the connection is not lingering: it reads no more. */
static inline bool us_draining(const struct uconn *c)
{
	return c->life == LIFE_DRAIN;
}

static inline bool us_lingering(const struct uconn *c)
{
	return c->life == LIFE_LINGER;
}

static inline bool us_closing(const struct uconn *c)
{
	return c->close_st != CLOSE_NONE;
}

static inline bool us_close_sent(const struct uconn *c)
{
	return c->close_st == CLOSE_SENT;
}

static inline bool us_backpressured(const struct uconn *c)
{
	return c->backpressured;
}

/* ---- transitions: the legal ones, asserted ---- */

static inline bool us_recv_legal(enum us_recv from, enum us_recv to)
{
	switch (from) {
	case RECV_IDLE:
		return to == RECV_ARMED || to == RECV_STARVED;
	case RECV_ARMED:
		return to == RECV_CANCELLING || to == RECV_IDLE;
	case RECV_CANCELLING:
	case RECV_STARVED:
		return to == RECV_IDLE;
	}
	return false;
}

static inline void us_set_recv(struct uconn *c, enum us_recv to)
{
	assert(us_recv_legal((enum us_recv)c->recv_st, to));
	c->recv_st = (uint8_t)to;
}

static inline void us_set_send(struct uconn *c, enum us_send to)
{
	assert((c->send_st == SEND_IDLE) != (to == SEND_IDLE));
	c->send_st = (uint8_t)to;
}

static inline void us_set_life(struct uconn *c, enum us_life to)
{
	assert(c->life < to); /* OPEN -> DRAIN -> LINGER, never back */
	c->life = (uint8_t)to;
}

static inline void us_set_close(struct uconn *c, enum us_close to)
{
	assert((c->close_st == CLOSE_NONE && to == CLOSE_PENDING) ||
	       (c->close_st == CLOSE_PENDING && to == CLOSE_SENT));
	c->close_st = (uint8_t)to;
}

/* The server is stopping: read no more.  A lingering connection stays lingering (it
 * already reads only until the peer closes). */
static inline void us_drain(struct uconn *c)
{
	if (c->life == LIFE_OPEN)
		us_set_life(c, LIFE_DRAIN);
}

/* One of the CQEs owed to c has arrived. */
static inline void us_inflight_dec(struct uconn *c)
{
	assert(c->inflight > 0);
	c->inflight--;
}

struct uloop {
	_Alignas(16) struct rl_loop base; /* user_data carries the op in the low 4 bits */
	struct rl_ring r;
	struct rl_bufring br;
	struct rl_fixedbuf fixed; /* registered buffers, when the protocol does file I/O */
	int lfd;
	uint64_t wake_buf;
	struct rl_list live; /* every connection until it is freed (uconn.link) */
	unsigned nlive;
	unsigned max_conns;
	struct rl_list starved; /* FIFO of connections waiting for buffers (uconn.starved) */
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
	/* Registered files: a sparse table of nfixed slots; connection fd N goes in slot N
	 * (0 when the kernel refused the table or RINGLAB_URING_OFF names "fixedfiles"). */
	unsigned nfixed;
	uint64_t backoff_until; /* 0: no accept back-off */
	uint64_t drain_deadline;
	struct __kernel_timespec tick_ts;
	int fatal;
};

/* An SQE from the loop's ring, or NULL when there is none even after submitting: the loop
 * then stops (l->fatal). */
static inline struct io_uring_sqe *ul_sqe_get(struct uloop *l)
{
	struct io_uring_sqe *sqe = rl_ring_sqe(&l->r);

	if (!sqe && !l->fatal) {
		rl_err("io_uring: no SQE available even after submitting; stopping this loop");
		l->fatal = -EIO;
	}
	return sqe;
}

/* Points an SQE prepared on c->fd at c's registered file instead, when it has one: the
 * kernel then skips the file lookup and its reference count on every request. */
static inline void ul_sqe_conn_file(struct io_uring_sqe *sqe, const struct uconn *c)
{
	if (c->fixed)
		sqe->flags |= IOSQE_FIXED_FILE;
}

/* uring_conn.c: the data path. */
int ul_send_input(struct rl_loop *loop, struct rl_conn *bc, const void *p, size_t n);
void ul_lend_return(struct uloop *l, struct uconn *c);
void ul_arm_recv(struct uloop *l, struct uconn *c);
void ul_starved_remove(struct uconn *c);
void ul_flush_dirty(struct uloop *l);
void ul_rearm_starved(struct uloop *l);
void ul_on_recv(struct uloop *l, struct uconn *c, const struct rl_cqe *cqe);
void ul_on_send(struct uloop *l, struct uconn *c, const struct rl_cqe *cqe);

/* uring_life.c: accept, close, the tick. */
void ul_arm_accept(struct uloop *l);
void ul_arm_tick(struct uloop *l);
void ul_submit_cancel(struct uloop *l, struct uconn *c, bool all);
void ul_conn_start_close(struct uloop *l, struct uconn *c);
void ul_conn_settle(struct uloop *l, struct uconn *c);
void ul_conn_fail(struct uloop *l, struct uconn *c, int err);
void ul_conn_linger(struct uloop *l, struct uconn *c);
void ul_on_accept(struct uloop *l, const struct rl_cqe *cqe);
void ul_setup_fixed_files(struct uloop *l);
/* Puts c's socket in table slot c->fd through the ring (no syscall; no CQE unless it
 * fails), when the table has that slot; from then on c->fixed.  The kernel issues a
 * submission's SQEs in order, so c's SQEs queued after this find the slot filled. */
void ul_register_file(struct uloop *l, struct uconn *c);
void ul_on_files_update(struct uloop *l, const struct rl_cqe *cqe);
void ul_start_drain(struct uloop *l);
void ul_on_tick(struct uloop *l);

/* uring_file.c: file operations. */
int ul_fileop(struct rl_loop *loop, struct rl_fileop *op);
void ul_setup_file_buffers(struct uloop *l);

#endif
