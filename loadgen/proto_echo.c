/*
 * proto_echo.c - the echo client protocol: send --size pseudo-random bytes per request,
 * expect exactly those bytes back.
 *
 * Payloads: every connection draws a random 64-bit key from its seed; request i's bytes
 * are the little stream word(i, 0), word(i, 1), ... with
 *     base(i)    = mix(key + (i + 1) * G1)
 *     word(i, j) = mix(base(i) + (j + 1) * G2)        (8 bytes each, host byte order)
 * where mix is the SplitMix64 finaliser.  So bytes differ between connections and between
 * requests of one connection, never repeat in a cycle, and any byte of any request can be
 * computed on its own.  That last property is what makes checking cheap: a reply is
 * verified in place, piece by piece as it arrives (any offset, any split), by recomputing
 * the expected words; nothing is stored, copied or fetched from memory.  (A stored random
 * pattern per connection works too, but with thousands of connections every slice of it
 * is a cache miss: two per request, more than the generator costs.)
 *
 * A reply that belongs to another connection or request, or has one flipped bit, fails at
 * the first wrong byte.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "lg_proto.h"

#define SIZE_MAX_ECHO (64ull * 1024 * 1024)
#define G1	      0x9e3779b97f4a7c15ull
#define G2	      0xd1b54a32d192ed03ull

struct echo_state {
	uint64_t key;
	uint64_t size;
};

static inline uint64_t mix(uint64_t z)
{
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static inline uint64_t req_base(const struct echo_state *e, uint64_t i)
{
	return mix(e->key + (i + 1) * G1);
}

static inline uint64_t word(uint64_t base, uint64_t j)
{
	return mix(base + (j + 1) * G2);
}

static int echo_check(const struct lg_proto_params *p, char *why, size_t len)
{
	if (p->size < 1 || p->size > SIZE_MAX_ECHO) {
		snprintf(why, len, "echo needs --size between 1 B and 64 MiB");
		return -EINVAL;
	}
	return 0;
}

static int echo_conn_init(void *st, const struct lg_proto_params *p, uint64_t seed)
{
	struct echo_state *e = st;

	e->key = mix(seed + G1);
	e->size = p->size;
	return 0;
}

static void echo_conn_fini(void *st)
{
	(void)st;
}

static uint64_t echo_request_len(const void *st, uint64_t i)
{
	const struct echo_state *e = st;

	(void)i;
	return e->size;
}

static size_t echo_request_produce(const void *st, uint64_t i, uint64_t off, uint8_t *buf,
				   size_t len)
{
	uint64_t base = req_base(st, i), j = off / 8, w;
	size_t skip = (size_t)(off % 8), left = len, take;

	while (left) {
		w = word(base, j++);
		if (!skip && left >= 8) {
			memcpy(buf, &w, 8);
			buf += 8;
			left -= 8;
			continue;
		}
		take = 8 - skip < left ? 8 - skip : left;
		memcpy(buf, (const uint8_t *)&w + skip, take);
		buf += take;
		left -= take;
		skip = 0;
	}
	return len;
}

/* Fills *mm with the first differing byte of the k <= 8 bytes at p vs want. */
static void locate(const uint8_t *p, const uint8_t *want, size_t k, uint64_t at,
		   struct lg_mismatch *mm)
{
	size_t b;

	for (b = 0; b + 1 < k && p[b] == want[b]; b++)
		;
	mm->offset = at + b;
	mm->expected = want[b];
	mm->got = p[b];
}

static long echo_reply_verify(void *st, uint64_t i, uint64_t off, const uint8_t *p, size_t n,
			      bool *done, struct lg_mismatch *mm)
{
	const struct echo_state *e = st;
	uint64_t base = req_base(e, i), j = off / 8, w, got, at = off;
	size_t k = (size_t)(e->size - off), skip = (size_t)(off % 8), left, take;

	if (n < k)
		k = n;
	left = k;
	while (left) {
		w = word(base, j++);
		if (!skip && left >= 8) {
			memcpy(&got, p, 8);
			if (got != w) {
				locate(p, (const uint8_t *)&w, 8, at, mm);
				return -EBADMSG;
			}
			p += 8;
			at += 8;
			left -= 8;
			continue;
		}
		take = 8 - skip < left ? 8 - skip : left;
		if (memcmp(p, (const uint8_t *)&w + skip, take) != 0) {
			locate(p, (const uint8_t *)&w + skip, take, at, mm);
			return -EBADMSG;
		}
		p += take;
		at += take;
		left -= take;
		skip = 0;
	}
	*done = off + k == e->size;
	return (long)k;
}

const struct lg_proto lg_proto_echo = {
    .name = "echo",
    .summary = "send --size pseudo-random bytes per request, expect the same bytes back",
    .conn_state_size = sizeof(struct echo_state),
    .check = echo_check,
    .conn_init = echo_conn_init,
    .conn_fini = echo_conn_fini,
    .request_len = echo_request_len,
    .request_produce = echo_request_produce,
    .reply_verify = echo_reply_verify,
};
