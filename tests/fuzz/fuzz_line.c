/*
 * fuzz_line.c - libFuzzer target for newline framing (servers/line.c, rl_line_next).
 *
 * For several max_line values (fixed edges and values derived from the input) it checks:
 *   - a positive result r: r <= min(len, max_line + 2), buf[r-1] == '\n' and it is the
 *     first newline, text_len <= max_line and text_len is r-1 less a "\r" before the "\n";
 *   - the result is exactly what a small model of line.h gives (success when the first
 *     line fits, -EMSGSIZE when it cannot, -EAGAIN while it still might);
 *   - -EAGAIN only when there is no newline at all and len <= max_line + 1;
 *   - every proper prefix of a line that fits gives -EAGAIN (a streamed line that will fit
 *     is never refused early);
 *   - framing a whole buffer repeatedly, as servers/chat.c does (and also skipping the
 *     overlong lines), terminates within len steps and covers the buffer in order.
 *
 * Define FUZZ_LINE_STRICT to also require -EMSGSIZE as soon as the bytes so far cannot
 * form a line of at most max_line bytes (line.h's wording); the implementation reports it
 * one byte later when len == max_line + 1.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "line.h"

#define CHECK(cond, ...)                                                                   \
	do {                                                                               \
		if (!(cond)) {                                                             \
			fprintf(stderr, "fuzz_line: check failed at line %d: %s: ", __LINE__,  \
				#cond);                                                    \
			fprintf(stderr, __VA_ARGS__);                                      \
			fputc('\n', stderr);                                               \
			abort();                                                           \
		}                                                                          \
	} while (0)

/* The model: the result line.h describes for buf[0..len). */
static long model(const uint8_t *buf, size_t len, size_t max_line, size_t *text_len)
{
	const uint8_t *nl = len ? memchr(buf, '\n', len) : NULL;

	if (nl) {
		size_t i = (size_t)(nl - buf), t = i;

		if (t && buf[t - 1] == '\r')
			t--;
		if (t <= max_line) {
			*text_len = t;
			return (long)i + 1;
		}
		return -EMSGSIZE;
	}
	return len > max_line + 1 ? -EMSGSIZE : -EAGAIN;
}

static void check_one(const uint8_t *buf, size_t len, size_t max_line)
{
	size_t tl = (size_t)-1, mtl = (size_t)-1;
	long r = rl_line_next(buf, len, max_line, &tl);
	long m = model(buf, len, max_line, &mtl);

	CHECK(r > 0 || r == -EAGAIN || r == -EMSGSIZE, "unexpected return %ld", r);
	CHECK(r == m, "r=%ld, model says %ld (len=%zu max_line=%zu)", r, m, len, max_line);
	if (r > 0) {
		size_t lim = len < max_line + 2 ? len : max_line + 2;

		CHECK((size_t)r <= lim, "consumed %ld > min(len %zu, max_line+2 %zu)", r, len,
		      max_line + 2);
		CHECK(buf[r - 1] == '\n', "buf[consumed-1] is 0x%02x", buf[r - 1]);
		CHECK(r == 1 || !memchr(buf, '\n', (size_t)r - 1), "not the first newline");
		CHECK(tl <= max_line, "text_len %zu > max_line %zu", tl, max_line);
		CHECK(tl == mtl, "text_len %zu, model %zu", tl, mtl);
		CHECK(tl == (size_t)r - 1 || (tl == (size_t)r - 2 && buf[r - 2] == '\r'),
		      "text_len %zu does not match consumed %ld", tl, r);
		/* every proper prefix of this line is incomplete, never too long */
		size_t cuts[3] = {(size_t)r - 1, (size_t)r / 2, 0};
		for (int i = 0; i < 3; i++) {
			size_t t2;
			long p = rl_line_next(buf, cuts[i], max_line, &t2);

			CHECK(p == -EAGAIN, "prefix of %zu bytes of a fitting line gives %ld",
			      cuts[i], p);
		}
		/* bytes after the newline do not matter */
		size_t t3;
		CHECK(rl_line_next(buf, (size_t)r, max_line, &t3) == r && t3 == tl,
		      "result depends on bytes after the line");
	} else if (r == -EAGAIN) {
		CHECK(!len || !memchr(buf, '\n', len), "-EAGAIN with a newline in the buffer");
		CHECK(len <= max_line + 1, "-EAGAIN with len %zu > max_line+1 %zu", len,
		      max_line + 1);
#ifdef FUZZ_LINE_STRICT
		CHECK(len <= max_line || buf[len - 1] == '\r',
		      "-EAGAIN although %zu bytes without '\\r' cannot fit max_line %zu", len,
		      max_line);
#endif
	}
}

/* Frames the whole buffer the way chat.c does, then again skipping overlong lines. */
static void check_framing(const uint8_t *buf, size_t len, size_t max_line)
{
	size_t off = 0, steps = 0, tl;
	long r;

	while ((r = rl_line_next(buf + off, len - off, max_line, &tl)) > 0) {
		CHECK((size_t)r <= len - off, "consumed past the end");
		off += (size_t)r;
		CHECK(++steps <= len, "framing does not terminate");
	}
	CHECK(r == -EAGAIN || r == -EMSGSIZE, "framing ended with %ld", r);
	if (r == -EAGAIN)
		CHECK(!memchr(buf + off, '\n', len - off), "framing stopped before a newline");

	/* A reader that drops an overlong line and resynchronises after its newline. */
	off = 0;
	steps = 0;
	while (off < len) {
		r = rl_line_next(buf + off, len - off, max_line, &tl);
		CHECK(++steps <= len + 1, "resynchronising framing does not terminate");
		if (r > 0) {
			off += (size_t)r;
		} else if (r == -EMSGSIZE) {
			const uint8_t *nl = memchr(buf + off, '\n', len - off);

			if (!nl)
				break;
			off = (size_t)(nl - buf) + 1;
		} else {
			CHECK(r == -EAGAIN, "unexpected %ld", r);
			break;
		}
	}
	CHECK(off <= len, "offset past the end");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *buf = malloc(size ? size : 1); /* exact size: ASan sees overreads */
	size_t limits[12];
	int n = 0;

	if (!buf)
		return 0;
	memcpy(buf, data, size);
	limits[n++] = 0;
	limits[n++] = 1;
	limits[n++] = 2;
	limits[n++] = 1024;
	limits[n++] = 1u << 20; /* --max-line's upper bound */
	limits[n++] = size;
	limits[n++] = size + 1;
	if (size >= 1) {
		limits[n++] = size - 1;
		limits[n++] = buf[0] % 64;
	}
	if (size >= 2) {
		limits[n++] = size - 2;
		limits[n++] = ((size_t)buf[size - 1] << 8 | buf[size - 2]) % (size + 3);
	}
	for (int i = 0; i < n; i++) {
		check_one(buf, size, limits[i]);
		check_framing(buf, size, limits[i]);
	}
	free(buf);
	return 0;
}
