/*
 * fixedbuf.c - the registered buffer pool (see fixedbuf.h).
 *
 * Slot i is `stride` bytes: the chunk header sits at the end of the slot's first page, so
 * the data that follows it starts on a page boundary, and only the data is registered.
 */
#include "fixedbuf.h"

#include <errno.h>
#include <liburing.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <unistd.h>

#define MIN_COUNT 4u

static uint8_t *slot_data(const struct rl_fixedbuf *fb, unsigned i)
{
	return fb->mem + (size_t)i * fb->stride + (fb->stride - fb->size);
}

static struct rl_chunk *slot_chunk(const struct rl_fixedbuf *fb, unsigned i)
{
	return (struct rl_chunk *)(void *)(slot_data(fb, i) - offsetof(struct rl_chunk, data));
}

/* Registers the first `n` slots.  Returns 0 or -errno. */
static int register_slots(struct rl_fixedbuf *fb, struct io_uring *ring, unsigned n)
{
	struct iovec *iov = calloc(n, sizeof(*iov));
	unsigned i;
	int ret;

	if (!iov)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		iov[i].iov_base = slot_data(fb, i);
		iov[i].iov_len = fb->size;
	}
	ret = io_uring_register_buffers(ring, iov, n);
	free(iov);
	return ret;
}

int rl_fixedbuf_init(struct rl_fixedbuf *fb, struct io_uring *ring, unsigned count, uint32_t size)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	unsigned i, n;
	int ret;

	memset(fb, 0, sizeof(*fb));
	if (!count || !size || count > UINT16_MAX) /* sqe->buf_index is 16 bits */
		return -EINVAL;
	fb->size = size;
	fb->stride = page + ((size + page - 1) & ~(page - 1));
	fb->mem_len = (size_t)count * fb->stride;
	fb->mem =
	    mmap(NULL, fb->mem_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (fb->mem == MAP_FAILED) {
		ret = -errno;
		memset(fb, 0, sizeof(*fb));
		return ret;
	}
	for (n = count;; n /= 2) {
		ret = register_slots(fb, ring, n);
		if (ret != -ENOMEM || n / 2 < MIN_COUNT)
			break;
	}
	if (ret) {
		munmap(fb->mem, fb->mem_len);
		memset(fb, 0, sizeof(*fb));
		return ret;
	}
	if (n < count) { /* give back the slots that could not be registered */
		munmap(fb->mem + (size_t)n * fb->stride, (size_t)(count - n) * fb->stride);
		fb->mem_len = (size_t)n * fb->stride;
	}
	fb->count = n;
	for (i = 0; i < n; i++) {
		struct rl_chunk *ch = slot_chunk(fb, i);

		ch->refs = 1; /* the pool's own: a chunk with only this one is free */
		ch->cap = size;
		ch->len = 0;
	}
	return 0;
}

void rl_fixedbuf_free(struct rl_fixedbuf *fb, struct io_uring *ring)
{
	if (!fb->count)
		return;
	io_uring_unregister_buffers(ring);
	munmap(fb->mem, fb->mem_len);
	memset(fb, 0, sizeof(*fb));
}

/* The lowest free slot, not the next one round: a download cycles through a handful of
 * buffers that stay in cache instead of walking all of them. */
struct rl_chunk *rl_fixedbuf_get(struct rl_fixedbuf *fb)
{
	unsigned i;

	for (i = 0; i < fb->count; i++) {
		struct rl_chunk *ch = slot_chunk(fb, i);

		if (ch->refs == 1) {
			ch->refs = 2;
			ch->len = 0;
			fb->lent++;
			return ch;
		}
	}
	fb->missed++;
	return NULL;
}

int rl_fixedbuf_index(const struct rl_fixedbuf *fb, const void *p, size_t len)
{
	uintptr_t a = (uintptr_t)p, base, off, in_slot;

	if (!fb || !fb->count)
		return -1;
	base = (uintptr_t)fb->mem;
	if (a < base || a - base >= fb->mem_len)
		return -1;
	off = a - base;
	in_slot = off % fb->stride;
	if (in_slot < fb->stride - fb->size || len > fb->stride - in_slot)
		return -1;
	return (int)(off / fb->stride);
}
