/*
 * proto.h - what a protocol is: bytes in, actions out.
 *
 * A protocol (servers/echo.c, ...) is a table of callbacks that every engine drives the
 * same way.  It never sees a socket or io_uring; it reacts to bytes with the calls in
 * conn.h (rl_conn_send, rl_conn_close, ...), and the engine turns those into I/O.
 */
#ifndef RL_PROTO_H
#define RL_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct rl_conn;
struct rl_dgram;
struct rl_fileop;
struct rl_server_config;

struct rl_proto {
	const char *name;
	/* One line for --help. */
	const char *summary;
	/* Called once before the server listens (open directories, sweep leftovers).
	 * Returns 0 or -errno (the server does not start).  NULL: nothing to do. */
	int (*setup)(const struct rl_server_config *cfg);
	/* Called once after the server stopped.  NULL: nothing to do. */
	void (*teardown)(void);
	/* Bytes of per-connection protocol state, zeroed, at rl_conn_state(). */
	size_t conn_state_size;
	/* Called once when a connection is accepted, before any data.  NULL: nothing to do.
	 * Returns 0, or -errno to drop the connection. */
	int (*on_open)(struct rl_conn *c);
	/* Called with the bytes received and not yet consumed.  Returns how many bytes it
	 * consumed (the rest comes again, followed by new data), or -errno to drop the
	 * connection. */
	long (*on_data)(struct rl_conn *c, const uint8_t *p, size_t n);
	/* The peer has finished sending.  NULL: close once queued replies are sent. */
	void (*on_eof)(struct rl_conn *c);
	/* The connection is going away; its state is freed afterwards.  NULL: nothing.
	 * Every file operation it started has completed by then. */
	void (*on_close)(struct rl_conn *c);
	/* A file operation started with rl_conn_fileop() finished (op->res).  Called even
	 * when the connection is closing, so the protocol can clean up. */
	void (*on_fileop)(struct rl_conn *c, struct rl_fileop *op);
	/* Everything queued has been sent (the send queue just became empty). */
	void (*on_sent)(struct rl_conn *c);
	/* Set when the protocol sends to connections other than the one it was called for
	 * (chat): the blocking engine then gives each connection a writer thread and a lock,
	 * and event-loop engines run a single loop. */
	bool cross_conn;
	/* What a connection is told when an incomplete line outlives --line-timeout (then it
	 * is closed).  NULL: closed without a word. */
	const char *line_timeout_reply;
	/* Datagram protocols set this instead of the stream callbacks: called once per
	 * datagram (see dgram.h).  Returns 0, or -errno (counted as an error). */
	int (*on_datagram)(struct rl_dgram *d, const uint8_t *p, size_t n);
};

#endif
