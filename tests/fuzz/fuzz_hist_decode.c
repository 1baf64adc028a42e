/*
 * fuzz_hist_decode.c - libFuzzer target for the HdrHistogram decoder (core/hist_log.c,
 * rl_hist_decode) and its round trip through rl_hist_encode.
 *
 * Every input is decoded three ways:
 *   1. as base64 text, exactly as given (NUL-terminated copy): what a .hlog reader sees;
 *   2. as the raw V2 encoding (header + varint payload), wrapped by this target in a valid
 *      zlib envelope and base64, so the header and varint decoding are reached although
 *      random text almost never survives zlib's checksum;
 *   3. like 2, with the cookie and payload length fixed up to match the input (inputs of
 *      at least 40 bytes), which reaches the counts decoder far more often.
 * Checked: rl_hist_decode returns 0, -EBADMSG or -ENOMEM; on success the layout is sane,
 * total is the sum of the counts, min/max are consistent, and rl_hist_encode followed by
 * rl_hist_decode gives an identical layout and identical counts, and encoding that again
 * gives the same text.  rl_hist_free is always called (LeakSanitizer checks the rest).
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "hist.h"
#include "hist_log.h"

#define CHECK(cond, ...)                                                                   \
	do {                                                                               \
		if (!(cond)) {                                                             \
			fprintf(stderr, "fuzz_hist_decode: check failed at line %d: %s: ",  \
				__LINE__, #cond);                                          \
			fprintf(stderr, __VA_ARGS__);                                      \
			fputc('\n', stderr);                                               \
			abort();                                                           \
		}                                                                          \
	} while (0)

#define FUZZ_MAX_INPUT (64 * 1024)

static char *b64(const uint8_t *src, size_t len)
{
	static const char al[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	char *dst = malloc(4 * ((len + 2) / 3) + 1), *o = dst;

	if (!dst)
		return NULL;
	for (size_t i = 0; i < len; i += 3) {
		uint32_t t = (uint32_t)src[i] << 16 | (i + 1 < len ? (uint32_t)src[i + 1] << 8 : 0) |
			     (i + 2 < len ? src[i + 2] : 0);

		*o++ = al[t >> 18 & 63];
		*o++ = al[t >> 12 & 63];
		*o++ = i + 1 < len ? al[t >> 6 & 63] : '=';
		*o++ = i + 2 < len ? al[t & 63] : '=';
	}
	*o = '\0';
	return dst;
}

static void put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/* The compressed envelope around raw[0..len), in base64. */
static char *wrap(const uint8_t *raw, size_t len)
{
	uLongf zlen = compressBound((uLong)len);
	uint8_t *env = malloc(8 + zlen);
	char *s;

	if (!env)
		return NULL;
	if (compress2(env + 8, &zlen, raw, (uLong)len, Z_DEFAULT_COMPRESSION) != Z_OK) {
		free(env);
		return NULL;
	}
	put_be32(env, 0x1c849314u);
	put_be32(env + 4, (uint32_t)zlen);
	s = b64(env, 8 + zlen);
	free(env);
	return s;
}

static void check_layout(const struct rl_hist *h)
{
	uint64_t sum = 0;
	int32_t first = -1, last = -1;

	CHECK(h->counts && h->counts_len > 0, "decoded histogram has no counts");
	CHECK(h->lowest >= 1 && h->highest >= 2 * h->lowest && h->sigfigs >= 1 && h->sigfigs <= 5,
	      "layout lowest=%lld highest=%lld sigfigs=%d", (long long)h->lowest,
	      (long long)h->highest, h->sigfigs);
	for (int32_t i = 0; i < h->counts_len; i++) {
		CHECK(!__builtin_add_overflow(sum, h->counts[i], &sum), "counts overflow");
		if (h->counts[i]) {
			if (first < 0)
				first = i;
			last = i;
		}
	}
	CHECK(sum == h->total, "total %llu, counts sum to %llu", (unsigned long long)h->total,
	      (unsigned long long)sum);
	if (first < 0) {
		CHECK(h->min == INT64_MAX && h->max == 0, "empty histogram with min/max set");
	} else {
		CHECK(h->min == rl_hist_value_of_index(h, first) &&
			  h->max == rl_hist_value_of_index(h, last) && h->min <= h->max,
		      "min %lld / max %lld do not match the counts", (long long)h->min,
		      (long long)h->max);
	}
}

static void decode_and_check(const char *text)
{
	struct rl_hist h, h2, h3;
	char *enc = NULL, *enc2 = NULL;
	int rc, n, n2;

	memset(&h, 0x5a, sizeof(h));
	rc = rl_hist_decode(text, &h);
	CHECK(rc == 0 || rc == -EBADMSG || rc == -ENOMEM, "rl_hist_decode = %d", rc);
	if (rc != 0) {
		rl_hist_free(&h); /* documented as safe after a failed decode */
		return;
	}
	check_layout(&h);

	n = rl_hist_encode(&h, &enc);
	CHECK(n > 0 && enc && strlen(enc) == (size_t)n, "rl_hist_encode = %d", n);
	rc = rl_hist_decode(enc, &h2);
	CHECK(rc == 0, "re-decoding our own encoding gives %d", rc);
	CHECK(h2.lowest == h.lowest && h2.highest == h.highest && h2.sigfigs == h.sigfigs &&
		  h2.counts_len == h.counts_len && h2.unit_magnitude == h.unit_magnitude &&
		  h2.sub_bucket_count == h.sub_bucket_count && h2.bucket_count == h.bucket_count,
	      "layout changed in the round trip");
	CHECK(memcmp(h2.counts, h.counts, (size_t)h.counts_len * sizeof(*h.counts)) == 0,
	      "counts changed in the round trip");
	CHECK(h2.total == h.total && h2.min == h.min && h2.max == h.max,
	      "total/min/max changed in the round trip");
	n2 = rl_hist_encode(&h2, &enc2);
	CHECK(n2 == n && strcmp(enc, enc2) == 0, "encoding is not stable");

	/* The header alone determines the layout. */
	CHECK(rl_hist_init(&h3, h.lowest, h.highest, h.sigfigs) == 0, "rl_hist_init failed");
	CHECK(h3.counts_len == h.counts_len, "rl_hist_init gives another layout");
	rl_hist_free(&h3);

	free(enc);
	free(enc2);
	rl_hist_free(&h2);
	rl_hist_free(&h);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text;

	if (size > FUZZ_MAX_INPUT)
		return -1;

	/* 1. the input as base64 text */
	text = malloc(size + 1);
	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	decode_and_check(text);
	free(text);

	/* 2. the input as the raw V2 encoding, in a valid envelope */
	text = wrap(data, size);
	if (text) {
		decode_and_check(text);
		free(text);
	}

	/* 3. the same with the cookie and payload length made to match */
	if (size >= 40) {
		uint8_t *raw = malloc(size);

		if (raw) {
			memcpy(raw, data, size);
			put_be32(raw, 0x1c849313u);
			put_be32(raw + 4, (uint32_t)(size - 40));
			text = wrap(raw, size);
			free(raw);
			if (text) {
				decode_and_check(text);
				free(text);
			}
		}
	}
	return 0;
}
