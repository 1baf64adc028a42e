/*
 * lg_sched.h - a binary min-heap of timed entries: the open-loop schedule of one worker.
 *
 * Each connection embeds a struct lg_sched_node; the heap orders nodes by `key` (the
 * intended send time of the connection's next request) so the worker finds the earliest
 * one in O(1) and waits exactly until then.  Push, pop and remove are O(log n) and never
 * allocate after lg_sched_init().  Single-threaded: one heap per worker.
 */
#ifndef RL_LG_SCHED_H
#define RL_LG_SCHED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define LG_SCHED_NONE UINT32_MAX

struct lg_sched_node {
	uint64_t key;
	uint32_t pos; /* index in the heap, LG_SCHED_NONE when not queued */
};

struct lg_sched {
	struct lg_sched_node **a; /* cap entries, owned */
	uint32_t n;
	uint32_t cap;
};

/* Allocates room for `cap` nodes.  Returns 0 or -ENOMEM. */
int lg_sched_init(struct lg_sched *s, uint32_t cap);

/* Frees the array (the nodes belong to the caller). */
void lg_sched_free(struct lg_sched *s);

/* Initialises a node as not queued. */
static inline void lg_sched_node_init(struct lg_sched_node *n)
{
	n->key = 0;
	n->pos = LG_SCHED_NONE;
}

/* True when the node is in the heap. */
static inline bool lg_sched_queued(const struct lg_sched_node *n)
{
	return n->pos != LG_SCHED_NONE;
}

/* Queues `n` at time `key`, or moves it there if already queued.  Returns 0 or -ENOSPC. */
int lg_sched_push(struct lg_sched *s, struct lg_sched_node *n, uint64_t key);

/* Removes `n` if it is queued. */
void lg_sched_remove(struct lg_sched *s, struct lg_sched_node *n);

/* Returns the earliest node without removing it, or NULL when empty. */
static inline struct lg_sched_node *lg_sched_peek(const struct lg_sched *s)
{
	return s->n ? s->a[0] : NULL;
}

/* Removes and returns the earliest node if its key is <= now, else NULL. */
struct lg_sched_node *lg_sched_pop_due(struct lg_sched *s, uint64_t now);

#endif
