/*
 * sendq.h - a per-connection, ordered queue of bytes waiting to be sent.
 *
 * The queue is a ring of (chunk, offset, length) entries.  A chunk is a reference-counted
 * byte buffer, so one reply can sit in many queues at once (chat fan-out) without copies,
 * while rl_sendq_append() copies small replies into the tail chunk it owns alone.  An
 * engine turns the head of the queue into iovecs, sends them, and calls
 * rl_sendq_consume() with however many bytes the kernel took: short sends are the normal
 * case, not an error.  Bytes handed to the kernel are never moved or overwritten until
 * consumed, so the iovecs stay valid while a send is in flight.
 */
#ifndef RL_SENDQ_H
#define RL_SENDQ_H

#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

struct rl_chunk {
	uint32_t refs;
	uint32_t cap;
	uint32_t len;
	uint8_t data[];
};

/* Allocates a chunk of `cap` bytes with one reference and length 0.  NULL on ENOMEM. */
struct rl_chunk *rl_chunk_new(size_t cap);

/* Takes another reference to `c`. */
static inline struct rl_chunk *rl_chunk_ref(struct rl_chunk *c)
{
	c->refs++;
	return c;
}

/* Drops a reference; frees the chunk when it was the last. */
void rl_chunk_unref(struct rl_chunk *c);

struct rl_sendq_ent {
	struct rl_chunk *chunk;
	uint32_t off;
	uint32_t len;
};

struct rl_sendq {
	struct rl_sendq_ent *ents; /* ring of `cap` entries (a power of two) */
	uint32_t head;
	uint32_t count;
	uint32_t cap;
	size_t bytes;		/* total bytes queued */
	struct rl_chunk *spare; /* an emptied chunk kept for reuse: no malloc per reply */
};

/* Default capacity of the chunks rl_sendq_append() allocates. */
#define RL_SENDQ_CHUNK (16u * 1024u)

/* Initialises an empty queue (allocates nothing). */
void rl_sendq_init(struct rl_sendq *q);

/* Drops every queued byte and frees what the queue owns.  The queue stays usable. */
void rl_sendq_clear(struct rl_sendq *q);

/* Copies `n` bytes to the tail of the queue.  Returns 0 or -ENOMEM. */
int rl_sendq_append(struct rl_sendq *q, const void *p, size_t n);

/*
 * Queues `len` bytes of `c` from `off`, sharing the chunk (takes a reference).
 * Returns 0 or -ENOMEM.
 */
int rl_sendq_append_chunk(struct rl_sendq *q, struct rl_chunk *c, uint32_t off, uint32_t len);

/*
 * Chunks one send takes at most, in every engine.  A chat connection's queue holds one
 * shared chunk per line, so this is how many lines one send can carry; at 8, ringlab-uring
 * made three times the sends per chat delivery that it makes at 64.
 */
#define RL_SENDQ_IOV_MAX 64

/*
 * Fills at most `max` iovecs with the bytes at the head of the queue, in order.
 * Returns the number of iovecs filled (0 when the queue is empty).
 */
int rl_sendq_iov(const struct rl_sendq *q, struct iovec *iov, int max);

/* Removes the first `n` bytes (n <= bytes queued), releasing finished chunks. */
void rl_sendq_consume(struct rl_sendq *q, size_t n);

/* Returns the number of bytes queued. */
static inline size_t rl_sendq_bytes(const struct rl_sendq *q)
{
	return q->bytes;
}

#endif
