/*
 * test_loadgen_echo.c - the echo client protocol: a request produced in any pieces is the
 * same bytes; its reply verifies in any split; a flipped byte, another request's reply or
 * another connection's reply is caught at the right offset.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "lg_proto.h"
#include "tap.h"

#define SIZE 1000

static const struct lg_proto *P = &lg_proto_echo;

static void conn(void *st, uint64_t seed)
{
	struct lg_proto_params p = {.size = SIZE, .connections = 2, .pipeline = 1};

	memset(st, 0, P->conn_state_size);
	P->conn_init(st, &p, seed);
}

/* Produces request i in pieces of `step` bytes. */
static void produce(void *st, uint64_t i, uint8_t *out, size_t step)
{
	uint64_t off;

	for (off = 0; off < SIZE; off += step) {
		size_t n = SIZE - off < step ? SIZE - off : step;

		P->request_produce(st, i, off, out + off, n);
	}
}

/* Verifies a reply fed in pieces of `step` bytes; returns 0, or the mismatch offset + 1. */
static long verify(void *st, uint64_t i, const uint8_t *reply, size_t step, int *done_at_end)
{
	struct lg_mismatch mm;
	uint64_t off = 0;
	bool done = false;
	long k;

	while (off < SIZE) {
		size_t n = SIZE - off < step ? SIZE - off : step;

		k = P->reply_verify(st, i, off, reply + off, n, &done, &mm);
		if (k < 0)
			return (long)mm.offset + 1;
		off += (uint64_t)k;
		if (done && off != SIZE)
			return -1;
	}
	*done_at_end = done;
	return 0;
}

int main(void)
{
	_Alignas(16) uint8_t a[64], b[64];
	uint8_t whole[SIZE], pieces[SIZE], other[SIZE], mixed[SIZE + 10];
	static const size_t steps[] = {1, 3, 7, 8, 13, 64, 999, 1000};
	struct lg_mismatch mm;
	bool done;
	size_t s;
	int fin = 0, same = 0, i;
	long r;

	tap_ok(P->conn_state_size <= sizeof(a), "state fits the test buffer");
	conn(a, 1);
	conn(b, 2);
	produce(a, 5, whole, SIZE);
	for (s = 0; s < sizeof(steps) / sizeof(steps[0]); s++) {
		produce(a, 5, pieces, steps[s]);
		same += !memcmp(whole, pieces, SIZE);
	}
	tap_ok(same == 8, "a request produced in any pieces is the same bytes");
	for (s = 0, same = 0; s < sizeof(steps) / sizeof(steps[0]); s++)
		same += verify(a, 5, whole, steps[s], &fin) == 0 && fin;
	tap_ok(same == 8, "its reply verifies in any split and completes at the last byte");

	produce(a, 6, other, SIZE);
	tap_ok(memcmp(whole, other, SIZE) != 0, "consecutive requests carry different bytes");
	tap_ok(verify(a, 6, whole, 64, &fin) > 0, "request 5's reply is refused as request 6's");
	produce(b, 5, other, SIZE);
	tap_ok(memcmp(whole, other, SIZE) != 0, "two connections send different bytes");
	tap_ok(verify(b, 5, whole, 64, &fin) > 0, "another connection's reply is refused");

	for (i = 0; i < 3; i++) {
		static const size_t at[] = {0, 517, SIZE - 1};

		memcpy(pieces, whole, SIZE);
		pieces[at[i]] ^= 0x40;
		r = verify(a, 5, pieces, 13, &fin);
		tap_ok(r == (long)at[i] + 1, "a flipped byte at %zu is reported at offset %ld",
		       at[i], r - 1);
	}
	memcpy(pieces, whole, SIZE);
	pieces[300] ^= 0x01;
	done = false;
	r = P->reply_verify(a, 5, 296, pieces + 296, 10, &done, &mm);
	tap_ok(r == -EBADMSG && mm.offset == 300 && mm.got == (whole[300] ^ 1) &&
		   mm.expected == whole[300],
	       "mismatch names the byte, what came and what was expected");

	/* The tail of reply 5 followed by the head of reply 6 in one read. */
	produce(a, 6, other, SIZE);
	memcpy(mixed, whole + SIZE - 10, 10);
	memcpy(mixed + 10, other, SIZE);
	done = false;
	r = P->reply_verify(a, 5, SIZE - 10, mixed, sizeof(mixed), &done, &mm);
	tap_ok(r == 10 && done, "a read spanning two replies: the first takes only its 10 bytes");
	done = false;
	r = P->reply_verify(a, 6, 0, mixed + 10, SIZE, &done, &mm);
	tap_ok(r == SIZE && done, "and the rest is the next reply, complete");
	tap_ok(P->request_len(a, 123) == SIZE, "every request is --size bytes");
	P->conn_fini(a);
	P->conn_fini(b);
	return tap_done();
}
