/*
 * engine_blocking.c - the classic socket server: an accept loop and one thread per
 * connection doing blocking recv() and send().
 *
 * Done the way a careful textbook server does it: send-all semantics (short writes are
 * retried, EINTR is retried), MSG_NOSIGNAL instead of dying on SIGPIPE, TCP_NODELAY like
 * the other engines, small thread stacks so thousands of connections fit, at most
 * --max-conns threads (the accept loop waits for a slot rather than refusing), idle
 * connections cut by SO_RCVTIMEO, and every thread joined: a finished connection thread
 * parks itself on a list that the accept loop reaps, so no zombie threads pile up.
 *
 * --threads does not apply: concurrency here is one thread per connection by design.
 * --blocking-mode iterative drops even that: the accept loop serves each connection to
 * its end before accepting the next, the first server every socket course writes.
 * Stop: the accept loop is woken with shutdown() on the listener; connection threads get
 * SIGUSR1, so their recv() returns EINTR; they send what they owe, close politely
 * (linger() below) and exit.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "list.h"
#include "log.h"
#include "policy.h"
#include "server.h"

#define READ_BUF_SIZE	  (64u * 1024u)
#define THREAD_STACK	  (256u * 1024u)
#define ACCEPT_BACKOFF_NS (100 * RL_NSEC_PER_MSEC)
#define SEND_SLICE_NS	  (100 * RL_NSEC_PER_MSEC)

struct bconn {
	struct rl_conn base; /* first */
	struct rl_list link; /* on bstate.live while served, then on bstate.finished */
	struct bstate *s;
	pthread_t thread;
	bool inline_served; /* iterative mode: no thread to join */
	bool evicted;	    /* chosen to make room (under bstate.lock) */
	int fd;
	uint64_t rcvtimeo_ns; /* SO_RCVTIMEO now set (0: none) */
	uint64_t wait_from;   /* when the last recv() began to wait */
	pthread_t writer;     /* cross_conn protocols: sends what any thread queues */
	uint64_t writer_bytes;
	uint64_t writer_sent_ns; /* when the writer last sent (under sync.mu; 0: never) */
	int writer_err;
	bool writer_done; /* the writer sent everything it will (under sync.mu) */
	bool reader_done; /* the reader saw that, or ended (under sync.mu) */
};

struct bstate {
	struct rl_server *srv;
	pthread_t acceptor;
	bool acceptor_started;
	pthread_mutex_t lock;
	pthread_cond_t cond; /* a connection ended, or stop */
	pthread_attr_t attr;
	struct rl_list live;	 /* connections being served, newest first (bconn.link) */
	struct rl_list finished; /* ended threads waiting to be joined (bconn.link) */
	unsigned nlive;
	struct rl_stats stats; /* acceptor + ended connections */
	int lfd;
};

/* Sends the whole queue, however many calls it takes.  Returns 0 or -errno. */
static int send_all(struct bconn *c, struct rl_stats *st)
{
	struct iovec iov[RL_SENDQ_IOV_MAX];
	struct msghdr msg = {.msg_iov = iov};
	ssize_t n;

	while (rl_sendq_bytes(&c->base.sq)) {
		msg.msg_iovlen = (size_t)rl_sendq_iov(&c->base.sq, iov, RL_SENDQ_IOV_MAX);
		n = sendmsg(c->fd, &msg, MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		rl_sendq_consume(&c->base.sq, (size_t)n);
		st->bytes_out += (uint64_t)n;
	}
	return 0;
}

static void set_timeout(int fd, int opt, uint64_t ns)
{
	struct timeval tv = {.tv_sec = (time_t)(ns / RL_NSEC_PER_SEC),
			     .tv_usec = (suseconds_t)(ns % RL_NSEC_PER_SEC / 1000)};

	setsockopt(fd, SOL_SOCKET, opt, &tv, sizeof(tv));
}

/*
 * Before a recv(): sets SO_RCVTIMEO to the nearer of the idle timeout and the line
 * deadline (guard.h), and notes when the wait begins.  Returns true when the line
 * deadline has already passed.
 */
static bool recv_deadline(struct bconn *c)
{
	uint64_t want = c->s->srv->cfg.idle_timeout_ns;
	uint64_t left;

	c->wait_from = rl_now_ns();
	left = rl_guard_line_left(&c->base, c->wait_from);

	if (left == 0)
		return true;
	if (left != UINT64_MAX && (!want || left < want))
		want = left < RL_NSEC_PER_MSEC ? RL_NSEC_PER_MSEC : left;
	if (want != c->rcvtimeo_ns) {
		set_timeout(c->fd, SO_RCVTIMEO, want);
		c->rcvtimeo_ns = want;
	}
	return false;
}

/*
 * recv() timed out (SO_RCVTIMEO is this engine's sweep): the policy's verdict (policy.h),
 * with the clock at least the end of the wait (the timer may fire a jiffy early) and the
 * writer's sends counted as activity, as on the event engines.  No drain deadline here:
 * blocking_join() cuts at it.  Returns true when the connection goes on.
 */
static bool recv_timed_out(struct bconn *c, struct rl_loop *loop)
{
	struct rl_policy_clock k = {.now_ns = rl_now_ns(),
				    .drain_deadline_ns = UINT64_MAX,
				    .draining = atomic_load(&c->s->srv->stopping)};

	if (k.now_ns < c->wait_from + c->rcvtimeo_ns)
		k.now_ns = c->wait_from + c->rcvtimeo_ns;
	if (c->base.sync) {
		pthread_mutex_lock(&c->base.sync->mu);
		if (c->writer_sent_ns > c->base.last_active_ns)
			c->base.last_active_ns = c->writer_sent_ns;
		pthread_mutex_unlock(&c->base.sync->mu);
	}
	return !rl_verdict_closes(rl_policy_judge(&c->base, &k, false, &loop->stats));
}

/*
 * Closes politely: close() with unread input makes the kernel reset the connection and
 * discard replies still in flight, so when input is waiting, send FIN and read and
 * discard until the peer closes, every byte sent is acknowledged, or the drain timeout.
 */
static void linger(struct bconn *c, uint8_t *buf, uint64_t *discarded)
{
	uint64_t deadline = rl_now_ns() + c->s->srv->cfg.drain_timeout_ns;
	ssize_t n;

	if (!rl_socket_unread(c->fd))
		return;
	shutdown(c->fd, SHUT_WR);
	set_timeout(c->fd, SO_RCVTIMEO, 100 * RL_NSEC_PER_MSEC);
	for (;;) {
		n = recv(c->fd, buf, READ_BUF_SIZE, 0);
		if (n > 0) {
			*discarded += (uint64_t)n;
			continue;
		}
		if (n == 0 || (errno != EAGAIN && errno != EINTR))
			return;
		if (!rl_socket_unacked(c->fd) || rl_now_ns() >= deadline)
			return;
	}
}

/* SIGUSR1 interrupts a connection thread's recv() (no SA_RESTART) at shutdown. */
static void on_wake_signal(int sig)
{
	(void)sig;
}

/* Asks every connection thread to finish: their recv() returns EINTR and they see
 * `stopping`.  A thread that was not in recv() yet checks `stopping` before it enters. */
static void wake_all(struct bstate *s)
{
	struct rl_list *tmp;
	struct bconn *c;

	rl_list_foreach_entry(c, tmp, &s->live, struct bconn, link)
		pthread_kill(c->thread, SIGUSR1);
}

/*
 * The writer thread of a cross_conn connection: any thread may queue bytes (under the
 * connection's lock); this one sends them, without holding the lock while it blocks.
 * Sends block in slices of SEND_SLICE (SO_SNDTIMEO), so a close requested while a send
 * is stuck on a peer that does not read still ends at its close_deadline_ns.
 */
static void *writer_main(void *arg)
{
	struct bconn *c = arg;
	struct rl_conn_sync *sy = c->base.sync;
	struct iovec iov[RL_SENDQ_IOV_MAX];
	struct msghdr msg = {.msg_iov = iov};
	uint64_t deadline = 0;
	ssize_t n;

	set_timeout(c->fd, SO_SNDTIMEO, SEND_SLICE_NS);
	pthread_mutex_lock(&sy->mu);
	for (;;) {
		while (!rl_sendq_bytes(&c->base.sq) && !rl_conn_closing(&c->base))
			pthread_cond_wait(&sy->cv, &sy->mu);
		if ((c->base.flags & RL_CONN_ABORT) || !rl_sendq_bytes(&c->base.sq))
			break;
		if (c->base.flags & RL_CONN_CLOSE_AFTER)
			deadline = c->base.close_deadline_ns;
		msg.msg_iovlen = (size_t)rl_sendq_iov(&c->base.sq, iov, RL_SENDQ_IOV_MAX);
		pthread_mutex_unlock(&sy->mu);
		n = sendmsg(c->fd, &msg, MSG_NOSIGNAL);
		pthread_mutex_lock(&sy->mu);
		if (n < 0) {
			if (errno == EINTR || errno == EAGAIN) {
				if (!deadline || rl_now_ns() < deadline)
					continue;  /* still blocked: try again */
				errno = ETIMEDOUT; /* closing, and the peer never read */
			}
			c->writer_err = -errno;
			c->base.flags |= RL_CONN_ABORT;
			break;
		}
		rl_sendq_consume(&c->base.sq, (size_t)n);
		c->writer_bytes += (uint64_t)n;
		c->writer_sent_ns = rl_now_ns(); /* the reader counts it as activity */
	}
	c->writer_done = true;
	/* Tell the reader, which may be blocked in recv(): a signal can land just before it
	 * gets there, so repeat until it has seen it. */
	while (!c->reader_done) {
		struct timespec slice;

		pthread_kill(c->thread, SIGUSR1);
		clock_gettime(CLOCK_MONOTONIC, &slice);
		slice.tv_nsec += 20000000L;
		slice.tv_sec += slice.tv_nsec / 1000000000L;
		slice.tv_nsec %= 1000000000L;
		pthread_cond_timedwait(&sy->cv, &sy->mu, &slice);
	}
	pthread_mutex_unlock(&sy->mu);
	return NULL;
}

/* Serves a cross_conn connection: this thread reads, writer_main() sends. */
static int serve_cross(struct bconn *c, struct rl_loop *loop, uint8_t *buf)
{
	struct rl_conn_sync sync;
	bool eof = false, writer_done;
	ssize_t n;
	int ret;

	pthread_mutex_init(&sync.mu, NULL);
	pthread_cond_init(&sync.cv, NULL);
	c->base.sync = &sync;
	ret = rl_conn_open(&c->base, loop, sizeof(*c), rl_now_ns());
	if (!ret)
		ret = -pthread_create(&c->writer, &c->s->attr, writer_main, c);
	if (ret) {
		rl_conn_release(&c->base);
		return ret;
	}
	while (ret >= 0) {
		/* Stop requested: the writer sends what is owed, then this thread lingers. */
		if (atomic_load(&c->s->srv->stopping))
			rl_conn_close(&c->base); /* no-op once closing (it checks under the lock) */
		if (recv_deadline(c)) {
			rl_guard_line_cut(&c->base, &loop->stats);
			continue;
		}
		n = recv(c->fd, buf, READ_BUF_SIZE, 0);
		if (n > 0) {
			ret = rl_conn_deliver(&c->base, buf, (size_t)n, rl_now_ns());
			continue;
		}
		if (n == 0) {
			eof = true;
			rl_conn_eof(&c->base);
			break;
		}
		if (errno == EINTR) {
			bool done, aborted;

			if (atomic_load(&c->s->srv->stopping))
				rl_conn_close(&c->base); /* the writer sends what is owed */
			pthread_mutex_lock(&sync.mu);
			done = c->writer_done;
			aborted = c->base.flags & RL_CONN_ABORT; /* others set it under the lock */
			if (done)
				c->reader_done = true;
			pthread_cond_broadcast(&sync.cv);
			pthread_mutex_unlock(&sync.mu);
			if (!done)
				continue;
			if (!aborted)
				linger(c, buf, &loop->stats.discarded);
			break;
		}
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			ret = -errno;
		else if (recv_timed_out(c, loop))
			continue;
		break;
	}
	pthread_mutex_lock(&sync.mu);
	c->reader_done = true;
	writer_done = c->writer_done;
	pthread_cond_broadcast(&sync.cv);
	pthread_mutex_unlock(&sync.mu);
	if (ret < 0 || (!eof && !writer_done))
		rl_conn_abort(&c->base);
	pthread_join(c->writer, NULL);
	loop->stats.bytes_out += c->writer_bytes;
	if (!ret && c->writer_err)
		ret = c->writer_err;
	/* Leave whatever shared state the protocol keeps before the lock goes away. */
	rl_conn_release(&c->base);
	pthread_cond_destroy(&sync.cv);
	pthread_mutex_destroy(&sync.mu);
	return ret;
}

/* Serves one connection until it ends.  Returns 0 or -errno (a dropped connection). */
static int serve(struct bconn *c, struct rl_loop *loop, uint8_t *buf)
{
	const struct rl_server_config *cfg = &loop->srv->cfg;
	ssize_t n;
	int ret;

	ret = rl_conn_open(&c->base, loop, sizeof(*c), rl_now_ns());
	for (;;) {
		/* Only this thread touches this connection: its dirty mark is just cleared. */
		rl_conn_forget_dirty(&c->base);
		if (ret >= 0)
			ret = rl_conn_run_deferred(&c->base);
		if (ret < 0 || (c->base.flags & RL_CONN_ABORT))
			return ret < 0 ? ret : 0;
		if (rl_sendq_bytes(&c->base.sq)) {
			if (c->base.flags & RL_CONN_CLOSE_AFTER)
				set_timeout(c->fd, SO_SNDTIMEO, cfg->drain_timeout_ns);
			ret = send_all(c, &loop->stats);
			if (ret < 0)
				return ret;
			rl_conn_sent(&c->base);
			continue; /* the protocol may have queued more, or started file I/O */
		}
		if (c->base.flags & RL_CONN_EOF)
			return 0;
		if (c->base.flags & RL_CONN_CLOSE_AFTER) {
			linger(c, buf, &loop->stats.discarded);
			return 0;
		}
		if (atomic_load(&loop->srv->stopping)) {
			rl_conn_close(&c->base); /* stop: send what is owed, then close */
			continue;
		}
		if (c->base.flags & RL_CONN_PAUSED)
			return -EDEADLK; /* paused with nothing pending: nothing could resume it */
		if (recv_deadline(c)) {
			rl_guard_line_cut(&c->base, &loop->stats);
			continue;
		}
		n = recv(c->fd, buf, READ_BUF_SIZE, 0);
		if (n > 0) {
			ret = rl_conn_deliver(&c->base, buf, (size_t)n, rl_now_ns());
		} else if (n == 0) {
			rl_conn_eof(&c->base);
		} else if (errno == EAGAIN || errno == EWOULDBLOCK) {
			if (!recv_timed_out(c, loop))
				return 0;
		} else if (errno != EINTR) {
			return -errno;
		}
	}
}

static void *conn_main(void *arg)
{
	struct bconn *c = arg;
	struct bstate *s = c->s;
	struct rl_loop loop = {.srv = s->srv};
	uint8_t buf[READ_BUF_SIZE];
	int ret;

	rl_list_init(&loop.dirty);
	if (s->srv->cfg.idle_timeout_ns) {
		set_timeout(c->fd, SO_RCVTIMEO, s->srv->cfg.idle_timeout_ns);
		c->rcvtimeo_ns = s->srv->cfg.idle_timeout_ns;
	}
	if (s->srv->proto->cross_conn) {
		ret = serve_cross(c, &loop, buf);
	} else {
		ret = serve(c, &loop, buf);
		c->base.flags |= RL_CONN_ABORT;
		rl_conn_release(&c->base);
	}
	if (ret < 0) {
		rl_stats_drop(&loop.stats, ret);
		rl_debug("connection %llu dropped: %s", (unsigned long long)c->base.id,
			 strerror(-ret));
	}
	loop.stats.closed++;

	pthread_mutex_lock(&s->lock);
	/* Closed under the lock, so blocking_stop() never shuts down a reused fd number. */
	close(c->fd);
	rl_list_remove(&c->link);
	s->nlive--;
	rl_stats_add(&s->stats, &loop.stats);
	rl_list_insert_head(&s->finished, &c->link);
	pthread_cond_broadcast(&s->cond);
	pthread_mutex_unlock(&s->lock);
	return NULL;
}

/* Joins the threads of ended connections and frees them. */
static void reap(struct bstate *s)
{
	struct rl_list ended, *n;

	pthread_mutex_lock(&s->lock);
	rl_list_take(&ended, &s->finished);
	pthread_mutex_unlock(&s->lock);
	while ((n = rl_list_pop(&ended))) {
		struct bconn *c = rl_list_entry(n, struct bconn, link);

		if (!c->inline_served)
			pthread_join(c->thread, NULL);
		free(c);
	}
}

static void spawn(struct bstate *s, int fd)
{
	struct rl_server *srv = s->srv;
	struct bconn *c = calloc(1, rl_conn_alloc_size(srv, sizeof(*c)));
	int ret;

	if (!c) {
		close(fd);
		pthread_mutex_lock(&s->lock);
		s->stats.errors++;
		pthread_mutex_unlock(&s->lock);
		return;
	}
	ret = rl_guard_admit(srv, &c->base, fd);
	if (ret < 0) { /* --max-conns-per-source: closed at once */
		close(fd);
		free(c);
		pthread_mutex_lock(&s->lock);
		rl_guard_note_refused(srv, &s->stats, ret);
		pthread_mutex_unlock(&s->lock);
		return;
	}
	c->fd = fd;
	c->s = s;
	c->base.quiet_since_ns = rl_now_ns(); /* before its thread exists: no race */
	rl_server_tune_socket(srv, fd);
	pthread_mutex_lock(&s->lock);
	rl_list_insert_head(&s->live, &c->link);
	s->nlive++;
	s->stats.accepted++;
	if (srv->cfg.blocking_mode == RL_BLOCKING_ITERATIVE) {
		/* The textbook loop: serve this client to the end, then accept the next. */
		c->thread = pthread_self();
		pthread_mutex_unlock(&s->lock);
		c->inline_served = true;
		conn_main(c);
		return;
	}
	ret = pthread_create(&c->thread, &s->attr, conn_main, c);
	if (ret) {
		rl_list_remove(&c->link);
		s->nlive--;
		s->stats.errors++;
		pthread_mutex_unlock(&s->lock);
		rl_warn("cannot start a connection thread: %s", strerror(ret));
		close(fd);
		rl_guard_release(srv, &c->base);
		free(c);
		return;
	}
	pthread_mutex_unlock(&s->lock);
}

static bool stopping(const struct bstate *s)
{
	return atomic_load(&s->srv->stopping);
}

/* Sleeps until `ns` from now, or until stop is requested. */
static void backoff(struct bstate *s, uint64_t ns)
{
	struct timespec until;

	clock_gettime(CLOCK_MONOTONIC, &until);
	until.tv_nsec += (long)ns;
	until.tv_sec += until.tv_nsec / 1000000000L;
	until.tv_nsec %= 1000000000L;
	pthread_mutex_lock(&s->lock);
	while (!stopping(s) && pthread_cond_timedwait(&s->cond, &s->lock, &until) != ETIMEDOUT)
		;
	pthread_mutex_unlock(&s->lock);
}

/* True when a client waits in the listener's backlog. */
static bool listener_ready(int lfd)
{
	struct pollfd p = {.fd = lfd, .events = POLLIN};

	return poll(&p, 1, 0) == 1 && (p.revents & POLLIN);
}

/*
 * Full, with --evict-idle: when a client is waiting, cuts the connection quiet the longest
 * (shutdown() ends its thread's recv()).  Under s->lock.  Returns true when one was cut.
 */
static bool evict_one(struct bstate *s)
{
	struct bconn *c, *best = NULL;
	struct rl_list *tmp;
	uint64_t now = rl_now_ns(), age = 0, a;

	if (!listener_ready(s->lfd))
		return false;
	rl_list_foreach_entry(c, tmp, &s->live, struct bconn, link) {
		a = c->evicted ? 0 : rl_guard_evict_age(&s->srv->cfg, &c->base, now, true);
		if (a > age) {
			age = a;
			best = c;
		}
	}
	if (!best)
		return false;
	best->evicted = true;
	shutdown(best->fd, SHUT_RDWR); /* its fd is closed under s->lock: still ours */
	rl_guard_note_evict(s->srv, &s->stats, age);
	return true;
}

/* Waits under s->lock until there is room for another connection (or stop). */
static void wait_for_room(struct bstate *s)
{
	unsigned max = s->srv->cfg.max_conns;
	struct timespec until;

	while (max && s->nlive >= max && !stopping(s)) {
		if (!s->srv->cfg.evict_idle_ns) {
			pthread_cond_wait(&s->cond, &s->lock);
			continue;
		}
		/* Evicting: look again every 50 ms (a client may be waiting by then). */
		if (evict_one(s) && s->nlive < max)
			break;
		clock_gettime(CLOCK_MONOTONIC, &until);
		until.tv_nsec += 50000000L;
		until.tv_sec += until.tv_nsec / 1000000000L;
		until.tv_nsec %= 1000000000L;
		pthread_cond_timedwait(&s->cond, &s->lock, &until);
	}
}

static void *acceptor_main(void *arg)
{
	struct bstate *s = arg;
	int fd;

	while (!stopping(s)) {
		reap(s);
		pthread_mutex_lock(&s->lock);
		wait_for_room(s);
		pthread_mutex_unlock(&s->lock);
		if (stopping(s))
			break;
		fd = accept4(s->lfd, NULL, NULL, SOCK_CLOEXEC);
		if (fd >= 0) {
			spawn(s, fd);
			continue;
		}
		if (stopping(s))
			break;
		if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
			pthread_mutex_lock(&s->lock);
			s->stats.accept_backoffs++;
			pthread_mutex_unlock(&s->lock);
			rl_debug("accept: %s; retrying in 100 ms", strerror(errno));
			backoff(s, ACCEPT_BACKOFF_NS);
		} else if (errno != EINTR && errno != ECONNABORTED) {
			rl_debug("accept: %s", strerror(errno));
		}
	}
	return NULL;
}

static int blocking_start(struct rl_server *srv)
{
	struct bstate *s = calloc(1, sizeof(*s));
	pthread_condattr_t ca;
	int ret;

	if (!s)
		return -ENOMEM;
	s->srv = srv;
	rl_list_init(&s->live);
	rl_list_init(&s->finished);
	s->lfd = rl_server_listen_fd(srv, 0);
	pthread_mutex_init(&s->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&s->cond, &ca);
	pthread_condattr_destroy(&ca);
	pthread_attr_init(&s->attr);
	{
		struct sigaction sa = {.sa_handler = on_wake_signal};

		sigemptyset(&sa.sa_mask);
		sigaction(SIGUSR1, &sa, NULL); /* no SA_RESTART: recv() returns EINTR */
	}
	pthread_attr_setstacksize(&s->attr, THREAD_STACK);
	srv->engine_state = s;
	ret = -pthread_create(&s->acceptor, NULL, acceptor_main, s);
	s->acceptor_started = ret == 0;
	rl_server_thread_ready(srv, ret);
	return ret;
}

static void blocking_stop(struct rl_server *srv)
{
	struct bstate *s = srv->engine_state;

	if (!s)
		return;
	/* shutdown() wakes the thread blocked in accept() (EINVAL). */
	shutdown(s->lfd, SHUT_RDWR);
	pthread_mutex_lock(&s->lock);
	wake_all(s);
	pthread_cond_broadcast(&s->cond);
	pthread_mutex_unlock(&s->lock);
}

static void blocking_join(struct rl_server *srv)
{
	struct bstate *s = srv->engine_state;
	uint64_t deadline = rl_now_ns() + srv->cfg.drain_timeout_ns;
	struct rl_list *tmp;
	struct bconn *c;

	if (!s)
		return;
	if (s->acceptor_started)
		pthread_join(s->acceptor, NULL);
	pthread_mutex_lock(&s->lock);
	while (s->nlive && rl_now_ns() < deadline) {
		/* Wake again every 50 ms: a thread may have been between its stopping check
		 * and recv() when the last signal came. */
		struct timespec slice;

		clock_gettime(CLOCK_MONOTONIC, &slice);
		slice.tv_nsec += 50000000L;
		slice.tv_sec += slice.tv_nsec / 1000000000L;
		slice.tv_nsec %= 1000000000L;
		pthread_cond_timedwait(&s->cond, &s->lock, &slice);
		wake_all(s);
	}
	/* Past the drain deadline: cut the rest off; their blocked send()s fail at once. */
	rl_list_foreach_entry(c, tmp, &s->live, struct bconn, link)
		shutdown(c->fd, SHUT_RDWR);
	while (s->nlive)
		pthread_cond_wait(&s->cond, &s->lock);
	pthread_mutex_unlock(&s->lock);
	reap(s);
	rl_server_thread_done(srv, &s->stats, 0);
	pthread_attr_destroy(&s->attr);
	pthread_cond_destroy(&s->cond);
	pthread_mutex_destroy(&s->lock);
	free(s);
	srv->engine_state = NULL;
}

const struct rl_engine rl_engine_blocking = {
    .name = "blocking",
    .start = blocking_start,
    .stop = blocking_stop,
    .join = blocking_join,
};
