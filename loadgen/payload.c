/*
 * payload.c - the request bytes of the echo and udp client protocols (see payload.h for
 * the definition).  Whole aligned words are written and compared 8 bytes at a time; the
 * ragged ends byte by byte.
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

size_t lg_payload_fill(uint64_t key, uint64_t i, uint64_t off, uint8_t *buf, size_t len)
{
	uint64_t base = mix(key + (i + 1) * G1), j = off / 8, w;
	size_t skip = (size_t)(off % 8), left = len, take;

	while (left) {
		w = word(base, j++);
		take = 8 - skip < left ? 8 - skip : left;
		memcpy(buf, (const uint8_t *)&w + skip, take);
		buf += take;
		left -= take;
		skip = 0;
	}
	return len;
}

int lg_payload_check(uint64_t key, uint64_t i, uint64_t off, const uint8_t *p, size_t n,
		     struct lg_mismatch *mm)
{
	uint64_t base = mix(key + (i + 1) * G1), j = off / 8, w, at = off;
	size_t skip = (size_t)(off % 8), left = n, take, b;

	while (left) {
		w = word(base, j++);
		take = 8 - skip < left ? 8 - skip : left;
		/* A constant 8 lets the compiler compare whole words in one go. */
		if (take == 8 ? memcmp(p, &w, 8) != 0
			      : memcmp(p, (const uint8_t *)&w + skip, take) != 0) {
			const uint8_t *want = (const uint8_t *)&w + skip;

			for (b = 0; b + 1 < take && p[b] == want[b]; b++)
				;
			mm->offset = at + b;
			mm->expected = want[b];
			mm->got = p[b];
			return -EBADMSG;
		}
		p += take;
		at += take;
		left -= take;
		skip = 0;
	}
	return 0;
}
