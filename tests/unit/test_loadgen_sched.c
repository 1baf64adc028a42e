/*
 * test_loadgen_sched.c - the open-loop schedule heap: nodes come out in key order
 * whatever the order they went in, moved and removed nodes keep the heap consistent, and
 * pop_due only yields what is due.
 */
#include <stdlib.h>

#include "lg_sched.h"
#include "tap.h"

#define N 1000

static uint64_t rng = 88172645463325252ull;

static uint64_t next(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

int main(void)
{
	static struct lg_sched_node nodes[N];
	struct lg_sched s;
	struct lg_sched_node *n;
	uint64_t last = 0, first;
	int i, ordered = 1, count = 0, queued = 0;

	tap_ok(lg_sched_init(&s, N) == 0, "init");
	for (i = 0; i < N; i++) {
		lg_sched_node_init(&nodes[i]);
		lg_sched_push(&s, &nodes[i], next() % 100000);
	}
	tap_ok(s.n == N, "%d nodes queued", N);
	/* Move every third node, remove every seventh. */
	for (i = 0; i < N; i += 3)
		lg_sched_push(&s, &nodes[i], next() % 100000);
	for (i = 0; i < N; i += 7)
		lg_sched_remove(&s, &nodes[i]);
	for (i = 0; i < N; i++)
		queued += lg_sched_queued(&nodes[i]);
	tap_ok(queued == (int)s.n && s.n == N - (N + 6) / 7, "removed nodes left the heap");
	tap_ok(lg_sched_push(&s, &nodes[7], 5) == 0 && lg_sched_peek(&s)->key <= 5,
	       "a re-queued node with an early key comes first");
	first = lg_sched_peek(&s)->key;
	tap_ok(first == 0 || lg_sched_pop_due(&s, first - 1) == NULL,
	       "nothing is due before the earliest key");
	while ((n = lg_sched_pop_due(&s, UINT64_MAX))) {
		if (n->key < last)
			ordered = 0;
		last = n->key;
		count++;
		if (lg_sched_queued(n))
			ordered = 0;
	}
	tap_ok(ordered, "nodes come out in key order and leave the heap");
	tap_ok(count == queued + 1 && s.n == 0, "every queued node came out once (%d)", count);
	lg_sched_node_init(&nodes[0]);
	lg_sched_push(&s, &nodes[0], 100);
	tap_ok(lg_sched_pop_due(&s, 99) == NULL && lg_sched_pop_due(&s, 100) == &nodes[0],
	       "pop_due yields a node exactly at its time");
	lg_sched_remove(&s, &nodes[0]);
	tap_ok(s.n == 0, "removing a node that is not queued is harmless");
	lg_sched_free(&s);
	return tap_done();
}
