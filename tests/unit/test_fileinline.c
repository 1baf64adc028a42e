/*
 * test_fileinline.c - the inline-or-ring choice for buffered file writes: turned off it never
 * writes; a write it takes lands whole at its offset; on tmpfs (no non-blocking buffered
 * writes) the first write asks once and every later one goes inline without asking; a
 * forgotten descriptor is asked again; a write's own error is reported as its result; a
 * high descriptor number grows the table.  Creating opens, renames and unlinks go inline
 * exactly in a directory on a memory filesystem; plain opens never do.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "fileinline.h"
#include "tap.h"

static struct rl_fileop write_op(int fd, void *buf, size_t len, uint64_t off)
{
	return (struct rl_fileop){
	    .kind = RL_FOP_WRITE, .fd = fd, .buf = buf, .len = len, .off = off};
}

/* A new empty file in `dir`, unlinked at once; returns its descriptor or -1. */
static int scratch_file(const char *dir, int flags)
{
	char path[256];
	int fd;

	snprintf(path, sizeof(path), "%s/ringlab-fileinline-XXXXXX", dir);
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

static struct rl_fileop meta_op(enum rl_fileop_kind kind, int dirfd, const char *path,
				const char *path2, uint64_t flags)
{
	return (struct rl_fileop){.kind = kind,
				  .dirfd = dirfd,
				  .fd = -1,
				  .path = path,
				  .path2 = path2,
				  .how = {.flags = flags, .mode = 0600}};
}

/* Creating open, plain open, rename and unlink in `dir`: inline exactly when `inline_meta`. */
static void metadata_in(const char *dir, bool inline_meta)
{
	struct rl_fileinline w;
	struct rl_fileop op;
	char tmpl[256];
	int dirfd, ret, done = 0;
	const char *where = inline_meta ? "memory" : "disk";

	snprintf(tmpl, sizeof(tmpl), "%s/ringlab-fileinline-XXXXXX", dir);
	if (!mkdtemp(tmpl)) {
		tap_ok(0, "a scratch directory in %s", dir);
		return;
	}
	dirfd = open(tmpl, O_RDONLY | O_DIRECTORY);
	rl_fileinline_init(&w, true);
	op = meta_op(RL_FOP_OPEN, dirfd, "a", NULL, O_RDONLY);
	tap_ok(rl_fileinline_try(&w, &op) == 0, "%s: a plain open goes through the ring", where);
	op = meta_op(RL_FOP_OPEN, dirfd, "a", NULL, O_WRONLY | O_CREAT | O_EXCL);
	ret = rl_fileinline_try(&w, &op);
	done += ret;
	if (ret)
		close(op.res);
	tap_ok(ret == (int)inline_meta && (!ret || op.res >= 0), "%s: a creating open %s", where,
	       inline_meta ? "is done inline" : "goes to the ring");
	if (!ret)
		close(openat(dirfd, "a", O_WRONLY | O_CREAT, 0600));
	op = meta_op(RL_FOP_RENAME, dirfd, "a", "b", 0);
	ret = rl_fileinline_try(&w, &op);
	done += ret;
	if (!ret)
		renameat(dirfd, "a", dirfd, "b");
	tap_ok(ret == (int)inline_meta && (!ret || op.res == 0) &&
		   faccessat(dirfd, "b", F_OK, 0) == 0,
	       "%s: a rename %s", where, inline_meta ? "is done inline" : "goes to the ring");
	op = meta_op(RL_FOP_UNLINK, dirfd, "b", NULL, 0);
	ret = rl_fileinline_try(&w, &op);
	done += ret;
	if (!ret)
		unlinkat(dirfd, "b", 0);
	tap_ok(ret == (int)inline_meta && (!ret || op.res == 0) &&
		   faccessat(dirfd, "b", F_OK, 0) < 0,
	       "%s: an unlink %s", where, inline_meta ? "is done inline" : "goes to the ring");
	tap_ok(w.inline_meta == (uint64_t)done, "%s: %d counted inline", where, done);
	op = meta_op(RL_FOP_UNLINK, dirfd, "missing", NULL, 0);
	ret = rl_fileinline_try(&w, &op);
	tap_ok(!inline_meta || (ret == 1 && op.res == -ENOENT),
	       "%s: an unlink's own error is its result", where);
	rl_fileinline_free(&w);
	close(dirfd);
	rmdir(tmpl);
}

int main(void)
{
	char a[] = "first write", b[] = "second";
	struct rl_fileinline w;
	struct rl_fileop op;
	const char *tmp = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
	int fd, hi, ret;

	rl_fileinline_init(&w, false);
	fd = scratch_file(tmp, O_RDWR);
	tap_ok(fd >= 0, "a scratch file in %s", tmp);
	op = write_op(fd, a, sizeof(a) - 1, 0);
	tap_ok(rl_fileinline_try(&w, &op) == 0 && w.probes == 0, "turned off: the ring does it");
	tap_ok(lseek(fd, 0, SEEK_END) == 0, "turned off: nothing written");
	rl_fileinline_free(&w);

	rl_fileinline_init(&w, true);
	op = write_op(fd, a, sizeof(a) - 1, 0);
	op.kind = RL_FOP_READ;
	tap_ok(rl_fileinline_try(&w, &op) == 0 && w.probes == 0, "a read goes through the ring");
	op = write_op(fd, a, sizeof(a) - 1, 0);
	ret = rl_fileinline_try(&w, &op);
	tap_ok(ret == 0 ||
		   (ret == 1 && op.res == (int)sizeof(a) - 1 && holds(fd, a, sizeof(a) - 1, 0)),
	       "on %s: the ring, or the whole write at its offset (%s)", tmp,
	       ret ? "inline" : "ring");
	tap_ok(w.probes == 1, "the first write asked the kernel once");
	close(fd);
	rl_fileinline_free(&w);

	if (is_tmpfs("/dev/shm")) {
		rl_fileinline_init(&w, true);
		fd = scratch_file("/dev/shm", O_RDWR);
		op = write_op(fd, a, sizeof(a) - 1, 0);
		tap_ok(rl_fileinline_try(&w, &op) == 1 && op.res == (int)sizeof(a) - 1,
		       "tmpfs: the first write is done inline");
		op = write_op(fd, b, sizeof(b) - 1, 100);
		tap_ok(rl_fileinline_try(&w, &op) == 1 && op.res == (int)sizeof(b) - 1 &&
			   holds(fd, b, sizeof(b) - 1, 100) && holds(fd, a, sizeof(a) - 1, 0),
		       "tmpfs: the second too, at its own offset");
		tap_ok(w.probes == 1 && w.inline_writes == 2, "tmpfs: asked once for two writes");
		rl_fileinline_forget(&w, fd);
		op = write_op(fd, b, sizeof(b) - 1, 0);
		tap_ok(rl_fileinline_try(&w, &op) == 1 && w.probes == 2,
		       "a forgotten descriptor is asked again");
		hi = dup2(fd, 700);
		op = write_op(hi, a, sizeof(a) - 1, 0);
		ret = rl_fileinline_try(&w, &op);
		tap_ok(hi == 700 && ret == 1 && w.cap > 700 && holds(fd, a, sizeof(a) - 1, 0),
		       "descriptor 700 grows the table (%u entries)", w.cap);
		close(hi);
		close(fd);

		fd = scratch_file("/dev/shm", O_RDONLY);
		op = write_op(fd, a, sizeof(a) - 1, 0);
		ret = rl_fileinline_try(&w, &op);
		tap_ok(fd >= 0 && ret == 1 && op.res == -EBADF,
		       "a write's own error is its result (%s)", strerror(-op.res));
		close(fd);
		rl_fileinline_free(&w);
		metadata_in("/dev/shm", true);
	} else {
		tap_diag("/dev/shm is not tmpfs here: the tmpfs cases are not run");
	}
	if (!is_tmpfs(tmp))
		metadata_in(tmp, false);
	else
		tap_diag("%s is tmpfs: no disk directory for the ring cases", tmp);
	return tap_done();
}
