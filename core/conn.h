/*
 * conn.h - the engine-neutral connection: what protocols may do to a connection, and
 * what every engine shares (send queue, unconsumed input, the dirty list, counters).
 *
 * Each engine embeds a struct rl_conn in its own connection type and a struct rl_loop in
 * its per-thread loop.  Protocol calls only queue work and mark the connection dirty; the
 * engine flushes dirty connections once per loop turn, before it waits for events (one
 * submit for the whole batch on io_uring, one send per connection on epoll).
 */
#ifndef RL_CONN_H
#define RL_CONN_H

#include <errno.h>
#include <linux/openat2.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#include "guard.h"
#include "list.h"
#include "proto.h"
#include "sendq.h"

struct rl_fixedbuf;
struct rl_server;

/* Counters kept per loop (no atomics on the hot path) and summed at exit. */
struct rl_stats {
	uint64_t accepted;
	uint64_t closed;
	uint64_t refused; /* accepted then closed at once: --max-conns reached */
	uint64_t idle_closed;
	uint64_t resets; /* connections the peer reset (ECONNRESET, EPIPE) */
	uint64_t errors; /* connections dropped by any other socket or protocol error */
	uint64_t bytes_in;
	uint64_t bytes_out;
	uint64_t requests;	   /* what the protocol counts as a request (echo: each read) */
	uint64_t accept_backoffs;  /* EMFILE/ENFILE/ENOMEM on accept */
	uint64_t enobufs;	   /* io_uring: multishot recv ran out of provided buffers */
	uint64_t truncated;	   /* datagrams larger than --max-datagram, dropped */
	uint64_t discarded;	   /* bytes read after a close was decided (never requests) */
	uint64_t source_refused;   /* closed at once: --max-conns-per-source reached */
	uint64_t line_timeouts;	   /* an incomplete line outlived --line-timeout */
	uint64_t evicted;	   /* closed to make room when --max-conns was reached */
	uint64_t sent_in_place;	   /* io_uring: replies sent from their receive buffer */
	uint64_t files_registered; /* io_uring: sockets put in a ring's registered file table */
};

/* Counts a dropped connection as a reset by the peer or as an error. */
static inline void rl_stats_drop(struct rl_stats *st, int err)
{
	if (err == -ECONNRESET || err == -EPIPE)
		st->resets++;
	else
		st->errors++;
}

/* Adds every counter of `src` into `dst`. */
void rl_stats_add(struct rl_stats *dst, const struct rl_stats *src);

struct rl_loop {
	struct rl_server *srv;
	struct rl_list dirty; /* connections with work queued since the last flush */
	struct rl_stats stats;
	unsigned index; /* thread number, 0..threads-1 */
	int wake_fd;	/* eventfd written by rl_loops_stop() */
	pthread_t thread;
	uint64_t now_ns; /* the loop's clock, read once per turn (blocking engine: 0) */
	/* Starts a file operation asynchronously (io_uring).  NULL: rl_conn_fileop() runs it
	 * synchronously and delivers the completion at the next flush. */
	int (*submit_fileop)(struct rl_loop *loop, struct rl_fileop *op);
	/* io_uring: buffers registered for file I/O (rl_conn_file_chunk), or NULL. */
	struct rl_fixedbuf *fixedbuf;
	/* Sends `n` bytes that lie in the input buffer being delivered right now, from that
	 * buffer, which the engine keeps until they are sent (rl_conn_send_input).  Returns 0
	 * when it took them, -EAGAIN when they must be copied instead.  NULL: always copy. */
	int (*send_input)(struct rl_loop *loop, struct rl_conn *c, const void *p, size_t n);
};

enum rl_fileop_kind {
	RL_FOP_OPEN,   /* openat2(dirfd, path, &how) -> fd */
	RL_FOP_READ,   /* pread(fd, buf, len, off) -> bytes */
	RL_FOP_WRITE,  /* pwrite(fd, buf, len, off) -> bytes */
	RL_FOP_FSYNC,  /* fsync(fd) */
	RL_FOP_CLOSE,  /* close(fd) */
	RL_FOP_RENAME, /* renameat(dirfd, path, dirfd, path2) */
	RL_FOP_UNLINK, /* unlinkat(dirfd, path, 0) */
	RL_FOP_STATX,  /* statx(fd, "", AT_EMPTY_PATH, STATX_BASIC_STATS, stx) */
};

/*
 * A file operation a protocol asks for.  The protocol owns the struct (usually in its
 * connection state) and everything it points to until on_fileop() hands it back.
 */
struct rl_fileop {
	_Alignas(16) struct rl_fileop *next; /* engine use; 16-aligned for user_data */
	struct rl_conn *conn;
	enum rl_fileop_kind kind;
	int dirfd;
	const char *path;  /* NUL-terminated */
	const char *path2; /* RENAME: the new name */
	struct open_how how;
	int fd;
	void *buf;
	size_t len;
	uint64_t off;
	struct statx *stx;
	int res; /* >= 0 or -errno, set on completion */
};

/*
 * For engines where other threads may send to a connection (the blocking engine running a
 * protocol with cross_conn set): every rl_conn_* call below takes `mu` and signals `cv`
 * instead of using the loop's dirty list.  NULL on event-loop engines.
 */
struct rl_conn_sync {
	pthread_mutex_t mu;
	pthread_cond_t cv;
};

enum {
	RL_CONN_DIRTY = 1u << 0,       /* on the loop's dirty list */
	RL_CONN_CLOSE_AFTER = 1u << 1, /* close once the send queue is empty */
	RL_CONN_ABORT = 1u << 2,       /* close now, dropping queued bytes */
	RL_CONN_EOF = 1u << 3,	       /* the peer sent FIN */
	RL_CONN_PAUSED = 1u << 4,      /* the protocol asked for no input for now */
	RL_CONN_RESUMED = 1u << 5,     /* unpaused: present kept input again */
};

/*
 * A connection.  Its fields belong to the engines and conn.c: a protocol asks about it only
 * through the calls below (its own state through rl_conn_state()), never reading a field.
 */
struct rl_conn {
	struct rl_loop *loop;
	struct rl_sendq sq;
	uint8_t *rx; /* unconsumed input, when the protocol left some */
	size_t rx_len;
	size_t rx_cap;
	struct rl_list dirty; /* on the loop's dirty list (RL_CONN_DIRTY) */
	uint64_t id;
	uint64_t last_active_ns;
	uint32_t flags;
	unsigned fops_pending;	     /* file ops started and not yet reported */
	uint64_t close_deadline_ns;  /* close requested: cut off if not flushed by then */
	struct rl_fileop *fops_done; /* synchronous file ops waiting to be reported */
	struct rl_conn_sync *sync;   /* see struct rl_conn_sync; usually NULL */
	struct rl_guard_key src;     /* its source, when --max-conns-per-source counts it */
	uint64_t partial_since_ns;   /* input kept as an incomplete line since; 0: none */
	uint64_t quiet_since_ns;     /* idle or incomplete since (atomic: read by others) */
	void *state;		     /* proto->conn_state_size bytes, zeroed */
};

/*
 * Initialises the engine-neutral part of a connection.  The engine allocated it zeroed,
 * with rl_conn_alloc_size(srv, engine_size) bytes, and struct rl_conn as the first member
 * of its `engine_size`-byte type; the protocol state follows.  Calls proto->on_open.
 * Returns 0, or -errno when the connection must be dropped.
 */
int rl_conn_open(struct rl_conn *c, struct rl_loop *loop, size_t engine_size, uint64_t now_ns);

/* Bytes an engine allocates for a connection whose engine type is `engine_size` bytes. */
size_t rl_conn_alloc_size(const struct rl_server *srv, size_t engine_size);

/*
 * Hands received bytes to the protocol, keeping what it does not consume for next time.
 * `p` may be reused by the engine as soon as this returns.  Returns 0, or -errno when
 * the connection must be dropped (protocol error, -EMSGSIZE when unconsumed input passes
 * the limit, -ENOMEM).
 */
int rl_conn_deliver(struct rl_conn *c, const uint8_t *p, size_t n, uint64_t now_ns);

/* Tells the protocol the peer sent FIN (default: close after the queued replies). */
void rl_conn_eof(struct rl_conn *c);

/* Takes `c` off its loop's dirty list if it is on it (before freeing it). */
void rl_conn_forget_dirty(struct rl_conn *c);

/* Tells the protocol the connection is going away and frees engine-neutral memory.
 * Takes it off the dirty list too, so the engine may free it right after. */
void rl_conn_release(struct rl_conn *c);

/* ---- what protocols call ---- */

/* Queues a copy of `n` bytes for sending, in order.  Returns 0 or -ENOMEM. */
int rl_conn_send(struct rl_conn *c, const void *p, size_t n);

/* Like rl_conn_send(), for bytes inside the input on_data() is looking at (an echo):
 * an engine that can sends them from its receive buffer, holding it until sent, instead
 * of copying them.  Only valid during on_data(); the caller's memory is not kept beyond
 * it otherwise.  Returns 0 or -ENOMEM. */
int rl_conn_send_input(struct rl_conn *c, const void *p, size_t n);

/*
 * Queues `len` bytes of a shared chunk (reference taken), unless bytes are already
 * waiting and this would leave more than `max_queued` queued (0: no bound).  On a connection with a
 * sync (another thread's), the bytes are copied instead: chunk references are loop-local. Returns
 * 0, -ENOBUFS (over the bound; nothing queued) or -ENOMEM.
 */
int rl_conn_send_chunk(struct rl_conn *c, struct rl_chunk *ch, uint32_t off, uint32_t len,
		       size_t max_queued);

/* Closes the connection once everything queued has been sent, or after the drain timeout
 * if the peer does not read it by then. */
void rl_conn_close(struct rl_conn *c);

/* Closes the connection at once, dropping what is queued. */
void rl_conn_abort(struct rl_conn *c);

/* Counts one request served by `loop` (and applies --debug-spin-ns, a test aid). */
void rl_loop_count_request(struct rl_loop *loop);

/* Counts one request served on `c` (for the final counters). */
static inline void rl_conn_count_request(struct rl_conn *c)
{
	rl_loop_count_request(c->loop);
}

/* Returns the server configuration (protocol settings included). */
const struct rl_server_config *rl_conn_config(const struct rl_conn *c);

/* Returns the protocol's per-connection state. */
static inline void *rl_conn_state(struct rl_conn *c)
{
	return c->state;
}

/*
 * Starts a file operation for `c`.  The result always arrives later through
 * proto->on_fileop(c, op), never from within this call.  Returns 0, or -errno when it
 * could not be started (nothing will be reported then).
 */
int rl_conn_fileop(struct rl_conn *c, struct rl_fileop *op);

/*
 * Returns a chunk (one reference, length 0) of at least `cap` bytes to read file data into
 * and send, or to stage an upload in.  On io_uring it is one of the loop's registered
 * buffers when `cap` fits one and one is free, and a READ or WRITE whose buffer lies in it
 * goes to the kernel as READ_FIXED / WRITE_FIXED; otherwise it is an ordinary heap chunk.
 * Either way the caller drops its reference with rl_chunk_unref(), and a registered one
 * goes back to its loop once no send queue holds it either.  NULL on ENOMEM.
 */
struct rl_chunk *rl_conn_file_chunk(struct rl_conn *c, size_t cap);

/* Stops (pause = true) or resumes handing input to the protocol.  Bytes that arrive
 * meanwhile are kept (up to the input limit) and presented on resume. */
void rl_conn_pause_input(struct rl_conn *c, bool pause);

/* ---- engine side of file operations and flow control ---- */

/* Reports finished synchronous file ops and re-presents input after a resume.  Engines
 * call it for each dirty connection before sending.  Returns 0 or -errno (drop it). */
int rl_conn_run_deferred(struct rl_conn *c);

/* Reports a finished asynchronous file op (sets op->res, calls on_fileop). */
void rl_conn_fileop_done(struct rl_fileop *op, int res);

/* Tells the protocol its send queue just became empty (if it asked). */
void rl_conn_sent(struct rl_conn *c);

/* ---- what protocols may ask about a connection (they read no field of it) ---- */

/* Returns the connection's number: unique in the server process, from 1 in accept order. */
static inline uint64_t rl_conn_id(const struct rl_conn *c)
{
	return c->id;
}

/* Returns the bytes queued and not yet sent. */
static inline size_t rl_conn_queued(const struct rl_conn *c)
{
	return c->sq.bytes;
}

/* Returns c->flags, read under the connection's lock when other threads may change them
 * (a struct rl_conn_sync: a cross_conn writer, another member closing this one). */
uint32_t rl_conn_flags(const struct rl_conn *c);

/* Returns non-zero once a close or abort was requested (sends are then dropped). */
static inline int rl_conn_closing(const struct rl_conn *c)
{
	return (c->flags & (RL_CONN_CLOSE_AFTER | RL_CONN_ABORT)) != 0;
}

/* Returns true once the peer sent FIN (no more input will come). */
static inline bool rl_conn_peer_eof(const struct rl_conn *c)
{
	return (c->flags & RL_CONN_EOF) != 0;
}

/* Returns true while the protocol has paused input (rl_conn_pause_input). */
static inline bool rl_conn_input_paused(const struct rl_conn *c)
{
	return (c->flags & RL_CONN_PAUSED) != 0;
}

/* Returns true while the engine is presenting kept input again after a resume. */
static inline bool rl_conn_resumed(const struct rl_conn *c)
{
	return (c->flags & RL_CONN_RESUMED) != 0;
}

/* Returns the bytes of input the protocol left unconsumed (kept by the engine). */
static inline size_t rl_conn_kept_input(const struct rl_conn *c)
{
	return c->rx_len;
}

/* ---- what engines call ---- */

/* Puts `c` on its loop's dirty list (idempotent). */
void rl_conn_mark_dirty(struct rl_conn *c);

/*
 * Moves the loop's dirty list into `batch`, most recently dirtied first, leaving the loop's
 * empty for what the flush dirties; false when there was nothing.  A connection closed
 * meanwhile leaves the batch (rl_conn_forget_dirty), wherever it is.
 */
static inline bool rl_loop_take_dirty(struct rl_loop *loop, struct rl_list *batch)
{
	rl_list_take(batch, &loop->dirty);
	return !rl_list_empty(batch);
}

/* Takes the next connection off a batch from rl_loop_take_dirty() and clears its dirty
 * mark (what it queues from now on dirties it again); NULL once the batch is done. */
static inline struct rl_conn *rl_dirty_pop(struct rl_list *batch)
{
	struct rl_list *n = rl_list_pop(batch);
	struct rl_conn *c;

	if (!n)
		return NULL;
	c = rl_list_entry(n, struct rl_conn, dirty);
	c->flags &= ~RL_CONN_DIRTY;
	return c;
}

#endif
