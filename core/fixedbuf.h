/*
 * fixedbuf.h - a pool of buffers registered with io_uring (io_uring_register_buffers), lent
 * out as send-queue chunks so file data can move through pinned memory: a download is read
 * with READ_FIXED into a chunk and sent from that same chunk; an upload is staged in one
 * and written with WRITE_FIXED.  The kernel maps the pages once, at registration, instead
 * of on every read and write.
 *
 * The pool keeps one reference to each of its chunks, so a chunk whose only reference is
 * the pool's is free.  Borrowers use a chunk like any other (rl_chunk_unref when done, the
 * send queue drops its reference once the bytes are sent), and it comes back to the pool
 * by itself; rl_chunk_unref never frees one.  A pool belongs to one loop thread.
 */
#ifndef RL_FIXEDBUF_H
#define RL_FIXEDBUF_H

#include <stddef.h>
#include <stdint.h>

#include "sendq.h"

struct io_uring;

struct rl_fixedbuf {
	uint8_t *mem; /* count slots of `stride` bytes, page aligned */
	size_t mem_len;
	size_t stride;	 /* a page for the chunk header, then `size` data bytes */
	uint32_t size;	 /* data bytes per buffer */
	unsigned count;	 /* buffers registered; 0: no pool */
	uint64_t lent;	 /* chunks handed out */
	uint64_t missed; /* requests that found every buffer lent */
};

/*
 * Maps `count` buffers of `size` bytes and registers them with `ring` (buffer index =
 * position in the pool).  When the kernel refuses for want of lockable memory
 * (RLIMIT_MEMLOCK), retries with half as many, down to 4.  Returns 0 (fb->count says how
 * many were registered), or -errno with nothing mapped or registered.
 */
int rl_fixedbuf_init(struct rl_fixedbuf *fb, struct io_uring *ring, unsigned count, uint32_t size);

/* Unregisters and unmaps the pool.  Safe on a pool whose init failed. */
void rl_fixedbuf_free(struct rl_fixedbuf *fb, struct io_uring *ring);

/* Lends a free buffer as a chunk of fb->size bytes (one reference for the caller, length
 * 0).  NULL when all are lent. */
struct rl_chunk *rl_fixedbuf_get(struct rl_fixedbuf *fb);

/* Returns the registered buffer index holding all of [p, p + len), or -1 when that range
 * is not inside one buffer of the pool (or fb is NULL). */
int rl_fixedbuf_index(const struct rl_fixedbuf *fb, const void *p, size_t len);

#endif
