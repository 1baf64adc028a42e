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
	LCF_RECYCLE = 1u << 6,	  /* conn_per_request: closing after a clean reply, reconnect */
	LCF_RAMP = 1u << 7,	  /* its connect in flight is the slot's first (ramp-up) */
};

/* Times of one request in flight (a ring of --pipeline slots per connection). */
struct lg_slot {
	uint64_t intended; /* open loop: the scheduled send time; closed loop: = sent */
	uint64_t sent;	   /* when its first byte went into a send */
	uint8_t dg;	   /* datagram: LG_DG_PENDING, _ANSWERED or _LOST */
	uint32_t deliv;	   /* broadcast: receivers that have the line */
};

enum { LG_DG_PENDING = 0, LG_DG_ANSWERED, LG_DG_LOST };

/* Datagram history per socket: answered bits of the last LG_DG_HISTORY sequence numbers. */
#define LG_DG_HISTORY 8192u

struct lg_conn {
	_Alignas(16) uint64_t issued; /* requests released for sending (next index) */
	uint64_t produced;	      /* requests fully copied into the send buffer */
	uint64_t prod_off;	      /* bytes of request `produced` already copied */
	uint64_t replied;	      /* complete, verified replies */
	uint64_t reply_off;	      /* bytes of reply `replied` received so far */
	uint64_t t_connect;	      /* when the connect was submitted */
	uint64_t sched_t0;	      /* open loop: intended time of request 0 */
	uint64_t cycles;	      /* conn_per_request: connects started on this slot */
	uint64_t max_seen;	      /* datagram: highest sequence number answered + 1 */
	uint64_t *dg_bits;	      /* datagram: LG_DG_HISTORY answered bits (worker's array) */
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
	unsigned ramp_connecting; /* of those, first connects of a slot: what --connect-rate
				   * and max_connecting bound (reconnects of cycling slots must
				   * not starve the slots still waiting to start) */
	unsigned live;	      /* connections open now */
	unsigned established; /* connects that succeeded */
	unsigned cycling;     /* conn_per_request: slots started and not dropped */
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

	struct lg_interval cur; /* the interval being recorded */
	struct lg_pub pub;

	/* Results, read by the main thread after join. */
	uint64_t requests; /* replies completed in the window */
	uint64_t bytes_in, bytes_out;
	struct rl_hist hist_c; /* corrected latency (from the intended send time) */
	struct rl_hist hist_u; /* uncorrected latency (from the actual send); open loop only */
	struct rl_hist hist_connect; /* conn_per_request: connect latency */
	struct rl_hist hist_ttfb;    /* conn_per_request: time to first byte */
	uint64_t *dg_bits;	     /* datagram: every connection's history */
	struct lg_dgram_stats dg;    /* datagram: counts inside the window */
	uint64_t *chat_rx_next;	     /* broadcast: [receiver * n + sender] next line expected */
	char *chat_part;	     /* broadcast: each member's partial line */
	uint32_t *chat_plen;
	uint8_t *chat_in_room; /* broadcast: member known to be in the room */
	char *chat_line;       /* broadcast: scratch for the expected line */
	unsigned chat_joined;  /* members (besides 0) known to be in the room */
	bool chat_go;	       /* everyone is in: lines flow */
	uint64_t chat_next_sync;
	uint64_t chat_lines; /* lines delivered to every receiver, in the window */
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

/* Starts a connect on c (its socket is made here).  Failures are counted. */
void lg_conn_connect(struct lg_worker *w, struct lg_conn *c);

/* Starts closing c (cancels what is in flight, then closes). */
void lg_conn_close(struct lg_worker *w, struct lg_conn *c);

/* Counts an error of `kind` for connection c and starts closing it. */
void lg_conn_fail(struct lg_worker *w, struct lg_conn *c, enum lg_err_kind kind, int err);

/* The open-loop phase of connection c: a pseudo-random offset in [0, period) drawn from the
 * run seed and c's global index, so the connections' schedules do not fire together. */
uint64_t lg_conn_phase_ns(const struct lg_worker *w, const struct lg_conn *c);

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

/* Arms c's multishot recv unless one is armed already. */
void lg_traffic_arm_recv(struct lg_worker *w, struct lg_conn *c);

/* Logs a reply mismatch (the first few of the run). */
void lg_traffic_report_mismatch(struct lg_worker *w, const struct lg_conn *c,
				const struct lg_mismatch *mm);

/* ---- dgram.c: datagram sockets (lg_proto.datagram) ---- */

/* The socket c is connected: arms its recv and starts sending. */
void lg_dgram_start(struct lg_worker *w, struct lg_conn *c);

/* Releases datagrams that may go now and sends them (one SQE each). */
void lg_dgram_issue(struct lg_worker *w, struct lg_conn *c);

/* Handles one received datagram of n bytes at p. */
void lg_dgram_on_datagram(struct lg_worker *w, struct lg_conn *c, const uint8_t *p, size_t n);

/* Handles a send CQE of a datagram. */
void lg_dgram_on_send(struct lg_worker *w, struct lg_conn *c, const struct rl_cqe *cqe);

/* Counts datagrams unanswered for --timeout as lost and moves the window on. */
void lg_dgram_sweep(struct lg_worker *w, struct lg_conn *c);

/* ---- chatpath.c: one room (lg_proto.broadcast) ---- */

/* Allocates the room's tables.  Returns 0 or -ENOMEM. */
int lg_chat_setup(struct lg_worker *w);

/* Frees them. */
void lg_chat_free(struct lg_worker *w);

/* Copies issued lines into c's empty send buffer, stamping their send times. */
void lg_chat_fill(struct lg_worker *w, struct lg_conn *c);

/* Once per batch: fills the room (sync lines), then starts everyone. */
void lg_chat_tick(struct lg_worker *w);

/* Handles n bytes received by member c. */
void lg_chat_on_bytes(struct lg_worker *w, struct lg_conn *c, const uint8_t *p, size_t n);

/* Marks c as having something to send this batch. */
void lg_traffic_mark_dirty(struct lg_worker *w, struct lg_conn *c);

/* ---- cycle.c: one request per connection (lg_proto.conn_per_request) ---- */

/* Starts slot c's first cycle (ramp-up). */
void lg_cycle_begin(struct lg_worker *w, struct lg_conn *c);

/* Slot c is idle: connects now or schedules the next connect (open loop). */
void lg_cycle_next(struct lg_worker *w, struct lg_conn *c);

/* The scheduled connect time of c has come. */
void lg_cycle_timer(struct lg_worker *w, struct lg_conn *c);

/* c's connect succeeded: records the connect latency, arms the recv. */
void lg_cycle_connected(struct lg_worker *w, struct lg_conn *c);

/* The first byte of c's reply arrived: records the time to first byte. */
void lg_cycle_first_byte(struct lg_worker *w, struct lg_conn *c);

/* The server closed c: a complete reply is a finished request, anything less an error. */
void lg_cycle_eof(struct lg_worker *w, struct lg_conn *c);

/* Slot c has closed after a clean request: makes it reusable and goes on. */
void lg_cycle_recycle(struct lg_worker *w, struct lg_conn *c);

#endif
