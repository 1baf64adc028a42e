/*
 * cli.h - the command-line pieces ringlab-server and ringlab-load share: one-line usage
 * errors, option values parsed with units.h, --version, a file read for an option.
 *
 * A usage error is one line on stderr, "PROG: MESSAGE (see --help)", after which the
 * caller returns -EINVAL up to main(), which alone turns it into exit status 2.  Nothing
 * here exits, and only rl_cli_read_file() allocates.  The program name is process-wide
 * and set once by rl_cli_init(), as rl_log_init() does for log lines.
 */
#ifndef RL_CLI_H
#define RL_CLI_H

#include <stddef.h>
#include <stdint.h>

/* rl_cli_init() flags. */
enum {
	/* A count out of range names the range accepted: "... '0' (1..20000)". */
	RL_CLI_SHOW_RANGE = 1u << 0,
};

/*
 * Sets the name that starts every usage error ("ringlab-load") and the RL_CLI_* flags.
 * `prog` is not copied: it must outlive every later call (a string literal).
 */
void rl_cli_init(const char *prog, unsigned flags);

/* Prints one usage error line on stderr (message cut at 511 bytes).  Returns -EINVAL. */
__attribute__((format(printf, 1, 2))) int rl_cli_usage_error(const char *fmt, ...);

/*
 * Reports a bad option that getopt_long() returned: `opt` ':' is an option missing its
 * value (optstring must start with ':'), anything else an unknown option.  Names
 * argv[optind - 1].  Returns -EINVAL.
 */
int rl_cli_bad_option(int opt, char *const argv[]);

/* Prints the --version line on stdout: "PROG VERSION (git ..., liburing ..., TYPE build)". */
void rl_cli_print_version(void);

/*
 * Parses the value `arg` of option --`opt` as a count (rl_parse_count) in [min, max],
 * max <= UINT_MAX.  Writes *out only on success.  Returns 0 or -EINVAL (reported).
 */
int rl_cli_uint(const char *opt, const char *arg, uint64_t min, uint64_t max, unsigned *out);

/*
 * Parses the value `arg` of option --`opt` as a duration (rl_parse_duration_ns) of at
 * least `min` ns.  Writes *out only on success.  Returns 0 or -EINVAL (reported).
 */
int rl_cli_duration(const char *opt, const char *arg, uint64_t min, uint64_t *out);

/*
 * Parses the value `arg` of option --`opt` as a size in bytes (rl_parse_size) in
 * [min, max].  Writes *out only on success.  Returns 0 or -EINVAL (reported).
 */
int rl_cli_size(const char *opt, const char *arg, uint64_t min, uint64_t max, uint64_t *out);

/*
 * Reads all of the file at `path`, at most `max` bytes, into a malloc'ed buffer that the
 * caller owns and frees; sets *buf and *len only on success.  Prints nothing.  Returns 0,
 * -EFBIG when the file holds more than `max` bytes, -EIO when reading fails, -ENOMEM, or
 * fopen's -errno.
 */
int rl_cli_read_file(const char *path, size_t max, char **buf, size_t *len);

/*
 * After getopt_long(): checks that exactly one operand is left and points *out at it
 * (into argv, nothing copied).  With none, reports "missing WHAT"; with more, the first
 * extra one.  Returns 0 or -EINVAL (reported).
 */
int rl_cli_operand(int argc, char *const argv[], const char *what, const char **out);

#endif
