/*
 * uring_life.c - the io_uring engine's connection life cycle: accept, close, and the loop
 * timer (the data path is in uring_conn.c, the loop in engine_uring.c).
 *
 * What it shows: one multishot ACCEPT per loop on its own listener; EMFILE/ENFILE make
 * it back off 100 ms on the loop timer, and at --max-conns it pauses (or, with
 * --evict-idle, closes the quietest connection instead).  A connection is ended with
 * shutdown(2), which completes every request on it; ASYNC_CANCEL by fd only when that
 * fails; then CLOSE through the ring, and it is freed once its last CQE is in (the
 * connection counts the CQEs it is owed: ul_conn_settle).  A close with unread input first
 * sends FIN (SHUTDOWN op) and reads until the peer closes: the lingering close.  The
 * loop timer is a single TIMEOUT re-armed each tick: accept back-off, idle cut, line
 * deadline, lingering deadline, and the drain when the server stops.
 *
 * Registered files: at a connection's second send, its socket also goes into the ring's
 * sparse file table (a FILES_UPDATE SQE, slot = its descriptor number), so its sends and
 * re-armed recvs skip the kernel's per-request file lookup (fget/fput; a multishot recv
 * holds its file all along); the descriptor itself stays for shutdown(2), getsockopt and
 * ioctl.  Not at accept: a connection that is greeted and closed would pay two SQEs to
 * save one lookup.  The slot is closed (CLOSE with a file index) just before the
 * descriptor.  RINGLAB_URING_OFF=fixedfiles turns it off.
 */
#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "clock.h"
#include "policy.h"
#include "server.h"
#include "udata.h"
#include "uring_loop.h"

#define ACCEPT_BACKOFF_NS (100 * RL_NSEC_PER_MSEC)
#define FIXED_FILES_MAX	  65536u /* table slots per loop: 512 KiB of kernel memory */

/* ---- accept ---- */

void ul_arm_accept(struct uloop *l)
{
	struct io_uring_sqe *sqe;

	if (l->accept_armed || l->draining || l->accept_paused || l->backoff_until)
		return;
	sqe = ul_sqe_get(l);
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
	sqe = ul_sqe_get(l);
	if (!sqe)
		return;
	io_uring_prep_cancel64(sqe, rl_udata(l, RL_OP_ACCEPT), 0);
	io_uring_sqe_set_data64(sqe, rl_udata(l, RL_OP_CANCEL));
}

/* ---- timer ---- */

static uint64_t tick_interval(const struct uloop *l)
{
	uint64_t t = rl_policy_tick_ns(&l->base.srv->cfg, l->draining, l->lingering);

	if (l->backoff_until && ACCEPT_BACKOFF_NS < t)
		t = ACCEPT_BACKOFF_NS;
	return t;
}

void ul_arm_tick(struct uloop *l)
{
	struct io_uring_sqe *sqe;
	uint64_t t = tick_interval(l);

	if (l->tick_armed || t == UINT64_MAX)
		return;
	sqe = ul_sqe_get(l);
	if (!sqe)
		return;
	l->tick_ts.tv_sec = (long long)(t / RL_NSEC_PER_SEC);
	l->tick_ts.tv_nsec = (long long)(t % RL_NSEC_PER_SEC);
	io_uring_prep_timeout(sqe, &l->tick_ts, 0, 0);
	io_uring_sqe_set_data64(sqe, rl_udata(l, RL_OP_TICK));
	l->tick_armed = true;
}

/* ---- cancel and close ---- */

void ul_submit_cancel(struct uloop *l, struct uconn *c, bool all)
{
	struct io_uring_sqe *sqe = ul_sqe_get(l);

	if (!sqe)
		return;
	if (all)
		io_uring_prep_cancel_fd(sqe, c->fd, IORING_ASYNC_CANCEL_ALL);
	else
		io_uring_prep_cancel64(sqe, rl_udata(c, RL_OP_RECV), 0);
	if (!all)
		us_set_recv(c, RECV_CANCELLING);
	io_uring_sqe_set_data64(sqe, rl_udata(c, RL_OP_CANCEL));
	c->inflight++;
}

/* Closes c's socket through the ring; its completion frees c (ul_conn_settle). */
static void submit_close(struct uloop *l, struct uconn *c)
{
	struct io_uring_sqe *sqe = ul_sqe_get(l);

	if (!sqe)
		return;
	if (c->fixed) {
		/* Empty its table slot first, or the table keeps the socket open; in that order,
		 * so the slot is free before the number can be handed out again. */
		io_uring_prep_close_direct(sqe, (unsigned)c->fd);
		io_uring_sqe_set_flags(sqe, IOSQE_CQE_SKIP_SUCCESS);
		io_uring_sqe_set_data64(sqe, rl_udata(l, RL_OP_FILES));
		c->fixed = false;
		sqe = ul_sqe_get(l);
		if (!sqe)
			return;
	}
	io_uring_prep_close(sqe, c->fd);
	io_uring_sqe_set_data64(sqe, rl_udata(c, RL_OP_CLOSE));
	c->inflight++;
	us_set_close(c, CLOSE_SENT);
}

void ul_conn_start_close(struct uloop *l, struct uconn *c)
{
	if (us_closing(c))
		return;
	us_set_close(c, CLOSE_PENDING);
	c->base.flags |= RL_CONN_ABORT; /* protocols' late sends are dropped */
	ul_starved_remove(c);
	if (c->inflight) {
		/*
		 * Ending the socket completes every request on it (the multishot recv with 0, a
		 * send with -EPIPE) at the cost of one syscall.  An async cancel by fd would do
		 * the same but walks every request in flight on the ring, which makes a wave of
		 * idle cuts quadratic; it stays as the fallback (a socket already reset).
		 */
		if (shutdown(c->fd, SHUT_RDWR) < 0)
			ul_submit_cancel(l, c, true);
		return;
	}
	submit_close(l, c);
}

/* Called after every completion of `c`: close once idle, free after the close. */
void ul_conn_settle(struct uloop *l, struct uconn *c)
{
	if (!us_closing(c) || c->inflight)
		return;
	if (!us_close_sent(c)) {
		submit_close(l, c);
		return;
	}
	rl_list_remove(&c->link);
	l->nlive--;
	l->base.stats.closed++;
	ul_lend_return(l, c); /* lent but never sent: the connection closed first */
	/* Freed closed, with every CQE in: no recv or send in flight, and off the starved
	 * FIFO (closing took it off, and a closing connection does not join it). */
	assert(us_close_sent(c) && !c->inflight && us_recv_idle(c) && !us_send_busy(c) &&
	       !rl_list_linked(&c->starved));
	rl_conn_release(&c->base);
	free(c);
	if (l->accept_paused && l->nlive < l->max_conns) {
		l->accept_paused = false;
		ul_arm_accept(l);
	}
}

void ul_conn_fail(struct uloop *l, struct uconn *c, int err)
{
	if (!us_closing(c)) {
		rl_stats_drop(&l->base.stats, err);
		rl_debug("connection %llu dropped: %s", (unsigned long long)c->base.id,
			 strerror(-err));
	}
	ul_conn_start_close(l, c);
}

/*
 * Closes a connection whose replies are all sent, without losing them: a close() with
 * unread input in the socket makes the kernel send a reset, which discards replies still
 * in flight.  When input is waiting: FIN first (shutdown SHUT_WR), then read and discard
 * until the peer closes too, every byte sent is acknowledged (checked on the tick), or
 * the close deadline passes -- the "lingering close".
 */
void ul_conn_linger(struct uloop *l, struct uconn *c)
{
	struct io_uring_sqe *sqe;

	if ((c->base.flags & RL_CONN_EOF) || !rl_socket_unread(c->fd)) {
		/* Nothing unread: close() sends a plain FIN and loses nothing. */
		ul_conn_start_close(l, c);
		return;
	}
	sqe = ul_sqe_get(l);
	if (!sqe)
		return;
	io_uring_prep_shutdown(sqe, c->fd, SHUT_WR);
	io_uring_sqe_set_data64(sqe, rl_udata(c, RL_OP_SHUTDOWN));
	c->inflight++;
	assert(!us_closing(c)); /* the flush skips closing connections */
	us_set_life(c, LIFE_LINGER);
	c->backpressured = false;
	if (!l->lingering) {
		l->lingering = true;
		ul_arm_tick(l);
	}
	ul_arm_recv(l, c);
}

/* ---- new connections, eviction ---- */

/* ---- registered files ---- */

void ul_setup_fixed_files(struct uloop *l)
{
	struct rlimit rl;
	unsigned n;
	int ret;

	if (rl_ring_feature_off("fixedfiles") || getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return;
	/* A slot per possible descriptor number, so fd N always fits slot N (8 bytes of
	 * kernel memory a slot); the kernel refuses more slots than RLIMIT_NOFILE. */
	n = rl.rlim_cur < FIXED_FILES_MAX ? (unsigned)rl.rlim_cur : FIXED_FILES_MAX;
	ret = io_uring_register_files_sparse(&l->r.ring, n);
	if (ret < 0) {
		rl_debug("io_uring: no registered file table (%s); plain descriptors",
			 strerror(-ret));
		return;
	}
	l->nfixed = n;
	rl_debug("loop %u: registered file table of %u slots", l->base.index, n);
}

void ul_register_file(struct uloop *l, struct uconn *c)
{
	struct io_uring_sqe *sqe;

	if ((unsigned)c->fd >= l->nfixed)
		return;
	sqe = ul_sqe_get(l);
	if (!sqe)
		return;
	/* The kernel reads the descriptor when it issues the SQE; c outlives that. */
	io_uring_prep_files_update(sqe, &c->fd, 1, c->fd);
	io_uring_sqe_set_flags(sqe, IOSQE_CQE_SKIP_SUCCESS);
	io_uring_sqe_set_data64(sqe, rl_udata(l, RL_OP_FILES));
	c->fixed = true;
	l->base.stats.files_registered++;
}

/* A table update or slot close failed (a success posts no CQE).  The connection it was
 * for fails its next request with -EBADF and closes; new ones use plain descriptors. */
void ul_on_files_update(struct uloop *l, const struct rl_cqe *cqe)
{
	rl_warn("io_uring: registered file table update failed (%s); plain descriptors from now",
		strerror(-cqe->res));
	l->nfixed = 0;
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
	rl_list_init(&c->starved);
	rl_list_insert_head(&l->live, &c->link);
	l->nlive++;
	l->base.stats.accepted++;
	rl_server_tune_socket(srv, fd);
	ret = rl_conn_open(&c->base, &l->base, sizeof(*c), l->base.now_ns);
	if (ret < 0) {
		ul_conn_fail(l, c, ret);
		ul_conn_settle(l, c);
		return;
	}
	if (l->draining) {
		/* Accepted as the server stopped: it gets what the protocol sends on open (a
		 * greeting), then a polite close. */
		us_drain(c);
		rl_conn_close(&c->base);
		return;
	}
	ul_arm_recv(l, c);
}

/* With --evict-idle: the connection to close when full (guard.h), or NULL. */
static struct uconn *pick_victim(struct uloop *l, uint64_t *age)
{
	struct uconn *c, *best = NULL;
	struct rl_list *tmp;
	uint64_t a;

	*age = 0;
	if (!l->base.srv->cfg.evict_idle_ns)
		return NULL;
	rl_list_foreach_entry(c, tmp, &l->live, struct uconn, link) {
		a = us_closing(c)
			? 0
			: rl_guard_evict_age(&l->base.srv->cfg, &c->base, l->base.now_ns, false);
		if (a > *age) {
			*age = a;
			best = c;
		}
	}
	return best;
}

void ul_on_accept(struct uloop *l, const struct rl_cqe *cqe)
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
			ul_conn_start_close(l, victim);
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
		ul_arm_tick(l);
	} else if (cqe->res != -ECANCELED) {
		rl_debug("accept: %s", strerror(-cqe->res));
	}
	if (!l->accept_armed)
		ul_arm_accept(l);
}

/* ---- drain and tick ---- */

void ul_start_drain(struct uloop *l)
{
	struct rl_list *tmp;
	struct uconn *c;

	if (l->draining)
		return;
	l->draining = true;
	l->drain_deadline = l->base.now_ns + l->base.srv->cfg.drain_timeout_ns;
	cancel_accept(l);
	/* Stop reading first; once a connection's recv has ended, every byte it read has
	 * been answered, and it closes after those replies are sent. */
	rl_list_foreach_entry(c, tmp, &l->live, struct uconn, link) {
		us_drain(c);
		if (us_recv_armed(c))
			ul_submit_cancel(l, c, false);
		else if (!us_recv_in_flight(c))
			rl_conn_close(&c->base);
	}
	ul_arm_tick(l);
}

/* The loop timer: accept back-off and eviction, then the policy's verdict on each
 * connection (policy.h), applied with this engine's close. */
void ul_on_tick(struct uloop *l)
{
	struct rl_policy_clock k = {.now_ns = l->base.now_ns,
				    .drain_deadline_ns = l->drain_deadline,
				    .draining = l->draining};
	struct rl_list *tmp;
	struct uconn *c;
	enum rl_verdict v;

	l->tick_armed = false;
	l->lingering = false;
	if (l->backoff_until && l->base.now_ns >= l->backoff_until) {
		l->backoff_until = 0;
		ul_arm_accept(l);
	}
	if (l->accept_paused && l->base.srv->cfg.evict_idle_ns) {
		l->accept_paused = false; /* full: look again for a connection to evict */
		ul_arm_accept(l);
	}
	rl_list_foreach_entry(c, tmp, &l->live, struct uconn, link) {
		if (us_closing(c))
			continue;
		v = rl_policy_judge(&c->base, &k, us_lingering(c) && !rl_socket_unacked(c->fd),
				    &l->base.stats);
		if (v == RL_VERDICT_LINGER)
			l->lingering = true;
		else if (rl_verdict_closes(v))
			ul_conn_start_close(l, c);
	}
	ul_arm_tick(l);
}
