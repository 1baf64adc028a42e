/*
 * test_cli.c - TAP tests for core/cli.c: the exact wording of usage errors (scripts read
 * them), option values rejected without touching the output, whole-file reads with their
 * size limit, and the one-operand rule.
 */
#include "cli.h"
#include "tap.h"

#include <errno.h>
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* What one call printed on stderr (or stdout). */
struct capture {
	FILE *stream;
	int fd;
	int saved;
	FILE *tmp;
	char text[1024];
};

static void capture_begin(struct capture *c, FILE *stream)
{
	c->stream = stream;
	c->fd = fileno(stream);
	c->tmp = tmpfile();
	fflush(stream);
	c->saved = dup(c->fd);
	if (!c->tmp || c->saved < 0 || dup2(fileno(c->tmp), c->fd) < 0) {
		perror("capture");
		exit(1);
	}
}

static const char *capture_end(struct capture *c)
{
	size_t n;

	fflush(c->stream);
	dup2(c->saved, c->fd);
	close(c->saved);
	rewind(c->tmp);
	n = fread(c->text, 1, sizeof(c->text) - 1, c->tmp);
	c->text[n] = 0;
	fclose(c->tmp);
	return c->text;
}

static void check_said(const char *got, const char *want, const char *what)
{
	if (!tap_ok(!strcmp(got, want), "%s", what))
		tap_diag("got '%s', want '%s'", got, want);
}

static void test_usage_error(void)
{
	struct capture c;
	char big[700];
	const char *got;
	int ret;

	rl_cli_init("ringlab-test", 0);
	capture_begin(&c, stderr);
	ret = rl_cli_usage_error("unknown protocol '%s'", "ping");
	got = capture_end(&c);
	tap_ok(ret == -EINVAL, "a usage error returns -EINVAL");
	check_said(got, "ringlab-test: unknown protocol 'ping' (see --help)\n",
		   "a usage error is one line: PROG: MESSAGE (see --help)");

	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = 0;
	capture_begin(&c, stderr);
	rl_cli_usage_error("%s", big);
	got = capture_end(&c);
	tap_ok(strlen(got) == strlen("ringlab-test: ") + 511 + strlen(" (see --help)\n") &&
		   strchr(got, '\n') == got + strlen(got) - 1,
	       "a long message is cut at 511 bytes and stays one line");
}

/* getopt_long() left optind just past `typed`, the bad option, and returned `opt`. */
static void check_bad_option(int opt, char *typed, const char *said, const char *what)
{
	char *argv[] = {"prog", typed, NULL};
	struct capture c;
	const char *got;
	int ret;

	rl_cli_init("ringlab-test", 0);
	optind = 2;
	capture_begin(&c, stderr);
	ret = rl_cli_bad_option(opt, argv);
	got = capture_end(&c);
	if (!tap_ok(ret == -EINVAL && !strcmp(got, said), "%s", what))
		tap_diag("ret %d said '%s'", ret, got);
}

static void test_bad_option(void)
{
	check_bad_option('?', "--bogus", "ringlab-test: unknown option '--bogus' (see --help)\n",
			 "getopt's '?': an unknown option, named as typed, -EINVAL");
	check_bad_option(':', "--listen",
			 "ringlab-test: option --listen needs a value (see --help)\n",
			 "getopt's ':': an option missing its value, -EINVAL");
}

enum parser { COUNT, DURATION, SIZE };

/* One option value through one parser, with the flags given to rl_cli_init(). */
struct value_case {
	enum parser parser;
	unsigned flags;
	const char *opt, *arg;
	uint64_t min, max; /* max is not used by DURATION */
	int want_ret;
	uint64_t want;	  /* the value when accepted */
	const char *said; /* the stderr line when refused */
};

static const struct value_case value_cases[] = {
    {COUNT, 0, "threads", "2.5k", 1, 10000, 0, 2500, ""},
    {COUNT, 0, "threads", "0", 1, 64, -EINVAL, 0,
     "ringlab-test: invalid value for --threads: '0' (see --help)\n"},
    {COUNT, RL_CLI_SHOW_RANGE, "connections", "20001", 1, 20000, -EINVAL, 0,
     "ringlab-test: invalid value for --connections: '20001' (1..20000) (see --help)\n"},
    {COUNT, RL_CLI_SHOW_RANGE, "pipeline", "abc", 1, 4096, -EINVAL, 0,
     "ringlab-test: invalid value for --pipeline: 'abc' (1..4096) (see --help)\n"},
    {DURATION, 0, "timeout", "250ms", 0, 0, 0, 250000000ull, ""},
    {DURATION, 0, "warmup", "0", 0, 0, 0, 0, ""},
    {DURATION, 0, "duration", "0", 1000000, 0, -EINVAL, 0,
     "ringlab-test: invalid duration for --duration: '0' (see --help)\n"},
    {DURATION, 0, "idle-timeout", "10x", 0, 0, -EINVAL, 0,
     "ringlab-test: invalid duration for --idle-timeout: '10x' (see --help)\n"},
    {SIZE, 0, "buf-size", "4KiB", 64, 1u << 20, 0, 4096, ""},
    {SIZE, 0, "buf-size", "1MiB", 64, 1u << 20, 0, 1u << 20, ""},
    {SIZE, RL_CLI_SHOW_RANGE, "buf-size", "32", 64, 1u << 20, -EINVAL, 0,
     "ringlab-test: invalid size for --buf-size: '32' (see --help)\n"},
    {SIZE, 0, "size", "1b", 1, UINT64_MAX, -EINVAL, 0,
     "ringlab-test: invalid size for --size: '1b' (see --help)\n"},
};

static int parse_value(const struct value_case *t, uint64_t *out)
{
	unsigned u = (unsigned)*out;
	int ret;

	switch (t->parser) {
	case COUNT:
		ret = rl_cli_uint(t->opt, t->arg, t->min, t->max, &u);
		*out = u;
		return ret;
	case DURATION:
		return rl_cli_duration(t->opt, t->arg, t->min, out);
	default:
		return rl_cli_size(t->opt, t->arg, t->min, t->max, out);
	}
}

/* Accepted values land in the output silently; refused ones leave it alone and print the
 * exact line (RL_CLI_SHOW_RANGE adds the range to counts only). */
static void test_values(void)
{
	static const char *const names[] = {"count", "duration", "size"};

	for (size_t i = 0; i < sizeof(value_cases) / sizeof(value_cases[0]); i++) {
		const struct value_case *t = &value_cases[i];
		uint64_t v = 7;
		struct capture c;
		const char *got;
		int ret;

		rl_cli_init("ringlab-test", t->flags);
		capture_begin(&c, stderr);
		ret = parse_value(t, &v);
		got = capture_end(&c);
		if (!tap_ok(ret == t->want_ret && v == (ret ? 7 : t->want) && !strcmp(got, t->said),
			    "%s --%s '%s', min %llu%s: %s", names[t->parser], t->opt, t->arg,
			    (unsigned long long)t->min, t->flags ? ", range shown" : "",
			    ret ? "refused, output untouched, one exact line" : "accepted, silent"))
			tap_diag("ret %d value %llu said '%s'", ret, (unsigned long long)v, got);
	}
}

/* Writes `len` bytes of a pattern with NULs to a new temporary file; returns its path. */
static char *make_file(size_t len)
{
	static char path[64];
	FILE *f;
	int fd;

	snprintf(path, sizeof(path), "/tmp/test_cli.XXXXXX");
	fd = mkstemp(path);
	f = fd < 0 ? NULL : fdopen(fd, "wb");
	if (!f) {
		perror("make_file");
		exit(1);
	}
	for (size_t i = 0; i < len; i++)
		fputc((int)(i % 7), f);
	fclose(f);
	return path;
}

static int pattern_ok(const char *buf, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (buf[i] != (char)(i % 7))
			return 0;
	return 1;
}

static void test_read_file(void)
{
	char *buf = NULL, *path;
	size_t len = 99;
	int ret;

	path = make_file(1000);
	ret = rl_cli_read_file(path, 4096, &buf, &len);
	tap_ok(ret == 0 && len == 1000 && buf && pattern_ok(buf, len),
	       "a file under the limit is read whole, NUL bytes included");
	free(buf);

	buf = NULL;
	ret = rl_cli_read_file(path, 1000, &buf, &len);
	tap_ok(ret == 0 && len == 1000 && buf && pattern_ok(buf, len),
	       "a file of exactly the limit is accepted");
	free(buf);

	buf = NULL;
	len = 99;
	ret = rl_cli_read_file(path, 999, &buf, &len);
	tap_ok(ret == -EFBIG && !buf && len == 99,
	       "a file one byte over the limit: -EFBIG, outputs untouched");
	unlink(path);

	path = make_file(0);
	ret = rl_cli_read_file(path, 16, &buf, &len);
	tap_ok(ret == 0 && len == 0 && buf, "an empty file is read as 0 bytes");
	free(buf);
	unlink(path);

	buf = NULL;
	ret = rl_cli_read_file("/nonexistent/test_cli", 16, &buf, &len);
	tap_ok(ret == -ENOENT && !buf, "a missing file: fopen's -ENOENT");
	ret = rl_cli_read_file("/", 16, &buf, &len);
	tap_ok(ret == -EIO && !buf, "a directory opens but cannot be read: -EIO");
}

static void test_operand(void)
{
	char *argv[] = {"prog", "--threads", "2", "echo", "extra", NULL};
	const char *name = NULL;
	struct capture c;
	int ret;

	rl_cli_init("ringlab-test", 0);
	optind = 3;
	ret = rl_cli_operand(4, argv, "PROTOCOL", &name);
	tap_ok(ret == 0 && name == argv[3], "one operand left: it is the result");

	name = NULL;
	optind = 3;
	capture_begin(&c, stderr);
	ret = rl_cli_operand(3, argv, "PROTOCOL (echo, udp)", &name);
	check_said(capture_end(&c), "ringlab-test: missing PROTOCOL (echo, udp) (see --help)\n",
		   "no operand: 'missing WHAT'");
	tap_ok(ret == -EINVAL && !name, "no operand: -EINVAL, output untouched");

	capture_begin(&c, stderr);
	ret = rl_cli_operand(5, argv, "PROTOCOL", &name);
	check_said(capture_end(&c), "ringlab-test: unexpected argument 'extra' (see --help)\n",
		   "two operands: the second is named as unexpected");
	tap_ok(ret == -EINVAL && !name, "two operands: -EINVAL, output untouched");
}

static void test_version(void)
{
	struct capture c;
	const char *got;

	rl_cli_init("ringlab-test", 0);
	capture_begin(&c, stdout);
	rl_cli_print_version();
	got = capture_end(&c);
	tap_ok(!strncmp(got, "ringlab-test ", 13) && strstr(got, " (git ") &&
		   strstr(got, ", liburing ") && strstr(got, " build)\n"),
	       "--version: 'PROG VERSION (git ..., liburing ..., TYPE build)'");
}

int main(void)
{
	test_usage_error();
	test_bad_option();
	test_values();
	test_read_file();
	test_operand();
	test_version();
	return tap_done();
}
