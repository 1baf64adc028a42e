/*
 * engine_epoll.c - the readiness baseline: nonblocking sockets, one epoll loop per thread.
 *
 * This is the event loop as redis, nginx and libuv write it, with no handicap: level-
 * triggered epoll, one read of up to 64 KiB per readable event into a per-loop buffer,
 * replies written with one writev per connection at the end of each batch (the same
 * batching point the io_uring engine submits at), EPOLLOUT only while a connection has
 * bytes the kernel would not take.  Each loop has its own SO_REUSEPORT listener, like the
 * io_uring engine; a shared unix listener is armed with EPOLLEXCLUSIVE.
 *
 * Closed connections are parked until the end of the batch, because later events of the
 * same epoll_wait may still name them.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "clock.h"
#include "list.h"
#include "log.h"
#include "policy.h"
#include "server.h"

#define READ_BUF_SIZE	  (64u * 1024u)
#define MAX_EVENTS	  512
#define ACCEPT_BATCH	  64
#define ACCEPT_BACKOFF_NS (100 * RL_NSEC_PER_MSEC)

struct econn {
	struct rl_conn base; /* first */
	struct rl_list link; /* on the loop's live list while open, then on its graves */
	int fd;
	uint32_t events; /* what epoll watches now */
	bool closed;
	bool paused;
	bool linger; /* FIN sent; reading and discarding until the peer closes */
};

struct eloop {
	struct rl_loop base;
	int ep;
	int lfd;
	bool shared_listener;
	bool listening;
	bool accept_paused;
	bool draining;
	bool lingering;	      /* some connection waits to flush before it closes */
	struct rl_list live;  /* open connections, newest first (econn.link) */
	struct rl_list grave; /* closed this batch, freed at its end (econn.link) */
	unsigned nlive;
	unsigned max_conns;
	uint64_t backoff_until;
	uint64_t drain_deadline;
	uint64_t last_idle_scan;
	uint8_t *rbuf;
	int fatal;
};

/* Marker pointers for the two non-connection fds in the epoll set. */
static char listener_tag, wake_tag;

static void set_listening(struct eloop *l, bool on)
{
	struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &listener_tag};

	if (on == l->listening)
		return;
	if (on && l->shared_listener)
		ev.events |= EPOLLEXCLUSIVE;
	if (epoll_ctl(l->ep, on ? EPOLL_CTL_ADD : EPOLL_CTL_DEL, l->lfd, &ev) < 0) {
		rl_err("epoll_ctl(listener): %s", strerror(errno));
		return;
	}
	l->listening = on;
}

static void update_events(struct eloop *l, struct econn *c)
{
	struct epoll_event ev = {.data.ptr = c};
	uint32_t want = 0;

	if (c->linger ||
	    (!c->paused && !(c->base.flags & (RL_CONN_EOF | RL_CONN_CLOSE_AFTER | RL_CONN_PAUSED))))
		want |= EPOLLIN | EPOLLRDHUP;
	if (rl_sendq_bytes(&c->base.sq))
		want |= EPOLLOUT;
	if (want == c->events)
		return;
	ev.events = want;
	if (epoll_ctl(l->ep, EPOLL_CTL_MOD, c->fd, &ev) == 0)
		c->events = want;
}

static void conn_close(struct eloop *l, struct econn *c)
{
	if (c->closed)
		return;
	c->closed = true;
	c->base.flags |= RL_CONN_ABORT;
	close(c->fd); /* also removes it from the epoll set */
	rl_list_remove(&c->link);
	l->nlive--;
	l->base.stats.closed++;
	rl_conn_release(&c->base);
	rl_list_insert_head(&l->grave, &c->link);
	if (l->accept_paused && l->nlive < l->max_conns) {
		l->accept_paused = false;
		if (!l->backoff_until && !l->draining)
			set_listening(l, true);
	}
}

static void conn_fail(struct eloop *l, struct econn *c, int err)
{
	rl_stats_drop(&l->base.stats, err);
	rl_debug("connection %llu dropped: %s", (unsigned long long)c->base.id, strerror(-err));
	conn_close(l, c);
}

/* Writes as much of the send queue as the socket takes.  Returns 0 or -errno. */
static int conn_write(struct eloop *l, struct econn *c)
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
			if (errno == EAGAIN)
				return 0;
			return -errno;
		}
		rl_sendq_consume(&c->base.sq, (size_t)n);
		l->base.stats.bytes_out += (uint64_t)n;
		c->base.last_active_ns = l->base.now_ns;
	}
	return 0;
}

/* Sends what the protocol queued, closes when asked, and applies backpressure. */
static void conn_flush(struct eloop *l, struct econn *c)
{
	size_t had;
	int ret;

	if (c->closed || c->linger)
		return;
	ret = rl_conn_run_deferred(&c->base);
	if (ret < 0) {
		conn_fail(l, c, ret);
		return;
	}
	if (c->base.flags & RL_CONN_ABORT) {
		conn_close(l, c);
		return;
	}
	had = rl_sendq_bytes(&c->base.sq);
	ret = conn_write(l, c);
	if (ret) {
		conn_fail(l, c, ret);
		return;
	}
	if (had && !rl_sendq_bytes(&c->base.sq)) {
		rl_conn_sent(&c->base); /* may queue more: it marks the connection dirty */
		if (rl_sendq_bytes(&c->base.sq))
			return;
	}
	if (c->base.flags & RL_CONN_CLOSE_AFTER) {
		l->lingering = true; /* on_timer cuts it off if the peer never reads */
		if (!rl_sendq_bytes(&c->base.sq)) {
			/* Unread input would turn close() into a reset that destroys replies
			 * in flight: send FIN and drain first (see uring_life.c). */
			if ((c->base.flags & RL_CONN_EOF) || !rl_socket_unread(c->fd)) {
				conn_close(l, c);
				return;
			}
			shutdown(c->fd, SHUT_WR);
			c->linger = true;
		}
	}
	/* Past the high-water mark the peer is not reading: stop reading it (policy.h). */
	c->paused = rl_policy_pause(&l->base.srv->cfg, rl_sendq_bytes(&c->base.sq), c->paused);
	update_events(l, c);
}

/* A flush can dirty other connections (a protocol's on_close broadcasting): loop. */
static void flush_dirty(struct eloop *l)
{
	struct rl_list batch;
	struct rl_conn *bc;

	while (rl_loop_take_dirty(&l->base, &batch))
		while ((bc = rl_dirty_pop(&batch)))
			conn_flush(l, (struct econn *)bc);
}

static void conn_new(struct eloop *l, int fd)
{
	struct rl_server *srv = l->base.srv;
	struct econn *c = calloc(1, rl_conn_alloc_size(srv, sizeof(*c)));
	struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP};
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
	ev.data.ptr = c;
	if (epoll_ctl(l->ep, EPOLL_CTL_ADD, fd, &ev) < 0) {
		close(fd);
		rl_guard_release(srv, &c->base);
		free(c);
		l->base.stats.errors++;
		return;
	}
	c->events = ev.events;
	rl_list_insert_head(&l->live, &c->link);
	l->nlive++;
	l->base.stats.accepted++;
	rl_server_tune_socket(srv, fd);
	ret = rl_conn_open(&c->base, &l->base, sizeof(*c), l->base.now_ns);
	if (ret < 0)
		conn_fail(l, c, ret);
}

/* With --evict-idle: the connection to close when full (guard.h), or NULL. */
static struct econn *pick_victim(struct eloop *l, uint64_t *age)
{
	struct econn *c, *best = NULL;
	struct rl_list *tmp;
	uint64_t a;

	*age = 0;
	rl_list_foreach_entry(c, tmp, &l->live, struct econn, link) {
		a = rl_guard_evict_age(&l->base.srv->cfg, &c->base, l->base.now_ns, false);
		if (a > *age) {
			*age = a;
			best = c;
		}
	}
	return best;
}

static void on_listener(struct eloop *l)
{
	struct econn *victim;
	uint64_t age = 0;
	int i, fd;

	for (i = 0; i < ACCEPT_BATCH; i++) {
		victim = NULL;
		if (l->max_conns && l->nlive >= l->max_conns) {
			victim = l->base.srv->cfg.evict_idle_ns ? pick_victim(l, &age) : NULL;
			if (!victim) {
				/* Leave the rest in the kernel's backlog until a slot frees. */
				l->accept_paused = true;
				set_listening(l, false);
				return;
			}
		}
		fd = accept4(l->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd >= 0) {
			if (victim) {
				rl_guard_note_evict(l->base.srv, &l->base.stats, age);
				conn_close(l, victim);
			}
			conn_new(l, fd);
			continue;
		}
		if (errno == EINTR || errno == ECONNABORTED)
			continue;
		if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
			if (!l->backoff_until)
				rl_debug("accept: %s with %u connections open; retrying in 100 ms",
					 strerror(errno), l->nlive);
			l->base.stats.accept_backoffs++;
			l->backoff_until = l->base.now_ns + ACCEPT_BACKOFF_NS;
			set_listening(l, false);
		}
		return; /* EAGAIN: drained */
	}
}

static void on_conn(struct eloop *l, struct econn *c, uint32_t events)
{
	ssize_t n;
	int ret;

	if (c->closed)
		return;
	if (c->linger) {
		n = recv(c->fd, l->rbuf, READ_BUF_SIZE, 0);
		if (n > 0)
			l->base.stats.discarded += (uint64_t)n;
		else if (n == 0 || (errno != EAGAIN && errno != EINTR))
			conn_close(l, c);
		return;
	}
	if (c->base.flags & RL_CONN_CLOSE_AFTER) {
		/* Closing (the server is stopping, or the protocol said so): read no more;
		 * what was read is answered, and the close drains politely. */
		if (events & EPOLLOUT)
			rl_conn_mark_dirty(&c->base);
		return;
	}
	if ((events & EPOLLIN) || ((events & (EPOLLHUP | EPOLLERR)) && !(events & EPOLLOUT))) {
		n = recv(c->fd, l->rbuf, READ_BUF_SIZE, 0);
		if (n > 0) {
			ret = rl_conn_deliver(&c->base, l->rbuf, (size_t)n, l->base.now_ns);
			if (ret < 0) {
				conn_fail(l, c, ret);
				return;
			}
		} else if (n == 0) {
			rl_conn_eof(&c->base);
			update_events(l, c);
		} else if (errno != EAGAIN && errno != EINTR) {
			conn_fail(l, c, -errno);
			return;
		}
	}
	if ((events & EPOLLOUT) && !c->closed)
		rl_conn_mark_dirty(&c->base);
}

static void start_drain(struct eloop *l)
{
	struct rl_list *tmp;
	struct econn *c;

	if (l->draining)
		return;
	l->draining = true;
	l->drain_deadline = l->base.now_ns + l->base.srv->cfg.drain_timeout_ns;
	set_listening(l, false);
	rl_list_foreach_entry(c, tmp, &l->live, struct econn, link)
		rl_conn_close(&c->base);
}

/* The timer duties: accept back-off and eviction, then, when a sweep is due, the policy's
 * verdict on each connection (policy.h), applied with this engine's close. */
static void on_timer(struct eloop *l)
{
	struct rl_policy_clock k = {.now_ns = l->base.now_ns,
				    .drain_deadline_ns = l->drain_deadline,
				    .draining = l->draining};
	uint64_t sweep = rl_policy_sweep_ns(&l->base.srv->cfg), now = k.now_ns;
	struct rl_list *tmp;
	struct econn *c;
	enum rl_verdict v;

	if (l->backoff_until && now >= l->backoff_until) {
		l->backoff_until = 0;
		if (!l->draining && !l->accept_paused)
			set_listening(l, true);
	}
	if (!l->draining && !(sweep && now - l->last_idle_scan >= sweep) &&
	    !(l->lingering && now - l->last_idle_scan >= RL_POLICY_LINGER_TICK_NS))
		return;
	l->last_idle_scan = now;
	l->lingering = false;
	if (l->accept_paused && l->base.srv->cfg.evict_idle_ns && !l->draining && !l->backoff_until)
		set_listening(l, true); /* full: look again for a connection to evict */
	rl_list_foreach_entry(c, tmp, &l->live, struct econn, link) {
		v = rl_policy_judge(&c->base, &k, c->linger && !rl_socket_unacked(c->fd),
				    &l->base.stats);
		if (v == RL_VERDICT_LINGER)
			l->lingering = true;
		else if (rl_verdict_closes(v))
			conn_close(l, c);
	}
}

/* Milliseconds epoll_wait may sleep: until the next timer duty, or forever. */
static int wait_ms(const struct eloop *l)
{
	uint64_t t = rl_policy_tick_ns(&l->base.srv->cfg, l->draining, l->lingering), b;

	if (l->backoff_until) {
		b = l->backoff_until > l->base.now_ns ? l->backoff_until - l->base.now_ns : 0;
		if (b < t)
			t = b;
	}
	if (t == UINT64_MAX)
		return -1;
	return (int)((t + RL_NSEC_PER_MSEC - 1) / RL_NSEC_PER_MSEC);
}

/* Frees the connections closed during the batch just handled (see the top). */
static void bury(struct eloop *l)
{
	struct rl_list *n;

	while ((n = rl_list_pop(&l->grave)))
		free(rl_list_entry(n, struct econn, link));
}

static void *loop_main(void *arg)
{
	struct eloop *l = arg;
	struct epoll_event events[MAX_EVENTS];
	struct epoll_event wev = {.events = EPOLLIN, .data.ptr = &wake_tag};
	struct rl_server *srv = l->base.srv;
	struct rl_list *node;
	int n, i, err = 0;

	rl_list_init(&l->live);
	rl_list_init(&l->grave);
	l->lfd = rl_server_listen_fd(srv, l->base.index);
	l->shared_listener = srv->nlisten < srv->cfg.threads;
	l->max_conns =
	    srv->cfg.max_conns ? (srv->cfg.max_conns + srv->cfg.threads - 1) / srv->cfg.threads : 0;
	l->ep = epoll_create1(EPOLL_CLOEXEC);
	l->rbuf = malloc(READ_BUF_SIZE);
	/* accept4() in a readiness loop must never block (another loop may win the race). */
	fcntl(l->lfd, F_SETFL, fcntl(l->lfd, F_GETFL) | O_NONBLOCK);
	if (l->ep < 0 || !l->rbuf || epoll_ctl(l->ep, EPOLL_CTL_ADD, l->base.wake_fd, &wev) < 0)
		err = l->rbuf ? -errno : -ENOMEM;
	rl_server_thread_ready(l->base.srv, err);
	if (err)
		goto out;
	l->base.now_ns = rl_now_ns();
	set_listening(l, true);
	while (!(l->draining && !l->nlive)) {
		n = epoll_wait(l->ep, events, MAX_EVENTS, wait_ms(l));
		if (n < 0 && errno != EINTR) {
			err = -errno;
			rl_err("epoll_wait: %s", strerror(errno));
			break;
		}
		l->base.now_ns = rl_now_ns();
		for (i = 0; i < n; i++) {
			void *p = events[i].data.ptr;

			if (p == &listener_tag) {
				on_listener(l);
			} else if (p == &wake_tag) {
				uint64_t v;

				if (read(l->base.wake_fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
					rl_debug("eventfd read: %s", strerror(errno));
				if (atomic_load(&l->base.srv->stopping))
					start_drain(l);
			} else {
				on_conn(l, p, events[i].events);
			}
		}
		on_timer(l);
		flush_dirty(l);
		bury(l);
	}
out:
	while ((node = rl_list_first(&l->live)))
		conn_close(l, rl_list_entry(node, struct econn, link));
	bury(l);
	free(l->rbuf);
	if (l->ep >= 0)
		close(l->ep);
	rl_server_thread_done(l->base.srv, &l->base.stats, err);
	return NULL;
}

static int epoll_start(struct rl_server *srv)
{
	return rl_loops_start(srv, sizeof(struct eloop), loop_main, EFD_NONBLOCK);
}

const struct rl_engine rl_engine_epoll = {
    .name = "epoll",
    .start = epoll_start,
    .stop = rl_loops_stop,
    .join = rl_loops_join,
};
