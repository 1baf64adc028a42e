/*
 * test_list.c - TAP tests for core/list.h: FIFO order, O(1) removal from the head, middle
 * and tail, removal of an unlinked node, foreach removing as it goes, and linkedness.
 */
#include "list.h"
#include "tap.h"

#include <stdbool.h>
#include <string.h>

struct item {
	int id;
	struct rl_list node;
};

static struct item items[5];

/* Writes the ids of `h`'s entries into `out` ("0,1,2"); returns out. */
static const char *ids(const struct rl_list *h, char *out, size_t cap)
{
	const struct rl_list *n;
	size_t k = 0;

	out[0] = '\0';
	for (n = h->next; n != h && k + 4 < cap; n = n->next) {
		const struct item *it = rl_list_entry(n, const struct item, node);

		k += (size_t)snprintf(out + k, cap - k, "%s%d", k ? "," : "", it->id);
	}
	return out;
}

static bool list_is(const struct rl_list *h, const char *want)
{
	char buf[64];
	bool ok = strcmp(ids(h, buf, sizeof(buf)), want) == 0;

	if (!ok)
		tap_diag("list is \"%s\", want \"%s\"", buf, want);
	return ok;
}

/* A list of items 0..n-1 appended in order. */
static void fill(struct rl_list *h, int n)
{
	int i;

	rl_list_init(h);
	for (i = 0; i < n; i++) {
		items[i].id = i;
		rl_list_init(&items[i].node);
		rl_list_insert_tail(h, &items[i].node);
	}
}

static struct rl_list static_list = RL_LIST_INIT(static_list);

static void test_empty(void)
{
	struct rl_list h;

	rl_list_init(&h);
	tap_ok(rl_list_empty(&h) && !rl_list_first(&h) && !rl_list_pop(&h),
	       "a new list is empty: no first entry, nothing to pop");
	tap_ok(rl_list_empty(&static_list), "RL_LIST_INIT makes an empty list");
}

static void test_fifo(void)
{
	struct rl_list h;
	struct rl_list *n;
	int i, order_ok = 1;

	fill(&h, 5);
	tap_ok(list_is(&h, "0,1,2,3,4"), "insert_tail keeps insertion order");
	for (i = 0; i < 5; i++) {
		n = rl_list_pop(&h);
		if (!n || rl_list_entry(n, struct item, node)->id != i)
			order_ok = 0;
	}
	tap_ok(order_ok && rl_list_empty(&h), "pop returns the entries first in, first out");

	rl_list_init(&h);
	for (i = 0; i < 3; i++) {
		items[i].id = i;
		rl_list_init(&items[i].node);
		rl_list_insert_head(&h, &items[i].node);
	}
	tap_ok(list_is(&h, "2,1,0"), "insert_head puts the newest first");
}

static void test_remove(void)
{
	struct rl_list h;

	fill(&h, 5);
	rl_list_remove(&items[0].node);
	tap_ok(list_is(&h, "1,2,3,4"), "removing the head entry leaves the rest in order");
	rl_list_remove(&items[2].node);
	tap_ok(list_is(&h, "1,3,4"), "removing a middle entry leaves the rest in order");
	rl_list_remove(&items[4].node);
	tap_ok(list_is(&h, "1,3"), "removing the tail entry leaves the rest in order");
	rl_list_insert_tail(&h, &items[4].node);
	tap_ok(list_is(&h, "1,3,4"),
	       "after a tail removal, insert_tail appends after the new tail");
	tap_ok(rl_list_first(&h) == &items[1].node, "first is the new head after a head removal");
}

static void test_remove_unlinked(void)
{
	struct rl_list h;

	fill(&h, 3);
	rl_list_remove(&items[1].node);
	rl_list_remove(&items[1].node);
	tap_ok(list_is(&h, "0,2"), "removing an already removed node changes nothing");

	items[3].id = 3;
	rl_list_init(&items[3].node);
	rl_list_remove(&items[3].node);
	tap_ok(list_is(&h, "0,2") && !rl_list_linked(&items[3].node),
	       "removing a never-linked (initialised) node is a no-op");
}

static void test_linked(void)
{
	struct rl_list h;

	fill(&h, 2);
	tap_ok(rl_list_linked(&items[0].node) && rl_list_linked(&items[1].node),
	       "inserted nodes are linked");
	rl_list_remove(&items[1].node);
	tap_ok(!rl_list_linked(&items[1].node) && rl_list_linked(&items[0].node),
	       "a removed node is not linked; the other still is");
	tap_ok(!rl_list_linked(rl_list_pop(&h)) && rl_list_empty(&h),
	       "a popped node is not linked and its list is empty");
}

static void test_foreach_remove(void)
{
	struct rl_list h, *n, *tmp;
	int visited = 0;

	fill(&h, 5);
	rl_list_foreach(n, tmp, &h) {
		visited++;
		if (rl_list_entry(n, struct item, node)->id % 2 == 0)
			rl_list_remove(n);
	}
	tap_ok(visited == 5 && list_is(&h, "1,3"),
	       "foreach visits every entry once while the current one is removed");

	rl_list_foreach(n, tmp, &h)
		rl_list_remove(n);
	tap_ok(rl_list_empty(&h), "foreach removing every entry empties the list");
}

static void test_foreach_entry_remove(void)
{
	struct rl_list h, *tmp;
	struct item *it;
	int sum = 0;

	fill(&h, 5);
	rl_list_foreach_entry(it, tmp, &h, struct item, node) {
		sum = sum * 10 + it->id;
		if (it->id != 2)
			rl_list_remove(&it->node);
	}
	tap_ok(sum == 1234 && list_is(&h, "2"),
	       "foreach_entry visits every element in order while the current one is removed");
	rl_list_remove(&items[2].node);
	sum = 0;
	rl_list_foreach_entry(it, tmp, &h, struct item, node)
		sum++;
	tap_ok(sum == 0, "foreach_entry over an empty list runs no iteration");
}

static void test_take(void)
{
	struct rl_list src, batch, again;

	fill(&src, 3);
	rl_list_take(&batch, &src);
	tap_ok(rl_list_empty(&src) && list_is(&batch, "0,1,2"),
	       "take moves every entry, in order, and leaves the source empty");
	items[3].id = 3;
	rl_list_init(&items[3].node);
	rl_list_insert_tail(&src, &items[3].node);
	rl_list_remove(&items[1].node);
	tap_ok(list_is(&src, "3") && list_is(&batch, "0,2"),
	       "the source and the taken batch are separate lists afterwards");
	rl_list_remove(&items[3].node);
	rl_list_take(&again, &src);
	tap_ok(rl_list_empty(&again) && rl_list_empty(&src),
	       "taking an empty list gives an empty list");
}

int main(void)
{
	test_empty();
	test_fifo();
	test_remove();
	test_remove_unlinked();
	test_linked();
	test_foreach_remove();
	test_foreach_entry_remove();
	test_take();
	return tap_done();
}
