/*
 * test_ring_scratch.c - the ring's submit-stable scratch (rl_ring_scratch): pieces taken
 * while SQEs wait are distinct and aligned; once everything prepared has been submitted
 * the area is reused from its start; a full area submits what waits and starts again; a
 * piece larger than the area, or RINGLAB_URING_OFF=scratch, gives NULL.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ring.h"
#include "tap.h"

/* Prepares one NOP, so that something waits in the SQ. */
static void queue_nop(struct rl_ring *r)
{
	struct io_uring_sqe *sqe = rl_ring_sqe(r);

	io_uring_prep_nop(sqe);
	io_uring_sqe_set_data64(sqe, 1);
}

int main(void)
{
	struct rl_ring r;
	uint8_t *a, *b, *c, *big;
	int ret;

	ret = rl_ring_init(&r, 8, 0);
	if (ret) {
		tap_ok(1, "# SKIP io_uring unavailable (%s)", strerror(-ret));
		return tap_done();
	}
	a = rl_ring_scratch(&r, 100);
	tap_ok(a != NULL, "a piece of scratch");
	queue_nop(&r);
	b = rl_ring_scratch(&r, 24);
	tap_ok(b && b >= a + 100, "while an SQE waits, the next piece follows the first");
	tap_ok(((uintptr_t)b % _Alignof(max_align_t)) == 0, "pieces are aligned for any type");
	memset(a, 0xa5, 100);
	memset(b, 0x5a, 24);
	tap_ok(a[99] == 0xa5, "pieces do not overlap");
	rl_ring_submit_wait(&r, 1, 0);
	c = rl_ring_scratch(&r, 64);
	tap_ok(c == a, "once submitted, the area is reused from its start");

	queue_nop(&r);
	big = rl_ring_scratch(&r, RL_RING_SCRATCH - 64);
	tap_ok(big == c + 64, "a piece that fills the area exactly follows the waiting one");
	queue_nop(&r);
	big = rl_ring_scratch(&r, RL_RING_SCRATCH - 64);
	tap_ok(big == a && io_uring_sq_ready(&r.ring) == 0,
	       "a full area submits what waits and starts again");
	tap_ok(rl_ring_scratch(&r, RL_RING_SCRATCH + 1) == NULL, "more than the area: NULL");
	rl_ring_submit_wait(&r, 0, 0);
	rl_ring_exit(&r);

	setenv("RINGLAB_URING_OFF", "lend,scratch", 1);
	if (rl_ring_init(&r, 8, 0) == 0) {
		tap_ok(rl_ring_scratch(&r, 16) == NULL, "RINGLAB_URING_OFF=scratch: NULL");
		rl_ring_exit(&r);
	}
	return tap_done();
}
