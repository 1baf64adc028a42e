/*
 * uring_compat.h - what the kernel (6.x) has and Debian's liburing 2.3 lacks.
 *
 * liburing 2.4 added io_uring_setup_buf_ring(): mmap an anonymous, page-aligned ring of
 * struct io_uring_buf, register it as a provided-buffer group (IORING_REGISTER_PBUF_RING,
 * kernel 5.19) and initialise its tail.  2.3 has the register call and the ring helpers
 * but not the setup wrapper, so these two functions do the same.  Everything else ringlab
 * uses exists in 2.3.  When Debian ships a newer liburing these become one-line wrappers.
 */
#ifndef RL_URING_COMPAT_H
#define RL_URING_COMPAT_H

#include <errno.h>
#include <liburing.h>
#include <stdint.h>
#include <sys/mman.h>

/* Bytes of the shared ring for `entries` buffers. */
static inline size_t rl_compat_buf_ring_size(unsigned entries)
{
	return (size_t)entries * sizeof(struct io_uring_buf);
}

/*
 * Maps and registers a provided-buffer ring of `entries` (a power of two, <= 32768) for
 * buffer group `bgid`.  Returns the ring (unmap with rl_compat_free_buf_ring) or NULL with
 * *err = -errno (-EINVAL from a kernel older than 5.19).
 */
static inline struct io_uring_buf_ring *
rl_compat_setup_buf_ring(struct io_uring *ring, unsigned entries, int bgid, int *err)
{
	struct io_uring_buf_reg reg = {0};
	void *p;
	int ret;

	p = mmap(NULL, rl_compat_buf_ring_size(entries), PROT_READ | PROT_WRITE,
		 MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
	if (p == MAP_FAILED) {
		*err = -errno;
		return NULL;
	}
	reg.ring_addr = (uint64_t)(uintptr_t)p;
	reg.ring_entries = entries;
	reg.bgid = (uint16_t)bgid;
	ret = io_uring_register_buf_ring(ring, &reg, 0);
	if (ret) {
		munmap(p, rl_compat_buf_ring_size(entries));
		*err = ret;
		return NULL;
	}
	io_uring_buf_ring_init((struct io_uring_buf_ring *)p);
	return (struct io_uring_buf_ring *)p;
}

/*
 * liburing 2.4's io_uring_prep_send_set_addr(): makes an IORING_OP_SEND a sendto(), the
 * destination in addr2/addr_len (kernel 6.0; older kernels fail the SEND with -EINVAL).
 */
static inline void rl_compat_send_set_addr(struct io_uring_sqe *sqe, const void *addr,
					   uint16_t len)
{
	sqe->addr2 = (uint64_t)(uintptr_t)addr;
	sqe->addr_len = len;
}

/* Unregisters and unmaps a ring made by rl_compat_setup_buf_ring.  Returns 0 or -errno. */
static inline int rl_compat_free_buf_ring(struct io_uring *ring, struct io_uring_buf_ring *br,
					  unsigned entries, int bgid)
{
	int ret = io_uring_unregister_buf_ring(ring, bgid);

	munmap(br, rl_compat_buf_ring_size(entries));
	return ret;
}

#endif
