/*
 * bufring.h - a provided-buffer ring: `count` buffers of `size` bytes the kernel picks
 * from when a multishot recv completes (IOSQE_BUFFER_SELECT), returned by us once read.
 *
 * The ring tracks which buffers are with the kernel, so a buffer id that is out of range
 * or returned twice is refused instead of corrupting the ring.  Returns are batched:
 * rl_bufring_recycle() stages, rl_bufring_commit() publishes them with one tail store.
 */
#ifndef RL_BUFRING_H
#define RL_BUFRING_H

#include <liburing.h>
#include <stdint.h>

struct rl_bufring {
	struct io_uring_buf_ring *br;
	uint8_t *mem;	   /* count * stride bytes, owned */
	uint64_t *in_ring; /* bitmap: buffer is with the kernel */
	unsigned count;	   /* power of two, 1..32768 */
	unsigned size;
	unsigned stride; /* distance between buffers: size, padded (see bufring.c) */
	unsigned staged; /* recycled, not yet committed */
	unsigned out;	 /* buffers the kernel handed us and we still hold */
	uint16_t bgid;
};

/*
 * Allocates `count` buffers of `size` bytes, maps and registers the ring as group `bgid`
 * on `ring`, and gives every buffer to the kernel.  Returns 0, -EINVAL (count not a
 * power of two in 1..32768, size 0) or -errno from the kernel.
 */
int rl_bufring_init(struct rl_bufring *b, struct io_uring *ring, unsigned count, unsigned size,
		    uint16_t bgid);

/* Unregisters the ring and frees the buffers. */
void rl_bufring_free(struct rl_bufring *b, struct io_uring *ring);

/*
 * Claims buffer `bid` named by a completion (IORING_CQE_F_BUFFER).  Returns its memory,
 * or NULL when bid is out of range or not with the kernel (a corrupt completion).
 */
uint8_t *rl_bufring_take(struct rl_bufring *b, unsigned bid);

/* Stages buffer `bid` to go back to the kernel.  Returns 0, -EINVAL or -EALREADY. */
int rl_bufring_recycle(struct rl_bufring *b, unsigned bid);

/* Publishes staged buffers to the kernel. */
void rl_bufring_commit(struct rl_bufring *b);

/* Makes `sqe` take its buffer from `b` when it completes (IOSQE_BUFFER_SELECT, b's group). */
static inline void rl_bufring_select(struct io_uring_sqe *sqe, const struct rl_bufring *b)
{
	sqe->flags |= IOSQE_BUFFER_SELECT;
	sqe->buf_group = b->bgid;
}

/*
 * Prepares `sqe` as a multishot recv on socket `fd` into buffers from `b`: one CQE per
 * buffer filled, until one comes without IORING_CQE_F_MORE.  The caller adds its
 * user_data (and IOSQE_FIXED_FILE with a slot for `fd`, if it registered one).
 */
static inline void rl_bufring_prep_recv(struct io_uring_sqe *sqe, int fd,
					const struct rl_bufring *b)
{
	io_uring_prep_recv_multishot(sqe, fd, NULL, 0, 0);
	rl_bufring_select(sqe, b);
}

/* Returns the number of buffers with the kernel or staged to go back. */
static inline unsigned rl_bufring_available(const struct rl_bufring *b)
{
	return b->count - b->out;
}

#endif
