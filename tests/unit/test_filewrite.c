/*
 * test_filewrite.c - the inline-or-ring choice for buffered file writes: turned off it never
 * writes; a write it takes lands whole at its offset; on tmpfs (no non-blocking buffered
 * writes) the first write asks once and every later one goes inline without asking; a
 * forgotten descriptor is asked again; a write's own error is reported as its result; a
 * high descriptor number grows the table.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "filewrite.h"
#include "tap.h"

static struct rl_fileop write_op(int fd, void *buf, size_t len, uint64_t off)
{
	struct rl_fileop op;

	memset(&op, 0, sizeof(op));
	op.kind = RL_FOP_WRITE;
	op.fd = fd;
	op.buf = buf;
	op.len = len;
	op.off = off;
	return op;
}

/* A new empty file in `dir`, unlinked at once; returns its descriptor or -1. */
static int scratch_file(const char *dir, int flags)
{
	char path[256];
	int fd;

	snprintf(path, sizeof(path), "%s/ringlab-filewrite-XXXXXX", dir);
	fd = mkstemp(path);
	if (fd < 0)
		return -1;
	unlink(path);
	if (flags == O_RDONLY) { /* the same file, read-only */
		char proc[64];
		int ro;

		snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
		ro = open(proc, O_RDONLY);
		close(fd);
		return ro;
	}
	return fd;
}

static bool holds(int fd, const char *want, size_t len, off_t off)
{
	char got[64] = {0};

	return pread(fd, got, len, off) == (ssize_t)len && !memcmp(got, want, len);
}

static bool is_tmpfs(const char *dir)
{
	struct statfs sf;

	return statfs(dir, &sf) == 0 && sf.f_type == TMPFS_MAGIC;
}

int main(void)
{
	char a[] = "first write", b[] = "second";
	struct rl_filewrite w;
	struct rl_fileop op;
	const char *tmp = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
	int fd, hi, ret;

	rl_filewrite_init(&w, false);
	fd = scratch_file(tmp, O_RDWR);
	tap_ok(fd >= 0, "a scratch file in %s", tmp);
	op = write_op(fd, a, sizeof(a) - 1, 0);
	tap_ok(rl_filewrite_try(&w, &op) == 0 && w.probes == 0, "turned off: the ring does it");
	tap_ok(lseek(fd, 0, SEEK_END) == 0, "turned off: nothing written");
	rl_filewrite_free(&w);

	rl_filewrite_init(&w, true);
	op = write_op(fd, a, sizeof(a) - 1, 0);
	op.kind = RL_FOP_READ;
	tap_ok(rl_filewrite_try(&w, &op) == 0 && w.probes == 0, "only writes are taken");
	op = write_op(fd, a, sizeof(a) - 1, 0);
	ret = rl_filewrite_try(&w, &op);
	tap_ok(ret == 0 ||
		   (ret == 1 && op.res == (int)sizeof(a) - 1 && holds(fd, a, sizeof(a) - 1, 0)),
	       "on %s: the ring, or the whole write at its offset (%s)", tmp,
	       ret ? "inline" : "ring");
	tap_ok(w.probes == 1, "the first write asked the kernel once");
	close(fd);
	rl_filewrite_free(&w);

	if (is_tmpfs("/dev/shm")) {
		rl_filewrite_init(&w, true);
		fd = scratch_file("/dev/shm", O_RDWR);
		op = write_op(fd, a, sizeof(a) - 1, 0);
		tap_ok(rl_filewrite_try(&w, &op) == 1 && op.res == (int)sizeof(a) - 1,
		       "tmpfs: the first write is done inline");
		op = write_op(fd, b, sizeof(b) - 1, 100);
		tap_ok(rl_filewrite_try(&w, &op) == 1 && op.res == (int)sizeof(b) - 1 &&
			   holds(fd, b, sizeof(b) - 1, 100) && holds(fd, a, sizeof(a) - 1, 0),
		       "tmpfs: the second too, at its own offset");
		tap_ok(w.probes == 1 && w.inline_writes == 2, "tmpfs: asked once for two writes");
		rl_filewrite_forget(&w, fd);
		op = write_op(fd, b, sizeof(b) - 1, 0);
		tap_ok(rl_filewrite_try(&w, &op) == 1 && w.probes == 2,
		       "a forgotten descriptor is asked again");
		hi = dup2(fd, 700);
		op = write_op(hi, a, sizeof(a) - 1, 0);
		ret = rl_filewrite_try(&w, &op);
		tap_ok(hi == 700 && ret == 1 && w.cap > 700 && holds(fd, a, sizeof(a) - 1, 0),
		       "descriptor 700 grows the table (%u entries)", w.cap);
		close(hi);
		close(fd);

		fd = scratch_file("/dev/shm", O_RDONLY);
		op = write_op(fd, a, sizeof(a) - 1, 0);
		ret = rl_filewrite_try(&w, &op);
		tap_ok(fd >= 0 && ret == 1 && op.res == -EBADF,
		       "a write's own error is its result (%s)", strerror(-op.res));
		close(fd);
		rl_filewrite_free(&w);
	} else {
		tap_diag("/dev/shm is not tmpfs here: the tmpfs cases are not run");
	}
	return tap_done();
}
