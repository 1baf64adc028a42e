/*
 * test_loadgen_payload.c - the load generator's request bytes (loadgen/payload.c) against the
 * definition in payload.h, computed here one byte at a time: fill produces exactly those
 * bytes for any offset and length, check accepts them in any split, and a flipped byte is
 * reported at its exact offset whether it falls in a ragged end or in a bulk block.
 */
#include <endian.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "payload.h"
#include "tap.h"

#define G1 0x9e3779b97f4a7c15ull
#define G2 0xd1b54a32d192ed03ull
#define MAX 5000

static uint64_t ref_mix(uint64_t z)
{
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* Byte b of request i, straight from the formula in payload.h. */
static uint8_t ref_byte(uint64_t key, uint64_t i, uint64_t b)
{
	uint64_t w = ref_mix(ref_mix(key + (i + 1) * G1) + (b / 8 + 1) * G2);

	return (uint8_t)(w >> (8 * (b % 8)));	/* little-endian byte b % 8 */
}

static uint64_t rng = 0x1234567;

static uint64_t next(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

int main(void)
{
	static uint8_t buf[MAX + 16], ref[MAX + 16];
	uint64_t key = lg_payload_key(42), i, off;
	struct lg_mismatch mm;
	size_t len, x, k, step;
	int t, bad_fill = 0, bad_check = 0, bad_split = 0, bad_mm = 0, missed = 0;

	tap_ok(key == ref_mix(42 + G1), "the key is mix(seed + G1)");
	for (t = 0; t < 400; t++) {
		i = next() % 1000;
		off = next() % 100000;
		len = (size_t)(next() % MAX);
		if (t % 4 == 0)
			off &= ~7ull;	/* word-aligned starts too */
		for (k = 0; k < len; k++)
			ref[k] = ref_byte(key, i, off + k);
		memset(buf, 0xa5, sizeof(buf));
		if (lg_payload_fill(key, i, off, buf, len) != len || memcmp(buf, ref, len) ||
		    buf[len] != 0xa5)
			bad_fill++;
		if (lg_payload_check(key, i, off, ref, len, &mm))
			bad_check++;
		/* the same bytes checked in pieces of a random size */
		step = 1 + (size_t)(next() % 700);
		for (k = 0; k < len; k += step)
			if (lg_payload_check(key, i, off + k, ref + k, len - k < step ? len - k : step,
					     &mm))
				bad_split++;
		if (len == 0)
			continue;
		x = (size_t)(next() % len);
		ref[x] ^= (uint8_t)(1u << (next() % 8));
		if (lg_payload_check(key, i, off, ref, len, &mm) != -EBADMSG)
			missed++;
		else if (mm.offset != off + x || mm.got != ref[x] ||
			 mm.expected != ref_byte(key, i, off + x))
			bad_mm++;
	}
	tap_ok(!bad_fill, "fill writes exactly the defined bytes, nothing past len (%d bad)",
	       bad_fill);
	tap_ok(!bad_check, "check accepts the defined bytes (%d rejected)", bad_check);
	tap_ok(!bad_split, "check accepts them in any split (%d rejected)", bad_split);
	tap_ok(!missed, "a flipped bit anywhere is caught (%d missed)", missed);
	tap_ok(!bad_mm, "and reported at its offset with both bytes (%d wrong)", bad_mm);

	/* another request's bytes, and another connection's, are not this request's */
	lg_payload_fill(key, 7, 0, buf, 4096);
	tap_ok(lg_payload_check(key, 8, 0, buf, 4096, &mm) == -EBADMSG,
	       "request 7's bytes fail as request 8");
	tap_ok(lg_payload_check(lg_payload_key(43), 7, 0, buf, 4096, &mm) == -EBADMSG,
	       "and fail under another connection's key");
	/* a difference in the last word of a bulk block, and in the first */
	lg_payload_fill(key, 3, 0, buf, 4096);
	buf[255] ^= 1;
	t = lg_payload_check(key, 3, 0, buf, 4096, &mm);
	tap_ok(t == -EBADMSG && mm.offset == 255,
	       "the last byte of a block is caught at 255 (got %llu)",
	       (unsigned long long)mm.offset);
	buf[255] ^= 1;
	buf[256] ^= 0x80;
	t = lg_payload_check(key, 3, 0, buf, 4096, &mm);
	tap_ok(t == -EBADMSG && mm.offset == 256,
	       "the first byte of the next is caught at 256 (got %llu)",
	       (unsigned long long)mm.offset);
	return tap_done();
}
