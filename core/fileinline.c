/*
 * fileinline.c - per descriptor, whether a file operation goes inline (a system call in
 * the loop thread) or through io_uring; see fileinline.h for the rules and why.
 */
#include "fileinline.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <sys/vfs.h>
#include <unistd.h>

/* A descriptor's entry: what its writes do (low bits), what its directory is (high). */
enum {
	WM_PROBE = 0,  /* not asked yet (or the descriptor was reused) */
	WM_RING = 1,   /* the filesystem has non-blocking buffered writes: the ring */
	WM_INLINE = 2, /* it has none: pwrite(2) here */
	WM_MASK = 3,
	DIR_UNKNOWN = 0 << 2, /* not looked at */
	DIR_MEMORY = 1 << 2,  /* tmpfs or ramfs: metadata operations inline */
	DIR_DISK = 2 << 2,    /* anything else: the ring */
	DIR_MASK = 3 << 2,
};

void rl_fileinline_init(struct rl_fileinline *w, bool enabled)
{
	memset(w, 0, sizeof(*w));
	w->enabled = enabled;
}

void rl_fileinline_free(struct rl_fileinline *w)
{
	free(w->mode);
	w->mode = NULL;
	w->cap = 0;
}

/* Makes room for descriptor `fd`.  Returns 0, or -ENOMEM (then the ring is used). */
static int grow(struct rl_fileinline *w, int fd)
{
	unsigned ncap = w->cap ? w->cap : 64;
	uint8_t *n;

	while (ncap <= (unsigned)fd)
		ncap *= 2;
	n = realloc(w->mode, ncap);
	if (!n)
		return -ENOMEM;
	memset(n + w->cap, 0, ncap - w->cap);
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

/* A write: returns 1 done (op->res set), 0 for the ring. */
static int try_write(struct rl_fileinline *w, struct rl_fileop *op)
{
	uint8_t *m = &w->mode[op->fd];
	int res;

	switch (*m & WM_MASK) {
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
		*m = (uint8_t)((*m & ~WM_MASK) | WM_RING);
		return 0;
	}
	if (res == -EOPNOTSUPP) { /* never without blocking: a plain write, here, from now on */
		*m = (uint8_t)((*m & ~WM_MASK) | WM_INLINE);
		res = write_now(op, 0);
	} else if (res >= 0) {
		*m = (uint8_t)((*m & ~WM_MASK) | WM_RING); /* the ring does it without a punt */
	}
	/* any other error is the write's own (ENOSPC, EBADF ...): report it as such */
	op->res = res;
	w->inline_writes++;
	return 1;
}

/* True when directory descriptor `dirfd` is on a memory filesystem (asked once). */
static bool dir_in_memory(struct rl_fileinline *w, int dirfd)
{
	uint8_t *m = &w->mode[dirfd];
	struct statfs sf;

	if (!(*m & DIR_MASK)) {
		bool mem = fstatfs(dirfd, &sf) == 0 &&
			   (sf.f_type == TMPFS_MAGIC || sf.f_type == RAMFS_MAGIC);

		*m = (uint8_t)(*m | (mem ? DIR_MEMORY : DIR_DISK));
	}
	return (*m & DIR_MASK) == DIR_MEMORY;
}

int rl_fileinline_try(struct rl_fileinline *w, struct rl_fileop *op)
{
	int fd;

	if (!w->enabled)
		return 0;
	switch (op->kind) {
	case RL_FOP_WRITE:
		fd = op->fd;
		break;
	case RL_FOP_OPEN:
		if (!(op->how.flags & O_CREAT))
			return 0; /* the ring opens an existing file without a punt */
				  /* fall through */
	case RL_FOP_RENAME:
	case RL_FOP_UNLINK:
		fd = op->dirfd;
		break;
	default:
		return 0;
	}
	if (fd < 0 || ((unsigned)fd >= w->cap && grow(w, fd)))
		return 0;
	if (op->kind == RL_FOP_WRITE)
		return try_write(w, op);
	if (!dir_in_memory(w, fd))
		return 0;
	op->res = rl_fileop_run_sync(op);
	if (op->kind == RL_FOP_OPEN)
		rl_fileinline_forget(w, op->res); /* a new file under a reused number */
	w->inline_meta++;
	return 1;
}

void rl_fileinline_forget(struct rl_fileinline *w, int fd)
{
	if (fd >= 0 && (unsigned)fd < w->cap)
		w->mode[fd] = 0;
}
