/*
 * lg_sched.c - the binary min-heap behind the open-loop schedule (see lg_sched.h).
 *
 * Nodes remember their position, so a connection can leave the heap (it closed, or its
 * pipeline filled up) in O(log n) without a search.
 */
#include "lg_sched.h"

#include <errno.h>
#include <stdlib.h>

int lg_sched_init(struct lg_sched *s, uint32_t cap)
{
	s->n = 0;
	s->cap = cap;
	s->a = calloc(cap ? cap : 1, sizeof(*s->a));
	return s->a ? 0 : -ENOMEM;
}

void lg_sched_free(struct lg_sched *s)
{
	free(s->a);
	s->a = NULL;
	s->n = s->cap = 0;
}

static void place(struct lg_sched *s, uint32_t i, struct lg_sched_node *n)
{
	s->a[i] = n;
	n->pos = i;
}

static void sift_up(struct lg_sched *s, uint32_t i)
{
	struct lg_sched_node *n = s->a[i];

	while (i > 0) {
		uint32_t parent = (i - 1) / 2;

		if (s->a[parent]->key <= n->key)
			break;
		place(s, i, s->a[parent]);
		i = parent;
	}
	place(s, i, n);
}

static void sift_down(struct lg_sched *s, uint32_t i)
{
	struct lg_sched_node *n = s->a[i];

	for (;;) {
		uint32_t l = 2 * i + 1, r = l + 1, m;

		if (l >= s->n)
			break;
		m = (r < s->n && s->a[r]->key < s->a[l]->key) ? r : l;
		if (n->key <= s->a[m]->key)
			break;
		place(s, i, s->a[m]);
		i = m;
	}
	place(s, i, n);
}

int lg_sched_push(struct lg_sched *s, struct lg_sched_node *n, uint64_t key)
{
	uint64_t old = n->key;

	if (lg_sched_queued(n)) {
		n->key = key;
		if (key < old)
			sift_up(s, n->pos);
		else
			sift_down(s, n->pos);
		return 0;
	}
	if (s->n >= s->cap)
		return -ENOSPC;
	n->key = key;
	place(s, s->n++, n);
	sift_up(s, n->pos);
	return 0;
}

void lg_sched_remove(struct lg_sched *s, struct lg_sched_node *n)
{
	uint32_t i = n->pos;
	struct lg_sched_node *last;

	if (!lg_sched_queued(n))
		return;
	n->pos = LG_SCHED_NONE;
	last = s->a[--s->n];
	if (i == s->n)
		return;
	place(s, i, last);
	if (i > 0 && s->a[(i - 1) / 2]->key > last->key)
		sift_up(s, i);
	else
		sift_down(s, i);
}

struct lg_sched_node *lg_sched_pop_due(struct lg_sched *s, uint64_t now)
{
	struct lg_sched_node *top;

	if (!s->n || s->a[0]->key > now)
		return NULL;
	top = s->a[0];
	lg_sched_remove(s, top);
	return top;
}
