/*
 * payload.c - the request bytes of the echo, udp and file client protocols (see payload.h
 * for the definition).  Whole aligned words are written and compared a block at a time;
 * the ragged ends byte by byte.
 */
#include <endian.h>
#include <errno.h>
#include <string.h>

#include "payload.h"

#define G1 0x9e3779b97f4a7c15ull
#define G2 0xd1b54a32d192ed03ull

static inline uint64_t mix(uint64_t z)
{
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* Word j of the request whose base is `base`, in little-endian byte order in memory. */
static inline uint64_t word(uint64_t base, uint64_t j)
{
	return htole64(mix(base + (j + 1) * G2));
}

uint64_t lg_payload_key(uint64_t seed)
{
	return mix(seed + G1);
}

/*
 * The bulk of a request is whole words at word-aligned offsets: BLOCK of them are produced
 * or compared per pass with no branch inside, so the compiler keeps several words' mixes in
 * flight at once (they are independent).  Only the ragged ends, and a block that differs,
 * take the byte-exact path.  A 1 GiB download is checked at several GB/s this way; a
 * word-at-a-time loop with an early exit per word ran at about a third of that.
 */
#define BLOCK 32

/* Bytes [off, off + len) of one request, byte-exact, for the ragged ends. */
static void fill_bytes(uint64_t base, uint64_t off, uint8_t *buf, size_t len)
{
	uint64_t j = off / 8, w;
	size_t skip = (size_t)(off % 8), take;

	while (len) {
		w = word(base, j++);
		take = 8 - skip < len ? 8 - skip : len;
		memcpy(buf, (const uint8_t *)&w + skip, take);
		buf += take;
		len -= take;
		skip = 0;
	}
}

/* Compares p[0..n) with bytes [off, off + n) byte by byte; fills *mm at the first
 * difference.  Returns 0 or -EBADMSG. */
static int check_bytes(uint64_t base, uint64_t off, const uint8_t *p, size_t n,
		       struct lg_mismatch *mm)
{
	uint64_t j = off / 8, w;
	size_t skip = (size_t)(off % 8), take, b;

	while (n) {
		w = word(base, j++);
		take = 8 - skip < n ? 8 - skip : n;
		for (b = 0; b < take; b++) {
			uint8_t want = ((const uint8_t *)&w)[skip + b];

			if (p[b] != want) {
				mm->offset = off + b;
				mm->expected = want;
				mm->got = p[b];
				return -EBADMSG;
			}
		}
		p += take;
		off += take;
		n -= take;
		skip = 0;
	}
	return 0;
}

/* Bytes up to the next word boundary of the request (at most len). */
static size_t head_len(uint64_t off, size_t len)
{
	size_t h = (size_t)((8 - off % 8) % 8);

	return h < len ? h : len;
}

size_t lg_payload_fill(uint64_t key, uint64_t i, uint64_t off, uint8_t *buf, size_t len)
{
	uint64_t base = mix(key + (i + 1) * G1), w[BLOCK];
	size_t h = head_len(off, len), left = len - h, k;

	fill_bytes(base, off, buf, h);
	buf += h;
	off += h;
	while (left >= sizeof(w)) {
		for (k = 0; k < BLOCK; k++)
			w[k] = word(base, off / 8 + k);
		memcpy(buf, w, sizeof(w));
		buf += sizeof(w);
		off += sizeof(w);
		left -= sizeof(w);
	}
	fill_bytes(base, off, buf, left);
	return len;
}

int lg_payload_check(uint64_t key, uint64_t i, uint64_t off, const uint8_t *p, size_t n,
		     struct lg_mismatch *mm)
{
	uint64_t base = mix(key + (i + 1) * G1), got, diff;
	size_t h = head_len(off, n), left = n - h, k;

	if (check_bytes(base, off, p, h, mm))
		return -EBADMSG;
	p += h;
	off += h;
	while (left >= BLOCK * 8) {
		diff = 0;
		for (k = 0; k < BLOCK; k++) {
			memcpy(&got, p + 8 * k, 8);
			diff |= got ^ word(base, off / 8 + k);
		}
		if (diff)	/* somewhere in this block: find the byte */
			return check_bytes(base, off, p, BLOCK * 8, mm);
		p += BLOCK * 8;
		off += BLOCK * 8;
		left -= BLOCK * 8;
	}
	return check_bytes(base, off, p, left, mm);
}
