/*
 * lg_mode.h - a data path of the load generator: the table of operations the worker
 * calls, picked once at setup from the protocol's shape (lg_proto.h).
 *
 *   lg_mode_stream  traffic.c   requests and replies on a byte stream (echo, file)
 *   lg_mode_cycle   cycle.c     one request per connection, reconnect (greeting)
 *   lg_mode_dgram   dgram.c     one datagram per request on UDP (udp)
 *   lg_mode_chat    chatpath.c  one room, every line to every member (chat)
 *
 * worker.c owns the loop and the completions and calls only these hooks; a mode builds on
 * the shared helpers (lg_conn.h, pace.h, record.h, pipeline.h) and never calls the worker.
 * Hooks marked optional may be NULL.  All run on the worker's thread, at the batch clock
 * w->now; a mode keeps its own state behind w->mode_state.
 */
#ifndef RL_LG_MODE_H
#define RL_LG_MODE_H

#include <stddef.h>
#include <stdint.h>

#include "lg_conn.h"
#include "ring.h"
#include "worker.h"

struct lg_mode_ops {
	const char *name; /* for the debug log */
	/* SOCK_STREAM or SOCK_DGRAM: the type of every connection's socket. */
	int sock_type;
	/* Optional: the receive buffers wanted (bsize bytes each, bcount of them) in place
	 * of the worker's defaults; the worker rounds both up to powers of two and bounds
	 * them by its budget. */
	void (*recv_buffers)(const struct lg_worker *w, uint64_t *bsize, uint64_t *bcount);
	/* Optional: the bytes of send buffer each connection needs, in place of the
	 * worker's default (slot_mask is set by then). */
	uint64_t (*send_buffer)(const struct lg_worker *w);
	/* Optional: makes the mode's state (w->mode_state) after the connections are set up.
	 * Returns 0 or -errno (-ENOMEM). */
	int (*setup)(struct lg_worker *w);
	/* Optional: frees the mode's state (also after a failed setup). */
	void (*teardown)(struct lg_worker *w);
	/* Optional: the ramp-up reached slot c: starts it.  NULL: connects it at once. */
	void (*begin)(struct lg_worker *w, struct lg_conn *c);
	/* c's connect succeeded (c is open). */
	void (*connected)(struct lg_worker *w, struct lg_conn *c);
	/* Open connection c received n bytes at p (one datagram on a datagram socket). */
	void (*on_bytes)(struct lg_worker *w, struct lg_conn *c, const uint8_t *p, size_t n);
	/* Open connection c's recv returned 0: the peer's EOF (an empty datagram on UDP). */
	void (*on_eof)(struct lg_worker *w, struct lg_conn *c);
	/* A send of c completed (cqe->res: bytes or -errno); the worker has already counted
	 * it off c->inflight. */
	void (*on_send)(struct lg_worker *w, struct lg_conn *c, const struct rl_cqe *cqe);
	/* The time c asked to be woken at (lg_pace_wake) has come. */
	void (*timer)(struct lg_worker *w, struct lg_conn *c);
	/* The periodic sweep found c open: fails it, or resolves its requests, when what it
	 * waits for is older than --timeout. */
	void (*sweep)(struct lg_worker *w, struct lg_conn *c);
	/* Optional: once per batch, before submitting: turns what was released into SQEs. */
	void (*flush)(struct lg_worker *w);
	/* Optional: once per batch, after the completions and timers. */
	void (*tick)(struct lg_worker *w);
	/* Optional: c's close has completed.  Returns true when the mode keeps the slot (it
	 * is then the mode's), false to let it die. */
	bool (*closed)(struct lg_worker *w, struct lg_conn *c);
};

/* The tables, one per mode (constant, static storage). */
extern const struct lg_mode_ops lg_mode_stream;
extern const struct lg_mode_ops lg_mode_cycle;
extern const struct lg_mode_ops lg_mode_dgram;
extern const struct lg_mode_ops lg_mode_chat;

#endif
