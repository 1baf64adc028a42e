/*
 * test_hist.c - unit tests for the HDR histogram (core/hist.c) and the HdrHistogram file
 * formats (core/hist_log.c): layout, percentiles against exactly sorted data, merge, the
 * .hgrm table, the compressed V2 encoding and the interval log, malformed input.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "hist.h"
#include "hist_log.h"
#include "tap.h"

#define N_VALUES   100000
#define HIGHEST_NS 60000000000LL /* 60 s */
#define SIGFIGS	   3

static uint64_t rng_next(uint64_t *s) /* splitmix64 */
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static double rng_unit(uint64_t *s) /* [0, 1) */
{
	return (double)(rng_next(s) >> 11) / 9007199254740992.0;
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

static int64_t clamp_ns(double v)
{
	return v < 1.0 ? 1 : v > (double)HIGHEST_NS ? HIGHEST_NS : (int64_t)v;
}

static const char b64_chars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static char *b64_encode(const uint8_t *p, size_t n)
{
	char *s = malloc(4 * ((n + 2) / 3) + 1), *o = s;
	uint32_t acc = 0;
	int bits = 0;

	for (size_t i = 0; i < n; i++) {
		acc = acc << 8 | p[i];
		for (bits += 8; bits >= 6; bits -= 6)
			*o++ = b64_chars[acc >> (bits - 6) & 63];
	}
	if (bits)
		*o++ = b64_chars[acc << (6 - bits) & 63];
	while ((o - s) % 4)
		*o++ = '=';
	*o = '\0';
	return s;
}

/* Minimal decoder for well-formed input (the test's own view of the bytes). */
static uint8_t *b64_decode(const char *s, size_t *n)
{
	uint8_t *p = malloc(strlen(s) / 4 * 3 + 1);
	uint32_t acc = 0;
	int bits = 0;

	*n = 0;
	for (; *s && *s != '='; s++) {
		acc = acc << 6 | (uint32_t)(strchr(b64_chars, *s) - b64_chars);
		if ((bits += 6) >= 8)
			p[(*n)++] = (uint8_t)(acc >> (bits -= 8));
	}
	return p;
}

static uint64_t be(const uint8_t *p, int bytes)
{
	uint64_t v = 0;

	for (int i = 0; i < bytes; i++)
		v = v << 8 | p[i];
	return v;
}

static void put_be(uint8_t *p, uint64_t v, int bytes)
{
	for (int i = 0; i < bytes; i++)
		p[i] = (uint8_t)(v >> (8 * (bytes - 1 - i)));
}

/* Builds a base64 compressed histogram from a hand-made V2 header and payload. */
static char *craft(uint32_t cookie, int32_t payload_len, int32_t offset, int32_t sigfigs,
		   int64_t lowest, int64_t highest, const uint8_t *payload, size_t n)
{
	uint8_t raw[512], env[1024];
	uLongf zlen = sizeof(env) - 8;

	put_be(raw, cookie, 4);
	put_be(raw + 4, (uint32_t)payload_len, 4);
	put_be(raw + 8, (uint32_t)offset, 4);
	put_be(raw + 12, (uint32_t)sigfigs, 4);
	put_be(raw + 16, (uint64_t)lowest, 8);
	put_be(raw + 24, (uint64_t)highest, 8);
	put_be(raw + 32, 0x3ff0000000000000ull, 8); /* 1.0 */
	memcpy(raw + 40, payload, n);
	compress2(env + 8, &zlen, raw, (uLong)(40 + n), 6);
	put_be(env, 0x1c849314, 4);
	put_be(env + 4, zlen, 4);
	return b64_encode(env, 8 + zlen);
}

static int same_counts(const struct rl_hist *a, const struct rl_hist *b)
{
	return a->counts_len == b->counts_len && a->lowest == b->lowest &&
	       a->highest == b->highest && a->sigfigs == b->sigfigs && a->total == b->total &&
	       memcmp(a->counts, b->counts, (size_t)a->counts_len * sizeof(*a->counts)) == 0;
}

/* Encodes h, decodes the result and compares the counts. */
static int round_trip(const struct rl_hist *h)
{
	struct rl_hist d = {0};
	char *s = NULL;
	int ok = rl_hist_encode(h, &s) > 0 && rl_hist_decode(s, &d) == 0 && same_counts(h, &d);

	rl_hist_free(&d);
	free(s);
	return ok;
}

/* Base64-decodes an encoded histogram, keeps its 8-byte envelope header, inflates the rest. */
static int unpack(const char *b64, uint8_t env[8], size_t *raw_len, uint8_t *inner,
		  uLongf *inner_len)
{
	uint8_t *raw = b64_decode(b64, raw_len);
	int rc = *raw_len > 8 ? uncompress(inner, inner_len, raw + 8, (uLong)(*raw_len - 8))
			      : Z_DATA_ERROR;

	memcpy(env, raw, 8);
	free(raw);
	return rc;
}

/* Writes h's .hgrm through a tmpfile() into buf; returns its length. */
static size_t hgrm_text(const struct rl_hist *h, double scale, char *buf, size_t size)
{
	FILE *f = tmpfile();
	size_t n;

	rl_hist_write_hgrm(h, f, scale, 5);
	rewind(f);
	n = fread(buf, 1, size - 1, f);
	buf[n] = '\0';
	fclose(f);
	return n;
}

enum dataset { DS_UNIFORM, DS_LOG_UNIFORM, DS_LOG_NORMAL, DS_SMALL, DS_COUNT };

static const char *const ds_name[DS_COUNT] = {"uniform 0..1s", "log-uniform 1ns..10s",
					      "log-normal (median 50us)", "small ints 0..3000"};

/* N_VALUES values of a data set (malloc'ed), also recorded into h, initialised here. */
static int64_t *make_dataset(enum dataset ds, uint64_t seed, struct rl_hist *h)
{
	int64_t *v = malloc(N_VALUES * sizeof(*v));
	uint64_t s = seed;

	rl_hist_init(h, 1, HIGHEST_NS, SIGFIGS);
	for (size_t i = 0; i < N_VALUES; i++) {
		double u = rng_unit(&s), w = rng_unit(&s);
		double normal = sqrt(-2.0 * log(1.0 - u)) * cos(2.0 * M_PI * w);
		uint64_t r = rng_next(&s);

		v[i] = ds == DS_UNIFORM	      ? (int64_t)(r % 1000000001ull)
		       : ds == DS_LOG_UNIFORM ? clamp_ns(exp(u * log(1e10)))
		       : ds == DS_LOG_NORMAL  ? clamp_ns(exp(log(50000.0) + 1.5 * normal))
					      : (int64_t)(r % 3001);
		rl_hist_record(h, v[i]);
	}
	return v;
}

static void test_layout(void)
{
	struct rl_hist h;

	tap_ok(rl_hist_init(&h, 1, HIGHEST_NS, 3) == 0, "init lowest=1 highest=60s sigfigs=3");
	tap_ok(h.sub_bucket_count == 2048 && h.sub_bucket_half_count == 1024 &&
		   h.unit_magnitude == 0 && h.sub_bucket_half_count_magnitude == 10,
	       "layout: 2048 sub-buckets, unit magnitude 0");
	tap_ok(h.bucket_count == 26 && h.counts_len == 27 * 1024, "layout: 60s needs 26 buckets");
	rl_hist_free(&h);

	/* Figures HdrHistogram's own tests use: 1..2^53-1 at 3 digits. */
	rl_hist_init(&h, 1, 9007199254740991LL, 3);
	tap_ok(h.bucket_count == 43 && h.counts_len == 45056, "layout: 2^53-1 needs 43 buckets");
	rl_hist_free(&h);

	rl_hist_init(&h, 1000, 3600000000000LL, 2);
	tap_ok(h.unit_magnitude == 9 && h.sub_bucket_count == 256 &&
		   h.sub_bucket_mask == (int64_t)255 << 9,
	       "layout: lowest=1000 gives unit magnitude 9; 2 digits give 256 sub-buckets");
	tap_ok(rl_hist_highest_equivalent(&h, 3600000000000LL) >= 3600000000000LL &&
		   rl_hist_index_of(&h, 3600000000000LL) < h.counts_len,
	       "layout: highest trackable value has an index inside counts");
	rl_hist_free(&h);

	for (int i = 0; i < 5; i++) {
		static const int64_t lo[] = {0, 1, 1, 600, INT64_MAX / 4};
		static const int64_t hi[] = {1000, 1000, 1000, 1000, INT64_MAX};
		static const int sf[] = {3, 6, 0, 3, 3};

		tap_ok(rl_hist_init(&h, lo[i], hi[i], sf[i]) == -EINVAL,
		       "init rejects lowest %" PRId64 " highest %" PRId64 " sigfigs %d", lo[i],
		       hi[i], sf[i]);
	}
	rl_hist_free(&h);
	rl_hist_free(&h);
	tap_ok(h.counts == NULL, "free twice is safe");
}

static void test_index_helpers(void)
{
	struct rl_hist h;
	uint64_t s = 7;
	int bad_lowest = 0, bad_next = 0, bad_precision = 0;

	rl_hist_init(&h, 1, HIGHEST_NS, SIGFIGS);
	for (int i = 0; i < 20000; i++) {
		int64_t v = clamp_ns(exp(rng_unit(&s) * log((double)HIGHEST_NS))) - 1;
		int64_t lo = rl_hist_lowest_equivalent(&h, v);
		int64_t hi = rl_hist_highest_equivalent(&h, v);
		int32_t idx = rl_hist_index_of(&h, v);

		bad_lowest += rl_hist_value_of_index(&h, idx) != lo || lo > v || hi < v;
		bad_next += (rl_hist_index_of(&h, lo) != idx || rl_hist_index_of(&h, hi) != idx ||
			     (lo > 0 && rl_hist_index_of(&h, lo - 1) != idx - 1) ||
			     rl_hist_index_of(&h, hi + 1) != idx + 1);
		bad_precision += (double)(hi - lo) > (double)v * 1e-3;
	}
	tap_ok(!bad_lowest, "value_of_index(index_of(v)) is v's lowest equivalent");
	tap_ok(!bad_next, "lowest/highest equivalents are the edges of v's index");
	tap_ok(!bad_precision, "bucket width stays within 10^-3 of the value");
	tap_ok(rl_hist_index_of(&h, 2047) == 2047 && rl_hist_index_of(&h, 2048) == 2048 &&
		   rl_hist_index_of(&h, 2049) == 2048 && rl_hist_index_of(&h, 4096) == 3072,
	       "index_of matches HdrHistogram for 2047, 2048, 2049, 4096");
	rl_hist_free(&h);
}

static const struct {
	double p;
	uint64_t num, den;
} pcts[] = {{50.0, 1, 2},      {90.0, 9, 10},	     {99.0, 99, 100},
	    {99.9, 999, 1000}, {99.99, 9999, 10000}, {100.0, 1, 1}};

static void test_dataset(enum dataset ds, uint64_t seed)
{
	struct rl_hist h;
	int64_t *v;
	double sum = 0.0, sq = 0.0, mean, sd;

	v = make_dataset(ds, seed, &h);
	qsort(v, N_VALUES, sizeof(*v), cmp_i64);

	for (size_t k = 0; k < sizeof(pcts) / sizeof(pcts[0]); k++) {
		uint64_t rank = (N_VALUES * pcts[k].num + pcts[k].den - 1) / pcts[k].den;
		int64_t exact = v[rank - 1];
		int64_t got = rl_hist_value_at(&h, pcts[k].p);
		int ok =
		    got >= exact &&
		    rl_hist_lowest_equivalent(&h, got) == rl_hist_lowest_equivalent(&h, exact) &&
		    (double)(got - exact) <= (double)exact * 1e-3;

		tap_ok(ok, "%s: p%g = %" PRId64 " is within 10^-3 (same bucket) of exact %" PRId64,
		       ds_name[ds], pcts[k].p, got, exact);
	}
	tap_ok(rl_hist_value_at(&h, 0.0) == rl_hist_lowest_equivalent(&h, v[0]),
	       "%s: p0 is the lowest equivalent of the minimum", ds_name[ds]);
	tap_ok(h.min == v[0] && h.max == v[N_VALUES - 1],
	       "%s: min %" PRId64 " and max %" PRId64 " are exact", ds_name[ds], h.min, h.max);
	tap_ok(h.total == N_VALUES && h.saturated == 0, "%s: total count is %d", ds_name[ds],
	       N_VALUES);
	for (size_t i = 0; i < N_VALUES; i++) {
		sum += (double)v[i];
		sq += (double)v[i] * (double)v[i];
	}
	mean = sum / N_VALUES;
	sd = sqrt(sq / N_VALUES - mean * mean);
	tap_ok(fabs(rl_hist_mean(&h) - mean) <= mean * 1e-3,
	       "%s: mean %.3f within 10^-3 of exact %.3f", ds_name[ds], rl_hist_mean(&h), mean);
	tap_ok(fabs(rl_hist_stddev(&h) - sd) <= sd * 1e-2 + 0.5,
	       "%s: stddev %.3f within 1%% of exact %.3f", ds_name[ds], rl_hist_stddev(&h), sd);
	rl_hist_free(&h);
	free(v);
}

static void test_edges(void)
{
	struct rl_hist h;

	rl_hist_init(&h, 1, HIGHEST_NS, SIGFIGS);
	tap_ok(rl_hist_value_at(&h, 50.0) == 0 && rl_hist_mean(&h) == 0.0 &&
		   rl_hist_stddev(&h) == 0.0 && h.min == INT64_MAX && h.max == 0,
	       "empty histogram: value_at, mean, stddev are 0");
	rl_hist_record(&h, 1000);
	rl_hist_record(&h, HIGHEST_NS + 1);
	rl_hist_record_n(&h, INT64_MAX, 3);
	tap_ok(h.saturated == 4 && h.total == 5, "values above highest are saturated and counted");
	tap_ok(h.max == HIGHEST_NS &&
		   rl_hist_value_at(&h, 100.0) == rl_hist_highest_equivalent(&h, HIGHEST_NS),
	       "saturated values are recorded as highest");
	tap_ok(rl_hist_value_at(&h, 20.0) == 1000 && rl_hist_value_at(&h, 21.0) >= HIGHEST_NS,
	       "value_at steps from 1000 to highest past the 20th percentile");
	rl_hist_record(&h, -42);
	tap_ok(h.min == 0 && rl_hist_value_at(&h, 0.0) == 0, "a negative value counts as 0");
	rl_hist_record_n(&h, 5, 0);
	tap_ok(h.total == 6, "recording 0 occurrences changes nothing");
	rl_hist_reset(&h);
	tap_ok(h.total == 0 && h.saturated == 0 && h.max == 0 && h.min == INT64_MAX &&
		   rl_hist_value_at(&h, 99.0) == 0,
	       "reset forgets every value");
	rl_hist_free(&h);
}

static void test_merge(void)
{
	struct rl_hist all, merged, part[4], other;
	uint64_t s = 99;
	int rc = 0;

	rl_hist_init(&all, 1, HIGHEST_NS, SIGFIGS);
	rl_hist_init(&merged, 1, HIGHEST_NS, SIGFIGS);
	rl_hist_init(&other, 1, HIGHEST_NS, 2);
	for (int t = 0; t < 4; t++)
		rl_hist_init(&part[t], 1, HIGHEST_NS, SIGFIGS);
	for (int i = 0; i < 200000; i++) {
		int64_t v = clamp_ns(exp(rng_unit(&s) * log(3e10)));

		if (i % 1000 == 0)
			v = HIGHEST_NS + i; /* a few saturated ones */
		if (i % 777 == 0)
			v = 0;
		rl_hist_record(&all, v);
		rl_hist_record(&part[rng_next(&s) % 4], v);
	}
	for (int t = 0; t < 4; t++) {
		rc |= rl_hist_merge(&merged, &part[t]);
		rl_hist_free(&part[t]);
	}
	tap_ok(rc == 0, "merge of per-thread histograms succeeds");
	tap_ok(same_counts(&merged, &all), "merged per-thread histograms equal one of everything");
	tap_ok(merged.min == all.min && merged.max == all.max && merged.saturated == all.saturated,
	       "merge keeps min, max and saturated count");
	tap_ok(rl_hist_merge(&merged, &other) == -EINVAL, "merge rejects a different layout");
	rl_hist_free(&other);
	rl_hist_free(&merged);
	rl_hist_free(&all);
}

/*
 * Reset and merge touch only the span between min and max (core/hist.c used_span): an
 * interval histogram reset and refilled many times, with its span moving up and down,
 * must always equal a fresh one, and so must the running sum of the intervals.
 */
static void test_reuse(void)
{
	struct rl_hist iv, fresh, sum, want;
	uint64_t s = 7;
	int ok = 1;

	rl_hist_init(&iv, 1, HIGHEST_NS, SIGFIGS);
	rl_hist_init(&sum, 1, HIGHEST_NS, SIGFIGS);
	rl_hist_init(&want, 1, HIGHEST_NS, SIGFIGS);
	for (int round = 0; round < 40; round++) {
		/* Each round a different decade of values: low, high, saturated, zero. */
		double lo = (double)(round % 10), hi = lo + 1 + (double)(round % 3);

		rl_hist_init(&fresh, 1, HIGHEST_NS, SIGFIGS);
		rl_hist_reset(&iv);
		for (int i = 0; i < 2000; i++) {
			int64_t v = clamp_ns(pow(10.0, lo + (hi - lo) * rng_unit(&s)));

			if (round % 7 == 3 && i % 100 == 0)
				v = HIGHEST_NS + 1;
			if (round % 5 == 1 && i % 50 == 0)
				v = 0;
			rl_hist_record(&iv, v);
			rl_hist_record(&fresh, v);
			rl_hist_record(&want, v);
		}
		ok &= same_counts(&iv, &fresh);
		ok &= rl_hist_merge(&sum, &iv) == 0;
		rl_hist_free(&fresh);
	}
	tap_ok(ok, "40 reset-and-refill rounds, the span moving each time: equal to fresh ones");
	tap_ok(same_counts(&sum, &want) && sum.min == want.min && sum.max == want.max,
	       "their merged sum equals one histogram of everything");
	/* A histogram whose min and max do not describe its counts (as after a decode that
	 * failed half-way) is still cleared whole. */
	rl_hist_record(&iv, 1000);
	iv.counts[iv.counts_len - 1] = 5;
	iv.min = INT64_MAX;
	iv.max = 0;
	rl_hist_reset(&iv);
	rl_hist_init(&fresh, 1, HIGHEST_NS, SIGFIGS);
	tap_ok(same_counts(&iv, &fresh), "reset clears everything when min and max are unset");
	rl_hist_free(&fresh);
	rl_hist_free(&iv);
	rl_hist_free(&sum);
	rl_hist_free(&want);
}

static void test_hgrm(void)
{
	static const char head[] = "       Value     Percentile TotalCount 1/(1-Percentile)\n\n";
	static char buf[1 << 16];
	struct rl_hist h;
	int64_t *v;
	FILE *f = tmpfile();
	char *line, *save = NULL, *foot;
	int rows = 0, monotonic = 1, cols = 0, median_ok = 0, nf = 0, end = -1, buckets, subs;
	uint64_t count = 0, prev_count = 0, total = 0;
	double value = 0, p = 0, inv, prev_p = -1, prev_value = -1, mean, sd, max, want_max;

	v = make_dataset(DS_LOG_NORMAL, 11, &h);
	want_max = (double)rl_hist_highest_equivalent(&h, h.max) / 1000.0;
	tap_ok(rl_hist_write_hgrm(&h, f, 1000.0, 5) == 0 && fclose(f) == 0, "write_hgrm returns 0");
	hgrm_text(&h, 1000.0, buf, sizeof(buf));
	tap_ok(strncmp(buf, head, strlen(head)) == 0,
	       "hgrm starts with HdrHistogram's header line and a blank line");
	tap_ok(strstr(buf, " 0.999780273438 ") && !strstr(buf, " 0.999780273437 "),
	       "hgrm rounds ties half up like HdrHistogram (0.9997802734375 -> 0.999780273438)");
	foot = strstr(buf, "\n#[");
	if (foot)
		*foot++ = '\0';
	for (line = strtok_r(buf + strlen(head), "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		cols = sscanf(line, "%lf %lf %" SCNu64 " %lf", &value, &p, &count, &inv);
		monotonic &= cols >= 3 && count >= prev_count && p >= prev_p && value >= prev_value;
		median_ok |=
		    p == 0.5 && fabs(value - (double)rl_hist_value_at(&h, 50.0) / 1000.0) < 0.0005;
		prev_count = count;
		prev_p = p;
		prev_value = value;
		rows++;
	}
	tap_ok(rows > 50 && monotonic,
	       "hgrm rows (%d) parse with non-decreasing value, percentile and TotalCount", rows);
	tap_ok(median_ok, "hgrm row at 0.5 shows value_at(50) in microseconds");
	tap_ok(p == 1.0 && count == N_VALUES && cols == 3 && fabs(value - want_max) < 0.0005,
	       "hgrm last row: percentile 1.0, all counts, the max, no 1/(1-p) column");
	if (foot)
		nf = sscanf(foot,
			    "#[Mean    = %lf, StdDeviation   = %lf]\n"
			    "#[Max     = %lf, Total count    = %" SCNu64 "]\n"
			    "#[Buckets = %d, SubBuckets     = %d]\n%n",
			    &mean, &sd, &max, &total, &buckets, &subs, &end);
	tap_ok(nf == 6 && fabs(mean - rl_hist_mean(&h) / 1000.0) < 0.0006 &&
		   fabs(sd - rl_hist_stddev(&h) / 1000.0) < 0.0006,
	       "hgrm footer Mean and StdDeviation");
	tap_ok(nf == 6 && total == h.total && fabs(max - want_max) < 0.0005,
	       "hgrm footer Total count equals total and Max matches");
	tap_ok(nf == 6 && buckets == h.bucket_count && subs == h.sub_bucket_count && end > 0 &&
		   foot[end] == '\0',
	       "hgrm footer Buckets and SubBuckets end the file");
	rl_hist_free(&h);
	free(v);
}

/*
 * A small distribution whose whole table is known: the text HdrHistogram writes for it (Max is
 * the highest equivalent value of the max, as HdrHistogram's getMaxValue reports it).
 */
static void test_hgrm_exact(void)
{
	static const char expected[] = "       Value     Percentile TotalCount 1/(1-Percentile)\n"
				       "\n"
				       "       1.000 0.000000000000          1           1.00\n"
				       "       1.000 0.100000000000          1           1.11\n"
				       "       2.000 0.200000000000          2           1.25\n"
				       "       3.001 0.300000000000          3           1.43\n"
				       "       4.001 0.400000000000          4           1.67\n"
				       "       5.003 0.500000000000          5           2.00\n"
				       "       6.003 0.550000000000          6           2.22\n"
				       "       6.003 0.600000000000          6           2.50\n"
				       "       7.003 0.650000000000          7           2.86\n"
				       "       7.003 0.700000000000          7           3.33\n"
				       "       8.003 0.750000000000          8           4.00\n"
				       "       8.003 0.775000000000          8           4.44\n"
				       "       8.003 0.800000000000          8           5.00\n"
				       "       9.007 0.825000000000          9           5.71\n"
				       "       9.007 0.850000000000          9           6.67\n"
				       "       9.007 0.875000000000          9           8.00\n"
				       "       9.007 0.887500000000          9           8.89\n"
				       "       9.007 0.900000000000          9          10.00\n"
				       "      10.007 0.912500000000         10          11.43\n"
				       "      10.007 1.000000000000         10\n"
				       "#[Mean    =        5.502, StdDeviation   =        2.874]\n"
				       "#[Max     =       10.007, Total count    =           10]\n"
				       "#[Buckets =           26, SubBuckets     =         2048]\n";
	static char buf[1 << 16];
	struct rl_hist h;
	size_t n;

	rl_hist_init(&h, 1, HIGHEST_NS, SIGFIGS);
	for (int i = 1; i <= 10; i++)
		rl_hist_record(&h, i * 1000);
	hgrm_text(&h, 1000.0, buf, sizeof(buf));
	if (!tap_ok(strcmp(buf, expected) == 0, "hgrm of 1..10 us matches HdrHistogram's table"))
		tap_diag("got:\n%s", buf);
	rl_hist_reset(&h);
	hgrm_text(&h, 1000.0, buf, sizeof(buf));
	tap_ok(strstr(buf, "\n\n#[Mean    =        0.000") &&
		   strstr(buf, "Total count    =            0]"),
	       "hgrm of an empty histogram has the header and a zero footer only");
	tap_ok(rl_hist_write_hgrm(&h, stdout, 1000.0, 0) == -EINVAL, "write_hgrm rejects 0 ticks");

	/* 100 * cumulative / total rounds to 100 before the last value: must still end. */
	rl_hist_record_n(&h, 1000, 1ull << 60);
	rl_hist_record(&h, 2000);
	n = hgrm_text(&h, 1.0, buf, sizeof(buf));
	tap_ok(n < sizeof(buf) - 1 && strstr(buf, " 1.000000000000 1152921504606846977\n"),
	       "hgrm ends with the 100%% row when percentiles round to 100 early (%zu bytes)", n);
	rl_hist_free(&h);
}

static void test_encoding(void)
{
	struct rl_hist h, d;
	int64_t *v;
	char *s = NULL;
	uLongf inner_len = 40 + 27648 * 9; /* header + counts_len varints of at most 9 bytes */
	uint8_t env[8], *inner = malloc(inner_len);
	size_t raw_len;
	int len, rc;

	v = make_dataset(DS_LOG_NORMAL, 5, &h);
	len = rl_hist_encode(&h, &s);
	tap_ok(len > 0 && s && (size_t)len == strlen(s) && len % 4 == 0,
	       "encode returns the base64 length (%d)", len);
	tap_ok(s && strncmp(s, "HISTF", 5) == 0, "encoded form starts with HdrHistogram's HISTF");
	rc = rl_hist_decode(s, &d);
	tap_ok(rc == 0 && same_counts(&h, &d), "encode -> decode gives identical counts");
	tap_ok(rc == 0 && d.min == rl_hist_lowest_equivalent(&h, h.min) &&
		   rl_hist_highest_equivalent(&d, d.max) == rl_hist_highest_equivalent(&h, h.max),
	       "decode re-derives min and max from the counts");
	rl_hist_free(&d);

	rc = unpack(s, env, &raw_len, inner, &inner_len);
	tap_ok(be(env, 4) == 0x1c849314 && (be(env, 4) & ~0xf0u) == 0x1c849304 &&
		   be(env + 4, 4) == raw_len - 8,
	       "envelope: compressed cookie 0x1c849304 (|0x10) and the zlib stream length");
	tap_ok(rc == Z_OK && inner_len >= 40 && (be(inner, 4) & ~0xf0u) == 0x1c849303,
	       "envelope inflates with zlib to a V2 encoding (cookie 0x1c849303)");
	tap_ok(rc == Z_OK && be(inner + 4, 4) == inner_len - 40 && be(inner + 8, 4) == 0 &&
		   be(inner + 12, 4) == 3 && be(inner + 16, 8) == 1 &&
		   be(inner + 24, 8) == (uint64_t)HIGHEST_NS &&
		   be(inner + 32, 8) == 0x3ff0000000000000ull,
	       "V2 header: payload length, offset 0, 3 digits, lowest, highest, ratio 1.0");
	free(s);

	/* Exact payload: zeros at 0..2, one 3, 2044 zeros, one 2048. */
	rl_hist_reset(&h);
	rl_hist_record(&h, 3);
	rl_hist_record(&h, 2048);
	rl_hist_encode(&h, &s);
	inner_len = 64;
	rc = unpack(s, env, &raw_len, inner, &inner_len);
	tap_ok(rc == Z_OK && inner_len == 45 && !memcmp(inner + 40, "\x05\x02\xf7\x1f\x02", 5),
	       "V2 payload: ZigZag LEB128 counts, zero runs as negatives (05 02 f7 1f 02)");
	free(s);

	rl_hist_reset(&h);
	rl_hist_record_n(&h, 3, (1ull << 62) + 12345);
	rl_hist_record_n(&h, 1000000, 1ull << 56);
	rl_hist_record_n(&h, HIGHEST_NS, 1);
	tap_ok(round_trip(&h), "round trip of counts needing 9-byte varints");
	rl_hist_reset(&h);
	tap_ok(round_trip(&h), "round trip of an empty histogram");

	/* Written by another HdrHistogram implementation: one value, 42. */
	rc = rl_hist_decode("HISTFAAAAB542pNpmSzMwMDAxAABzFCaEUoz2X+AMIKZAEARAtM=", &d);
	tap_ok(rc == 0 && d.total == 1 && rl_hist_value_at(&d, 50.0) == 42 &&
		   rl_hist_mean(&d) == 42.0,
	       "decodes a histogram written by HdrHistogram (one value 42)");
	rl_hist_free(&d);
	rl_hist_free(&h);
	free(inner);
	free(v);
}

static void test_interval_log(void)
{
	static const char *const want[] = {
	    "#[Logged with ", "#[Histogram log format version 1.3]\n",
	    "#[StartTime: 1700000000.123 (seconds since epoch), ",
	    "#[BaseTime: 1700000000.123 (seconds since epoch)]\n",
	    ("\"StartTimestamp\",\"Interval_Length\",\"Interval_Max\","
	     "\"Interval_Compressed_Histogram\"\n")};
	struct rl_hist h, d = {0};
	FILE *f = tmpfile();
	char line[65536], *fields[5], *save = NULL;
	int nf = 0, header_ok = 1, rc;
	uint64_t s = 3;
	char expect_max[64];

	rl_hist_init(&h, 1, HIGHEST_NS, SIGFIGS);
	for (int i = 0; i < 5000; i++)
		rl_hist_record(&h, clamp_ns(exp(rng_unit(&s) * log(1e9))));
	tap_ok(rl_hist_log_header(f, 1700000000.123) == 0 &&
		   rl_hist_log_interval(f, &h, 1.5, 2.0625, 1e6) == 0,
	       "log header and interval line written");
	rewind(f);
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		header_ok &=
		    fgets(line, sizeof(line), f) && !strncmp(line, want[i], strlen(want[i]));
	tap_ok(header_ok, "log header: tool comment, version 1.3, StartTime, BaseTime, legend");
	if (!fgets(line, sizeof(line), f))
		line[0] = '\0';
	line[strcspn(line, "\n")] = '\0';
	for (char *t = strtok_r(line, ",", &save); t && nf < 5; t = strtok_r(NULL, ",", &save))
		fields[nf++] = t;
	snprintf(expect_max, sizeof(expect_max), "%.3f",
		 (double)rl_hist_highest_equivalent(&h, h.max) / 1e6);
	tap_ok(nf == 4 && strcmp(fields[0], "1.500") == 0 && strcmp(fields[2], expect_max) == 0,
	       "interval line has 4 comma-separated fields: start, length, max (%s)", expect_max);
	tap_ok(nf == 4 && strcmp(fields[1], "2.063") == 0,
	       "interval length 2.0625 rounds half up to 2.063 as HdrHistogram writes it");
	rc = nf == 4 ? rl_hist_decode(fields[3], &d) : -1;
	tap_ok(rc == 0 && same_counts(&h, &d), "interval histogram decodes to the same counts");
	rl_hist_free(&d);
	fclose(f);
	rl_hist_free(&h);
}

static const uint8_t ok_payload[] = {0x03, 0x0a};		/* zero run of 2, then count 5 */
static const uint8_t overrun[] = {0x0a, 0x80};			/* count 5, then a cut varint */
static const uint8_t beyond[] = {0xff, 0xff, 0x03, 0x02};	/* skip 32768, count 1 */
static const uint8_t min_run[] = {0xff, 0xff, 0xff, 0xff, 0xff, /* zero run of -INT64_MIN */
				  0xff, 0xff, 0xff, 0xff};

/* Hand-made V2 encodings; the accepted ones hold 5 counts at index 2. */
static const struct crafted_case {
	uint32_t cookie;
	int32_t payload_len, offset, sigfigs;
	int64_t lowest, highest;
	const uint8_t *payload;
	size_t n;
	int expect;
	const char *what;
} crafted[] = {
    {0x1c849313, 2, 0, 3, 1, HIGHEST_NS, ok_payload, 2, 0, "accepts a hand-made V2 (control)"},
    {0x1c849323, 2, 0, 3, 1, HIGHEST_NS, ok_payload, 2, 0, "accepts any cookie word-size tag"},
    {0x1c849313, 2, 1, 3, 1, HIGHEST_NS, ok_payload, 2, 0,
     "ignores the index offset (js writes 1)"},
    {0x1c849301, 2, 0, 3, 1, HIGHEST_NS, ok_payload, 2, -EBADMSG, "rejects a V1 cookie"},
    {0x1c849313, 2, 0, 9, 1, HIGHEST_NS, ok_payload, 2, -EBADMSG, "rejects 9 digits"},
    {0x1c849313, 2, 0, 3, 1000, 1000, ok_payload, 2, -EBADMSG, "rejects highest < 2 * lowest"},
    {0x1c849313, 3, 0, 3, 1, HIGHEST_NS, ok_payload, 2, -EBADMSG, "rejects payload length > data"},
    {0x1c849313, 1, 0, 3, 1, HIGHEST_NS, ok_payload, 2, -EBADMSG, "rejects data > payload length"},
    {0x1c849313, 2, 0, 3, 1, HIGHEST_NS, overrun, 2, -EBADMSG, "rejects a varint past the end"},
    {0x1c849313, 4, 0, 3, 1, 1000, beyond, 4, -EBADMSG, "rejects counts beyond the layout"},
    {0x1c849313, 9, 0, 3, 1, HIGHEST_NS, min_run, 9, -EBADMSG, "rejects a zero run of 2^63"},
};

static void test_malformed(void)
{
	struct rl_hist h, d;
	char *s, *bad;
	size_t n;
	uint8_t *raw;
	int len;

	rl_hist_init(&h, 1, HIGHEST_NS, SIGFIGS);
	for (int i = 1; i < 5000; i++)
		rl_hist_record(&h, (int64_t)i * 7919);
	len = rl_hist_encode(&h, &s);

	bad = strdup(s);
	bad[6] = '*'; /* in place of an 'A', so only the alphabet check can catch it */
	tap_ok(s[6] == 'A' && rl_hist_decode(bad, &d) == -EBADMSG,
	       "decode rejects a non-base64 character");
	for (int i = 0; i < 4; i++) {
		static const char *const what[] = {"truncated input (4 chars)", "a cut zlib stream",
						   "a length not a multiple of 4",
						   "an empty string"};
		const size_t keep[] = {(size_t)len - 4, 12, (size_t)len - 1, 0};

		strcpy(bad, s);
		bad[keep[i]] = '\0';
		tap_ok(rl_hist_decode(bad, &d) == -EBADMSG, "decode rejects %s", what[i]);
	}
	tap_ok(rl_hist_decode("HIST====", &d) == -EBADMSG, "decode rejects misplaced padding");
	free(bad);

	raw = b64_decode(s, &n);
	for (int i = 0; i < 3; i++) {
		static const char *const what[] = {
		    "a wrong envelope cookie", "a wrong compressed length", "corrupt zlib data"};
		size_t at = i == 0 ? 3 : i == 1 ? 7 : n / 2;

		raw[at] ^= 0x41;
		bad = b64_encode(raw, n);
		tap_ok(rl_hist_decode(bad, &d) == -EBADMSG, "decode rejects %s", what[i]);
		free(bad);
		raw[at] ^= 0x41;
	}
	free(raw);
	free(s);

	for (size_t i = 0; i < sizeof(crafted) / sizeof(crafted[0]); i++) {
		const struct crafted_case *c = &crafted[i];
		int rc;

		s = craft(c->cookie, c->payload_len, c->offset, c->sigfigs, c->lowest, c->highest,
			  c->payload, c->n);
		rc = rl_hist_decode(s, &d);
		tap_ok(rc == c->expect && (rc != 0 || (d.total == 5 && d.counts[2] == 5)) &&
			   (rc == 0 || d.counts == NULL),
		       "decode %s (rc %d)", c->what, rc);
		rl_hist_free(&d);
		free(s);
	}
	rl_hist_free(&h);
}

int main(void)
{
	test_layout();
	test_index_helpers();
	for (int ds = 0; ds < DS_COUNT; ds++)
		test_dataset((enum dataset)ds, 1000 + (uint64_t)ds);
	test_edges();
	test_merge();
	test_reuse();
	test_hgrm();
	test_hgrm_exact();
	test_encoding();
	test_interval_log();
	test_malformed();
	return tap_done();
}
