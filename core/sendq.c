/*
 * sendq.c - the ordered per-connection send queue (see sendq.h).
 *
 * Appends go into the tail chunk when this queue owns it alone and the tail entry ends
 * exactly at the chunk's fill mark; otherwise a new chunk is started.  Because data in a
 * chunk is only ever appended after its fill mark, iovecs handed to the kernel for an
 * in-flight send never see their bytes change.
 */
#include "sendq.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct rl_chunk *rl_chunk_new(size_t cap)
{
	struct rl_chunk *c;

	if (cap > UINT32_MAX)
		return NULL;
	c = malloc(sizeof(*c) + cap);
	if (!c)
		return NULL;
	c->refs = 1;
	c->cap = (uint32_t)cap;
	c->len = 0;
	return c;
}

void rl_chunk_unref(struct rl_chunk *c)
{
	if (--c->refs == 0)
		free(c);
}

void rl_sendq_init(struct rl_sendq *q)
{
	memset(q, 0, sizeof(*q));
}

void rl_sendq_clear(struct rl_sendq *q)
{
	while (q->count) {
		rl_chunk_unref(q->ents[q->head].chunk);
		q->head = (q->head + 1) & (q->cap - 1);
		q->count--;
	}
	free(q->ents);
	if (q->spare)
		rl_chunk_unref(q->spare);
	memset(q, 0, sizeof(*q));
}

static int sendq_grow(struct rl_sendq *q)
{
	uint32_t ncap = q->cap ? q->cap * 2 : 4;
	struct rl_sendq_ent *n = malloc(sizeof(*n) * ncap);
	uint32_t i;

	if (!n)
		return -ENOMEM;
	for (i = 0; i < q->count; i++)
		n[i] = q->ents[(q->head + i) & (q->cap - 1)];
	free(q->ents);
	q->ents = n;
	q->cap = ncap;
	q->head = 0;
	return 0;
}

static struct rl_sendq_ent *sendq_tail(struct rl_sendq *q)
{
	if (!q->count)
		return NULL;
	return &q->ents[(q->head + q->count - 1) & (q->cap - 1)];
}

static int sendq_push(struct rl_sendq *q, struct rl_chunk *c, uint32_t off, uint32_t len)
{
	struct rl_sendq_ent *e;
	int ret;

	if (q->count == q->cap) {
		ret = sendq_grow(q);
		if (ret)
			return ret;
	}
	e = &q->ents[(q->head + q->count) & (q->cap - 1)];
	e->chunk = c;
	e->off = off;
	e->len = len;
	q->count++;
	q->bytes += len;
	return 0;
}

int rl_sendq_append(struct rl_sendq *q, const void *p, size_t n)
{
	const uint8_t *src = p;

	while (n) {
		struct rl_sendq_ent *t = sendq_tail(q);
		struct rl_chunk *c;
		size_t room, take;

		if (t && t->chunk->refs == 1 && t->off + t->len == t->chunk->len &&
		    t->chunk->len < t->chunk->cap) {
			c = t->chunk;
			room = c->cap - c->len;
			take = n < room ? n : room;
			memcpy(c->data + c->len, src, take);
			c->len += (uint32_t)take;
			t->len += (uint32_t)take;
			q->bytes += take;
		} else {
			if (q->spare && n <= q->spare->cap) {
				c = q->spare;
				q->spare = NULL;
				c->len = 0;
			} else {
				c = rl_chunk_new(n > RL_SENDQ_CHUNK ? n : RL_SENDQ_CHUNK);
				if (!c)
					return -ENOMEM;
			}
			take = n;
			memcpy(c->data, src, take);
			c->len = (uint32_t)take;
			if (sendq_push(q, c, 0, (uint32_t)take)) {
				rl_chunk_unref(c);
				return -ENOMEM;
			}
		}
		src += take;
		n -= take;
	}
	return 0;
}

int rl_sendq_append_chunk(struct rl_sendq *q, struct rl_chunk *c, uint32_t off, uint32_t len)
{
	int ret;

	if (!len)
		return 0;
	ret = sendq_push(q, rl_chunk_ref(c), off, len);
	if (ret)
		rl_chunk_unref(c);
	return ret;
}

int rl_sendq_iov(const struct rl_sendq *q, struct iovec *iov, int max)
{
	int n = 0;

	while (n < max && (uint32_t)n < q->count) {
		const struct rl_sendq_ent *e = &q->ents[(q->head + (uint32_t)n) & (q->cap - 1)];

		iov[n].iov_base = e->chunk->data + e->off;
		iov[n].iov_len = e->len;
		n++;
	}
	return n;
}

void rl_sendq_consume(struct rl_sendq *q, size_t n)
{
	q->bytes -= n;
	while (n) {
		struct rl_sendq_ent *e = &q->ents[q->head];

		if (n < e->len) {
			e->off += (uint32_t)n;
			e->len -= (uint32_t)n;
			return;
		}
		n -= e->len;
		if (e->chunk->refs == 1 && !q->spare && e->chunk->cap == RL_SENDQ_CHUNK &&
		    q->count == 1) {
			/* The queue is now empty: keep the chunk to avoid a malloc per reply. */
			q->spare = e->chunk;
		} else {
			rl_chunk_unref(e->chunk);
		}
		q->head = (q->head + 1) & (q->cap - 1);
		q->count--;
	}
}
