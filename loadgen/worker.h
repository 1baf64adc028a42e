/*
 * worker.h - one load-generating thread: its ring, its connections, its measurements.
 *
 * worker.c runs the thread: setup, the ramp-up of connects, the batch loop, and the
 * dispatch of every completion to the worker's mode (lg_mode.h), picked once at setup
 * from the protocol.  The state below is shared by the worker and the helpers its mode
 * uses (lg_conn.c, pace.c, record.c, pipeline.c); a mode keeps what only it needs behind
 * `mode_state`.  Everything is owned by the worker thread, except `pub` (shared with the
 * main thread under its lock) and the results, which the main thread reads after joining.
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
#include "list.h"
#include "load.h"
#include "ring.h"
#include "stats.h"

struct lg_conn;
struct lg_slot;
struct lg_mode_ops;

struct lg_worker {
	_Alignas(16) unsigned index; /* the worker is a user_data object (its tick) */
	const struct lg_config *cfg;
	struct lg_run *run;
	pthread_t thread;
	pthread_barrier_t *barrier;
	int setup_err;

	const struct lg_mode_ops *mode; /* the data path, picked at setup (lg_mode.h) */
	void *mode_state;		/* the mode's own, made and freed by its hooks */

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
	double period_ns;	/* open loop: ns between one connection's requests */
	struct rl_list dirty;	/* connections with requests to send (lg_conn.dirty) */
	struct rl_list starved; /* FIFO of recvs waiting for buffers (lg_conn.starved) */

	unsigned next_connect; /* conns[] index of the next connect to start */
	unsigned connecting;
	unsigned ramp_connecting; /* of those, first connects of a slot: what --connect-rate
				   * and max_connecting bound (reconnects of cycling slots must
				   * not starve the slots still waiting to start) */
	unsigned live;		  /* connections open now */
	unsigned established;	  /* connects that succeeded */
	unsigned cycling;	  /* slots a mode reconnects by itself (cycle.c), started and
				   * not dropped: while any is left the run goes on */
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
	struct lg_dgram_stats dg;    /* datagram: counts inside the window */
	struct lg_pace_stats pace;   /* open loop: the schedule against the window */
	uint64_t chat_lines; /* broadcast: lines delivered to every receiver, in the window */
	struct lg_errors err;
	struct rusage ru_start, ru_end;
	uint64_t exit_ns; /* when the worker stopped */
	_Atomic bool finished;
	int fatal;
};

/*
 * Prepares worker w for `nconns` connections numbered from first_id (allocations are
 * made by the thread itself, in lg_worker_main).  Returns 0.
 */
int lg_worker_prepare(struct lg_worker *w, const struct lg_config *cfg, struct lg_run *run,
		      unsigned index, unsigned first_id, unsigned nconns,
		      pthread_barrier_t *barrier);

/* Thread entry: arg is a struct lg_worker.  Returns NULL; results stay in the worker. */
void *lg_worker_main(void *arg);

/* Frees what the worker still holds after it was joined (histograms, intervals). */
void lg_worker_release(struct lg_worker *w);

#endif
