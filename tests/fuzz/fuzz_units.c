/*
 * fuzz_units.c - libFuzzer target for the command-line number parsers (core/units.c):
 * rl_parse_duration_ns, rl_parse_size, rl_parse_count, and rl_format_duration.
 *
 * The input is copied and NUL-terminated (so an embedded NUL ends the string, as it would
 * on a command line).  Checked:
 *   - every parser returns 0, -EINVAL or -ERANGE, and writes *out only on success;
 *   - success only for strings that start with a digit (hence contain one);
 *   - a bare decimal (digits only) parses to itself as a size and a count, to itself times
 *     1e9 as a duration, and -ERANGE exactly when that overflows 64 bits;
 *   - for a plain number N that parsed: N+"KiB" = 1024*N, N+"kb" = 1000*N, N+"b" is
 *     refused, N+"k" (count) = 1000*N, N+"s" = N (duration), N+"ns" <= N, N+"ms" <=
 *     N / 1000 + 1 ... (or -ERANGE when the product overflows);
 *   - rl_parse_count honours [min, max] derived from the input;
 *   - rl_format_duration writes a short NUL-terminated string that parses back as a
 *     duration within 0.5% (exact below 1us).
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "units.h"

#define CHECK(cond, ...)                                                                   \
	do {                                                                               \
		if (!(cond)) {                                                             \
			fprintf(stderr, "fuzz_units: check failed at line %d: %s: ",       \
				__LINE__, #cond);                                          \
			fprintf(stderr, __VA_ARGS__);                                      \
			fputc('\n', stderr);                                               \
			abort();                                                           \
		}                                                                          \
	} while (0)

#define SENTINEL 0x5a5a5a5a5a5a5a5aULL
#define FUZZ_MAX_INPUT 256 /* command-line words are short; keeps every execution cheap */

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static int rc_ok(int rc)
{
	return rc == 0 || rc == -EINVAL || rc == -ERANGE;
}

/* Runs a parser; checks the return set and that *out is untouched on failure. */
static int size_of(const char *s, uint64_t *v)
{
	uint64_t x = SENTINEL;
	int rc = rl_parse_size(s, &x);

	CHECK(rc_ok(rc), "rl_parse_size(\"%s\") = %d", s, rc);
	CHECK(rc == 0 || x == SENTINEL, "rl_parse_size(\"%s\") wrote *out on failure", s);
	*v = x;
	return rc;
}

static int dur_of(const char *s, uint64_t *v)
{
	uint64_t x = SENTINEL;
	int rc = rl_parse_duration_ns(s, &x);

	CHECK(rc_ok(rc), "rl_parse_duration_ns(\"%s\") = %d", s, rc);
	CHECK(rc == 0 || x == SENTINEL, "rl_parse_duration_ns(\"%s\") wrote *out on failure",
	      s);
	*v = x;
	return rc;
}

static int count_of(const char *s, uint64_t lo, uint64_t hi, uint64_t *v)
{
	uint64_t x = SENTINEL;
	int rc = rl_parse_count(s, lo, hi, &x);

	CHECK(rc_ok(rc), "rl_parse_count(\"%s\") = %d", s, rc);
	CHECK(rc == 0 || x == SENTINEL, "rl_parse_count(\"%s\") wrote *out on failure", s);
	if (rc == 0)
		CHECK(x >= lo && x <= hi, "rl_parse_count(\"%s\") = %llu outside [%llu, %llu]", s,
		      (unsigned long long)x, (unsigned long long)lo, (unsigned long long)hi);
	*v = x;
	return rc;
}

/* Digits only: its value, or false when it does not fit in 64 bits. */
static bool bare_value(const char *s, uint64_t *v)
{
	uint64_t x = 0;

	for (; *s; s++)
		if (__builtin_mul_overflow(x, 10, &x) ||
		    __builtin_add_overflow(x, (uint64_t)(*s - '0'), &x))
			return false;
	*v = x;
	return true;
}

/* s with a suffix appended (s is at most FUZZ_MAX_INPUT bytes). */
static const char *with(const char *s, const char *suffix, char *buf)
{
	snprintf(buf, FUZZ_MAX_INPUT + 16, "%s%s", s, suffix);
	return buf;
}

/* parse(N + suffix) must be N * mult, or -ERANGE when that overflows. */
static void check_mult(int rc, uint64_t got, uint64_t n, uint64_t mult, const char *what)
{
	uint64_t want;

	if (__builtin_mul_overflow(n, mult, &want)) {
		CHECK(rc == -ERANGE, "%s: %llu * %llu overflows but rc = %d", what,
		      (unsigned long long)n, (unsigned long long)mult, rc);
	} else {
		CHECK(rc == 0 && got == want, "%s: rc %d, %llu != %llu * %llu", what, rc,
		      (unsigned long long)got, (unsigned long long)n, (unsigned long long)mult);
	}
}

static void check_format(uint64_t ns)
{
	char buf[64], *p;
	uint64_t back;
	int rc;

	memset(buf, 'X', sizeof(buf));
	p = (char *)rl_format_duration(ns, buf, 16);
	CHECK(p == buf && memchr(buf, '\0', 16), "rl_format_duration(%llu) not terminated",
	      (unsigned long long)ns);
	rc = dur_of(buf, &back);
	CHECK(rc == 0, "rl_format_duration(%llu) = \"%s\" does not parse back (%d)",
	      (unsigned long long)ns, buf, rc);
	if (ns < 1000) {
		CHECK(back == ns, "\"%s\" != %llu ns", buf, (unsigned long long)ns);
	} else {
		uint64_t diff = back > ns ? back - ns : ns - back;

		CHECK(diff <= ns / 200 + 1,
		      "rl_format_duration(%llu) = \"%s\", which reads back as %llu (off by %llu)",
		      (unsigned long long)ns, buf, (unsigned long long)back,
		      (unsigned long long)diff);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char s[FUZZ_MAX_INPUT + 1], tmp[FUZZ_MAX_INPUT + 16];
	uint64_t vs, vd, vc, v2, lo, hi;
	int rs, rd, rc, r2;
	bool plain, bare;
	size_t n;

	if (size > FUZZ_MAX_INPUT)
		return -1; /* not worth keeping in the corpus */
	memcpy(s, data, size);
	s[size] = '\0';
	n = strlen(s);

	rs = size_of(s, &vs);
	rd = dur_of(s, &vd);
	rc = count_of(s, 0, UINT64_MAX, &vc);

	/* Success needs a leading digit. */
	if (rs == 0 || rd == 0 || rc == 0)
		CHECK(is_digit(s[0]), "\"%s\" parsed without a leading digit", s);

	/* Shape of the string: bare digits, or a plain number "D+[.D+]". */
	bare = n > 0;
	for (size_t i = 0; i < n; i++)
		bare = bare && is_digit(s[i]);
	plain = n > 0 && is_digit(s[0]);
	{
		size_t i = 0, dots = 0;

		while (i < n && (is_digit(s[i]) || s[i] == '.')) {
			if (s[i] == '.' && (++dots > 1 || i + 1 >= n || !is_digit(s[i + 1])))
				plain = false;
			i++;
		}
		plain = plain && i == n;
	}

	if (bare) {
		uint64_t v;

		if (bare_value(s, &v)) {
			CHECK(rs == 0 && vs == v, "size \"%s\": rc %d value %llu", s, rs,
			      (unsigned long long)vs);
			CHECK(rc == 0 && vc == v, "count \"%s\": rc %d value %llu", s, rc,
			      (unsigned long long)vc);
			check_mult(rd, vd, v, 1000000000ULL, "bare duration");
		} else {
			CHECK(rs == -ERANGE && rd == -ERANGE && rc == -ERANGE,
			      "\"%s\" overflows: %d %d %d", s, rs, rd, rc);
		}
	}

	/* Suffix arithmetic on a plain number that parsed. */
	if (plain && rs == 0) {
		check_mult(size_of(with(s, "KiB", tmp), &v2), v2, vs, 1024, "N KiB");
		check_mult(size_of(with(s, "k", tmp), &v2), v2, vs, 1024, "N k (size)");
		check_mult(size_of(with(s, "kb", tmp), &v2), v2, vs, 1000, "N kb");
		check_mult(size_of(with(s, "B", tmp), &v2), v2, vs, 1, "N B");
	}
	if (plain)
		CHECK(size_of(with(s, "b", tmp), &v2) == -EINVAL, "\"%sb\" (bits) accepted", s);
	if (plain && rc == 0) {
		check_mult(count_of(with(s, "k", tmp), 0, UINT64_MAX, &v2), v2, vc, 1000, "N k");
		check_mult(count_of(with(s, "M", tmp), 0, UINT64_MAX, &v2), v2, vc, 1000000,
			   "N M");
	}
	if (plain && rd == 0) {
		r2 = dur_of(with(s, "s", tmp), &v2);
		CHECK(r2 == 0 && v2 == vd, "\"%ss\" = %llu but \"%s\" = %llu", s,
		      (unsigned long long)v2, s, (unsigned long long)vd);
		r2 = dur_of(with(s, "ms", tmp), &v2);
		CHECK(r2 == 0 && v2 <= vd / 1000 + 1 && v2 + 1 >= vd / 1000,
		      "\"%sms\" = %llu vs %llu ns for seconds", s, (unsigned long long)v2,
		      (unsigned long long)vd);
		r2 = dur_of(with(s, "m", tmp), &v2);
		CHECK(r2 == -ERANGE || (r2 == 0 && v2 / 60 + 1 >= vd && v2 / 60 <= vd + 1),
		      "\"%sm\" = %llu vs %llu ns for seconds", s, (unsigned long long)v2,
		      (unsigned long long)vd);
	}

	/* Count bounds derived from the input. */
	if (rc == 0 && size >= 2) {
		lo = vc > data[0] ? vc - data[0] : 0;
		hi = vc + data[1] < vc ? UINT64_MAX : vc + data[1];
		CHECK(count_of(s, lo, hi, &v2) == 0 && v2 == vc, "in-range count refused");
		if (vc < UINT64_MAX)
			CHECK(count_of(s, vc + 1, UINT64_MAX, &v2) == -ERANGE, "below min accepted");
		if (vc > 0)
			CHECK(count_of(s, 0, vc - 1, &v2) == -ERANGE, "above max accepted");
	}

	/* Formatting: whatever parsed, and a value taken straight from the input bytes. */
	if (rd == 0)
		check_format(vd);
	if (size >= 8) {
		uint64_t raw;

		memcpy(&raw, data, 8);
		check_format(raw);
		check_format(raw >> (data[0] & 63));
	}
	return 0;
}
