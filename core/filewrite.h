/*
 * filewrite.h - where an event loop's buffered file write is cheapest: in the loop thread
 * or through io_uring.
 *
 * io_uring first tries a buffered write without blocking; a filesystem that cannot do
 * that (tmpfs and ext4 here: they do not support RWF_NOWAIT for buffered writes) makes
 * it hand every write to an io-wq worker thread, a punt with two context switches and a
 * task_work completion.  On such a filesystem a plain pwrite(2) from the loop thread is
 * what the blocking engine does, and is cheaper: the copy into the page cache is the
 * same, the hand-off is gone.  On a filesystem with non-blocking buffered writes (XFS,
 * btrfs) the ring issues the write inline itself and stays the better path.
 *
 * The first write to each descriptor asks the kernel: pwritev2(RWF_NOWAIT).  It succeeds
 * (the write is done, and the ring, which can do the same, takes the next ones), says
 * EAGAIN (the filesystem can, but not now: the ring, which punts) or EOPNOTSUPP (it never
 * can: this descriptor's writes are pwrite(2) from now on).  The answer is kept per
 * descriptor number until the descriptor is closed or reused.
 *
 * The cost: on tmpfs and ext4, a write that must wait (dirty-page throttling, a journal
 * commit, memory reclaim) stalls the loop's other connections for its duration, as it
 * stalls the blocking engine's thread.  RINGLAB_URING_OFF=inline-write turns it off.
 * One table per loop thread, one byte per descriptor number seen.
 */
#ifndef RL_FILEWRITE_H
#define RL_FILEWRITE_H

#include <stdbool.h>
#include <stdint.h>

#include "conn.h"

struct rl_filewrite {
	uint8_t *mode;		/* per descriptor number: enum in filewrite.c */
	unsigned cap;		/* entries in `mode` */
	bool enabled;		/* false: every write goes through the ring */
	uint64_t inline_writes; /* writes done in the loop thread */
	uint64_t probes;	/* RWF_NOWAIT questions asked */
};

/* Sets up an empty table; `enabled` false makes rl_filewrite_try() always answer 0. */
void rl_filewrite_init(struct rl_filewrite *w, bool enabled);

/* Frees the table. */
void rl_filewrite_free(struct rl_filewrite *w);

/*
 * Does the write `op` (RL_FOP_WRITE) in the calling thread when that is the cheaper path
 * for its descriptor.  Returns 1 when it did (op->res holds the result, >= 0 bytes or
 * -errno), 0 when the write should go through the ring.  Never blocks longer than the
 * write itself.
 */
int rl_filewrite_try(struct rl_filewrite *w, struct rl_fileop *op);

/* Forgets what was learnt about descriptor `fd` (it is being closed, or was just opened). */
void rl_filewrite_forget(struct rl_filewrite *w, int fd);

#endif
