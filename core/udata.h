/*
 * udata.h - the one user_data encoding for every io_uring operation in ringlab.
 *
 * user_data = pointer | op.  The pointer is the object the completion belongs to (a
 * connection, a loop, a client); every such object is malloc'ed, so it is 16-byte aligned
 * and its low 4 bits are free to carry the operation.  A connection counts the SQEs whose
 * CQEs it still expects and is freed only after the last one arrives, so a pointer in a
 * CQE never dangles.
 */
#ifndef RL_UDATA_H
#define RL_UDATA_H

#include <assert.h>
#include <stdint.h>

enum rl_op {
	RL_OP_NONE = 0,
	RL_OP_ACCEPT,	/* multishot accept on a listener (ptr = loop) */
	RL_OP_RECV,	/* multishot recv with provided buffers (ptr = connection) */
	RL_OP_SEND,	/* send/sendmsg from the connection's send queue */
	RL_OP_CANCEL,	/* async cancel issued for a connection */
	RL_OP_CLOSE,	/* close of a connection's socket */
	RL_OP_TICK,	/* the loop's timer: idle scan, accept back-off, drain deadline */
	RL_OP_WAKE,	/* read on the loop's eventfd: stop requested */
	RL_OP_CONNECT,	/* load generator: connect */
	RL_OP_RECV1,	/* load generator: single-shot recv into a fixed buffer */
	RL_OP_TIMEOUT,	/* load generator: schedule timer */
	RL_OP_FILE,	/* a protocol's file operation (ptr = struct rl_fileop) */
	RL_OP_SHUTDOWN, /* shutdown(SHUT_WR) before a lingering close */
	RL_OP_FILES,	/* a fixed-file table update that failed (ptr = loop) */
	RL_OP__COUNT,
};

#define RL_OP_BITS 4u
#define RL_OP_MASK ((1u << RL_OP_BITS) - 1u)

_Static_assert(RL_OP__COUNT <= (1u << RL_OP_BITS), "rl_op must fit in RL_OP_BITS");

/* Packs an object pointer (16-byte aligned) and an operation into user_data. */
static inline uint64_t rl_udata(const void *ptr, enum rl_op op)
{
	assert(((uintptr_t)ptr & RL_OP_MASK) == 0);
	return (uint64_t)(uintptr_t)ptr | (uint64_t)op;
}

/* Returns the operation carried by user_data. */
static inline enum rl_op rl_udata_op(uint64_t ud)
{
	return (enum rl_op)(ud & RL_OP_MASK);
}

/* Returns the object pointer carried by user_data. */
static inline void *rl_udata_ptr(uint64_t ud)
{
	return (void *)(uintptr_t)(ud & ~(uint64_t)RL_OP_MASK);
}

#endif
