/*
 * list.h - an intrusive circular doubly-linked list: the one list every part of ringlab
 * uses for its queues of connections (dirty, starved, live, graves, chat members).
 *
 * A struct rl_list is both a list's head and the node embedded in each element; an
 * element is found back from its node with rl_list_entry().  A head or node is always
 * initialised (rl_list_init: pointing at itself), never NULL-linked: insertion and
 * removal are then O(1) with no special case for the ends, and a node taken off its list
 * is re-initialised, so rl_list_linked() tells whether it is on one and removing it again
 * does nothing.  Header-only; nothing here allocates or locks.
 */
#ifndef RL_LIST_H
#define RL_LIST_H

#include <stdbool.h>
#include <stddef.h>

struct rl_list {
	struct rl_list *prev, *next;
};

/* A static initialiser for an empty list `h`: static struct rl_list h = RL_LIST_INIT(h); */
#define RL_LIST_INIT(h)                                                                            \
	{                                                                                          \
		&(h), &(h)                                                                         \
	}

/* Makes `h` an empty list, or an unlinked node. */
static inline void rl_list_init(struct rl_list *h)
{
	h->prev = h;
	h->next = h;
}

/* True when the list headed by `h` has no entries. */
static inline bool rl_list_empty(const struct rl_list *h)
{
	return h->next == h;
}

/* True when node `n` is on some list (it was inserted and not removed since). */
static inline bool rl_list_linked(const struct rl_list *n)
{
	return n->next != n;
}

/* Links `n` (unlinked) between `prev` and `next`, which are adjacent. */
static inline void rl_list_link(struct rl_list *prev, struct rl_list *n, struct rl_list *next)
{
	n->prev = prev;
	n->next = next;
	prev->next = n;
	next->prev = n;
}

/* Appends `n` (unlinked) at the end of `h`: a FIFO's push. */
static inline void rl_list_insert_tail(struct rl_list *h, struct rl_list *n)
{
	rl_list_link(h->prev, n, h);
}

/* Puts `n` (unlinked) at the front of `h`: a stack's push. */
static inline void rl_list_insert_head(struct rl_list *h, struct rl_list *n)
{
	rl_list_link(h, n, h->next);
}

/* Takes `n` off whatever list it is on and re-initialises it; an unlinked (initialised)
 * node is left as it is. */
static inline void rl_list_remove(struct rl_list *n)
{
	n->prev->next = n->next;
	n->next->prev = n->prev;
	rl_list_init(n);
}

/* The first node of `h`, or NULL when it is empty. */
static inline struct rl_list *rl_list_first(const struct rl_list *h)
{
	return rl_list_empty(h) ? NULL : h->next;
}

/* Removes and returns the first node of `h`, or NULL when it is empty: a FIFO's pop. */
static inline struct rl_list *rl_list_pop(struct rl_list *h)
{
	struct rl_list *n = rl_list_first(h);

	if (n)
		rl_list_remove(n);
	return n;
}

/* Moves every entry of `src`, in order, to `dst` (whose entries, if any, are forgotten:
 * pass an empty or fresh head); `src` is left empty.  Lets a caller work through a batch
 * while new entries gather on the original list. */
static inline void rl_list_take(struct rl_list *dst, struct rl_list *src)
{
	if (rl_list_empty(src)) {
		rl_list_init(dst);
		return;
	}
	dst->next = src->next;
	dst->prev = src->prev;
	dst->next->prev = dst;
	dst->prev->next = dst;
	rl_list_init(src);
}

/* The element of type `type` whose member `member` (a struct rl_list) is `node`. */
#define rl_list_entry(node, type, member)                                                          \
	((type *)(void *)(((char *)(node)) - offsetof(type, member)))

/*
 * For each node `n` of `h`, in order; `tmp` (a struct rl_list *) holds the next one, so
 * the body may remove `n`, but not the node after it.
 */
#define rl_list_foreach(n, tmp, h)                                                                 \
	for ((n) = (h)->next, (tmp) = (n)->next; (n) != (h); (n) = (tmp), (tmp) = (n)->next)

/*
 * For each element `e` (a `type *`) of `h`, linked through its member `member`, in order;
 * `tmp` (a struct rl_list *) holds the next node, so the body may remove `e`, but not the
 * element after it.
 */
#define rl_list_foreach_entry(e, tmp, h, type, member)                                             \
	for ((tmp) = (h)->next;                                                                    \
	     (tmp) != (h) && ((e) = rl_list_entry(tmp, type, member), (tmp) = (tmp)->next, 1);)

#endif
