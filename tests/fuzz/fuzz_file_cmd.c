/*
 * fuzz_file_cmd.c - libFuzzer target for the file protocol's command parser and file-name
 * rules (servers/file_cmd.c).
 *
 * The input is parsed as it is, at several max_line values (some fixed, some derived from
 * the input), and every result is checked against the contract in file_cmd.h and against
 * a small independent model of the grammar:
 *   - a positive result r: r <= len, r <= max_line, buf[r-1] is the first '\n', the line
 *     (without "\n" or "\r\n") is exactly "PUT NAME SIZE", "GET NAME", "DEL NAME" or
 *     "LIST", the name lies inside the line and passes rl_filename_check, and the same
 *     command comes back for any larger max_line;
 *   - -EAGAIN / -EMSGSIZE: no '\n' in the first min(len, max_line) bytes, and
 *     len < max_line / len >= max_line respectively;
 *   - -EBADMSG / -EINVAL: there is a '\n' in the window, and the model agrees which;
 *   - nothing else is ever returned.
 * rl_filename_check is also run on the whole input and on every prefix length derived
 * from it, against the rule in file_cmd.h.
 *
 * Build: tests/fuzz/run (clang -fsanitize=fuzzer,address,undefined).
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "file_cmd.h"

#define CHECK(cond, ...)                                                                   \
	do {                                                                               \
		if (!(cond)) {                                                             \
			fprintf(stderr, "fuzz_file_cmd: check failed at line %d: %s: ",    \
				__LINE__, #cond);                                          \
			fprintf(stderr, __VA_ARGS__);                                      \
			fputc('\n', stderr);                                               \
			abort();                                                           \
		}                                                                          \
	} while (0)

/* The name rule of file_cmd.h, written out independently. */
static int model_name_ok(const uint8_t *p, size_t n)
{
	if (n == 0 || n > RL_FILENAME_MAX || p[0] == '.')
		return 0;
	for (size_t i = 0; i < n; i++)
		if (p[i] < 0x21 || p[i] == 0x7f || p[i] == '/')
			return 0;
	return 1;
}

/* A plain decimal that fits in 64 bits. */
static int model_u64(const uint8_t *p, size_t n, uint64_t *out)
{
	uint64_t v = 0;

	if (n == 0 || n > 20) /* file_cmd.c: "at most 20 digits", leading zeros included */
		return 0;
	for (size_t i = 0; i < n; i++) {
		if (p[i] < '0' || p[i] > '9')
			return 0;
		if (__builtin_mul_overflow(v, 10, &v) ||
		    __builtin_add_overflow(v, (uint64_t)(p[i] - '0'), &v))
			return 0;
	}
	*out = v;
	return 1;
}

/*
 * What the grammar says about a complete line (text without its "\n"/"\r\n"):
 * 0 = valid (fills *m), -EBADMSG, or -EINVAL.
 */
static long model_line(const uint8_t *t, size_t n, struct rl_filecmd *m)
{
	const uint8_t *w[8];
	size_t wl[8], nw = 0, start = 0;

	for (size_t i = 0; i <= n; i++) {
		if (i < n && t[i] != ' ')
			continue;
		if (i == start) /* empty word: leading, trailing or double space, empty line */
			return -EBADMSG;
		if (nw == 8)
			return -EBADMSG;
		w[nw] = t + start;
		wl[nw++] = i - start;
		start = i + 1;
	}
	memset(m, 0, sizeof(*m));
#define IS(k, s) (wl[k] == sizeof(s) - 1 && memcmp(w[k], s, sizeof(s) - 1) == 0)
	if (nw == 1 && IS(0, "LIST")) {
		m->kind = RL_FILECMD_LIST;
		return 0;
	}
	if (nw == 3 && IS(0, "PUT")) {
		m->kind = RL_FILECMD_PUT;
		if (!model_u64(w[2], wl[2], &m->size))
			return -EBADMSG;
	} else if (nw == 2 && IS(0, "GET")) {
		m->kind = RL_FILECMD_GET;
	} else if (nw == 2 && IS(0, "DEL")) {
		m->kind = RL_FILECMD_DEL;
	} else {
		return -EBADMSG;
	}
#undef IS
	m->name = w[1];
	m->name_len = wl[1];
	return model_name_ok(m->name, m->name_len) ? 0 : -EINVAL;
}

static const uint8_t *find_nl(const uint8_t *p, size_t n)
{
	return n ? memchr(p, '\n', n) : NULL;
}

static void check_one(const uint8_t *buf, size_t len, size_t max_line)
{
	struct rl_filecmd c, m;
	size_t window = len < max_line ? len : max_line;
	const uint8_t *nl = find_nl(buf, window);
	long r;

	memset(&c, 0xa5, sizeof(c));
	r = rl_filecmd_parse(buf, len, max_line, &c);

	if (!nl) {
		CHECK(r == -EAGAIN || r == -EMSGSIZE, "r=%ld with no newline in the window", r);
		CHECK(r == (len >= max_line ? -EMSGSIZE : -EAGAIN),
		      "r=%ld len=%zu max_line=%zu", r, len, max_line);
		return;
	}
	CHECK(r != -EAGAIN && r != -EMSGSIZE, "r=%ld although a newline is at %zu", r,
	      (size_t)(nl - buf));
	CHECK(r > 0 || r == -EBADMSG || r == -EINVAL, "unexpected return %ld", r);

	size_t text = (size_t)(nl - buf);
	if (text && buf[text - 1] == '\r')
		text--;
	long want = model_line(buf, text, &m);

	CHECK((r > 0 ? 0 : r) == want, "r=%ld, model says %ld (len=%zu max_line=%zu)", r, want,
	      len, max_line);
	if (r <= 0)
		return;

	/* consumed: exactly through the first newline, within len and max_line */
	CHECK((size_t)r <= len && (size_t)r <= max_line, "r=%ld len=%zu max_line=%zu", r, len,
	      max_line);
	CHECK(buf[r - 1] == '\n' && find_nl(buf, (size_t)r - 1) == NULL,
	      "r=%ld is not just past the first newline", r);
	CHECK(c.kind == m.kind, "kind %d, model %d", (int)c.kind, (int)m.kind);
	if (c.kind == RL_FILECMD_LIST) {
		CHECK(c.name == NULL && c.name_len == 0, "LIST carries a name");
		return;
	}
	CHECK(c.kind == RL_FILECMD_PUT || c.kind == RL_FILECMD_GET || c.kind == RL_FILECMD_DEL,
	      "kind %d", (int)c.kind);
	/* the name lies inside the line, before the newline */
	CHECK(c.name >= buf && c.name_len > 0 && c.name + c.name_len <= buf + text,
	      "name outside the line");
	CHECK(c.name == m.name && c.name_len == m.name_len, "name differs from the model");
	CHECK(rl_filename_check(c.name, c.name_len) == 0, "returned name fails the check");
	if (c.kind == RL_FILECMD_PUT)
		CHECK(c.size == m.size, "size %llu, model %llu", (unsigned long long)c.size,
		      (unsigned long long)m.size);
	else
		CHECK(c.size == 0, "size set on a non-PUT command");

	/* A larger limit does not change a command that already fits. */
	struct rl_filecmd c2;
	size_t bigger = max_line > SIZE_MAX - len - 1 ? SIZE_MAX : max_line + len + 1;
	long r2 = rl_filecmd_parse(buf, len, bigger, &c2);
	CHECK(r2 == r && c2.kind == c.kind && c2.name == c.name && c2.name_len == c.name_len &&
		  c2.size == c.size,
	      "result changed with a larger max_line (%ld vs %ld)", r2, r);
	/* ... and neither does cutting the buffer right after the line. */
	r2 = rl_filecmd_parse(buf, (size_t)r, max_line, &c2);
	CHECK(r2 == r && c2.kind == c.kind && c2.name == c.name, "result depends on later bytes");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* An exact-size heap copy, so ASan sees any read past the end. */
	uint8_t *buf = malloc(size ? size : 1);
	size_t limits[8];
	int nl = 0;

	if (!buf)
		return 0;
	memcpy(buf, data, size);

	limits[nl++] = 1024; /* what servers/file.c uses */
	limits[nl++] = size;
	limits[nl++] = size + 1;
	limits[nl++] = (size_t)-1;
	if (size >= 1)
		limits[nl++] = buf[0]; /* 0..255, often shorter than the input */
	if (size >= 2)
		limits[nl++] = (size_t)buf[size - 1] << 2 | (buf[size - 2] & 3);
	if (size >= 1)
		limits[nl++] = size / 2 + 1;
	limits[nl++] = 1;

	for (int i = 0; i < nl; i++)
		check_one(buf, size, limits[i]);

	/* rl_filename_check against the rule, on the whole input and on derived prefixes. */
	size_t cuts[3] = {size, size > 0 ? size - 1 : 0, size ? buf[0] % (size + 1) : 0};
	for (int i = 0; i < 3; i++) {
		int rc = rl_filename_check(buf, cuts[i]);

		CHECK(rc == 0 || rc == -EINVAL, "rl_filename_check returned %d", rc);
		CHECK((rc == 0) == model_name_ok(buf, cuts[i]),
		      "rl_filename_check says %d for %zu bytes, the rule disagrees", rc, cuts[i]);
	}
	free(buf);
	return 0;
}
