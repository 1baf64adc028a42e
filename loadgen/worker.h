/*
 * worker.h - one load-generating thread: its ring, its connections, its measurements.
 *
 * worker.c runs the thread (setup, the batch loop, connects, connection teardown);
 * traffic.c moves requests and replies (issue, send, receive, verify, record, timeouts).
 * Everything here is owned by the worker thread, except `pub` (shared with the main
 * thread under its lock) and the results, which the main thread reads after joining.
 */
#ifndef RL_LG_WORKER_H
#define RL_LG_WORKER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/resource.h>

#include "bufring.h"
#include "hist.h"
#include "lg_sched.h"
#include "load.h"
#include "ring.h"
#include "stats.h"

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
};

/* Times of one request in flight (a ring of --pipeline slots per connection). */
struct lg_slot {
	uint64_t intended; /* open loop: the scheduled send time; closed loop: = sent */
	uint64_t sent;	   /* when its first byte went into a send */
};

struct lg_conn {
	_Alignas(16) uint64_t issued; /* requests released for sending (next index) */
	uint64_t produced;	      /* requests fully copied into the send buffer */
	uint64_t prod_off;	      /* bytes of request `produced` already copied */
	uint64_t replied;	      /* complete, verified replies */
	uint64_t reply_off;	      /* bytes of reply `replied` received so far */
	uint64_t t_connect;	      /* when the connect was submitted */
	uint64_t sched_t0;	      /* open loop: intended time of request 0 */
	struct lg_sched_node sched;   /* open loop: waiting for the next intended time */
	struct lg_slot *slots;	      /* slot_mask + 1 entries (in the worker's array) */
	uint8_t *sbuf;		      /* send buffer, sbuf_cap bytes (worker's array) */
	void *pstate;		      /* protocol state (worker's array) */
	struct lg_conn *next_dirty;
	struct lg_conn *next_starved;
	uint32_t slen;	   /* bytes in sbuf */
	uint32_t soff;	   /* bytes of sbuf already sent */
	uint32_t id;	   /* process-wide connection number */
	int fd;		   /* socket, or its registered-file index (lg_worker.fixed) */
	uint16_t inflight; /* CQEs still owed to this connection */
	uint8_t state;
	uint8_t flags;
};

struct lg_worker {
	_Alignas(16) unsigned index; /* the worker is a user_data object (its tick) */
	const struct lg_config *cfg;
	struct lg_run *run;
	pthread_t thread;
	pthread_barrier_t *barrier;
	int setup_err;

	struct rl_ring r;
	struct rl_bufring br;
	bool ring_up, br_up;
	bool fixed; /* sockets are registered files: c->fd is the table index */

	struct lg_conn *conns;
	unsigned nconns;
	unsigned first_id;
	struct lg_slot *slots;
	unsigned slot_mask;
	uint8_t *sbufs;
	uint32_t sbuf_cap;
	uint8_t *pstates;
	unsigned pinit; /* protocol states initialised (conn_init succeeded) */

	struct lg_sched sched;
	double period_ns; /* open loop: ns between one connection's requests */
	struct lg_conn *dirty;
	struct lg_conn *starved_head, *starved_tail;

	unsigned next_connect; /* conns[] index of the next connect to start */
	unsigned connecting;
	unsigned live;	      /* connections open now */
	unsigned established; /* connects that succeeded */
	double connect_period_ns;
	uint64_t ramp_t0;
	bool ramp_done;
	_Atomic bool ramp_done_pub; /* read by the main thread */

	uint64_t now; /* the clock, read once per completion batch */
	struct __kernel_timespec tick_ts;
	uint64_t tick_at; /* when the armed tick fires */
	bool tick_armed;
	uint64_t win_start, win_end;
	bool in_window, window_seen;
	uint64_t next_sweep;
	uint64_t sweep_ns;
	uint64_t rng;

	struct lg_interval cur; /* the interval being recorded */
	struct lg_pub pub;

	/* Results, read by the main thread after join. */
	uint64_t requests; /* replies completed in the window */
	uint64_t bytes_in, bytes_out;
	struct rl_hist hist_c; /* corrected latency (from the intended send time) */
	struct rl_hist hist_u; /* uncorrected latency (from the actual send); open loop only */
	struct lg_errors err;
	struct rusage ru_start, ru_end;
	uint64_t exit_ns; /* when the worker stopped */
	_Atomic bool finished;
	int fatal;
};

/* ---- worker.c ---- */

/*
 * Prepares worker w for `nconns` connections numbered from first_id (allocations are
 * made by the thread itself, in lg_worker_main).  Returns 0.
 */
int lg_worker_prepare(struct lg_worker *w, const struct lg_config *cfg, struct lg_run *run,
		      unsigned index, unsigned first_id, unsigned nconns,
		      pthread_barrier_t *barrier);

/* Thread entry: arg is a struct lg_worker.  Returns NULL; results stay in the worker. */
void *lg_worker_main(void *arg);

/* Frees what the worker still holds after it was joined (histograms, slots). */
void lg_worker_release(struct lg_worker *w);

/* Returns a free SQE or NULL (then the worker is marked fatal). */
struct io_uring_sqe *lg_sqe(struct lg_worker *w);

/* Marks an SQE as naming a registered file when the worker uses them (after prep). */
static inline void lg_sqe_file(const struct lg_worker *w, struct io_uring_sqe *sqe)
{
	if (w->fixed)
		sqe->flags |= IOSQE_FIXED_FILE;
}

/* Counts an error of `kind` for connection c and starts closing it. */
void lg_conn_fail(struct lg_worker *w, struct lg_conn *c, enum lg_err_kind kind, int err);

/* ---- traffic.c ---- */

/* Connection c is established: arms its recv and starts its requests. */
void lg_traffic_start(struct lg_worker *w, struct lg_conn *c);

/* Releases requests on c that may go now (pipeline room, schedule), marks c dirty. */
void lg_traffic_issue(struct lg_worker *w, struct lg_conn *c);

/* Turns the requests released this batch into send SQEs (one per connection). */
void lg_traffic_flush(struct lg_worker *w);

/* Handles a recv CQE (multishot, provided buffer). */
void lg_traffic_on_recv(struct lg_worker *w, struct lg_conn *c, const struct rl_cqe *cqe);

/* Handles a send CQE (short sends resume from where they stopped). */
void lg_traffic_on_send(struct lg_worker *w, struct lg_conn *c, const struct rl_cqe *cqe);

/* Re-arms recvs that ended for lack of buffers (after buffers went back). */
void lg_traffic_rearm_starved(struct lg_worker *w);

/* Open loop: releases the requests whose intended time has come. */
void lg_traffic_timers(struct lg_worker *w);

/* Drops connections whose oldest request, or connect, is older than --timeout. */
void lg_traffic_sweep(struct lg_worker *w);

/* Forgets c's traffic state when it closes (schedule, starved list). */
void lg_traffic_stop(struct lg_worker *w, struct lg_conn *c);

#endif
