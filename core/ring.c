/*
 * ring.c - io_uring setup with fallback and the submit/reap discipline (see ring.h).
 */
#include "ring.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "log.h"

static const struct {
	unsigned flag;
	const char *name;
} flag_names[] = {
    {IORING_SETUP_SQPOLL, "SQPOLL"},
    {IORING_SETUP_CQSIZE, "CQSIZE"},
    {IORING_SETUP_SUBMIT_ALL, "SUBMIT_ALL"},
    {IORING_SETUP_COOP_TASKRUN, "COOP_TASKRUN"},
    {IORING_SETUP_TASKRUN_FLAG, "TASKRUN_FLAG"},
    {IORING_SETUP_SINGLE_ISSUER, "SINGLE_ISSUER"},
    {IORING_SETUP_DEFER_TASKRUN, "DEFER_TASKRUN"},
};

const char *rl_ring_flags_str(unsigned flags, char *buf, unsigned long len)
{
	size_t used = 0;
	unsigned i;

	buf[0] = '\0';
	for (i = 0; i < sizeof(flag_names) / sizeof(flag_names[0]); i++) {
		if (!(flags & flag_names[i].flag))
			continue;
		used += (size_t)snprintf(buf + used, used < len ? len - used : 0, "%s%s",
					 used ? "|" : "", flag_names[i].name);
	}
	if (!used)
		snprintf(buf, len, "none");
	return buf;
}

int rl_ring_init(struct rl_ring *r, unsigned sq_entries, unsigned cq_entries)
{
	static const unsigned tiers[] = {
	    IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN,
	    IORING_SETUP_COOP_TASKRUN | IORING_SETUP_TASKRUN_FLAG,
	    0,
	};
	static const unsigned extras[] = {IORING_SETUP_CQSIZE | IORING_SETUP_SUBMIT_ALL,
					  IORING_SETUP_CQSIZE, 0};
	struct io_uring_params p;
	char flags[160];
	unsigned t, e;
	int ret = -EINVAL;

	memset(r, 0, sizeof(*r));
	if (!cq_entries)
		cq_entries = sq_entries * 8;
	for (t = 0; t < sizeof(tiers) / sizeof(tiers[0]); t++) {
		for (e = 0; e < sizeof(extras) / sizeof(extras[0]); e++) {
			memset(&p, 0, sizeof(p));
			p.flags = tiers[t] | extras[e];
			p.cq_entries = cq_entries;
			ret = io_uring_queue_init_params(sq_entries, &r->ring, &p);
			if (ret != -EINVAL)
				break;
		}
		if (ret != -EINVAL)
			break;
	}
	if (ret)
		return ret;
	/* The backlog holds a whole CQ from the start: reaping never needs memory later. */
	r->backlog = malloc((size_t)p.cq_entries * sizeof(*r->backlog));
	if (!r->backlog) {
		io_uring_queue_exit(&r->ring);
		return -ENOMEM;
	}
	r->bcap = p.cq_entries;
	r->setup_flags = p.flags;
	r->features = p.features;
	r->scratch_ok =
	    (r->features & IORING_FEAT_SUBMIT_STABLE) && !rl_ring_feature_off("scratch");
	r->sq_entries = p.sq_entries;
	r->cq_entries = p.cq_entries;
	/* A registered ring fd saves an fd lookup on every io_uring_enter (5.18+). */
	if (io_uring_register_ring_fd(&r->ring) < 0)
		rl_debug("io_uring: ring fd registration not supported");
	if (!(r->features & IORING_FEAT_NODROP))
		rl_warn("io_uring: kernel lacks FEAT_NODROP; CQ overflow would drop completions");
	rl_debug("io_uring: sq %u, cq %u, flags %s, features 0x%x", r->sq_entries, r->cq_entries,
		 rl_ring_flags_str(r->setup_flags, flags, sizeof(flags)), r->features);
	return 0;
}

bool rl_ring_feature_off(const char *feature)
{
	const char *list = getenv("RINGLAB_URING_OFF"), *p;
	size_t n = strlen(feature);

	for (p = list; p && *p; p += strcspn(p, ",")) {
		p += *p == ',';
		if (!strncmp(p, feature, n) && (p[n] == ',' || !p[n]))
			return true;
	}
	return false;
}

void rl_ring_exit(struct rl_ring *r)
{
	io_uring_queue_exit(&r->ring);
	free(r->backlog);
	r->backlog = NULL;
	free(r->scratch);
	r->scratch = NULL;
	r->scratch_used = 0;
	r->blen = r->bhead = r->bcap = 0;
}

static int backlog_reserve(struct rl_ring *r, unsigned more)
{
	unsigned ncap;
	struct rl_cqe *n;

	if (r->bhead == r->blen)
		r->bhead = r->blen = 0;
	if (r->blen + more <= r->bcap)
		return 0;
	if (r->bhead) {
		/* Slide unhandled completions to the front before growing. */
		memmove(r->backlog, r->backlog + r->bhead, (r->blen - r->bhead) * sizeof(*n));
		r->blen -= r->bhead;
		r->bhead = 0;
		if (r->blen + more <= r->bcap)
			return 0;
	}
	ncap = r->bcap ? r->bcap : 256;
	while (ncap < r->blen + more)
		ncap *= 2;
	n = realloc(r->backlog, ncap * sizeof(*n));
	if (!n)
		return -ENOMEM;
	r->backlog = n;
	r->bcap = ncap;
	return 0;
}

unsigned rl_ring_reap(struct rl_ring *r)
{
	struct io_uring_cqe *cqe;
	unsigned head, n = 0, ready = io_uring_cq_ready(&r->ring);
	uint32_t ovf;

	if (!ready)
		return 0;
	if (backlog_reserve(r, ready)) {
		/* Out of memory: take what fits (the backlog is never smaller than the CQ at
		 * the top of a turn), rather than leave the CQ full and spin on it. */
		ready = r->bcap - r->blen;
		if (!ready)
			return 0;
	}
	io_uring_for_each_cqe(&r->ring, head, cqe)
	{
		struct rl_cqe *c = &r->backlog[r->blen++];

		c->user_data = cqe->user_data;
		c->res = cqe->res;
		c->flags = cqe->flags;
		if (++n == ready)
			break;
	}
	io_uring_cq_advance(&r->ring, n);
	ovf = IO_URING_READ_ONCE(*r->ring.cq.koverflow);
	if (ovf != (uint32_t)r->overflows) {
		rl_debug("io_uring: CQ overflowed (%u completions held by the kernel so far)", ovf);
		r->overflows = ovf;
	}
	return n;
}

bool rl_ring_next(struct rl_ring *r, struct rl_cqe *out)
{
	if (r->bhead == r->blen)
		return false;
	*out = r->backlog[r->bhead++];
	return true;
}

static int submit_once(struct rl_ring *r)
{
	int ret;

	for (;;) {
		ret = io_uring_submit(&r->ring);
		if (ret >= 0 || ret == -EINTR)
			return ret < 0 ? 0 : ret;
		if (ret != -EBUSY && ret != -EAGAIN)
			return ret;
		/* The kernel holds completions we have not read: read them, then retry. */
		r->submit_busy++;
		io_uring_get_events(&r->ring);
		if (!rl_ring_reap(r))
			return ret;
	}
}

struct io_uring_sqe *rl_ring_sqe(struct rl_ring *r)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&r->ring);
	int tries;

	for (tries = 0; !sqe && tries < 8; tries++) {
		if (submit_once(r) < 0)
			return NULL;
		sqe = io_uring_get_sqe(&r->ring);
	}
	return sqe;
}

void *rl_ring_scratch(struct rl_ring *r, size_t n)
{
	const size_t align = _Alignof(max_align_t);
	void *p;

	n = (n + align - 1) & ~(align - 1);
	if (!r->scratch_ok || n > RL_RING_SCRATCH)
		return NULL;
	if (!r->scratch && !(r->scratch = malloc(RL_RING_SCRATCH)))
		return NULL;
	if (!io_uring_sq_ready(&r->ring))
		r->scratch_used = 0; /* the kernel has taken every SQE that pointed here */
	if (r->scratch_used + n > RL_RING_SCRATCH) {
		if (submit_once(r) < 0 || io_uring_sq_ready(&r->ring))
			return NULL;
		r->scratch_used = 0;
	}
	p = r->scratch + r->scratch_used;
	r->scratch_used += n;
	return p;
}

int rl_ring_submit_wait(struct rl_ring *r, unsigned wait_nr, uint64_t timeout_ns)
{
	struct __kernel_timespec ts;
	struct io_uring_cqe *cqe;
	int ret;

	if (r->bhead < r->blen)
		wait_nr = 0; /* completions already waiting: do not block */
	if (timeout_ns && wait_nr) {
		ts.tv_sec = (long long)(timeout_ns / RL_NSEC_PER_SEC);
		ts.tv_nsec = (long long)(timeout_ns % RL_NSEC_PER_SEC);
		ret = io_uring_submit_and_wait_timeout(&r->ring, &cqe, wait_nr, &ts, NULL);
	} else {
		ret = io_uring_submit_and_wait(&r->ring, wait_nr);
	}
	if (ret == -EBUSY || ret == -EAGAIN) {
		r->submit_busy++;
		ret = 0;
	}
	if (ret < 0 && ret != -EINTR && ret != -ETIME)
		return ret;
	rl_ring_reap(r);
	return (int)(r->blen - r->bhead);
}
