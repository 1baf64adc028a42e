/*
 * uring_loop.h - the io_uring engine's private header: what a loop (struct uloop) and a
 * connection (struct uconn) hold, the connection state bits, and the functions the
 * engine's files call in one another.  Only those files include it; protocols see
 * core/conn.h, never this.  Which file does what: the top of engine_uring.c.  The
 * prototypes below are grouped by the file that defines them.
 *
 * Every function here runs in the loop's own thread, on its own loop and connections.
 */
#ifndef RL_URING_LOOP_H
#define RL_URING_LOOP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include "bufring.h"
#include "conn.h"
#include "fixedbuf.h"
#include "log.h"
#include "ring.h"

#define BUFFER_GROUP 0

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

struct uloop {
	_Alignas(16) struct rl_loop base; /* user_data carries the op in the low 4 bits */
	struct rl_ring r;
	struct rl_bufring br;
	struct rl_fixedbuf fixed; /* registered buffers, when the protocol does file I/O */
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
void ul_starved_remove(struct uloop *l, struct uconn *c);
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
