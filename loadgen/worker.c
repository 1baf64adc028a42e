/*
 * worker.c - one ringlab-load thread: an io_uring, its share of the connections, the
 * ramp-up of connects, the batch loop that drives everything, and the dispatch of every
 * completion to the worker's mode (lg_mode.h), picked at setup from the protocol.
 *
 * The loop, once per batch of completions:
 *   1. start connects (at most cfg->max_connecting in flight, paced by --connect-rate),
 *      let the mode turn the requests released since the last batch into sends (flush),
 *      give the receive buffers back, re-arm recvs that ran out of buffers;
 *   2. submit and wait (one io_uring_enter) until a completion arrives: the worker's
 *      100 ms tick (a ring timeout) bounds every wait and brings the interval boundaries,
 *      the timeout sweep and the window edges; a wait ends earlier, by its own timeout,
 *      only for the earliest intended send time (open loop) or the next paced connect;
 *   3. read the clock ONCE (rl_now_ns) and use that time for every completion and timer
 *      of the batch: latencies are stamped at batch granularity, which keeps the client's
 *      cost per request down to the ring and a few additions;
 *   4. handle the completions through the mode's hooks, then the due timers (the mode's
 *      timer hook), the mode's tick and the timeout sweep.
 *
 * Connections are an array per worker (no allocation per connection or request once the
 * run starts); user_data is the connection pointer | the operation (udata.h).  Receives
 * are one multishot recv per connection selecting from the worker's provided-buffer ring:
 * the bytes go to the mode in place and the buffer goes straight back; a recv that ends
 * (no IORING_CQE_F_MORE) is re-armed, one that ended with -ENOBUFS waits on the starved
 * list until buffers are back (lg_conn.c).  A connection slot is reused only when the
 * mode's closed hook takes it back (cycle.c reconnects after a clean reply); otherwise a
 * dropped connection is not reopened.
 */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "clock.h"
#include "lg_conn.h"
#include "lg_mode.h"
#include "log.h"
#include "pace.h"
#include "record.h"
#include "udata.h"
#include "worker.h"

#define SQ_ENTRIES     4096u
#define CQ_ENTRIES_MAX 65536u
#define TICK_NS	       (100 * RL_NSEC_PER_MSEC) /* longest wait; divides one second */
#define SENDBUF_MAX    (64u * 1024u)
#define SENDBUF_BUDGET (256ull * 1024 * 1024)
#define RECVBUF_BUDGET (64ull * 1024 * 1024)

static uint32_t pow2_at_least(uint64_t v)
{
	uint32_t p = 1;

	while (p < v && p < (1u << 30))
		p <<= 1;
	return p;
}

/* The mode for the protocol's shape (lg_proto.h): the only place that asks. */
static const struct lg_mode_ops *pick_mode(const struct lg_proto *p)
{
	if (p->conn_per_request)
		return &lg_mode_cycle;
	if (p->datagram)
		return &lg_mode_dgram;
	if (p->broadcast)
		return &lg_mode_chat;
	return &lg_mode_stream;
}

int lg_worker_prepare(struct lg_worker *w, const struct lg_config *cfg, struct lg_run *run,
		      unsigned index, unsigned first_id, unsigned nconns,
		      pthread_barrier_t *barrier)
{
	memset(w, 0, sizeof(*w));
	w->cfg = cfg;
	w->run = run;
	w->index = index;
	w->first_id = first_id;
	w->nconns = nconns;
	w->barrier = barrier;
	w->mode = pick_mode(cfg->proto);
	rl_list_init(&w->dirty);
	rl_list_init(&w->starved);
	return 0;
}

/* ---- setup and teardown ---- */

static int setup_ring(struct lg_worker *w)
{
	const struct lg_config *cfg = w->cfg;
	uint64_t bytes = cfg->params.size * cfg->pipeline;
	uint32_t cq = pow2_at_least((uint64_t)w->nconns * 4);
	uint64_t want_size, want_count;
	uint32_t bsize, bcount;
	int ret;

	if (cq < SQ_ENTRIES * 8)
		cq = SQ_ENTRIES * 8;
	if (cq > CQ_ENTRIES_MAX)
		cq = CQ_ENTRIES_MAX;
	ret = rl_ring_init(&w->r, SQ_ENTRIES, cq);
	if (ret) {
		rl_err("thread %u: io_uring setup failed: %s", w->index, strerror(-ret));
		return ret;
	}
	w->ring_up = true;
	/* Registered files spare the kernel a file lookup (fget/fput) on every operation, and
	 * the sockets then hold no slot in the process's descriptor table. */
	ret = io_uring_register_files_sparse(&w->r.ring, w->nconns);
	w->fixed = ret == 0;
	if (ret)
		rl_debug("thread %u: registered files unavailable (%s); using plain descriptors",
			 w->index, strerror(-ret));
	/* Receive buffers: big enough for a pipeline of replies, enough for every connection
	 * to have a recv completing in the same batch, within a budget. */
	want_size = bytes < 2048 ? 2048 : bytes > 65536 ? 65536 : bytes;
	want_count = (uint64_t)w->nconns * 2;
	if (w->mode->recv_buffers)
		w->mode->recv_buffers(w, &want_size, &want_count);
	bsize = pow2_at_least(want_size);
	bcount = pow2_at_least(want_count);
	if (bcount < 256)
		bcount = 256;
	if (bcount > 32768)
		bcount = 32768;
	while (bcount > 256 && (uint64_t)bcount * bsize > RECVBUF_BUDGET)
		bcount /= 2;
	ret = rl_bufring_init(&w->br, &w->r.ring, bcount, bsize, LG_BUFFER_GROUP);
	if (ret) {
		rl_err("thread %u: provided buffer ring (%u x %u bytes) failed: %s", w->index,
		       bcount, bsize, strerror(-ret));
		return ret;
	}
	w->br_up = true;
	rl_debug("thread %u: %u connections (%s mode), %u receive buffers of %u bytes", w->index,
		 w->nconns, w->mode->name, bcount, bsize);
	return 0;
}

static int setup_conns(struct lg_worker *w)
{
	const struct lg_config *cfg = w->cfg;
	size_t pstate = (cfg->proto->conn_state_size + 15) & ~(size_t)15;
	uint64_t cap = cfg->params.size * cfg->pipeline, per = SENDBUF_BUDGET / cfg->connections;
	uint64_t least;
	unsigned i;
	int ret;

	if (cap > SENDBUF_MAX)
		cap = SENDBUF_MAX;
	least = cap < 4096 ? cap : 4096; /* even past the budget: 4 KiB per send */
	if (cap > per)
		cap = per > least ? per : least;
	w->slot_mask = pow2_at_least(cfg->pipeline) - 1;
	if (w->mode->send_buffer)
		cap = w->mode->send_buffer(w);
	w->sbuf_cap = (uint32_t)((cap + 15) & ~(uint64_t)15);
	w->conns = aligned_alloc(64, ((size_t)w->nconns * sizeof(*w->conns) + 63) & ~(size_t)63);
	w->slots = calloc((size_t)w->nconns * (w->slot_mask + 1), sizeof(*w->slots));
	w->sbufs = malloc((size_t)w->nconns * w->sbuf_cap);
	w->pstates = calloc(w->nconns, pstate ? pstate : 1);
	if (!w->conns || !w->slots || !w->sbufs || !w->pstates)
		return -ENOMEM;
	memset(w->conns, 0, (size_t)w->nconns * sizeof(*w->conns));
	for (i = 0; i < w->nconns; i++) {
		w->conns[i].fd = -1;
		rl_list_init(&w->conns[i].dirty);
		rl_list_init(&w->conns[i].starved);
	}
	ret = lg_sched_init(&w->sched, w->nconns);
	if (ret)
		return ret;
	for (i = 0; i < w->nconns; i++) {
		struct lg_conn *c = &w->conns[i];
		uint64_t seed = cfg->seed ^ (0x9e3779b97f4a7c15ull * (w->first_id + i + 1));

		c->id = w->first_id + i;
		c->slots = w->slots + (size_t)i * (w->slot_mask + 1);
		c->sbuf = w->sbufs + (size_t)i * w->sbuf_cap;
		c->pstate = w->pstates + (size_t)i * pstate;
		lg_sched_node_init(&c->sched);
		ret = cfg->proto->conn_init(c->pstate, &cfg->params, lg_pace_mix(&seed));
		if (ret)
			return ret;
		w->pinit++;
	}
	return 0;
}

static int setup(struct lg_worker *w)
{
	const struct lg_config *cfg = w->cfg;
	int ret;

	/* Wake-ups as close to the schedule as the timer allows (default slack is 50 us). */
	prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);
	if (cfg->rate > 0) {
		/* Each sender's share of the total rate (chat: only --senders send). */
		unsigned senders = cfg->params.senders ? cfg->params.senders : cfg->connections;

		w->period_ns = 1e9 * senders / cfg->rate;
	}
	ret = setup_ring(w);
	if (!ret)
		ret = setup_conns(w);
	if (!ret)
		ret = lg_record_init(w);
	if (!ret && w->mode->setup)
		ret = w->mode->setup(w);
	if (ret == -ENOMEM)
		rl_err("thread %u: out of memory for %u connections", w->index, w->nconns);
	if (cfg->connect_rate > 0)
		w->connect_period_ns = 1e9 * cfg->threads / cfg->connect_rate;
	w->sweep_ns = cfg->timeout_ns / 8;
	if (w->sweep_ns < 10 * RL_NSEC_PER_MSEC)
		w->sweep_ns = 10 * RL_NSEC_PER_MSEC;
	if (w->sweep_ns > 500 * RL_NSEC_PER_MSEC)
		w->sweep_ns = 500 * RL_NSEC_PER_MSEC;
	return ret;
}

static void teardown(struct lg_worker *w)
{
	unsigned i;

	/* Buffers are unregistered first, then the ring goes (cancelling what is in flight);
	 * only then are the sockets closed, so no completion refers to a reused fd. */
	if (w->br_up)
		rl_bufring_free(&w->br, &w->r.ring);
	if (w->ring_up)
		rl_ring_exit(&w->r);
	w->br_up = w->ring_up = false;
	for (i = 0; w->conns && i < w->nconns; i++) {
		struct lg_conn *c = &w->conns[i];

		/* Registered sockets went with the ring.  A close already handed to the ring may
		 * have run: its fd number may belong to another thread's socket by now. */
		if (!w->fixed && c->fd >= 0 && !(c->flags & LCF_CLOSE_SENT))
			close(c->fd);
		if (i < w->pinit)
			w->cfg->proto->conn_fini(w->conns[i].pstate);
	}
	lg_sched_free(&w->sched);
	free(w->conns);
	free(w->slots);
	free(w->sbufs);
	free(w->pstates);
	if (w->mode->teardown)
		w->mode->teardown(w);
	w->conns = NULL;
	w->slots = NULL;
	w->sbufs = NULL;
	w->pstates = NULL;
}

void lg_worker_release(struct lg_worker *w)
{
	lg_record_free(w);
}

/* ---- connections ---- */

/* After every completion of c: once its close has completed, the mode may take the slot
 * back; otherwise it is dead. */
static void conn_settle(struct lg_worker *w, struct lg_conn *c)
{
	if (!lg_conn_closed(w, c))
		return;
	if (w->mode->closed && w->mode->closed(w, c))
		return;
	c->state = LC_DEAD;
	c->fd = -1;
	if (c->flags & LCF_WAS_OPEN)
		w->live--;
}

static void on_connect(struct lg_worker *w, struct lg_conn *c, int res)
{
	c->inflight--;
	w->connecting--;
	if (c->flags & LCF_RAMP) {
		c->flags &= ~LCF_RAMP;
		w->ramp_connecting--;
	}
	if (c->state != LC_CONNECTING)
		return; /* timed out and being closed */
	if (res < 0) {
		lg_conn_fail(w, c, LG_ERR_CONNECT, res);
		return;
	}
	c->state = LC_OPEN;
	if (!(c->flags & LCF_WAS_OPEN)) {
		c->flags |= LCF_WAS_OPEN;
		w->established++;
		w->live++;
	}
	w->mode->connected(w, c);
}

static void on_recv(struct lg_worker *w, struct lg_conn *c, const struct rl_cqe *cqe)
{
	bool more = cqe->flags & IORING_CQE_F_MORE;
	int res = cqe->res;

	if (!more) {
		c->flags &= ~LCF_RECV_ARMED;
		c->inflight--;
	}
	if (res > 0) {
		unsigned bid = cqe->flags >> IORING_CQE_BUFFER_SHIFT;
		uint8_t *p =
		    (cqe->flags & IORING_CQE_F_BUFFER) ? rl_bufring_take(&w->br, bid) : NULL;

		if (!p) {
			rl_err("thread %u: recv completion without a valid buffer (flags 0x%x)",
			       w->index, cqe->flags);
			lg_conn_fail(w, c, LG_ERR_IO, -EIO);
			return;
		}
		if (c->state == LC_OPEN) {
			lg_record_bytes_in(w, (uint64_t)res);
			w->mode->on_bytes(w, c, p, (size_t)res);
		}
		rl_bufring_recycle(&w->br, bid);
	} else if (res == 0) {
		if (cqe->flags & IORING_CQE_F_BUFFER)
			rl_bufring_recycle(&w->br, cqe->flags >> IORING_CQE_BUFFER_SHIFT);
		if (c->state == LC_OPEN)
			w->mode->on_eof(w, c);
	} else if (res == -ENOBUFS) {
		if (!more && c->state == LC_OPEN && !(c->flags & LCF_STARVED))
			lg_conn_starve(w, c);
	} else if (res != -ECANCELED) {
		lg_conn_fail(w, c, lg_conn_io_kind(res), res);
	}
	if (!more) /* the multishot ended for a benign reason: keep reading */
		lg_conn_arm_recv(w, c);
}

/* Starts the connects that are due; notes when the ramp-up is over. */
static void ramp(struct lg_worker *w)
{
	while (w->next_connect < w->nconns && w->ramp_connecting < w->cfg->max_connecting &&
	       !w->fatal) {
		if (w->connect_period_ns > 0 &&
		    w->ramp_t0 + (uint64_t)(w->next_connect * w->connect_period_ns) > w->now)
			break;
		struct lg_conn *c = &w->conns[w->next_connect++];

		if (w->mode->begin)
			w->mode->begin(w, c);
		else
			lg_conn_connect(w, c, w->mode->sock_type);
	}
	/* Slots that reconnect all the time never all settle: their ramp-up ends once every
	 * slot has started (while any of them is left, no connect is in flight without one). */
	if (!w->ramp_done && w->next_connect == w->nconns && (w->cycling || !w->connecting)) {
		w->ramp_done = true;
		atomic_store(&w->ramp_done_pub, true);
		rl_debug("thread %u: ramp-up done, %u of %u connections established", w->index,
			 w->established, w->nconns);
	}
}

static void handle(struct lg_worker *w, const struct rl_cqe *cqe)
{
	struct lg_conn *c = rl_udata_ptr(cqe->user_data);

	switch (rl_udata_op(cqe->user_data)) {
	case RL_OP_TIMEOUT:
		w->tick_armed = false; /* fired (-ETIME); the loop arms the next one */
		return;
	case RL_OP_CONNECT:
		on_connect(w, c, cqe->res);
		break;
	case RL_OP_RECV:
		on_recv(w, c, cqe);
		break;
	case RL_OP_SEND:
		c->inflight--;
		w->mode->on_send(w, c, cqe);
		break;
	case RL_OP_CANCEL:
	case RL_OP_CLOSE:
		c->inflight--;
		break;
	default:
		rl_err("thread %u: completion with unknown user_data 0x%llx", w->index,
		       (unsigned long long)cqe->user_data);
		return;
	}
	conn_settle(w, c);
}

/* Open loop: the connections whose intended time has come go to the mode's timer. */
static void run_timers(struct lg_worker *w)
{
	struct lg_sched_node *n;

	while ((n = lg_sched_pop_due(&w->sched, w->now)))
		w->mode->timer(w, (struct lg_conn *)((char *)n - offsetof(struct lg_conn, sched)));
}

/* Drops connections whose connect is older than --timeout; the mode checks open ones. */
static void sweep(struct lg_worker *w)
{
	unsigned i;

	w->next_sweep = w->now + w->sweep_ns;
	for (i = 0; i < w->next_connect; i++) {
		struct lg_conn *c = &w->conns[i];

		if (c->state == LC_CONNECTING && w->now - c->t_connect >= w->cfg->timeout_ns)
			lg_conn_fail(w, c, LG_ERR_CONNECT_TIMEOUT, -ETIMEDOUT);
		else if (c->state == LC_OPEN)
			w->mode->sweep(w, c);
	}
}

/* ---- the clock and the loop ---- */

/* Reads the clock for this batch, closes the interval that ended, tracks the window. */
static void observe_clock(struct lg_worker *w)
{
	struct lg_run *run = w->run;
	int64_t idx;

	w->now = rl_now_ns();
	w->win_start = atomic_load_explicit(&run->start, memory_order_relaxed);
	w->win_end = atomic_load_explicit(&run->end, memory_order_relaxed);
	idx = lg_interval_of(run, w->now);
	if (idx != w->cur.idx) {
		w->cur.live = w->live;
		lg_pub_publish(&w->pub, &w->cur, idx);
	}
	w->in_window = w->win_start && w->now >= w->win_start && w->now < w->win_end;
	if (w->in_window && !w->window_seen) {
		w->window_seen = true;
		getrusage(RUSAGE_THREAD, &w->ru_start);
		lg_record_window_start(w);
	}
}

static inline uint64_t min_u64(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

/*
 * The worker's tick: an absolute IORING_OP_TIMEOUT on a 100 ms grid from t0 (so it falls on
 * every interval boundary and on the window start).  It wakes an idle worker for the
 * interval hand-over, the sweep and the window edges, so that ordinary waits need no
 * timeout: arming a timer on every io_uring_enter costs a timer reprogramming (a VM exit
 * on virtual machines) per batch.  Only the open-loop schedule and paced connects, which
 * need precise wake-ups, wait with a timeout.
 */
static void arm_tick(struct lg_worker *w)
{
	struct io_uring_sqe *sqe;
	uint64_t at;

	if (w->tick_armed)
		return;
	sqe = lg_sqe(w);
	if (!sqe)
		return;
	at = w->run->t0 + ((w->now - w->run->t0) / TICK_NS + 1) * TICK_NS;
	w->tick_ts.tv_sec = (long long)(at / RL_NSEC_PER_SEC);
	w->tick_ts.tv_nsec = (long long)(at % RL_NSEC_PER_SEC);
	io_uring_prep_timeout(sqe, &w->tick_ts, 0, IORING_TIMEOUT_ABS);
	io_uring_sqe_set_data64(sqe, rl_udata(w, RL_OP_TIMEOUT));
	w->tick_armed = true;
	w->tick_at = at;
}

/* The next moment that needs a precise wake-up (UINT64_MAX: the tick is enough). */
static uint64_t next_deadline(const struct lg_worker *w)
{
	struct lg_sched_node *top = lg_sched_peek(&w->sched);
	uint64_t dl = UINT64_MAX;

	if (top)
		dl = top->key;
	if (w->next_connect < w->nconns && w->ramp_connecting < w->cfg->max_connecting)
		dl = min_u64(dl, w->ramp_t0 + (uint64_t)(w->next_connect * w->connect_period_ns));
	if (!rl_list_empty(&w->starved) && rl_bufring_available(&w->br))
		dl = w->now;
	return dl;
}

static void run_loop(struct lg_worker *w)
{
	struct rl_cqe cqe;
	uint64_t dl;
	int ret;

	observe_clock(w);
	w->ramp_t0 = w->now;
	w->next_sweep = w->now + w->sweep_ns;
	for (;;) {
		ramp(w);
		if (w->mode->flush)
			w->mode->flush(w);
		rl_bufring_commit(&w->br);
		lg_conn_rearm_starved(w);
		if (w->fatal || (w->ramp_done && !w->live && !w->cycling))
			break;
		arm_tick(w);
		dl = next_deadline(w);
		if (dl <= w->now)
			ret = rl_ring_submit_wait(&w->r, 0, 0);
		else if (dl < w->tick_at)
			ret = rl_ring_submit_wait(&w->r, 1, dl - w->now);
		else
			ret = rl_ring_submit_wait(&w->r, 1, 0); /* the tick bounds the wait */
		if (ret < 0) {
			rl_err("thread %u: io_uring_enter: %s", w->index, strerror(-ret));
			w->fatal = ret;
			break;
		}
		observe_clock(w);
		if (w->now >= w->win_end)
			break;
		while (rl_ring_next(&w->r, &cqe))
			handle(w, &cqe);
		run_timers(w);
		if (w->mode->tick)
			w->mode->tick(w);
		if (w->now >= w->next_sweep)
			sweep(w);
	}
}

void *lg_worker_main(void *arg)
{
	struct lg_worker *w = arg;

	w->setup_err = setup(w);
	pthread_barrier_wait(w->barrier); /* setup done */
	pthread_barrier_wait(w->barrier); /* t0 set, or the run aborted */
	if (!w->setup_err && !w->run->abort) {
		w->cur.idx = 0;
		run_loop(w);
		lg_record_window_end(w);
	}
	w->exit_ns = rl_now_ns();
	if (w->window_seen)
		getrusage(RUSAGE_THREAD, &w->ru_end);
	if (w->pub.slot[0].hist.counts) {
		w->cur.live = w->live;
		lg_pub_publish(&w->pub, &w->cur, INT64_MAX);
	}
	if (w->r.overflows || w->r.submit_busy)
		rl_debug("thread %u: CQ overflows %llu, submits that met a full CQ %llu", w->index,
			 (unsigned long long)w->r.overflows, (unsigned long long)w->r.submit_busy);
	teardown(w);
	atomic_store(&w->finished, true);
	return NULL;
}
