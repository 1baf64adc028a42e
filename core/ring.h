/*
 * ring.h - io_uring setup with feature fallback, and a submit/reap discipline that
 * survives a full SQ and a full CQ.
 *
 * rl_ring_init() asks for the best setup the kernel grants, in order:
 *   1. SINGLE_ISSUER | DEFER_TASKRUN   (6.1: completions run only when we wait: fewest
 *                                       interruptions, best batching)
 *   2. COOP_TASKRUN | TASKRUN_FLAG     (5.19: no IPI to interrupt the thread)
 *   3. no flags
 * always with an explicit CQ size (CQSIZE) and SUBMIT_ALL when the kernel knows them.
 *
 * Completions are copied out of the CQ into a backlog as soon as they are seen, so the
 * CQ is never left full while they are handled.  rl_ring_sqe() never returns NULL for a
 * full SQ: it submits, and when the kernel answers -EBUSY (its CQ overflow list is full)
 * it reaps into the backlog and retries.
 */
#ifndef RL_RING_H
#define RL_RING_H

#include <liburing.h>
#include <stdbool.h>
#include <stdint.h>

/* A completion copied out of the CQ. */
struct rl_cqe {
	uint64_t user_data;
	int32_t res;
	uint32_t flags;
};

struct rl_ring {
	struct io_uring ring;
	unsigned setup_flags; /* what the kernel granted */
	unsigned features;    /* IORING_FEAT_* */
	unsigned sq_entries;
	unsigned cq_entries;
	struct rl_cqe *backlog; /* FIFO of reaped, unhandled completions */
	unsigned blen;
	unsigned bhead;
	unsigned bcap;
	uint64_t overflows;   /* CQEs the kernel had to hold in its overflow list */
	uint64_t submit_busy; /* times submit answered -EBUSY and we reaped first */
	uint8_t *scratch;     /* rl_ring_scratch(): RL_RING_SCRATCH bytes, allocated on use */
	size_t scratch_used;
	bool scratch_ok; /* the kernel guarantees stable submission, and it is not forced off */
};

/* Bytes of submit-stable scratch per ring: about 60 sends of 64 iovecs between submits. */
#define RL_RING_SCRATCH (64u * 1024u)

/*
 * Creates a ring of `sq_entries` SQEs and `cq_entries` CQEs (0: 8 x SQ) in the calling
 * thread (SINGLE_ISSUER binds it to that thread), with the fallback above, and registers
 * the ring fd.  Logs what was granted at debug level.  Returns 0 or -errno.
 */
int rl_ring_init(struct rl_ring *r, unsigned sq_entries, unsigned cq_entries);

/*
 * `n` bytes (aligned for any type, n <= RL_RING_SCRATCH) for what an SQE points at and the
 * kernel copies when it takes the SQE: a SENDMSG's msghdr and iovecs.  Since 5.5
 * (IORING_FEAT_SUBMIT_STABLE) nothing an SQE points at for that purpose is read after its
 * submission, so one area per ring, reused once everything prepared from it has been
 * submitted, replaces a msghdr and an iovec array in every connection.  Valid until the
 * next submit; when the area is full, submits what is prepared to reuse it, so take it
 * before the SQE that will point at it.  Owned by the ring.  Returns NULL when the kernel
 * lacks the guarantee, RINGLAB_URING_OFF names "scratch", or on -ENOMEM or a failed
 * submit: then point the SQE at nothing that must outlive this call.
 */
void *rl_ring_scratch(struct rl_ring *r, size_t n);

/*
 * True when the environment variable RINGLAB_URING_OFF, a comma-separated list, names
 * `feature`: the way to force an optional io_uring technique off (its fallback path is
 * then what runs; tests use it).  Features: lend (echo sends from the receive buffer),
 * sendto (udp replies as SEND with an address instead of SENDMSG), scratch (no
 * rl_ring_scratch(): a TCP send carries one send-queue chunk, as on a kernel before 5.5),
 * fixedfiles (connections' sockets are not registered in the ring's file table).
 */
bool rl_ring_feature_off(const char *feature);

/* Tears the ring down (cancelling whatever is in flight) and frees the backlog. */
void rl_ring_exit(struct rl_ring *r);

/*
 * Returns a free SQE, submitting (and, on -EBUSY, reaping into the backlog) as needed.
 * NULL only when the kernel refuses every submit (a fatal ring error).
 */
struct io_uring_sqe *rl_ring_sqe(struct rl_ring *r);

/*
 * Submits what is queued and waits until at least `wait_nr` completions are ready or
 * `timeout_ns` passes (0: no timeout), then reaps them into the backlog.
 * Returns the number of completions waiting in the backlog, or -errno (-EINTR is 0).
 */
int rl_ring_submit_wait(struct rl_ring *r, unsigned wait_nr, uint64_t timeout_ns);

/* Copies every ready CQE into the backlog.  Returns how many were copied. */
unsigned rl_ring_reap(struct rl_ring *r);

/* Pops the oldest completion from the backlog into *out.  Returns false when empty. */
bool rl_ring_next(struct rl_ring *r, struct rl_cqe *out);

/* Writes the granted setup flags as text ("SINGLE_ISSUER|DEFER_TASKRUN|..."). */
const char *rl_ring_flags_str(unsigned flags, char *buf, unsigned long len);

#endif
