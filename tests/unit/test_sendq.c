/*
 * test_sendq.c - the ordered send queue: bytes come out in order, whatever the mix of
 * copies, shared chunks and short sends; references are released exactly once.
 */
#include <stdlib.h>
#include <string.h>

#include "sendq.h"
#include "tap.h"

/* Drains q into out by "sending" at most `step` bytes at a time (short sends). */
static size_t drain(struct rl_sendq *q, uint8_t *out, size_t step)
{
	struct iovec iov[4];
	size_t got = 0;

	while (rl_sendq_bytes(q)) {
		int n = rl_sendq_iov(q, iov, 4), i;
		size_t take = 0;

		for (i = 0; i < n && take < step; i++) {
			size_t part = iov[i].iov_len;

			if (part > step - take)
				part = step - take;
			memcpy(out + got + take, iov[i].iov_base, part);
			take += part;
		}
		rl_sendq_consume(q, take);
		got += take;
	}
	return got;
}

int main(void)
{
	struct rl_sendq q;
	struct rl_chunk *shared;
	uint8_t *in, *out;
	size_t total = 0, i, got;
	int ok;

	in = malloc(1 << 20);
	out = malloc(1 << 20);
	for (i = 0; i < (1 << 20); i++)
		in[i] = (uint8_t)(i * 131 + 7);

	rl_sendq_init(&q);
	tap_ok(rl_sendq_bytes(&q) == 0, "a new queue is empty");
	tap_ok(rl_sendq_iov(&q, NULL, 0) == 0, "an empty queue yields no iovecs");

	/* Many small appends coalesce into one chunk. */
	for (i = 0; i < 100; i++) {
		rl_sendq_append(&q, in + total, 64);
		total += 64;
	}
	tap_ok(rl_sendq_bytes(&q) == 6400, "100 appends of 64 B queue 6400 B");
	tap_ok(q.count == 1, "small appends share one chunk (count %u)", q.count);
	got = drain(&q, out, 1000);
	tap_ok(got == 6400 && !memcmp(in, out, 6400),
	       "short sends of 1000 B return the bytes in order");

	/* A large append bigger than a chunk. */
	rl_sendq_append(&q, in, 1 << 20);
	got = drain(&q, out, 7777);
	tap_ok(got == (1 << 20) && !memcmp(in, out, 1 << 20),
	       "a 1 MiB append drains intact through 7777-byte short sends");

	/* Interleave copies and a shared chunk referenced twice. */
	shared = rl_chunk_new(100);
	memcpy(shared->data, in + 5000, 100);
	shared->len = 100;
	rl_sendq_append(&q, in, 10);
	rl_sendq_append_chunk(&q, shared, 0, 100);
	rl_sendq_append(&q, in + 10, 10);
	rl_sendq_append_chunk(&q, shared, 50, 50);
	tap_ok(shared->refs == 3, "a shared chunk gains one reference per queue entry (%u)",
	       shared->refs);
	tap_ok(rl_sendq_bytes(&q) == 170, "mixed appends queue 170 B");
	got = drain(&q, out, 3);
	ok = got == 170 && !memcmp(out, in, 10) && !memcmp(out + 10, in + 5000, 100) &&
	     !memcmp(out + 110, in + 10, 10) && !memcmp(out + 120, in + 5050, 50);
	tap_ok(ok, "copies and shared chunks come out in append order");
	tap_ok(shared->refs == 1, "consuming releases the queue's references (%u)", shared->refs);

	/* Appending after a shared chunk must not write into it. */
	rl_sendq_append_chunk(&q, shared, 0, 100);
	rl_sendq_append(&q, "xyz", 3);
	tap_ok(shared->len == 100 && q.count == 2, "an append never extends a shared chunk");
	rl_sendq_clear(&q);
	tap_ok(shared->refs == 1 && rl_sendq_bytes(&q) == 0, "clear drops queued references");
	rl_chunk_unref(shared);

	/* Partial consume inside an entry keeps the iovec pointing at the rest. */
	rl_sendq_append(&q, in, 100);
	rl_sendq_consume(&q, 40);
	{
		struct iovec iov[2];
		int n = rl_sendq_iov(&q, iov, 2);

		tap_ok(n == 1 && iov[0].iov_len == 60 && !memcmp(iov[0].iov_base, in + 40, 60),
		       "a short send leaves the unsent tail at the head");
	}
	rl_sendq_clear(&q);

	/* The ring of entries grows past its initial capacity and wraps. */
	shared = rl_chunk_new(16);
	memcpy(shared->data, "0123456789abcdef", 16);
	shared->len = 16;
	for (i = 0; i < 1000; i++) {
		rl_sendq_append_chunk(&q, shared, (uint32_t)(i % 16), 1);
		if (i % 3 == 0)
			rl_sendq_consume(&q, 1);
	}
	got = drain(&q, out, 5);
	tap_ok(got == 1000 - 334 && shared->refs == 1,
	       "1000 one-byte entries with interleaved consumes drain fully (%zu)", got);
	rl_sendq_clear(&q);
	rl_chunk_unref(shared);

	free(in);
	free(out);
	return tap_done();
}
