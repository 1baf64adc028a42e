/*
 * hist.h - an HDR (high dynamic range) latency histogram.
 *
 * Values are integers (ringlab records nanoseconds) between `lowest` (>= 1) and `highest`,
 * kept to `sigfigs` significant decimal digits (1..5): every recorded value is counted in
 * a bucket whose width is at most 10^-sigfigs of the value.  Recording is O(1) and
 * allocation-free; one histogram per thread, merged at the end.  The bucket layout is the
 * one HdrHistogram publishes (sub-bucket count = next power of two >= 2 * 10^sigfigs,
 * unit magnitude = floor(log2(lowest))), so the encoded form in hist_log.h is readable by
 * the HdrHistogram tools.
 */
#ifndef RL_HIST_H
#define RL_HIST_H

#include <stdint.h>

struct rl_hist {
	int64_t lowest;	 /* lowest discernible value, >= 1 */
	int64_t highest; /* highest trackable value */
	int sigfigs;
	int unit_magnitude;
	int sub_bucket_half_count_magnitude;
	int32_t sub_bucket_count;
	int32_t sub_bucket_half_count;
	int64_t sub_bucket_mask;
	int32_t bucket_count;
	int32_t counts_len;
	uint64_t total;	    /* number of recorded values */
	uint64_t saturated; /* values above `highest`, recorded as `highest` */
	int64_t min;	    /* INT64_MAX when empty */
	int64_t max;	    /* 0 when empty */
	uint64_t *counts;   /* counts_len entries, owned */
};

/*
 * Initialises `h` for values in [lowest, highest] at `sigfigs` digits.  Allocates the
 * counts array (freed by rl_hist_free).  Returns 0, -EINVAL (lowest < 1, highest < 2 *
 * lowest, sigfigs outside 1..5) or -ENOMEM.
 */
int rl_hist_init(struct rl_hist *h, int64_t lowest, int64_t highest, int sigfigs);

/* Frees the counts array.  Safe on a zeroed or already freed histogram. */
void rl_hist_free(struct rl_hist *h);

/* Forgets every recorded value, keeping the layout. */
void rl_hist_reset(struct rl_hist *h);

/* Records `n` occurrences of `v`.  v < 0 counts as 0; v > highest is saturated. */
void rl_hist_record_n(struct rl_hist *h, int64_t v, uint64_t n);

/* Records one occurrence of `v`. */
static inline void rl_hist_record(struct rl_hist *h, int64_t v)
{
	rl_hist_record_n(h, v, 1);
}

/* Adds every count of `src` into `dst`.  Returns 0, or -EINVAL if the layouts differ. */
int rl_hist_merge(struct rl_hist *dst, const struct rl_hist *src);

/*
 * Returns the value at `percentile` (0..100): the highest value equivalent to the value
 * below which that share of recordings fall (HdrHistogram semantics).  0 when empty.
 */
int64_t rl_hist_value_at(const struct rl_hist *h, double percentile);

/* Mean and standard deviation of the recorded values (bucket midpoints); 0 when empty. */
double rl_hist_mean(const struct rl_hist *h);
double rl_hist_stddev(const struct rl_hist *h);

/* Index/value helpers used by the encoders and iterators. */
int32_t rl_hist_index_of(const struct rl_hist *h, int64_t v);
int64_t rl_hist_value_of_index(const struct rl_hist *h, int32_t index);
/* Highest value that lands in the same bucket as v. */
int64_t rl_hist_highest_equivalent(const struct rl_hist *h, int64_t v);
/* Lowest value that lands in the same bucket as v. */
int64_t rl_hist_lowest_equivalent(const struct rl_hist *h, int64_t v);

#endif
