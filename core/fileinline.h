/*
 * fileinline.h - which of an event loop's file operations are cheaper done in the loop
 * thread than through io_uring.
 *
 * io_uring first tries an operation without blocking; when it cannot be done that way it
 * hands the operation to an io-wq worker thread: a punt, with two context switches and a
 * task_work completion.  Some operations always punt on some filesystems, and there a
 * plain system call from the loop thread does the same work without the hand-off -- what
 * the blocking engine does.
 *
 * Buffered writes.  tmpfs and ext4 have no non-blocking buffered writes (no RWF_NOWAIT),
 * so io_uring punts every one; XFS and btrfs have them, and the ring issues the write
 * inline itself.  The first write to each descriptor asks the kernel: pwritev2 with
 * RWF_NOWAIT.  It succeeds (the write is done, and the ring, which can do the same, takes
 * the next ones), says EAGAIN (the filesystem can, not now: the ring) or EOPNOTSUPP (it
 * never can: this descriptor's writes are pwrite(2) from now on).  The answer is kept per
 * descriptor number until the descriptor is closed or reused.
 *
 * Creating opens, renames and unlinks.  io_uring punts every openat with O_CREAT and
 * every renameat and unlinkat.  In a directory on a memory filesystem (tmpfs, ramfs:
 * fstatfs of the directory, once) they cannot wait for a disk, and go inline.  On a disk
 * filesystem they can wait for a journal commit, and stay on the ring.  Plain opens, reads,
 * closes, fsyncs and statx always go through the ring (it does them inline when it can).
 *
 * The cost: on tmpfs and ext4 a write that must wait (dirty-page throttling, memory
 * reclaim) stalls the loop's other connections for its duration, as it stalls the
 * blocking engine's thread.  RINGLAB_URING_OFF=inline-write turns all of it off.  One
 * table per loop thread, one byte per descriptor number seen.
 */
#ifndef RL_FILEINLINE_H
#define RL_FILEINLINE_H

#include <stdbool.h>
#include <stdint.h>

#include "conn.h"

struct rl_fileinline {
	uint8_t *mode;		/* per descriptor number: bits in fileinline.c */
	unsigned cap;		/* entries in `mode` */
	bool enabled;		/* false: every operation goes through the ring */
	uint64_t inline_writes; /* writes done in the loop thread */
	uint64_t inline_meta;	/* creating opens, renames and unlinks done there */
	uint64_t probes;	/* RWF_NOWAIT questions asked */
};

/* Sets up an empty table; `enabled` false makes rl_fileinline_try() always answer 0. */
void rl_fileinline_init(struct rl_fileinline *w, bool enabled);

/* Frees the table. */
void rl_fileinline_free(struct rl_fileinline *w);

/*
 * Does `op` in the calling thread when, by the rules above, that is the cheaper path.
 * Returns 1 when it did (op->res holds the result, as the ring would have given it), 0
 * when the operation should go through the ring.
 */
int rl_fileinline_try(struct rl_fileinline *w, struct rl_fileop *op);

/* Forgets what was learnt about descriptor `fd` (it is being closed, or was just opened). */
void rl_fileinline_forget(struct rl_fileinline *w, int fd);

#endif
