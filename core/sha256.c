/*
 * sha256.c - SHA-256 as FIPS 180-4 specifies it (see sha256.h).
 *
 * Two compression functions share one state layout (h[0..7] = a..h): portable C, and on
 * x86-64 CPUs that have them the SHA extensions (SHA-NI), several times faster, so that
 * checksumming a file transfer costs far less than moving it over loopback TCP.  The
 * choice is made once, from CPUID, the first time anything is hashed.
 */
#include "sha256.h"

#include <stdatomic.h>
#include <string.h>

#if defined(__x86_64__)
#include <cpuid.h>
#include <immintrin.h>
#endif

/* Hashes `blocks` consecutive 64-byte blocks at p into the state h (a..h, host order). */
typedef void compress_fn(uint32_t h[8], const uint8_t *p, size_t blocks);

static const uint32_t k[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

static uint32_t ror(uint32_t x, unsigned n)
{
	return (x >> n) | (x << (32 - n));
}

static uint32_t load_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/*
 * One round.  Instead of shifting all eight working variables down a place, the caller
 * rotates which variable plays which part, so a round only writes d and h.
 */
static inline void round_step(uint32_t a, uint32_t b, uint32_t c, uint32_t *d, uint32_t e,
			      uint32_t f, uint32_t g, uint32_t *h, uint32_t kw)
{
	uint32_t t1 = *h + (ror(e, 6) ^ ror(e, 11) ^ ror(e, 25)) + (g ^ (e & (f ^ g))) + kw;
	uint32_t t2 = (ror(a, 2) ^ ror(a, 13) ^ ror(a, 22)) + ((a & b) | (c & (a | b)));

	*d += t1;
	*h = t1 + t2;
}

/* Extends the schedule in place: w holds only the last 16 words, w[i % 16] = W[i]. */
static inline void expand(uint32_t w[16], unsigned i)
{
	uint32_t w15 = w[(i - 15) & 15], w2 = w[(i - 2) & 15];

	w[i & 15] += (ror(w15, 7) ^ ror(w15, 18) ^ (w15 >> 3)) + w[(i - 7) & 15] +
		     (ror(w2, 17) ^ ror(w2, 19) ^ (w2 >> 10));
}

static void compress_portable(uint32_t st[8], const uint8_t *p, size_t blocks)
{
	for (; blocks; blocks--, p += 64) {
		uint32_t a = st[0], b = st[1], c = st[2], d = st[3];
		uint32_t e = st[4], f = st[5], g = st[6], h = st[7];
		uint32_t w[16];
		unsigned i, j;

		for (i = 0; i < 16; i++)
			w[i] = load_be32(p + 4 * i);
		for (i = 0; i < 64; i += 8) {
			if (i >= 16)
				for (j = i; j < i + 8; j++)
					expand(w, j);
			round_step(a, b, c, &d, e, f, g, &h, k[i] + w[i & 15]);
			round_step(h, a, b, &c, d, e, f, &g, k[i + 1] + w[(i + 1) & 15]);
			round_step(g, h, a, &b, c, d, e, &f, k[i + 2] + w[(i + 2) & 15]);
			round_step(f, g, h, &a, b, c, d, &e, k[i + 3] + w[(i + 3) & 15]);
			round_step(e, f, g, &h, a, b, c, &d, k[i + 4] + w[(i + 4) & 15]);
			round_step(d, e, f, &g, h, a, b, &c, k[i + 5] + w[(i + 5) & 15]);
			round_step(c, d, e, &f, g, h, a, &b, k[i + 6] + w[(i + 6) & 15]);
			round_step(b, c, d, &e, f, g, h, &a, k[i + 7] + w[(i + 7) & 15]);
		}
		st[0] += a;
		st[1] += b;
		st[2] += c;
		st[3] += d;
		st[4] += e;
		st[5] += f;
		st[6] += g;
		st[7] += h;
	}
}

#if defined(__x86_64__)
#define SHANI_TARGET __attribute__((target("sha,ssse3")))

/*
 * Four rounds.  sha256rnds2 takes the state split as {a,b,e,f} and {c,d,g,h} (a and c in
 * the top lane) and W+K for two rounds in the low half of its third operand, and returns
 * the new {a,b,e,f}; two rounds on, the old {a,b,e,f} is the new {c,d,g,h}.
 */
SHANI_TARGET static inline void rounds4(__m128i *abef, __m128i *cdgh, __m128i w, const uint32_t *kk)
{
	__m128i wk = _mm_add_epi32(w, _mm_loadu_si128((const __m128i *)kk));

	*cdgh = _mm_sha256rnds2_epu32(*cdgh, *abef, wk);
	*abef = _mm_sha256rnds2_epu32(*abef, *cdgh, _mm_shuffle_epi32(wk, 0x0e));
}

/*
 * W[t..t+3] from w0 = W[t-16..t-13] .. w3 = W[t-4..t-1].  sha256msg1 adds sigma0 of each
 * word's successor, the alignr supplies W[t-7..t-4], and sha256msg2 adds sigma1 of the word
 * two back, feeding its own first two results back in for the last two words.
 */
SHANI_TARGET static inline __m128i schedule4(__m128i w0, __m128i w1, __m128i w2, __m128i w3)
{
	__m128i t = _mm_add_epi32(_mm_sha256msg1_epu32(w0, w1), _mm_alignr_epi8(w3, w2, 4));

	return _mm_sha256msg2_epu32(t, w3);
}

SHANI_TARGET static void compress_shani(uint32_t st[8], const uint8_t *p, size_t blocks)
{
	/* Loads each big-endian word into a lane in host order. */
	const __m128i bswap = _mm_setr_epi8(3, 2, 1, 0, 7, 6, 5, 4, 11, 10, 9, 8, 15, 14, 13, 12);
	/* {a,b,c,d} and {e,f,g,h} reversed to {d,c,b,a} and {h,g,f,e}, then paired up. */
	__m128i dcba = _mm_shuffle_epi32(_mm_loadu_si128((const __m128i *)st), 0x1b);
	__m128i hgfe = _mm_shuffle_epi32(_mm_loadu_si128((const __m128i *)(st + 4)), 0x1b);
	__m128i abef = _mm_unpackhi_epi64(hgfe, dcba);
	__m128i cdgh = _mm_unpacklo_epi64(hgfe, dcba);

	for (; blocks; blocks--, p += 64) {
		__m128i abef0 = abef, cdgh0 = cdgh;
		__m128i w0 = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)p), bswap);
		__m128i w1 = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(p + 16)), bswap);
		__m128i w2 = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(p + 32)), bswap);
		__m128i w3 = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(p + 48)), bswap);
		unsigned i;

		rounds4(&abef, &cdgh, w0, k);
		rounds4(&abef, &cdgh, w1, k + 4);
		rounds4(&abef, &cdgh, w2, k + 8);
		rounds4(&abef, &cdgh, w3, k + 12);
		for (i = 16; i < 64; i += 16) {
			w0 = schedule4(w0, w1, w2, w3);
			rounds4(&abef, &cdgh, w0, k + i);
			w1 = schedule4(w1, w2, w3, w0);
			rounds4(&abef, &cdgh, w1, k + i + 4);
			w2 = schedule4(w2, w3, w0, w1);
			rounds4(&abef, &cdgh, w2, k + i + 8);
			w3 = schedule4(w3, w0, w1, w2);
			rounds4(&abef, &cdgh, w3, k + i + 12);
		}
		abef = _mm_add_epi32(abef, abef0);
		cdgh = _mm_add_epi32(cdgh, cdgh0);
	}
	dcba = _mm_unpackhi_epi64(cdgh, abef);
	hgfe = _mm_unpacklo_epi64(cdgh, abef);
	_mm_storeu_si128((__m128i *)st, _mm_shuffle_epi32(dcba, 0x1b));
	_mm_storeu_si128((__m128i *)(st + 4), _mm_shuffle_epi32(hgfe, 0x1b));
}

/* CPUID rather than __builtin_cpu_supports("sha"), which clang 14 does not know. */
static compress_fn *compress_detect(void)
{
	unsigned eax, ebx, ecx, edx;
	int ssse3, sha;

	if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx))
		return compress_portable;
	ssse3 = ecx & bit_SSSE3;
	if (!__get_cpuid_count(7, 0, &eax, &ebx, &ecx, &edx))
		return compress_portable;
	sha = ebx & bit_SHA;
	return ssse3 && sha ? compress_shani : compress_portable;
}
#else
static compress_fn *compress_detect(void)
{
	return compress_portable;
}
#endif

static atomic_bool portable_forced;

static compress_fn *compress_pick(void)
{
	static _Atomic(compress_fn *) detected;
	compress_fn *fn = atomic_load_explicit(&detected, memory_order_relaxed);

	if (!fn) {
		fn = compress_detect();
		atomic_store_explicit(&detected, fn, memory_order_relaxed);
	}
	if (atomic_load_explicit(&portable_forced, memory_order_relaxed))
		return compress_portable;
	return fn;
}

void rl_sha256_force_portable(bool on)
{
	atomic_store_explicit(&portable_forced, on, memory_order_relaxed);
}

bool rl_sha256_accelerated(void)
{
	return compress_pick() != compress_portable;
}

void rl_sha256_init(struct rl_sha256 *s)
{
	static const uint32_t iv[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
				       0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};

	memcpy(s->h, iv, sizeof(iv));
	s->len = 0;
	s->buf_len = 0;
}

void rl_sha256_update(struct rl_sha256 *s, const void *data, size_t n)
{
	compress_fn *compress = compress_pick();
	const uint8_t *p = data;

	s->len += n;
	if (s->buf_len) {
		size_t take = 64 - s->buf_len < n ? 64 - s->buf_len : n;

		memcpy(s->buf + s->buf_len, p, take);
		s->buf_len += take;
		p += take;
		n -= take;
		if (s->buf_len < 64)
			return;
		compress(s->h, s->buf, 1);
		s->buf_len = 0;
	}
	/* Whole blocks straight from the caller's buffer; only the tail is copied. */
	if (n >= 64) {
		compress(s->h, p, n / 64);
		p += n & ~(size_t)63;
		n &= 63;
	}
	memcpy(s->buf, p, n);
	s->buf_len = n;
}

void rl_sha256_final(struct rl_sha256 *s, uint8_t out[32])
{
	compress_fn *compress = compress_pick();
	uint64_t bits = s->len * 8;
	unsigned i;

	s->buf[s->buf_len++] = 0x80;
	if (s->buf_len > 56) {
		memset(s->buf + s->buf_len, 0, 64 - s->buf_len);
		compress(s->h, s->buf, 1);
		s->buf_len = 0;
	}
	memset(s->buf + s->buf_len, 0, 56 - s->buf_len);
	for (i = 0; i < 8; i++)
		s->buf[56 + i] = (uint8_t)(bits >> (56 - 8 * i));
	compress(s->h, s->buf, 1);
	for (i = 0; i < 8; i++) {
		out[4 * i] = (uint8_t)(s->h[i] >> 24);
		out[4 * i + 1] = (uint8_t)(s->h[i] >> 16);
		out[4 * i + 2] = (uint8_t)(s->h[i] >> 8);
		out[4 * i + 3] = (uint8_t)s->h[i];
	}
}

void rl_sha256_final_hex(struct rl_sha256 *s, char hex[65])
{
	static const char digits[] = "0123456789abcdef";
	uint8_t d[32];
	unsigned i;

	rl_sha256_final(s, d);
	for (i = 0; i < 32; i++) {
		hex[2 * i] = digits[d[i] >> 4];
		hex[2 * i + 1] = digits[d[i] & 15];
	}
	hex[64] = '\0';
}
