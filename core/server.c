/*
 * server.c - the server lifecycle shared by every engine (see server.h).
 *
 * Listeners: with several loops on an IP address, each loop gets its own socket bound
 * with SO_REUSEPORT, so the kernel spreads new connections across the loops by flow hash
 * and no two threads ever wait on one accept queue (no thundering herd, no shared lock).
 * A unix socket cannot be reuseport-shared, so all loops arm accept on one listener.
 *
 * Signals: SIGINT and SIGTERM are blocked in every thread and read from a signalfd by
 * the main thread, which then asks the engine to drain; engine threads never see them.
 */
#include "server.h"

#include <errno.h>
#include <linux/sockios.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/un.h>
#include <unistd.h>

#include "clock.h"
#include "log.h"

void rl_server_config_defaults(struct rl_server_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	rl_addr_parse("127.0.0.1:7000", true, &cfg->listen);
	cfg->engine = RL_ENGINE_URING;
	cfg->threads = 1;
	cfg->backlog = 4096;
	cfg->max_conns = 0;
	cfg->idle_timeout_ns = 0;
	cfg->drain_timeout_ns = 5 * RL_NSEC_PER_SEC;
	cfg->buf_count = 4096;
	cfg->buf_size = 4096;
	cfg->sq_entries = 1024;
	cfg->cq_entries = 0;
	cfg->max_input = 1u << 20;
	cfg->sendq_high = 1u << 20;
	cfg->blocking_mode = RL_BLOCKING_THREADS;
	cfg->message = "Hello from ringlab\n";
	cfg->message_len = strlen(cfg->message);
	cfg->reply = NULL;
	cfg->max_datagram = 65536;
	cfg->max_line = 4096;
	cfg->echo_self = false;
	cfg->max_size = 1ull << 30;
}

const struct rl_engine *rl_engine_get(enum rl_engine_kind kind, bool dgram)
{
	switch (kind) {
	case RL_ENGINE_EPOLL:
		return dgram ? &rl_engine_epoll_dgram : &rl_engine_epoll;
	case RL_ENGINE_BLOCKING:
		return dgram ? &rl_engine_blocking_dgram : &rl_engine_blocking;
	case RL_ENGINE_URING:
		break;
	}
	return dgram ? &rl_engine_uring_dgram : &rl_engine_uring;
}

int rl_engine_parse(const char *name, enum rl_engine_kind *out)
{
	if (!strcmp(name, "uring"))
		*out = RL_ENGINE_URING;
	else if (!strcmp(name, "epoll"))
		*out = RL_ENGINE_EPOLL;
	else if (!strcmp(name, "blocking"))
		*out = RL_ENGINE_BLOCKING;
	else
		return -EINVAL;
	return 0;
}

int rl_socket_unread(int fd)
{
	int n = 0;

	return ioctl(fd, SIOCINQ, &n) == 0 ? n : 0;
}

int rl_socket_unacked(int fd)
{
	int n = 0;

	return ioctl(fd, SIOCOUTQ, &n) == 0 ? n : 0;
}

void rl_server_tune_socket(const struct rl_server *srv, int fd)
{
	int one = 1;

	if (rl_addr_family(&srv->bound) == AF_UNIX)
		return;
	/* Replies go out as soon as they are produced; Nagle would hold small replies back
	 * behind an unacknowledged segment.  Every engine does the same. */
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

static int open_listeners(struct rl_server *srv)
{
	const struct rl_server_config *cfg = &srv->cfg;
	struct rl_addr addr = cfg->listen;
	bool dgram = srv->proto->on_datagram != NULL;
	/* Datagram engines give every thread its own socket, blocking included. */
	bool shared = rl_addr_family(&addr) == AF_UNIX || cfg->threads == 1 ||
		      (!dgram && cfg->engine == RL_ENGINE_BLOCKING);
	unsigned want = shared ? 1 : cfg->threads;
	unsigned i;
	int fd, ret;

	if (want > sizeof(srv->listen_fds) / sizeof(srv->listen_fds[0]))
		return -EINVAL;
	for (i = 0; i < want; i++) {
		fd = dgram ? rl_bind_udp(&addr, !shared)
			   : rl_listen(&addr, (int)cfg->backlog, !shared);
		if (fd < 0)
			return fd;
		srv->listen_fds[srv->nlisten++] = fd;
		if (i == 0) {
			/* Port 0: the next sockets join the port the kernel picked. */
			ret = rl_addr_of_socket(fd, &srv->bound);
			if (ret)
				return ret;
			if (rl_addr_family(&addr) != AF_UNIX)
				addr = srv->bound;
			else
				srv->bound = cfg->listen;
		}
	}
	return 0;
}

void rl_server_thread_ready(struct rl_server *srv, int err)
{
	pthread_mutex_lock(&srv->lock);
	srv->ready++;
	if (err && !srv->start_error)
		srv->start_error = err;
	pthread_cond_broadcast(&srv->cond);
	pthread_mutex_unlock(&srv->lock);
}

void rl_server_thread_done(struct rl_server *srv, const struct rl_stats *st, int err)
{
	uint64_t one = 1;

	pthread_mutex_lock(&srv->lock);
	rl_stats_add(&srv->totals, st);
	if (err && !srv->run_error)
		srv->run_error = err;
	pthread_mutex_unlock(&srv->lock);
	if (err && write(srv->done_fd, &one, sizeof(one)) < 0)
		rl_err("cannot wake the main thread: %s", strerror(errno));
}

struct loops {
	unsigned n;
	size_t stride;
	_Alignas(16) unsigned char mem[];
};

static struct rl_loop *loop_at(struct loops *ls, unsigned i)
{
	return (struct rl_loop *)(ls->mem + (size_t)i * ls->stride);
}

int rl_loops_start(struct rl_server *srv, size_t stride, void *(*fn)(void *), int efd_flags)
{
	unsigned want = srv->cfg.threads, i;
	struct loops *ls = calloc(1, sizeof(*ls) + want * stride);
	int ret = 0;

	if (!ls)
		return -ENOMEM;
	ls->stride = stride;
	srv->engine_state = ls;
	for (i = 0; i < want; i++) {
		struct rl_loop *l = loop_at(ls, i);

		l->srv = srv;
		l->index = i;
		rl_list_init(&l->dirty);
		l->wake_fd = eventfd(0, EFD_CLOEXEC | efd_flags);
		if (l->wake_fd < 0) {
			ret = -errno;
			break;
		}
		ret = -pthread_create(&l->thread, NULL, fn, l);
		if (ret) {
			close(l->wake_fd);
			break;
		}
		ls->n++;
	}
	pthread_mutex_lock(&srv->lock);
	while (srv->ready < ls->n)
		pthread_cond_wait(&srv->cond, &srv->lock);
	pthread_mutex_unlock(&srv->lock);
	return ret;
}

void rl_loops_stop(struct rl_server *srv)
{
	struct loops *ls = srv->engine_state;
	uint64_t one = 1;
	unsigned i;

	for (i = 0; ls && i < ls->n; i++)
		if (write(loop_at(ls, i)->wake_fd, &one, sizeof(one)) < 0)
			rl_err("cannot wake loop %u: %s", i, strerror(errno));
}

void rl_loops_join(struct rl_server *srv)
{
	struct loops *ls = srv->engine_state;
	unsigned i;

	if (!ls)
		return;
	for (i = 0; i < ls->n; i++) {
		pthread_join(loop_at(ls, i)->thread, NULL);
		close(loop_at(ls, i)->wake_fd);
	}
	free(ls);
	srv->engine_state = NULL;
}

/* Waits for SIGINT/SIGTERM or an engine thread's fatal error.  Returns the signal or 0. */
static int wait_for_stop(struct rl_server *srv, int sfd)
{
	struct pollfd pfd[2] = {{.fd = sfd, .events = POLLIN},
				{.fd = srv->done_fd, .events = POLLIN}};
	struct signalfd_siginfo si;

	for (;;) {
		if (poll(pfd, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			return 0;
		}
		if (pfd[0].revents & POLLIN) {
			if (read(sfd, &si, sizeof(si)) != sizeof(si))
				return 0;
			return (int)si.ssi_signo;
		}
		if (pfd[1].revents & POLLIN)
			return 0;
	}
}

static void print_totals(const struct rl_server *srv)
{
	const struct rl_stats *t = &srv->totals;

	fprintf(
	    stderr,
	    "%s: %s engine stopped: connections %llu (closed %llu, refused %llu, idle-closed "
	    "%llu, resets %llu, errors %llu), requests %llu, bytes in %llu, bytes out %llu, accept "
	    "backoffs %llu, buffer-ring empty %llu, truncated %llu, discarded %llu, "
	    "source-refused %llu, line-timeouts %llu, evicted %llu, sent in place %llu, "
	    "source-blocked %llu, files registered %llu\n",
	    srv->proto->name, srv->engine->name, (unsigned long long)t->accepted,
	    (unsigned long long)t->closed, (unsigned long long)t->refused,
	    (unsigned long long)t->idle_closed, (unsigned long long)t->resets,
	    (unsigned long long)t->errors, (unsigned long long)t->requests,
	    (unsigned long long)t->bytes_in, (unsigned long long)t->bytes_out,
	    (unsigned long long)t->accept_backoffs, (unsigned long long)t->enobufs,
	    (unsigned long long)t->truncated, (unsigned long long)t->discarded,
	    (unsigned long long)t->source_refused, (unsigned long long)t->line_timeouts,
	    (unsigned long long)t->evicted, (unsigned long long)t->sent_in_place,
	    (unsigned long long)atomic_load(&srv->guard.blocks),
	    (unsigned long long)t->files_registered);
}

static int start_engine(struct rl_server *srv)
{
	int ret = srv->engine->start(srv);

	if (ret)
		return ret;
	pthread_mutex_lock(&srv->lock);
	ret = srv->start_error;
	pthread_mutex_unlock(&srv->lock);
	return ret;
}

int rl_server_run(const struct rl_server_config *cfg, const struct rl_proto *proto)
{
	static struct rl_server srv; /* engine threads hold pointers to it until join */
	char name[RL_ADDR_STRLEN];
	sigset_t set;
	int sfd = -1, ret, sig;
	unsigned i;

	memset(&srv, 0, sizeof(srv));
	srv.cfg = *cfg;
	srv.proto = proto;
	srv.engine = rl_engine_get(cfg->engine, proto->on_datagram != NULL);
	srv.done_fd = -1;
	pthread_mutex_init(&srv.lock, NULL);
	pthread_cond_init(&srv.cond, NULL);
	ret = rl_guard_init(&srv.guard, cfg);
	if (ret)
		return ret;

	/* Block the stop signals before any thread exists, so all of them inherit it. */
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	sfd = signalfd(-1, &set, SFD_CLOEXEC);
	srv.done_fd = eventfd(0, EFD_CLOEXEC);
	if (sfd < 0 || srv.done_fd < 0) {
		ret = -errno;
		goto out;
	}

	if (proto->setup) {
		ret = proto->setup(cfg);
		if (ret)
			goto out;
	}
	ret = open_listeners(&srv);
	/* Over-cap IPv4 sources are then refused at SYN by the listeners' BPF program. */
	if (!ret && cfg->max_conns_per_source && !cfg->no_source_filter && !proto->on_datagram &&
	    rl_addr_family(&srv.bound) != AF_UNIX)
		rl_guard_filter(&srv.guard, srv.listen_fds, srv.nlisten, cfg->max_conns_per_source);
	if (ret) {
		rl_addr_format(&cfg->listen, name, sizeof(name));
		rl_err("cannot listen on %s: %s", name, strerror(-ret));
		goto out;
	}
	ret = start_engine(&srv);
	if (ret) {
		rl_err("%s engine failed to start: %s", srv.engine->name, strerror(-ret));
		atomic_store(&srv.stopping, true);
		srv.engine->stop(&srv);
		srv.engine->join(&srv);
		goto out;
	}

	rl_addr_format(&srv.bound, name, sizeof(name));
	printf("listening on %s\n", name);
	fflush(stdout);
	rl_info("%s server, %s engine, %u thread%s", proto->name, srv.engine->name, cfg->threads,
		cfg->threads == 1 ? "" : "s");

	sig = wait_for_stop(&srv, sfd);
	if (sig)
		rl_info("%s: stopping (drain timeout %.1fs)", strsignal(sig),
			(double)cfg->drain_timeout_ns / 1e9);
	atomic_store(&srv.stopping, true);
	srv.engine->stop(&srv);
	srv.engine->join(&srv);
	print_totals(&srv);
	ret = srv.run_error;
	if (ret)
		rl_err("%s engine failed: %s", srv.engine->name, strerror(-ret));
out:
	for (i = 0; i < srv.nlisten; i++)
		close(srv.listen_fds[i]);
	if (rl_addr_family(&cfg->listen) == AF_UNIX && srv.nlisten) {
		const struct sockaddr_un *sun = (const struct sockaddr_un *)&cfg->listen.ss;

		if (sun->sun_path[0])
			unlink(sun->sun_path);
	}
	if (proto->teardown)
		proto->teardown();
	if (sfd >= 0)
		close(sfd);
	if (srv.done_fd >= 0)
		close(srv.done_fd);
	rl_guard_destroy(&srv.guard);
	return ret;
}
