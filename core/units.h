/*
 * units.h - parsing of the numbers people type on command lines: durations, sizes, counts.
 *
 * Every parser takes a NUL-terminated string, writes the value through `out` only on
 * success, and returns 0, -EINVAL for a malformed string (empty, junk, unknown suffix,
 * negative) or -ERANGE for a value that does not fit.  No parser allocates or prints.
 */
#ifndef RL_UNITS_H
#define RL_UNITS_H

#include <stdint.h>

/*
 * Parses a duration into nanoseconds.  Suffixes: ns, us, ms, s, m (minutes), h.  A bare
 * number means seconds.  Fractions are allowed ("1.5s", "0.25ms").  "0" is valid.
 * Returns 0, -EINVAL or -ERANGE.
 */
int rl_parse_duration_ns(const char *s, uint64_t *out);

/*
 * Parses a size into bytes.  A bare number is bytes; "B" is bytes; binary suffixes
 * K, KiB, M, MiB, G, GiB, T, TiB are powers of 1024; decimal suffixes KB, MB, GB, TB are
 * powers of 1000.  Suffixes are case-insensitive except that "b" alone is not accepted
 * (bits are not bytes).  Fractions are allowed when the result is whole ("1.5KiB" = 1536).
 * Returns 0, -EINVAL or -ERANGE.
 */
int rl_parse_size(const char *s, uint64_t *out);

/*
 * Parses a count such as a connection number or a rate: a whole decimal number with an
 * optional decimal suffix k (1e3), M (1e6) or G (1e9); "2.5k" = 2500.  The result must lie
 * in [min, max].  Returns 0, -EINVAL (malformed) or -ERANGE (outside [min, max]).
 */
int rl_parse_count(const char *s, uint64_t min, uint64_t max, uint64_t *out);

/*
 * Formats a duration in nanoseconds for people ("850ns", "12.3us", "4.56ms", "1.20s") into
 * buf (at least 16 bytes).  Returns buf.
 */
const char *rl_format_duration(uint64_t ns, char *buf, unsigned long len);

#endif
