/*
 * lg_conn.h - one connection of a worker and its plumbing on the worker's ring: SQEs,
 * the socket and its connect, the multishot recv and its starved list, failure and close.
 *
 * Every mode (lg_mode.h) moves its requests over these; none of them knows a mode.  The
 * calls that end a connection (lg_conn_fail, lg_conn_close) only start closing it: the
 * worker finishes the close once nothing is in flight and then asks the mode whether the
 * slot is reused.
 */
#ifndef RL_LG_CONN_H
#define RL_LG_CONN_H

#include <stdbool.h>
#include <stdint.h>

#include "lg_proto.h"
#include "lg_sched.h"
#include "list.h"
#include "ring.h"
#include "stats.h"
#include "worker.h"

/* The provided-buffer group every worker's ring uses for its recvs. */
#define LG_BUFFER_GROUP 0

enum lg_conn_state {
	LC_IDLE = 0,   /* not opened yet */
	LC_CONNECTING, /* connect in flight */
	LC_OPEN,       /* established, carrying requests */
	LC_CLOSING,    /* cancel/close in flight */
	LC_DEAD,       /* closed (or never opened): no CQE outstanding */
};

enum {
	LCF_RECV_ARMED = 1u << 0, /* a multishot recv is armed */
	LCF_SEND_BUSY = 1u << 1,  /* a send is in flight */
	LCF_STARVED = 1u << 2,	  /* recv ended with -ENOBUFS: re-arm once buffers are back */
	LCF_CLOSE_SENT = 1u << 3, /* the close SQE is queued */
	LCF_DIRTY = 1u << 4,	  /* on the dirty list: requests to send */
	LCF_WAS_OPEN = 1u << 5,	  /* the connect succeeded */
	LCF_MODE = 1u << 6,	  /* the mode's own (cycle.c: closing after a clean reply) */
	LCF_RAMP = 1u << 7,	  /* its connect in flight is the slot's first (ramp-up) */
};

/* Times of one request in flight (a ring of --pipeline slots per connection). */
struct lg_slot {
	uint64_t intended; /* open loop: the scheduled send time; closed loop: = sent */
	uint64_t sent;	   /* when its first byte went into a send */
	uint32_t mark;	   /* the mode's own word (dgram.c: answered or lost; chatpath.c:
			    * receivers that have the line) */
};

struct lg_conn {
	_Alignas(16) uint64_t issued; /* requests released for sending (next index) */
	uint64_t produced;	      /* requests fully copied into the send buffer */
	uint64_t prod_off;	      /* bytes of request `produced` already copied */
	uint64_t replied;	      /* complete, verified replies */
	uint64_t reply_off;	      /* bytes of reply `replied` received so far */
	uint64_t t_connect;	      /* when the connect was submitted */
	uint64_t sched_t0;	      /* open loop: request 0's intended time; 0: none */
	uint64_t nsent;		      /* requests sent (cycle: connects started), in order */
	uint64_t ndone;		      /* requests finished: completed (udp: or counted lost) */
	struct lg_sched_node sched;   /* open loop: waiting for the next intended time */
	struct lg_slot *slots;	      /* slot_mask + 1 entries (in the worker's array) */
	uint8_t *sbuf;		      /* send buffer, sbuf_cap bytes (worker's array) */
	void *pstate;		      /* protocol state (worker's array) */
	struct rl_list dirty;	      /* on the worker's dirty list (LCF_DIRTY) */
	struct rl_list starved;	      /* on the worker's starved FIFO (LCF_STARVED) */
	uint32_t slen;		      /* bytes in sbuf */
	uint32_t soff;		      /* bytes of sbuf already sent */
	uint32_t id;		      /* process-wide connection number */
	int fd;			      /* socket, or its registered-file index (lg_worker.fixed) */
	uint16_t inflight;	      /* CQEs still owed to this connection */
	uint8_t state;
	uint8_t flags;
};

/* The index of c in its worker's conns[] (for a mode's per-connection arrays). */
static inline unsigned lg_conn_index(const struct lg_worker *w, const struct lg_conn *c)
{
	return (unsigned)(c - w->conns);
}

/* Returns a free SQE or NULL (then the worker is marked fatal). */
struct io_uring_sqe *lg_sqe(struct lg_worker *w);

/* Marks an SQE as naming a registered file when the worker uses them (after prep). */
static inline void lg_sqe_file(const struct lg_worker *w, struct io_uring_sqe *sqe)
{
	if (w->fixed)
		sqe->flags |= IOSQE_FIXED_FILE;
}

/*
 * Starts a connect on c: makes its socket (sock_type: SOCK_STREAM or SOCK_DGRAM) and
 * queues the connect.  Returns 0, or -errno when it failed before reaching the ring (the
 * error is counted and c is dead).
 */
int lg_conn_connect(struct lg_worker *w, struct lg_conn *c, int sock_type);

/* Starts closing c (cancels what is in flight, then closes); forgets its schedule and
 * its place on the starved list. */
void lg_conn_close(struct lg_worker *w, struct lg_conn *c);

/*
 * After each completion of c: queues its close once c is closing and idle.  Returns true
 * when the close has completed (nothing in flight any more), false otherwise.
 */
bool lg_conn_closed(struct lg_worker *w, struct lg_conn *c);

/* Counts an error of `kind` (err: a negative errno, or 0) for c and starts closing it. */
void lg_conn_fail(struct lg_worker *w, struct lg_conn *c, enum lg_err_kind kind, int err);

/* The error kind of a failed send or recv: a reset for -ECONNRESET/-EPIPE, else I/O. */
enum lg_err_kind lg_conn_io_kind(int res);

/* Logs the reply to request `req` of c as a mismatch (the first few of the run, all
 * threads; mm->got < 0: the reply was cut short) and fails c. */
void lg_conn_mismatch(struct lg_worker *w, struct lg_conn *c, uint64_t req,
		      const struct lg_mismatch *mm);

/* Arms c's multishot recv unless one is armed already (or c waits for buffers). */
void lg_conn_arm_recv(struct lg_worker *w, struct lg_conn *c);

/* c's recv ended for lack of buffers: it waits on the starved list. */
void lg_conn_starve(struct lg_worker *w, struct lg_conn *c);

/* Re-arms recvs that ended for lack of buffers, as many as buffers are back. */
void lg_conn_rearm_starved(struct lg_worker *w);

#endif
