/*
 * hist_log.h - the file formats HdrHistogram tools read.
 *
 *  - Percentile distribution (.hgrm): the text table "Value Percentile TotalCount
 *    1/(1-Percentile)" followed by the "#[Mean = ..., StdDeviation = ...]",
 *    "#[Max = ..., Total count = ...]" and "#[Buckets = ..., SubBuckets = ...]" footer,
 *    as HdrHistogram's outputPercentileDistribution writes it.
 *  - Interval log (.hlog): one line per interval
 *    "StartTimestamp,IntervalLength,IntervalMax,<base64 of the compressed histogram>",
 *    using the V2 encoding (ZigZag LEB128 counts) wrapped in the zlib-compressed envelope.
 *
 * Values are recorded in nanoseconds; `scale` divides them for output (1000.0 prints
 * microseconds).  Nothing here exits; write errors come back as -errno.
 */
#ifndef RL_HIST_LOG_H
#define RL_HIST_LOG_H

#include <stdint.h>
#include <stdio.h>

#include "hist.h"

/*
 * Writes the percentile distribution of `h` to `f`, values divided by `scale`, with
 * `ticks` reporting steps per half-distance (HdrHistogram's default is 5).
 * Returns 0 or -EIO.
 */
int rl_hist_write_hgrm(const struct rl_hist *h, FILE *f, double scale, int ticks);

/*
 * Encodes `h` in the compressed V2 form and base64 into a newly malloc'ed NUL-terminated
 * string stored in *out (the caller frees it).  Returns the string length or -ENOMEM/-EIO.
 */
int rl_hist_encode(const struct rl_hist *h, char **out);

/*
 * Decodes a base64 compressed V2 histogram (as rl_hist_encode writes it, or as any
 * HdrHistogram implementation writes it) into `h`, which this initialises; the caller
 * calls rl_hist_free.  Returns 0, -EBADMSG for malformed input, or -ENOMEM.
 */
int rl_hist_decode(const char *b64, struct rl_hist *h);

/*
 * Writes an interval-log header to `f`: a comment naming the tool, "#[StartTime: ...]" and
 * "#[BaseTime: ...]" (start_unix_s, seconds since the epoch with fraction), and the column
 * legend line.  Returns 0 or -EIO.
 */
int rl_hist_log_header(FILE *f, double start_unix_s);

/*
 * Writes one interval line for `h`: start (seconds since BaseTime), length (seconds), the
 * interval max divided by `scale`, then the encoded histogram.  Returns 0, -EIO or -ENOMEM.
 */
int rl_hist_log_interval(FILE *f, const struct rl_hist *h, double start_s, double length_s,
			 double scale);

/*
 * rl_hist_log_interval() with the line prefixed by "Tag=<tag>," (HdrHistogram log format
 * 1.3 tags; a tag holds no comma, space or newline: -EINVAL).  A NULL tag writes no tag.
 */
int rl_hist_log_tagged(FILE *f, const char *tag, const struct rl_hist *h, double start_s,
		       double length_s, double scale);

#endif
