/*
 * bufring.c - the provided-buffer ring with accounting (see bufring.h).
 */
#include "bufring.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "uring_compat.h"

/*
 * Buffers a multiple of 4 KiB apart would all start in the same few cache sets (a 4 KiB
 * stride maps every buffer's first line to one L1 set), and a recv only touches the
 * first lines of each: one cache line of padding spreads them over every set.
 */
static unsigned buf_stride(unsigned size)
{
	unsigned stride = (size + 63u) & ~63u;

	return stride % 4096u ? stride : stride + 64u;
}

static int bit_test(const uint64_t *map, unsigned i)
{
	return (int)((map[i / 64] >> (i % 64)) & 1u);
}

static void bit_set(uint64_t *map, unsigned i, int on)
{
	if (on)
		map[i / 64] |= 1ull << (i % 64);
	else
		map[i / 64] &= ~(1ull << (i % 64));
}

int rl_bufring_init(struct rl_bufring *b, struct io_uring *ring, unsigned count, unsigned size,
		    uint16_t bgid)
{
	unsigned i;
	int err = 0;

	memset(b, 0, sizeof(*b));
	if (!count || count > 32768 || (count & (count - 1)) || !size)
		return -EINVAL;
	b->count = count;
	b->size = size;
	b->stride = buf_stride(size);
	b->bgid = bgid;
	b->mem = aligned_alloc(64, (size_t)count * b->stride);
	b->in_ring = calloc((count + 63) / 64, sizeof(uint64_t));
	if (!b->mem || !b->in_ring) {
		err = -ENOMEM;
		goto fail;
	}
	b->br = rl_compat_setup_buf_ring(ring, count, bgid, &err);
	if (!b->br)
		goto fail;
	for (i = 0; i < count; i++) {
		io_uring_buf_ring_add(b->br, b->mem + (size_t)i * b->stride, size, (unsigned short)i,
				      io_uring_buf_ring_mask(count), (int)i);
		bit_set(b->in_ring, i, 1);
	}
	io_uring_buf_ring_advance(b->br, (int)count);
	return 0;
fail:
	free(b->mem);
	free(b->in_ring);
	memset(b, 0, sizeof(*b));
	return err;
}

void rl_bufring_free(struct rl_bufring *b, struct io_uring *ring)
{
	if (b->br)
		rl_compat_free_buf_ring(ring, b->br, b->count, b->bgid);
	free(b->mem);
	free(b->in_ring);
	memset(b, 0, sizeof(*b));
}

uint8_t *rl_bufring_take(struct rl_bufring *b, unsigned bid)
{
	if (bid >= b->count || !bit_test(b->in_ring, bid))
		return NULL;
	bit_set(b->in_ring, bid, 0);
	b->out++;
	return b->mem + (size_t)bid * b->stride;
}

int rl_bufring_recycle(struct rl_bufring *b, unsigned bid)
{
	if (bid >= b->count)
		return -EINVAL;
	if (bit_test(b->in_ring, bid))
		return -EALREADY;
	io_uring_buf_ring_add(b->br, b->mem + (size_t)bid * b->stride, b->size, (unsigned short)bid,
			      io_uring_buf_ring_mask(b->count), (int)b->staged);
	bit_set(b->in_ring, bid, 1);
	b->staged++;
	b->out--;
	return 0;
}

void rl_bufring_commit(struct rl_bufring *b)
{
	if (!b->staged)
		return;
	io_uring_buf_ring_advance(b->br, (int)b->staged);
	b->staged = 0;
}
