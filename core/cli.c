/*
 * cli.c - command-line helpers shared by ringlab-server and ringlab-load (see cli.h).
 *
 * The wording of every message here is part of both programs' interface: scripts and the
 * integration tests read it, so change it only on purpose.
 */
#include "cli.h"

#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "rl_config.h"
#include "units.h"

static const char *cli_prog = "ringlab";
static unsigned cli_flags;

void rl_cli_init(const char *prog, unsigned flags)
{
	cli_prog = prog;
	cli_flags = flags;
}

int rl_cli_usage_error(const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fprintf(stderr, "%s: %s (see --help)\n", cli_prog, msg);
	return -EINVAL;
}

int rl_cli_bad_option(int opt, char *const argv[])
{
	if (opt == ':')
		return rl_cli_usage_error("option %s needs a value", argv[optind - 1]);
	return rl_cli_usage_error("unknown option '%s'", argv[optind - 1]);
}

void rl_cli_print_version(void)
{
	printf("%s %s (git %s, liburing %s, %s build)\n", cli_prog, RL_VERSION, RL_GIT_COMMIT,
	       RL_LIBURING_VERSION, RL_BUILD_TYPE);
}

int rl_cli_uint(const char *opt, const char *arg, uint64_t min, uint64_t max, unsigned *out)
{
	uint64_t v;

	if (rl_parse_count(arg, min, max, &v)) {
		if (cli_flags & RL_CLI_SHOW_RANGE)
			return rl_cli_usage_error("invalid value for --%s: '%s' (%llu..%llu)", opt,
						  arg, (unsigned long long)min,
						  (unsigned long long)max);
		return rl_cli_usage_error("invalid value for --%s: '%s'", opt, arg);
	}
	*out = (unsigned)v;
	return 0;
}

int rl_cli_duration(const char *opt, const char *arg, uint64_t min, uint64_t *out)
{
	uint64_t v;

	if (rl_parse_duration_ns(arg, &v) || v < min)
		return rl_cli_usage_error("invalid duration for --%s: '%s'", opt, arg);
	*out = v;
	return 0;
}

int rl_cli_size(const char *opt, const char *arg, uint64_t min, uint64_t max, uint64_t *out)
{
	uint64_t v;

	if (rl_parse_size(arg, &v) || v < min || v > max)
		return rl_cli_usage_error("invalid size for --%s: '%s'", opt, arg);
	*out = v;
	return 0;
}

int rl_cli_read_file(const char *path, size_t max, char **buf, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *data;
	size_t n;
	int err = 0;

	if (!f)
		return -errno;
	/* One byte more than allowed tells a file of exactly `max` bytes from a larger one. */
	data = malloc(max + 1);
	if (!data) {
		fclose(f);
		return -ENOMEM;
	}
	n = fread(data, 1, max + 1, f);
	if (ferror(f))
		err = -EIO;
	else if (n > max)
		err = -EFBIG;
	fclose(f);
	if (err) {
		free(data);
		return err;
	}
	*buf = data;
	*len = n;
	return 0;
}

int rl_cli_operand(int argc, char *const argv[], const char *what, const char **out)
{
	if (optind >= argc)
		return rl_cli_usage_error("missing %s", what);
	if (optind + 1 < argc)
		return rl_cli_usage_error("unexpected argument '%s'", argv[optind + 1]);
	*out = argv[optind];
	return 0;
}
