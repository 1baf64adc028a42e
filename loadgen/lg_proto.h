/*
 * lg_proto.h - what a client protocol is to ringlab-load: requests out, replies checked.
 *
 * The engine (worker.c and its modes) owns sockets, the ring, buffers, schedules and
 * clocks; a protocol only says what bytes request i carries and whether the bytes that came
 * back are the right reply to it.  Requests are numbered 0, 1, 2, ... per connection and the
 * replies are expected in the same order (pipelining keeps up to --pipeline requests in
 * flight).  Every callback is called from the one thread that owns the connection, so a
 * protocol needs no locking; none of them may block or allocate per request.
 *
 * Lifecycle of one connection's protocol state (conn_state_size zeroed bytes owned by the
 * engine): conn_init() once before the connection is opened, then any number of
 * request_len()/request_produce()/reply_verify()/reply_done() calls, then conn_fini().
 *
 * The protocols differ in shape, and three flags below pick the engine's mode for them
 * (lg_mode.h; worker.c reads the flags once, at setup): greeting has request_len() == 0
 * and one reply per connection (conn_per_request, cycle.c); udp sends datagrams
 * (datagram, dgram.c); chat verifies broadcast lines (broadcast, chatpath.c); echo and
 * file use the plain stream mode (traffic.c).  The slowloris attacker and `merge` are not
 * protocols: main.c hands them their own entry points.
 */
#ifndef RL_LG_PROTO_H
#define RL_LG_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The run parameters a protocol may use to shape its requests and size its state. */
struct lg_proto_params {
	uint64_t size;	       /* --size: request payload bytes */
	unsigned connections;  /* connections this process opens, all threads */
	unsigned pipeline;     /* requests in flight per connection, at most */
	const uint8_t *expect; /* --expect/--expect-file: the reply expected, or NULL */
	size_t expect_len;
	unsigned file_mode; /* file: LG_FILE_PUT, _GET or _MIXED (--mode) */
	bool reply_any;	    /* udp: the server answers with fixed text (--reply-any/--expect) */
	bool sockperf;	    /* udp: datagrams carry sockperf's ping-pong header (--sockperf) */
	unsigned senders;   /* chat: members 0..senders-1 send lines, the rest only listen */
};

/* file --mode values. */
enum { LG_FILE_PUT = 0, LG_FILE_GET, LG_FILE_MIXED };

/* Where a reply first differed from what was expected (filled by reply_verify). */
struct lg_mismatch {
	uint64_t offset; /* byte offset inside the reply */
	int expected;	 /* expected byte value, or -1 when not a single byte */
	int got;	 /* received byte value, or -1 */
};

struct lg_proto {
	const char *name;
	/* One line for --help. */
	const char *summary;
	/*
	 * One request per connection: the engine connects, sends nothing, verifies the reply
	 * up to the server's EOF, closes and connects again (cycle.c).  Latency is measured
	 * from the (intended) connect time.
	 */
	bool conn_per_request;
	/*
	 * Datagrams (udp): a connected UDP socket per connection, one datagram per request,
	 * replies matched by the sequence number in the datagram's first 8 bytes (dgram.c);
	 * request_produce/reply_verify make and check the bytes after dgram.c's header (16
	 * bytes, or 22 with --sockperf).
	 */
	bool datagram;
	/*
	 * Broadcast (chat): the connections of the process are the members of one room; each
	 * sends lines and receives everyone else's (chatpath.c, lines from lg_chat_line).
	 */
	bool broadcast;
	/* Bytes of per-connection state the engine allocates (zeroed) for the protocol. */
	size_t conn_state_size;
	/*
	 * Checks the parameters before anything starts.  NULL: anything goes.  Returns 0, or
	 * -EINVAL with a one-line reason in why[len] (the run then ends as bad usage).
	 */
	int (*check)(const struct lg_proto_params *p, char *why, size_t len);
	/*
	 * Prepares one connection's state `st` (seed: a random 64-bit value unique to the
	 * connection).  May allocate; conn_fini frees.  Returns 0 or -errno.
	 */
	int (*conn_init)(void *st, const struct lg_proto_params *p, uint64_t seed);
	/* Frees what conn_init allocated.  Called once for every successful conn_init. */
	void (*conn_fini)(void *st);
	/* Returns the length in bytes of request i (0: the request carries no bytes). */
	uint64_t (*request_len)(const void *st, uint64_t i);
	/*
	 * Writes bytes [off, off + len) of request i into buf (len never runs past the end of
	 * the request), so a request may be produced in pieces into a bounded send buffer.
	 * The pieces of one request come in order; st may record what it produced (the file
	 * protocol hashes each upload on the way out).  Returns the number of bytes written.
	 */
	size_t (*request_produce)(void *st, uint64_t i, uint64_t off, uint8_t *buf, size_t len);
	/*
	 * Checks n received bytes p, which continue the reply to request i at byte `off` of
	 * that reply.  Sets *done when the reply is complete.  Returns how many of the n bytes
	 * belong to reply i (the rest belongs to the next reply), or -EBADMSG on a mismatch
	 * with *mm describing it.  Never copies the reply.
	 */
	long (*reply_verify)(void *st, uint64_t i, uint64_t off, const uint8_t *p, size_t n,
			     bool *done, struct lg_mismatch *mm);
	/* Called once reply i is complete and verified.  NULL: nothing to do. */
	void (*reply_done)(void *st, uint64_t i);
};

/* The echo protocol (proto_echo.c). */
extern const struct lg_proto lg_proto_echo;

/* The greeting protocol: connect, read the greeting to EOF (proto_greeting.c). */
extern const struct lg_proto lg_proto_greeting;

/* The udp protocol: numbered, timestamped datagrams, echoed (proto_udp.c). */
extern const struct lg_proto lg_proto_udp;

/* The file protocol: PUT/GET transfers, checksums verified (proto_file.c). */
extern const struct lg_proto lg_proto_file;

/* The chat protocol: lines to a room, verified at every other member (proto_chat.c). */
extern const struct lg_proto lg_proto_chat;

/* Writes line `seq` of client `sender`: exactly `size` bytes, '\n' last.  Returns size. */
size_t lg_chat_line(uint32_t sender, uint64_t seq, size_t size, char *buf);

#endif
