/*
 * worker.c - one ringlab-load thread: an io_uring, its share of the connections, the
 * ramp-up of connects, and the batch loop that drives everything.
 *
 * The loop, once per batch of completions:
 *   1. start connects (at most cfg->max_connecting in flight, paced by --connect-rate),
 *      turn the requests released since the last batch into sends, give the receive
 *      buffers back, re-arm recvs that ran out of buffers;
 *   2. submit and wait (one io_uring_enter) until a completion arrives: the worker's
 *      100 ms tick (a ring timeout) bounds every wait and brings the interval boundaries,
 *      the timeout sweep and the window edges; a wait ends earlier, by its own timeout,
 *      only for the earliest intended send time (open loop) or the next paced connect;
 *   3. read the clock ONCE (rl_now_ns) and use that time for every completion and timer
 *      of the batch: latencies are stamped at batch granularity, which keeps the client's
 *      cost per request down to the ring and a few additions;
 *   4. handle the completions (traffic.c), then the open-loop timers and the sweep.
 *
 * Connections are an array per worker (no allocation per connection or request once the
 * run starts); user_data is the connection pointer | the operation (udata.h).  A
 * connection is torn down by cancelling everything on its fd and closing it through the
 * ring.  A connection slot is reused only in the connection-per-request mode (greeting,
 * cycle.c: after its reply, lg_cycle_recycle() connects the slot again); in every other
 * mode a dropped connection is not reopened.
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "clock.h"
#include "log.h"
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

static uint64_t splitmix64(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

uint64_t lg_conn_phase_ns(const struct lg_worker *w, const struct lg_conn *c)
{
	/* From the seed and the global connection index only: a shard (or another thread
	 * split) gives connection i the phase a single process would have given it. */
	uint64_t s = w->cfg->seed ^ (0xd1b54a32d192ed03ull * ((uint64_t)c->id + 1));

	return (uint64_t)((double)(splitmix64(&s) >> 11) * 0x1p-53 * w->period_ns);
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
	return 0;
}

struct io_uring_sqe *lg_sqe(struct lg_worker *w)
{
	struct io_uring_sqe *sqe = rl_ring_sqe(&w->r);

	if (!sqe && !w->fatal) {
		rl_err("thread %u: no SQE available even after submitting; stopping", w->index);
		w->fatal = -EIO;
	}
	return sqe;
}

/* ---- setup and teardown ---- */

static int setup_ring(struct lg_worker *w)
{
	const struct lg_config *cfg = w->cfg;
	uint64_t bytes = cfg->params.size * cfg->pipeline;
	uint32_t cq = pow2_at_least((uint64_t)w->nconns * 4);
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
	bsize = pow2_at_least(bytes < 2048 ? 2048 : bytes > 65536 ? 65536 : bytes);
	bcount = pow2_at_least((uint64_t)w->nconns * 2);
	if (cfg->proto->datagram) {
		/* One datagram per buffer; one byte more than expected shows an oversized one. */
		uint64_t dmax = cfg->params.size > cfg->params.expect_len ? cfg->params.size
									  : cfg->params.expect_len;

		bsize = pow2_at_least(dmax + 1 < 2048 ? 2048 : dmax + 1);
		bcount = pow2_at_least((uint64_t)w->nconns * cfg->pipeline);
	}
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
	rl_debug("thread %u: %u connections, %u receive buffers of %u bytes", w->index, w->nconns,
		 bcount, bsize);
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
	if (cfg->proto->datagram) {
		/* A datagram per window slot, built in place (the budget is checked by cli.c). */
		cap = cfg->params.size * (w->slot_mask + 1);
		w->dg_bits = calloc((size_t)w->nconns * (LG_DG_HISTORY / 64), sizeof(uint64_t));
		if (!w->dg_bits)
			return -ENOMEM;
	}
	w->sbuf_cap = (uint32_t)((cap + 15) & ~(uint64_t)15);
	w->conns = aligned_alloc(64, ((size_t)w->nconns * sizeof(*w->conns) + 63) & ~(size_t)63);
	w->slots = calloc((size_t)w->nconns * (w->slot_mask + 1), sizeof(*w->slots));
	w->sbufs = malloc((size_t)w->nconns * w->sbuf_cap);
	w->pstates = calloc(w->nconns, pstate ? pstate : 1);
	if (!w->conns || !w->slots || !w->sbufs || !w->pstates)
		return -ENOMEM;
	memset(w->conns, 0, (size_t)w->nconns * sizeof(*w->conns));
	for (i = 0; i < w->nconns; i++)
		w->conns[i].fd = -1;
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
		if (w->dg_bits)
			c->dg_bits = w->dg_bits + (size_t)i * (LG_DG_HISTORY / 64);
		lg_sched_node_init(&c->sched);
		ret = cfg->proto->conn_init(c->pstate, &cfg->params, splitmix64(&seed));
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
	ret = setup_ring(w);
	if (!ret)
		ret = setup_conns(w);
	if (!ret)
		ret = lg_hist_init(&w->hist_c);
	if (!ret && cfg->rate > 0)
		ret = lg_hist_init(&w->hist_u);
	if (!ret && cfg->proto->broadcast)
		ret = lg_chat_setup(w);
	if (!ret && cfg->proto->conn_per_request)
		ret = lg_hist_init(&w->hist_connect);
	if (!ret && cfg->proto->conn_per_request)
		ret = lg_hist_init(&w->hist_ttfb);
	if (!ret)
		ret = lg_interval_init(&w->cur);
	if (!ret)
		ret = lg_pub_init(&w->pub);
	if (ret == -ENOMEM)
		rl_err("thread %u: out of memory for %u connections", w->index, w->nconns);
	if (cfg->rate > 0) {
		/* Each sender's share of the total rate (chat: only --senders send). */
		unsigned senders = cfg->params.senders ? cfg->params.senders : cfg->connections;

		w->period_ns = 1e9 * senders / cfg->rate;
	}
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
	free(w->dg_bits);
	w->dg_bits = NULL;
	lg_chat_free(w);
	w->conns = NULL;
	w->slots = NULL;
	w->sbufs = NULL;
	w->pstates = NULL;
}

void lg_worker_release(struct lg_worker *w)
{
	rl_hist_free(&w->hist_c);
	rl_hist_free(&w->hist_u);
	rl_hist_free(&w->hist_connect);
	rl_hist_free(&w->hist_ttfb);
	lg_interval_free(&w->cur);
	lg_pub_free(&w->pub);
}

/* ---- connections ---- */

static void prep_close(struct lg_worker *w, struct lg_conn *c, struct io_uring_sqe *sqe)
{
	if (w->fixed)
		io_uring_prep_close_direct(sqe, (unsigned)c->fd);
	else
		io_uring_prep_close(sqe, c->fd);
	io_uring_sqe_set_data64(sqe, rl_udata(c, RL_OP_CLOSE));
	c->flags |= LCF_CLOSE_SENT;
}

void lg_conn_close(struct lg_worker *w, struct lg_conn *c)
{
	struct io_uring_sqe *sqe;

	if (c->state == LC_CLOSING || c->state == LC_DEAD)
		return;
	c->state = LC_CLOSING;
	lg_traffic_stop(w, c);
	sqe = lg_sqe(w);
	if (!sqe)
		return;
	if (c->inflight) {
		io_uring_prep_cancel_fd(sqe, c->fd,
					IORING_ASYNC_CANCEL_ALL |
					    (w->fixed ? IORING_ASYNC_CANCEL_FD_FIXED : 0));
		io_uring_sqe_set_data64(sqe, rl_udata(c, RL_OP_CANCEL));
	} else {
		prep_close(w, c, sqe);
	}
	c->inflight++;
}

/* After every completion of c: close it once idle, and mark it dead after the close. */
static void conn_settle(struct lg_worker *w, struct lg_conn *c)
{
	struct io_uring_sqe *sqe;

	if (c->state != LC_CLOSING || c->inflight)
		return;
	if (!(c->flags & LCF_CLOSE_SENT)) {
		sqe = lg_sqe(w);
		if (!sqe)
			return;
		prep_close(w, c, sqe);
		c->inflight++;
		return;
	}
	if (c->flags & LCF_RECYCLE) {
		lg_cycle_recycle(w, c);
		return;
	}
	c->state = LC_DEAD;
	c->fd = -1;
	if (c->flags & LCF_WAS_OPEN)
		w->live--;
	if (w->cfg->proto->conn_per_request)
		w->cycling--;
}

/* Counts a failed connect; explains port exhaustion once per run. */
static void count_connect_error(struct lg_worker *w, int err)
{
	lg_errors_count(&w->err, LG_ERR_CONNECT, err);
	w->cur.errors++;
	if (err == -EADDRNOTAVAIL && !atomic_exchange(&w->run->addrnotavail_logged, true))
		rl_err("connect failed with EADDRNOTAVAIL: the local ephemeral ports towards %s "
		       "are used up (ip_local_port_range, or sockets in TIME_WAIT).  Remedy: "
		       "spread the connections over several source addresses with --source "
		       "(e.g. 127.0.0.2-127.0.0.50), fewer --connections or a lower --rate, or "
		       "wait for TIME_WAIT to expire (60 s) before the next run",
		       w->cfg->target_str);
}

void lg_conn_fail(struct lg_worker *w, struct lg_conn *c, enum lg_err_kind kind, int err)
{
	if (c->state == LC_CLOSING || c->state == LC_DEAD)
		return;
	c->flags &= (uint8_t)~LCF_RECYCLE;
	if (kind == LG_ERR_CONNECT) {
		count_connect_error(w, err);
	} else {
		lg_errors_count(&w->err, kind, err);
		w->cur.errors++;
	}
	rl_debug("connection %u: %s error (%s)", c->id, lg_err_kind_name(kind),
		 err ? strerror(err < 0 ? -err : err) : "-");
	lg_conn_close(w, c);
}

/* A connect that fails before reaching the ring: counted, and the connection is dead. */
static void connect_failed_early(struct lg_worker *w, struct lg_conn *c, int fd, int err)
{
	count_connect_error(w, err);
	if (w->cfg->proto->conn_per_request)
		w->cycling--;
	rl_debug("connection %u: connect failed: %s", c->id, strerror(-err));
	if (fd >= 0)
		close(fd);
	c->fd = -1;
	c->state = LC_DEAD;
}

/* Creates and prepares the socket of c; returns its fd or -errno. */
static int make_socket(struct lg_worker *w, struct lg_conn *c)
{
	const struct lg_config *cfg = w->cfg;
	int family = rl_addr_family(&cfg->target), one = 1, fd, err;
	int type = cfg->proto->datagram ? SOCK_DGRAM : SOCK_STREAM;
	struct rl_addr src;

	fd = socket(family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (family != AF_UNIX && type == SOCK_STREAM)
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (cfg->have_source) {
		/* Pick the port at connect time, per 4-tuple: each source address then has the
		 * whole ephemeral range for every destination. */
		setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one));
		rl_addr_range_get(&cfg->source, c->id, &src);
		if (bind(fd, (struct sockaddr *)&src.ss, src.len) < 0) {
			err = -errno;
			if (err == -EADDRNOTAVAIL &&
			    !atomic_exchange(&w->run->addrnotavail_logged, true))
				rl_err("cannot bind to --source address %s: EADDRNOTAVAIL (the "
				       "address "
				       "is not configured on this host; add it to an interface, or "
				       "use 127.x.y.z addresses for a loopback target)",
				       cfg->source_str);
			close(fd);
			return err;
		}
	}
	return fd;
}

void lg_conn_connect(struct lg_worker *w, struct lg_conn *c)
{
	const struct lg_config *cfg = w->cfg;
	struct io_uring_sqe *sqe;
	int fd = make_socket(w, c), idx = (int)(c - w->conns), ret;

	if (fd < 0) {
		connect_failed_early(w, c, -1, fd);
		return;
	}
	if (w->fixed) {
		/* The table keeps the socket; the descriptor itself is not needed any more. */
		ret = io_uring_register_files_update(&w->r.ring, (unsigned)idx, &fd, 1);
		close(fd);
		if (ret < 0) {
			connect_failed_early(w, c, -1, ret);
			return;
		}
		fd = idx;
	}
	c->fd = fd;
	sqe = lg_sqe(w);
	if (!sqe) {
		connect_failed_early(w, c, w->fixed ? -1 : fd, -EIO);
		return;
	}
	io_uring_prep_connect(sqe, c->fd, (const struct sockaddr *)&cfg->target.ss,
			      cfg->target.len);
	lg_sqe_file(w, sqe);
	io_uring_sqe_set_data64(sqe, rl_udata(c, RL_OP_CONNECT));
	c->inflight++;
	c->state = LC_CONNECTING;
	c->t_connect = w->now;
	w->connecting++;
	if (!(c->flags & LCF_WAS_OPEN)) {
		c->flags |= LCF_RAMP;
		w->ramp_connecting++;
	}
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
	if (w->cfg->proto->conn_per_request)
		lg_cycle_connected(w, c);
	else if (w->cfg->proto->datagram)
		lg_dgram_start(w, c);
	else if (w->cfg->proto->broadcast)
		lg_traffic_arm_recv(w, c); /* lines flow once the room is full (chatpath.c) */
	else
		lg_traffic_start(w, c);
}

/* Starts the connects that are due; notes when the ramp-up is over. */
static void ramp(struct lg_worker *w)
{
	bool cycle = w->cfg->proto->conn_per_request;

	while (w->next_connect < w->nconns && w->ramp_connecting < w->cfg->max_connecting &&
	       !w->fatal) {
		if (w->connect_period_ns > 0 &&
		    w->ramp_t0 + (uint64_t)(w->next_connect * w->connect_period_ns) > w->now)
			break;
		if (cycle)
			lg_cycle_begin(w, &w->conns[w->next_connect++]);
		else
			lg_conn_connect(w, &w->conns[w->next_connect++]);
	}
	/* Slots that reconnect all the time never all settle: their ramp-up ends once every
	 * slot has started. */
	if (!w->ramp_done && w->next_connect == w->nconns && (cycle || !w->connecting)) {
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
		lg_traffic_on_recv(w, c, cqe);
		break;
	case RL_OP_SEND:
		if (w->cfg->proto->datagram)
			lg_dgram_on_send(w, c, cqe);
		else
			lg_traffic_on_send(w, c, cqe);
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
	if (w->starved_head && rl_bufring_available(&w->br))
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
		lg_traffic_flush(w);
		rl_bufring_commit(&w->br);
		lg_traffic_rearm_starved(w);
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
		lg_traffic_timers(w);
		if (w->cfg->proto->broadcast)
			lg_chat_tick(w);
		if (w->now >= w->next_sweep)
			lg_traffic_sweep(w);
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
