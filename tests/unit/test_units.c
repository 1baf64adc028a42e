/*
 * test_units.c - TAP tests for core/units.c: duration, size and count parsing, rejection of
 * malformed input and duration formatting.
 */
#include "tap.h"
#include "units.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>

static void check_duration(const char *s, uint64_t want)
{
	uint64_t v = 0xdeadbeef;
	int rc = rl_parse_duration_ns(s, &v);

	if (!tap_ok(rc == 0 && v == want, "duration \"%s\" parses to %llu ns", s,
		    (unsigned long long)want))
		tap_diag("rc=%d value=%llu", rc, (unsigned long long)v);
}

static void check_size(const char *s, uint64_t want)
{
	uint64_t v = 0xdeadbeef;
	int rc = rl_parse_size(s, &v);

	if (!tap_ok(rc == 0 && v == want, "size \"%s\" parses to %llu bytes", s,
		    (unsigned long long)want))
		tap_diag("rc=%d value=%llu", rc, (unsigned long long)v);
}

static void check_count(const char *s, uint64_t want)
{
	uint64_t v = 0xdeadbeef;
	int rc = rl_parse_count(s, 0, UINT64_MAX, &v);

	if (!tap_ok(rc == 0 && v == want, "count \"%s\" parses to %llu", s,
		    (unsigned long long)want))
		tap_diag("rc=%d value=%llu", rc, (unsigned long long)v);
}

/* Every parser must reject `s` with `want_rc` and leave the output untouched. */
static void check_reject_all(const char *s, int want_rc)
{
	uint64_t d = 7, z = 7, c = 7;
	int rd = rl_parse_duration_ns(s, &d);
	int rz = rl_parse_size(s, &z);
	int rcnt = rl_parse_count(s, 0, UINT64_MAX, &c);

	if (!tap_ok(rd == want_rc && d == 7, "duration rejects \"%s\" with %d", s, want_rc))
		tap_diag("rc=%d", rd);
	if (!tap_ok(rz == want_rc && z == 7, "size rejects \"%s\" with %d", s, want_rc))
		tap_diag("rc=%d", rz);
	if (!tap_ok(rcnt == want_rc && c == 7, "count rejects \"%s\" with %d", s, want_rc))
		tap_diag("rc=%d", rcnt);
}

static void check_format(uint64_t ns, const char *want)
{
	char buf[32];
	const char *got = rl_format_duration(ns, buf, sizeof(buf));

	if (!tap_ok(got == buf && strcmp(buf, want) == 0, "format_duration(%llu) = \"%s\"",
		    (unsigned long long)ns, want))
		tap_diag("got \"%s\"", buf);
}

static void test_durations(void)
{
	check_duration("10s", 10000000000ULL);
	check_duration("500ms", 500000000ULL);
	check_duration("64", 64000000000ULL);
	check_duration("1.5s", 1500000000ULL);
	check_duration("0.1s", 100000000ULL);
	check_duration("0.25ms", 250000ULL);
	check_duration("250us", 250000ULL);
	check_duration("7ns", 7ULL);
	check_duration("3m", 180000000000ULL);
	check_duration("1h", 3600000000000ULL);
	check_duration("0", 0);
}

static void test_sizes(void)
{
	uint64_t v = 7;
	int rc;

	check_size("64", 64);
	check_size("64B", 64);
	check_size("4KiB", 4096);
	check_size("4kib", 4096);
	check_size("1MiB", 1048576);
	check_size("4K", 4096);
	check_size("2G", 2147483648ULL);
	check_size("1TiB", 1099511627776ULL);
	check_size("1KB", 1000);
	check_size("3MB", 3000000);
	check_size("1.5KiB", 1536);
	check_size("0", 0);

	v = 7;
	rc = rl_parse_size("1b", &v);
	tap_ok(rc == -EINVAL && v == 7, "size rejects \"1b\" (bits are not bytes)");
	v = 7;
	rc = rl_parse_size("1.5", &v);
	tap_ok(rc == -EINVAL && v == 7, "size rejects a fractional byte count \"1.5\"");
	v = 7;
	rc = rl_parse_size("0.0001KiB", &v);
	tap_ok(rc == -EINVAL && v == 7, "size rejects a non-whole result \"0.0001KiB\"");
	v = 7;
	rc = rl_parse_size("16777216TiB", &v);
	tap_ok(rc == -ERANGE && v == 7, "size \"16777216TiB\" (2^64) overflows with -ERANGE");
	v = 7;
	rc = rl_parse_size("1Q", &v);
	tap_ok(rc == -EINVAL && v == 7, "size rejects unknown suffix \"1Q\"");
}

static void test_counts(void)
{
	uint64_t v = 7;
	int rc;

	check_count("10k", 10000);
	check_count("2.5k", 2500);
	check_count("1M", 1000000);
	check_count("3G", 3000000000ULL);
	check_count("42", 42);

	v = 7;
	rc = rl_parse_count("5", 10, 100, &v);
	tap_ok(rc == -ERANGE && v == 7, "count below min is -ERANGE");
	v = 7;
	rc = rl_parse_count("101", 10, 100, &v);
	tap_ok(rc == -ERANGE && v == 7, "count above max is -ERANGE");
	v = 7;
	rc = rl_parse_count("1k", 10, 100, &v);
	tap_ok(rc == -ERANGE && v == 7, "suffixed count above max is -ERANGE");
	v = 7;
	rc = rl_parse_count("10", 10, 100, &v);
	tap_ok(rc == 0 && v == 10, "count equal to min is accepted");
	v = 7;
	rc = rl_parse_count("100", 10, 100, &v);
	tap_ok(rc == 0 && v == 100, "count equal to max is accepted");
	v = 7;
	rc = rl_parse_count("2.5", 0, 100, &v);
	tap_ok(rc == -EINVAL && v == 7, "count rejects a non-whole \"2.5\"");
	v = 7;
	rc = rl_parse_count("1m", 0, UINT64_MAX, &v);
	tap_ok(rc == -EINVAL && v == 7, "count rejects lowercase \"m\" suffix");
}

static void test_rejects(void)
{
	uint64_t v = 7;
	int rc;

	check_reject_all("", -EINVAL);
	check_reject_all("-1", -EINVAL);
	check_reject_all("+1", -EINVAL);
	check_reject_all(" 1", -EINVAL);
	check_reject_all("1 ", -EINVAL);
	check_reject_all("10x", -EINVAL);
	check_reject_all("1.2.3", -EINVAL);
	check_reject_all("1.", -EINVAL);
	check_reject_all(".5", -EINVAL);
	check_reject_all("1e3", -EINVAL);
	check_reject_all("99999999999999999999", -ERANGE);

	v = 7;
	rc = rl_parse_duration_ns("ms", &v);
	tap_ok(rc == -EINVAL && v == 7, "duration rejects a suffix without number \"ms\"");
	v = 7;
	rc = rl_parse_duration_ns("10sec", &v);
	tap_ok(rc == -EINVAL && v == 7, "duration rejects unknown suffix \"10sec\"");
	v = 7;
	rc = rl_parse_duration_ns("10S", &v);
	tap_ok(rc == -EINVAL && v == 7, "duration suffixes are case-sensitive (\"10S\")");
	v = 7;
	rc = rl_parse_duration_ns("6000000h", &v);
	tap_ok(rc == -ERANGE && v == 7, "duration \"6000000h\" overflows with -ERANGE");
	v = 7;
	rc = rl_parse_duration_ns(NULL, &v);
	tap_ok(rc == -EINVAL && v == 7, "duration rejects NULL");
}

static void test_format(void)
{
	char small[4];

	check_format(0, "0ns");
	check_format(850, "850ns");
	check_format(999, "999ns");
	check_format(1000, "1.00us");
	check_format(12345, "12.3us");
	check_format(123456, "123us");
	check_format(999960, "1.00ms");
	check_format(4560000, "4.56ms");
	check_format(1200000000ULL, "1.20s");
	check_format(65000000000ULL, "65.0s");
	check_format(3600000000000ULL, "3600s");

	memset(small, 'x', sizeof(small));
	rl_format_duration(123456, small, sizeof(small));
	tap_ok(small[3] == '\0', "format_duration truncates to the buffer and terminates it");
}

int main(void)
{
	test_durations();
	test_sizes();
	test_counts();
	test_rejects();
	test_format();
	return tap_done();
}
