/*
 * test_bufring.c - provided-buffer ring accounting against a real io_uring: buffers the
 * kernel hands out are tracked, foreign or double returns are refused, and a multishot
 * recv really selects from the ring and reports -ENOBUFS when it is empty.
 */
#include <errno.h>
#include <liburing.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bufring.h"
#include "tap.h"

int main(void)
{
	struct io_uring ring;
	struct rl_bufring b;
	struct io_uring_sqe *sqe;
	struct io_uring_cqe *cqe;
	int sv[2], ret, i, bufs_seen = 0, enobufs = 0;
	unsigned bids[8];
	uint8_t *p;

	ret = io_uring_queue_init(64, &ring, 0);
	if (ret) {
		printf("1..0 # SKIP io_uring unavailable: %s\n", strerror(-ret));
		return 0;
	}
	tap_ok(rl_bufring_init(&b, &ring, 6, 64, 1) == -EINVAL,
	       "a count that is not a power of two is refused");
	tap_ok(rl_bufring_init(&b, &ring, 8, 0, 1) == -EINVAL, "a zero buffer size is refused");
	ret = rl_bufring_init(&b, &ring, 8, 64, 1);
	tap_ok(ret == 0, "8 buffers of 64 B register (%d)", ret);
	tap_ok(rl_bufring_available(&b) == 8, "all 8 buffers start with the kernel");
	tap_ok(rl_bufring_take(&b, 8) == NULL, "a buffer id out of range is refused");
	tap_ok(rl_bufring_recycle(&b, 3) == -EALREADY,
	       "returning a buffer the kernel holds is refused");
	tap_ok(rl_bufring_recycle(&b, 9) == -EINVAL, "returning an unknown buffer id is refused");

	/* A multishot recv takes buffers from the ring: 10 messages, 8 buffers. */
	socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
	sqe = io_uring_get_sqe(&ring);
	io_uring_prep_recv_multishot(sqe, sv[0], NULL, 0, 0);
	sqe->flags |= IOSQE_BUFFER_SELECT;
	sqe->buf_group = 1;
	io_uring_submit(&ring);
	for (i = 0; i < 10; i++) {
		char msg[32];
		int n = snprintf(msg, sizeof(msg), "message %d", i);

		if (write(sv[1], msg, (size_t)n) != n)
			break;
		ret = io_uring_wait_cqe(&ring, &cqe);
		if (ret)
			break;
		if (cqe->res > 0 && (cqe->flags & IORING_CQE_F_BUFFER)) {
			unsigned bid = cqe->flags >> IORING_CQE_BUFFER_SHIFT;

			p = rl_bufring_take(&b, bid);
			if (p && !memcmp(p, msg, (size_t)n) && bufs_seen < 8)
				bids[bufs_seen++] = bid;
		} else if (cqe->res == -ENOBUFS) {
			enobufs++;
			io_uring_cqe_seen(&ring, cqe);
			break;
		}
		io_uring_cqe_seen(&ring, cqe);
	}
	tap_ok(bufs_seen == 8, "the first 8 messages each land intact in a ring buffer (%d)",
	       bufs_seen);
	tap_ok(rl_bufring_available(&b) == 0, "with 8 buffers held, none are available");
	tap_ok(enobufs == 1, "the 9th message ends the multishot recv with -ENOBUFS");
	tap_ok(rl_bufring_take(&b, bids[0]) == NULL, "a buffer cannot be taken twice");

	for (i = 0; i < bufs_seen; i++)
		rl_bufring_recycle(&b, bids[i]);
	tap_ok(rl_bufring_recycle(&b, bids[0]) == -EALREADY, "a buffer cannot be returned twice");
	rl_bufring_commit(&b);
	tap_ok(rl_bufring_available(&b) == 8 && b.staged == 0,
	       "returned buffers are published together");

	/* Re-armed after -ENOBUFS, the recv gets the data still waiting in the socket. */
	sqe = io_uring_get_sqe(&ring);
	io_uring_prep_recv_multishot(sqe, sv[0], NULL, 0, 0);
	sqe->flags |= IOSQE_BUFFER_SELECT;
	sqe->buf_group = 1;
	io_uring_submit(&ring);
	ret = io_uring_wait_cqe(&ring, &cqe);
	p = NULL;
	if (!ret && cqe->res > 0 && (cqe->flags & IORING_CQE_F_BUFFER))
		p = rl_bufring_take(&b, cqe->flags >> IORING_CQE_BUFFER_SHIFT);
	tap_ok(p && !memcmp(p, "message 8", 9),
	       "after re-arming, the waiting bytes arrive in order");
	if (!ret)
		io_uring_cqe_seen(&ring, cqe);

	close(sv[0]);
	close(sv[1]);
	rl_bufring_free(&b, &ring);
	io_uring_queue_exit(&ring);
	return tap_done();
}
