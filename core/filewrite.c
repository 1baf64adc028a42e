/*
 * filewrite.c - per descriptor, whether a buffered file write goes inline (pwrite in the
 * loop thread) or through io_uring; see filewrite.h for why.
 */
#include "filewrite.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

enum {
	WM_PROBE = 0, /* not asked yet (or the descriptor was reused) */
	WM_RING,      /* the filesystem has non-blocking buffered writes: the ring */
	WM_INLINE,    /* it has none: pwrite(2) here */
};

void rl_filewrite_init(struct rl_filewrite *w, bool enabled)
{
	memset(w, 0, sizeof(*w));
	w->enabled = enabled;
}

void rl_filewrite_free(struct rl_filewrite *w)
{
	free(w->mode);
	w->mode = NULL;
	w->cap = 0;
}

/* Makes room for descriptor `fd`.  Returns 0, or -ENOMEM (then the ring is used). */
static int grow(struct rl_filewrite *w, int fd)
{
	unsigned ncap = w->cap ? w->cap : 64;
	uint8_t *n;

	while (ncap <= (unsigned)fd)
		ncap *= 2;
	n = realloc(w->mode, ncap);
	if (!n)
		return -ENOMEM;
	memset(n + w->cap, WM_PROBE, ncap - w->cap);
	w->mode = n;
	w->cap = ncap;
	return 0;
}

static int write_now(struct rl_fileop *op, int flags)
{
	struct iovec iov = {.iov_base = op->buf, .iov_len = op->len};
	ssize_t r = pwritev2(op->fd, &iov, 1, (off_t)op->off, flags);

	return r < 0 ? -errno : (int)r;
}

int rl_filewrite_try(struct rl_filewrite *w, struct rl_fileop *op)
{
	int res;

	if (!w->enabled || op->kind != RL_FOP_WRITE || op->fd < 0)
		return 0;
	if ((unsigned)op->fd >= w->cap && grow(w, op->fd))
		return 0;
	switch (w->mode[op->fd]) {
	case WM_RING:
		return 0;
	case WM_INLINE:
		op->res = write_now(op, 0);
		w->inline_writes++;
		return 1;
	}
	w->probes++;
	res = write_now(op, RWF_NOWAIT);
	if (res == -EAGAIN) { /* it can, but not this time: io_uring will retry from io-wq */
		w->mode[op->fd] = WM_RING;
		return 0;
	}
	if (res == -EOPNOTSUPP) { /* never without blocking: a plain write, here, from now on */
		w->mode[op->fd] = WM_INLINE;
		res = write_now(op, 0);
	} else if (res >= 0) {
		w->mode[op->fd] = WM_RING; /* the ring does the same without a punt */
	}
	/* any other error is the write's own (ENOSPC, EBADF ...): report it as such */
	op->res = res;
	w->inline_writes++;
	return 1;
}

void rl_filewrite_forget(struct rl_filewrite *w, int fd)
{
	if (fd >= 0 && (unsigned)fd < w->cap)
		w->mode[fd] = WM_PROBE;
}
