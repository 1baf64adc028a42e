/*
 * uring_file.c - a protocol's file operations on the io_uring engine (rl_conn_fileop,
 * core/conn.h), through the same ring as the loop's sockets.
 *
 * What it shows: OPENAT2, READ / WRITE, FSYNC, CLOSE, RENAMEAT, UNLINKAT and STATX as
 * SQEs, each completing into the protocol's on_fileop (engine_uring.c handle()).  When
 * the protocol does file I/O the loop registers a pool of buffers
 * (io_uring_register_buffers, fixedbuf.c) and a read or write into one of them goes as
 * READ_FIXED / WRITE_FIXED, so the kernel does not map the pages on every operation.
 * tmpfs and ext4 have no non-blocking buffered writes, so there the ring hands each write
 * to an io-wq worker; doing them in the loop thread instead (pwrite, as the blocking engine
 * does) was measured and lost: 1.10x the CPU per upload on tmpfs, because pwrite copies
 * from user memory (prefaulting each page) where WRITE_FIXED copies from pinned pages
 * (results/2026-12-06-a0862fd-cheapest/README.md, technique 7).
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>

#include "udata.h"
#include "uring_loop.h"

/* Registered buffers for file I/O, 8 MiB per loop: the 1 MiB read-ahead of about six
 * downloads at once (more use heap chunks).  The size is the file server's read and write
 * chunk (servers/file.h IO_CHUNK). */
#define FILE_BUF_COUNT 32u
#define FILE_BUF_SIZE  (256u * 1024u)

/* Preps a file read or write: READ_FIXED / WRITE_FIXED when the buffer is one of the loop's
 * registered buffers, plain READ / WRITE otherwise. */
static void prep_file_rw(struct io_uring_sqe *sqe, const struct rl_fixedbuf *fb,
			 const struct rl_fileop *op)
{
	int idx = rl_fixedbuf_index(fb, op->buf, op->len);
	int opcode;

	if (op->kind == RL_FOP_READ)
		opcode = idx >= 0 ? IORING_OP_READ_FIXED : IORING_OP_READ;
	else
		opcode = idx >= 0 ? IORING_OP_WRITE_FIXED : IORING_OP_WRITE;
	io_uring_prep_rw(opcode, sqe, op->fd, op->buf, (unsigned)op->len, op->off);
	if (idx >= 0)
		sqe->buf_index = (__u16)idx;
}

/* Runs a protocol's file operation through the ring (loop->submit_fileop). */
int ul_fileop(struct rl_loop *loop, struct rl_fileop *op)
{
	struct uloop *l = (struct uloop *)loop;
	struct uconn *c = (struct uconn *)op->conn;
	struct io_uring_sqe *sqe = ul_sqe_get(l);

	if (!sqe)
		return -EBUSY;
	switch (op->kind) {
	case RL_FOP_OPEN:
		io_uring_prep_openat2(sqe, op->dirfd, op->path, &op->how);
		break;
	case RL_FOP_READ:
	case RL_FOP_WRITE:
		prep_file_rw(sqe, loop->fixedbuf, op);
		break;
	case RL_FOP_FSYNC:
		io_uring_prep_fsync(sqe, op->fd, 0);
		break;
	case RL_FOP_CLOSE:
		io_uring_prep_close(sqe, op->fd);
		break;
	case RL_FOP_RENAME:
		io_uring_prep_renameat(sqe, op->dirfd, op->path, op->dirfd, op->path2, 0);
		break;
	case RL_FOP_UNLINK:
		io_uring_prep_unlinkat(sqe, op->dirfd, op->path, 0);
		break;
	case RL_FOP_STATX:
		io_uring_prep_statx(sqe, op->fd, "", AT_EMPTY_PATH, STATX_BASIC_STATS, op->stx);
		break;
	}
	io_uring_sqe_set_data64(sqe, rl_udata(op, RL_OP_FILE));
	c->inflight++;
	return 0;
}

/*
 * Registers the loop's file I/O buffers.  Without them (RLIMIT_MEMLOCK too low even for a
 * few, an old kernel) file I/O still works: plain READ and WRITE on heap chunks.
 */
void ul_setup_file_buffers(struct uloop *l)
{
	int ret = rl_fixedbuf_init(&l->fixed, &l->r.ring, FILE_BUF_COUNT, FILE_BUF_SIZE);

	if (ret) {
		rl_debug("loop %u: registering file buffers failed (%s); file reads and writes "
			 "use heap buffers",
			 l->base.index, strerror(-ret));
		return;
	}
	l->base.fixedbuf = &l->fixed;
	rl_debug("loop %u: %u registered file buffers of %u bytes%s", l->base.index, l->fixed.count,
		 l->fixed.size, l->fixed.count < FILE_BUF_COUNT ? " (fewer: RLIMIT_MEMLOCK)" : "");
}
