/*
 * test_fixedbuf.c - the registered-buffer pool against a real io_uring: buffers are lent
 * lowest first and come back by themselves once the last borrower drops them, the index
 * lookup accepts exactly the ranges inside one buffer, and READ_FIXED / WRITE_FIXED
 * through a lent chunk move the right bytes.
 */
#include <errno.h>
#include <liburing.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fixedbuf.h"
#include "tap.h"

#define COUNT 4
#define SIZE  8192u

/* Submits one fixed read or write of `len` bytes at file offset 0; returns cqe->res. */
static int fixed_rw(struct io_uring *ring, int fd, bool write, void *buf, unsigned len, int idx)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(ring);
	struct io_uring_cqe *cqe;
	int res;

	if (write)
		io_uring_prep_write_fixed(sqe, fd, buf, len, 0, idx);
	else
		io_uring_prep_read_fixed(sqe, fd, buf, len, 0, idx);
	io_uring_submit(ring);
	if (io_uring_wait_cqe(ring, &cqe))
		return -EIO;
	res = cqe->res;
	io_uring_cqe_seen(ring, cqe);
	return res;
}

int main(void)
{
	struct rl_chunk *c[COUNT + 1], *again;
	struct rl_fixedbuf fb;
	struct io_uring ring;
	char path[] = "/tmp/rl-fixedbuf-XXXXXX";
	uint8_t pattern[SIZE];
	int ret, fd, i, ok;

	ret = io_uring_queue_init(8, &ring, 0);
	if (ret) {
		printf("1..0 # SKIP io_uring unavailable: %s\n", strerror(-ret));
		return 0;
	}
	ret = rl_fixedbuf_init(&fb, &ring, COUNT, SIZE);
	if (ret || fb.count == 0) {
		printf("1..0 # SKIP cannot register buffers here: %s\n", strerror(-ret));
		return 0;
	}
	tap_ok(fb.count == COUNT && fb.size == SIZE, "%u buffers of %u B registered", fb.count,
	       fb.size);

	for (i = 0; i < COUNT; i++)
		c[i] = rl_fixedbuf_get(&fb);
	ok = 1;
	for (i = 0; i < COUNT; i++)
		ok &= c[i] && c[i]->cap >= SIZE && c[i]->len == 0 &&
		      rl_fixedbuf_index(&fb, c[i]->data, SIZE) == i;
	tap_ok(ok, "the %d chunks lent are buffers 0..%d, empty, each %u B", COUNT, COUNT - 1, SIZE);
	c[COUNT] = rl_fixedbuf_get(&fb);
	tap_ok(c[COUNT] == NULL && fb.missed == 1, "with every buffer lent, get() is NULL and counted");

	tap_ok(rl_fixedbuf_index(&fb, c[1]->data + SIZE - 1, 1) == 1,
	       "the last byte of buffer 1 is inside buffer 1");
	tap_ok(rl_fixedbuf_index(&fb, c[1]->data + 1, SIZE) == -1,
	       "a range running past the end of a buffer is in none");
	tap_ok(rl_fixedbuf_index(&fb, pattern, 16) == -1, "memory outside the pool is in none");
	tap_ok(rl_fixedbuf_index(NULL, c[0]->data, 16) == -1, "no pool: -1");

	/* A second borrower (the send queue) keeps the buffer lent after the first lets go. */
	rl_chunk_ref(c[2]);
	rl_chunk_unref(c[2]);
	tap_ok(rl_fixedbuf_get(&fb) == NULL, "a buffer with another reference left is not free");
	rl_chunk_unref(c[2]);
	again = rl_fixedbuf_get(&fb);
	tap_ok(again == c[2], "once the last reference is dropped it is lent again");
	rl_chunk_unref(c[0]);
	tap_ok(rl_fixedbuf_get(&fb) == c[0], "the lowest free buffer is lent first");

	for (i = 0; i < (int)SIZE; i++)
		pattern[i] = (uint8_t)(i * 7 + 3);
	fd = mkstemp(path);
	if (fd < 0) {
		tap_ok(0, "mkstemp: %s", strerror(errno));
	} else {
		unlink(path);
		memcpy(c[3]->data, pattern, SIZE);
		ret = fixed_rw(&ring, fd, true, c[3]->data, SIZE, 3);
		tap_ok(ret == (int)SIZE, "WRITE_FIXED from buffer 3 writes %u B (%d)", SIZE, ret);
		memset(c[1]->data, 0, SIZE);
		ret = fixed_rw(&ring, fd, false, c[1]->data, SIZE, 1);
		tap_ok(ret == (int)SIZE && memcmp(c[1]->data, pattern, SIZE) == 0,
		       "READ_FIXED into buffer 1 reads the same bytes back (%d)", ret);
		close(fd);
	}
	for (i = 0; i < COUNT; i++)
		rl_chunk_unref(c[i]);
	rl_fixedbuf_free(&fb, &ring);
	io_uring_queue_exit(&ring);
	return tap_done();
}
