/*
 * hist.c - the HDR latency histogram (see hist.h).
 *
 * The layout follows HdrHistogram: the value range is split into buckets, bucket k covering
 * values up to sub_bucket_count << (k + unit_magnitude) with sub_bucket_count linear
 * sub-buckets of width 1 << (k + unit_magnitude).  Every bucket but the first shares its
 * lower half with the previous one, so the counts array only holds the upper half of each
 * bucket after the first: counts_len = (bucket_count + 1) * sub_bucket_half_count.
 */
#include "hist.h"

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* Number of bits needed to represent x (x > 0): floor(log2(x)) + 1. */
static int bit_length(uint64_t x)
{
	return 64 - __builtin_clzll(x);
}

static int32_t bucket_index_of(const struct rl_hist *h, int64_t v)
{
	/* The mask keeps values of the first bucket in it, whatever their magnitude. */
	uint64_t u = (uint64_t)v | (uint64_t)h->sub_bucket_mask;

	return bit_length(u) - h->unit_magnitude - (h->sub_bucket_half_count_magnitude + 1);
}

static int32_t sub_bucket_index_of(const struct rl_hist *h, int64_t v, int32_t bucket)
{
	return (int32_t)((uint64_t)v >> (bucket + h->unit_magnitude));
}

static int64_t value_from(const struct rl_hist *h, int32_t bucket, int32_t sub_bucket)
{
	return (int64_t)((uint64_t)sub_bucket << (bucket + h->unit_magnitude));
}

/* Width of the bucket `v` falls in, as a power of two. */
static uint64_t equivalent_range(const struct rl_hist *h, int64_t v)
{
	int32_t bucket = bucket_index_of(h, v);
	int32_t sub_bucket = sub_bucket_index_of(h, v, bucket);
	int32_t adjusted = sub_bucket >= h->sub_bucket_count ? bucket + 1 : bucket;

	return (uint64_t)1 << (h->unit_magnitude + adjusted);
}

/* Value in the middle of the bucket `v` falls in (used for mean and deviation). */
static int64_t median_equivalent(const struct rl_hist *h, int64_t v)
{
	return rl_hist_lowest_equivalent(h, v) + (int64_t)(equivalent_range(h, v) >> 1);
}

static int32_t buckets_needed(int64_t highest, int32_t sub_bucket_count, int unit_magnitude)
{
	uint64_t smallest_untrackable = (uint64_t)sub_bucket_count << unit_magnitude;
	int32_t needed = 1;

	while (smallest_untrackable <= (uint64_t)highest) {
		if (smallest_untrackable > (uint64_t)INT64_MAX / 2)
			return needed + 1;
		smallest_untrackable <<= 1;
		needed++;
	}
	return needed;
}

int rl_hist_init(struct rl_hist *h, int64_t lowest, int64_t highest, int sigfigs)
{
	int64_t single_unit_limit = 2;
	int sub_bucket_count_magnitude;

	memset(h, 0, sizeof(*h));
	h->min = INT64_MAX;
	if (lowest < 1 || sigfigs < 1 || sigfigs > 5 || lowest > highest / 2)
		return -EINVAL;
	for (int i = 0; i < sigfigs; i++)
		single_unit_limit *= 10;

	/* ceil(log2(2 * 10^sigfigs)) */
	sub_bucket_count_magnitude = bit_length((uint64_t)single_unit_limit - 1);
	h->sub_bucket_half_count_magnitude =
	    (sub_bucket_count_magnitude > 1 ? sub_bucket_count_magnitude : 1) - 1;
	h->unit_magnitude = bit_length((uint64_t)lowest) - 1;
	/* HdrHistogram's limit: the sub-buckets of the first bucket must fit below 2^62. */
	if (h->unit_magnitude + h->sub_bucket_half_count_magnitude > 61)
		return -EINVAL;

	h->lowest = lowest;
	h->highest = highest;
	h->sigfigs = sigfigs;
	h->sub_bucket_count = (int32_t)1 << (h->sub_bucket_half_count_magnitude + 1);
	h->sub_bucket_half_count = h->sub_bucket_count / 2;
	h->sub_bucket_mask = (int64_t)((uint64_t)(h->sub_bucket_count - 1) << h->unit_magnitude);
	h->bucket_count = buckets_needed(highest, h->sub_bucket_count, h->unit_magnitude);
	h->counts_len = (h->bucket_count + 1) * h->sub_bucket_half_count;
	h->counts = calloc((size_t)h->counts_len, sizeof(*h->counts));
	if (!h->counts) {
		h->counts_len = 0;
		return -ENOMEM;
	}
	return 0;
}

void rl_hist_free(struct rl_hist *h)
{
	free(h->counts);
	h->counts = NULL;
	h->counts_len = 0;
	h->total = 0;
	h->saturated = 0;
	h->min = INT64_MAX;
	h->max = 0;
}

/*
 * The index range [*lo, *hi] that can hold non-zero counts: none when nothing was counted
 * (every writer of counts adds to total), the span of min and max when they are known,
 * else all of it.  ringlab-load's layout (1 ns .. 1 h, 3 digits) has 33,792 slots;
 * latencies from 10 us to 20 ms span 11,235 of them (indices 4,322..15,556), so a
 * reset or merge over the span touches a third of the array, or less.
 */
static bool used_span(const struct rl_hist *h, int32_t *lo, int32_t *hi)
{
	if (!h->counts || h->total == 0)
		return false;
	*lo = 0;
	*hi = h->counts_len - 1;
	if (h->min <= h->max) {
		int32_t a = rl_hist_index_of(h, h->min), b = rl_hist_index_of(h, h->max);

		if (a >= 0 && a <= b && b < h->counts_len) {
			*lo = a;
			*hi = b;
		}
	}
	return true;
}

void rl_hist_reset(struct rl_hist *h)
{
	int32_t lo, hi;

	if (used_span(h, &lo, &hi))
		memset(h->counts + lo, 0, (size_t)(hi - lo + 1) * sizeof(*h->counts));
	h->total = 0;
	h->saturated = 0;
	h->min = INT64_MAX;
	h->max = 0;
}

void rl_hist_record_n(struct rl_hist *h, int64_t v, uint64_t n)
{
	int32_t index;

	if (!h->counts || n == 0)
		return;
	if (v < 0)
		v = 0;
	if (v > h->highest) {
		h->saturated += n;
		v = h->highest;
	}
	index = rl_hist_index_of(h, v);
	if (index >= h->counts_len) /* cannot happen for v <= highest; stay in bounds anyway */
		index = h->counts_len - 1;
	h->counts[index] += n;
	h->total += n;
	if (v < h->min)
		h->min = v;
	if (v > h->max)
		h->max = v;
}

int rl_hist_merge(struct rl_hist *dst, const struct rl_hist *src)
{
	if (!dst->counts || !src->counts || dst->lowest != src->lowest ||
	    dst->highest != src->highest || dst->sigfigs != src->sigfigs ||
	    dst->counts_len != src->counts_len)
		return -EINVAL;
	int32_t lo, hi;

	if (used_span(src, &lo, &hi))
		for (int32_t i = lo; i <= hi; i++)
			dst->counts[i] += src->counts[i];
	dst->total += src->total;
	dst->saturated += src->saturated;
	if (src->min < dst->min)
		dst->min = src->min;
	if (src->max > dst->max)
		dst->max = src->max;
	return 0;
}

int64_t rl_hist_value_at(const struct rl_hist *h, double percentile)
{
	double requested, count;
	uint64_t wanted;
	uint64_t seen = 0;

	if (!h->counts || h->total == 0)
		return 0;
	/*
	 * As HdrHistogram: take one ulp off the percentile so floating point round-off cannot
	 * push the rounded-up count into the next bucket, then round the count up.
	 */
	requested = nextafter(percentile, -INFINITY);
	if (!(requested > 0.0)) /* also catches NaN */
		requested = 0.0;
	if (requested > 100.0)
		requested = 100.0;
	count = ceil(requested * (double)h->total / 100.0);
	if (count >= (double)h->total) /* also keeps the conversion below in range */
		wanted = h->total;
	else
		wanted = count < 1.0 ? 1 : (uint64_t)count;
	for (int32_t i = 0; i < h->counts_len; i++) {
		seen += h->counts[i];
		if (seen >= wanted) {
			int64_t v = rl_hist_value_of_index(h, i);

			return percentile == 0.0 ? rl_hist_lowest_equivalent(h, v)
						 : rl_hist_highest_equivalent(h, v);
		}
	}
	return 0;
}

double rl_hist_mean(const struct rl_hist *h)
{
	double sum = 0.0;

	if (!h->counts || h->total == 0)
		return 0.0;
	for (int32_t i = 0; i < h->counts_len; i++) {
		if (h->counts[i])
			sum += (double)median_equivalent(h, rl_hist_value_of_index(h, i)) *
			       (double)h->counts[i];
	}
	return sum / (double)h->total;
}

double rl_hist_stddev(const struct rl_hist *h)
{
	double mean, sum = 0.0;

	if (!h->counts || h->total == 0)
		return 0.0;
	mean = rl_hist_mean(h);
	for (int32_t i = 0; i < h->counts_len; i++) {
		if (h->counts[i]) {
			double d =
			    (double)median_equivalent(h, rl_hist_value_of_index(h, i)) - mean;

			sum += d * d * (double)h->counts[i];
		}
	}
	return sqrt(sum / (double)h->total);
}

int32_t rl_hist_index_of(const struct rl_hist *h, int64_t v)
{
	int32_t bucket, sub_bucket;

	if (v < 0)
		v = 0;
	bucket = bucket_index_of(h, v);
	sub_bucket = sub_bucket_index_of(h, v, bucket);
	return ((bucket + 1) << h->sub_bucket_half_count_magnitude) +
	       (sub_bucket - h->sub_bucket_half_count);
}

int64_t rl_hist_value_of_index(const struct rl_hist *h, int32_t index)
{
	int32_t bucket, sub_bucket;

	if (index < 0)
		index = 0;
	if (index >= h->counts_len && h->counts_len > 0)
		index = h->counts_len - 1;
	bucket = (index >> h->sub_bucket_half_count_magnitude) - 1;
	sub_bucket = (index & (h->sub_bucket_half_count - 1)) + h->sub_bucket_half_count;
	if (bucket < 0) {
		sub_bucket -= h->sub_bucket_half_count;
		bucket = 0;
	}
	return value_from(h, bucket, sub_bucket);
}

int64_t rl_hist_highest_equivalent(const struct rl_hist *h, int64_t v)
{
	uint64_t next;

	if (v < 0)
		v = 0;
	next = (uint64_t)rl_hist_lowest_equivalent(h, v) + equivalent_range(h, v);
	return next - 1 > (uint64_t)INT64_MAX ? INT64_MAX : (int64_t)(next - 1);
}

int64_t rl_hist_lowest_equivalent(const struct rl_hist *h, int64_t v)
{
	int32_t bucket;

	if (v < 0)
		v = 0;
	bucket = bucket_index_of(h, v);
	return value_from(h, bucket, sub_bucket_index_of(h, v, bucket));
}
