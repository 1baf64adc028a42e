/*
 * server.h - a server: a protocol, an engine, listening sockets and a lifecycle.
 *
 * main() fills a struct rl_server_config, picks a protocol and calls rl_server_run(),
 * which opens the listeners, prints "listening on ADDR", starts the engine's threads,
 * waits for SIGINT/SIGTERM, drains (bounded by drain_timeout), prints the final counters
 * on stderr and returns.  Engines (engine_uring.c, engine_epoll.c, engine_blocking.c)
 * implement struct rl_engine.
 */
#ifndef RL_SERVER_H
#define RL_SERVER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "addr.h"
#include "conn.h"
#include "guard.h"
#include "proto.h"

enum rl_engine_kind {
	RL_ENGINE_URING,
	RL_ENGINE_EPOLL,
	RL_ENGINE_BLOCKING,
};

enum rl_blocking_mode {
	RL_BLOCKING_THREADS,   /* one thread per connection (default) */
	RL_BLOCKING_ITERATIVE, /* the accept loop serves each connection itself */
};

struct rl_server_config {
	struct rl_addr listen;
	enum rl_engine_kind engine;
	unsigned threads; /* loops (uring, epoll); blocking: one thread per conn */
	unsigned backlog;
	unsigned max_conns;	   /* per server; 0 = no limit but the fd limit */
	uint64_t idle_timeout_ns;  /* 0 = off */
	uint64_t drain_timeout_ns; /* how long SIGTERM waits for replies in flight */
	unsigned buf_count;	   /* uring: provided buffers per ring (a power of two) */
	unsigned buf_size;	   /* uring: bytes per provided buffer */
	unsigned sq_entries;	   /* uring: SQ size */
	unsigned cq_entries;	   /* uring: CQ size (0 = 8 x SQ) */
	size_t max_input;	   /* unconsumed input a protocol may leave before -EMSGSIZE */
	size_t sendq_high;	   /* stop reading a connection with this much queued */
	bool verbose;
	enum rl_blocking_mode blocking_mode;

	/* Defences (guard.h), 0 = off: connections per IPv4 address / IPv6 /64; the deadline
	 * of an incomplete line; when full, evict the quietest if quiet this long. */
	unsigned max_conns_per_source;
	bool no_source_filter; /* refuse over-cap sources by accept-and-reset only */
	uint64_t line_timeout_ns;
	uint64_t evict_idle_ns;

	/* Protocol settings: each servers/<protocol>.c documents the ones it reads. */
	const char *message; /* greeting: what to send on accept */
	size_t message_len;
	const char *reply; /* udp: fixed reply instead of an echo (NULL: echo) */
	size_t reply_len;
	size_t max_datagram;	/* udp: larger datagrams are counted as truncated */
	bool sockperf;		/* udp: answer sockperf pings instead of echoing */
	size_t max_line;	/* chat: longest line accepted */
	bool echo_self;		/* chat: the sender gets its own lines too */
	const char *root;	/* file: the directory files live in */
	bool fsync;		/* file: fsync each upload before it becomes visible */
	bool sink;		/* file: store each connection's bytes as output<N>.txt */
	uint64_t max_size;	/* file: largest upload */
	uint64_t debug_spin_ns; /* test aid: busy-wait this long per request */
};

/* Fills `cfg` with the defaults documented in --help. */
void rl_server_config_defaults(struct rl_server_config *cfg);

struct rl_server;

struct rl_engine {
	const char *name;
	/* Starts the engine's threads; returns once each is ready (0) or failed (-errno). */
	int (*start)(struct rl_server *srv);
	/* Asks every thread to stop accepting and drain.  Async-signal-unsafe; called from
	 * the main thread.  Must be idempotent. */
	void (*stop)(struct rl_server *srv);
	/* Waits for every thread to finish and frees the engine state. */
	void (*join)(struct rl_server *srv);
};

extern const struct rl_engine rl_engine_uring;
extern const struct rl_engine rl_engine_epoll;
extern const struct rl_engine rl_engine_blocking;
extern const struct rl_engine rl_engine_uring_dgram;
extern const struct rl_engine rl_engine_epoll_dgram;
extern const struct rl_engine rl_engine_blocking_dgram;

struct rl_server {
	struct rl_server_config cfg;
	const struct rl_proto *proto;
	const struct rl_engine *engine;
	int listen_fds[64]; /* one per thread (SO_REUSEPORT), or one shared */
	unsigned nlisten;
	struct rl_addr bound; /* the address actually bound (port 0 resolved) */
	atomic_bool stopping;
	atomic_uint_fast64_t next_conn_id;
	int done_fd; /* eventfd: an engine thread ended on its own (error) */
	void *engine_state;

	pthread_mutex_t lock; /* guards the fields below */
	pthread_cond_t cond;
	unsigned ready;		/* threads that finished setting up */
	int start_error;	/* first setup error, -errno */
	int run_error;		/* first fatal error after start, -errno */
	struct rl_stats totals; /* summed as loops exit */
	struct rl_guard guard;	/* per-source counts (guard.h) */
};

/* Returns the engine for a kind, in its stream or datagram flavour. */
const struct rl_engine *rl_engine_get(enum rl_engine_kind kind, bool dgram);

/* Parses "uring", "epoll" or "blocking".  Returns 0 or -EINVAL. */
int rl_engine_parse(const char *name, enum rl_engine_kind *out);

/*
 * Runs `proto` with `cfg` until SIGINT/SIGTERM or a fatal engine error.  Prints the
 * listening line on stdout and the final counters on stderr.  Returns 0 after a clean
 * shutdown, or -errno (listen failure, ring setup failure, ...).
 */
int rl_server_run(const struct rl_server_config *cfg, const struct rl_proto *proto);

/* ---- called by engine threads ---- */

/* Reports that a thread finished setup (err = 0) or failed (-errno). */
void rl_server_thread_ready(struct rl_server *srv, int err);

/* Adds a loop's counters to the totals when the loop ends; records a fatal error. */
void rl_server_thread_done(struct rl_server *srv, const struct rl_stats *st, int err);

/* Returns the listening fd loop `index` uses. */
static inline int rl_server_listen_fd(const struct rl_server *srv, unsigned index)
{
	return srv->listen_fds[index % srv->nlisten];
}

/*
 * Event-loop engines (uring, epoll) run cfg.threads loops.  Each loop is an engine type of
 * `stride` bytes (a multiple of 16) that starts with a struct rl_loop.  rl_loops_start()
 * allocates them zeroed as srv->engine_state, fills srv/index/wake_fd (an eventfd with
 * `efd_flags`), starts fn(loop) on a thread each, and waits until every thread called
 * rl_server_thread_ready().  Returns 0 or -errno.  rl_loops_stop() writes each eventfd;
 * rl_loops_join() joins the threads and frees the loops.
 */
int rl_loops_start(struct rl_server *srv, size_t stride, void *(*fn)(void *), int efd_flags);
void rl_loops_stop(struct rl_server *srv);
void rl_loops_join(struct rl_server *srv);

/* Returns the bytes received and not yet read on a socket (SIOCINQ); 0 on error. */
int rl_socket_unread(int fd);

/* Returns the bytes sent and not yet acknowledged by the peer (SIOCOUTQ); 0 on error. */
int rl_socket_unacked(int fd);

/* Sets the options every accepted TCP socket gets (TCP_NODELAY).  Ignores AF_UNIX. */
void rl_server_tune_socket(const struct rl_server *srv, int fd);

#endif
