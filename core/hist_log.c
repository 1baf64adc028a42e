/*
 * hist_log.c - HdrHistogram's file formats (see hist_log.h).
 *
 * Encoded histogram (HdrHistogram "V2"), all integers big-endian:
 *   int32 cookie 0x1c849313 (base 0x1c849303; bits 4..7 are a word-size tag that readers mask)
 *   int32 payload length in bytes
 *   int32 normalizing index offset (0)
 *   int32 significant figures
 *   int64 lowest discernible value
 *   int64 highest trackable value
 *   float64 integer-to-double conversion ratio (1.0)
 *   payload: counts[0 .. last non-zero] as ZigZag LEB128 varints (at most 9 bytes, the ninth
 *            carrying 8 bits); a run of N > 1 zero counts is written as the single value -N.
 * Compressed envelope: int32 cookie 0x1c849314 (base 0x1c849304), int32 length of the zlib
 * stream, then the zlib stream of the encoded histogram.  Logs carry it in base64.
 */
#define ZLIB_CONST
#include "hist_log.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <locale.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zlib.h>

#define V2_COOKIE_BASE	      0x1c849303u
#define V2_COMPRESSED_BASE    0x1c849304u
#define COOKIE_WORD_SIZE_TAG  0x10u
#define COOKIE_WORD_SIZE_MASK 0xf0u
#define V2_HEADER_SIZE	      40
#define ENVELOPE_HEADER_SIZE  8
#define VARINT_MAX_BYTES      9
#define LOG_FORMAT_VERSION    "1.3"

/* ---- output helpers ---------------------------------------------------------------- */

/* Makes printf use '.' for decimals whatever locale the program chose. */
struct c_numeric {
	locale_t c_loc;
	locale_t saved;
};

static void c_numeric_begin(struct c_numeric *cn)
{
	cn->c_loc = newlocale(LC_ALL_MASK, "C", (locale_t)0);
	cn->saved = cn->c_loc ? uselocale(cn->c_loc) : (locale_t)0;
}

static void c_numeric_end(struct c_numeric *cn)
{
	if (cn->c_loc) {
		uselocale(cn->saved);
		freelocale(cn->c_loc);
	}
}

__attribute__((format(printf, 2, 3))) static int out(FILE *f, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vfprintf(f, fmt, ap);
	va_end(ap);
	return n < 0 ? -EIO : 0;
}

/*
 * Formats v with `decimals` digits after the point the way Java's Formatter does, which is
 * what HdrHistogram's text goes through: the shortest decimal that reads back as v, rounded
 * half up.  printf rounds the exact binary value instead, so ties come out differently: the
 * percentile 0.99978027343750 (held as 0.9997802734374999...) is ...437 from printf but
 * ...438 in HdrHistogram's output.  buf needs FIXED_BUF bytes.
 */
#define FIXED_BUF 360

static const char *java_fixed(char *buf, double v, int decimals)
{
	unsigned char digits[24], fixed[FIXED_BUF];
	char sci[40], *p;
	int nd = 0, point, ip, len, first, o = 0;

	if (isnan(v))
		return "NaN";
	if (isinf(v))
		return v > 0 ? "Infinity" : "-Infinity";
	if (decimals > 20)
		decimals = 20;
	if (signbit(v)) {
		buf[o++] = '-';
		v = -v;
	}
	for (int prec = 0; prec <= 16; prec++) { /* shortest form that reads back as v */
		snprintf(sci, sizeof(sci), "%.*e", prec, v);
		if (strtod(sci, NULL) == v)
			break;
	}
	for (p = sci; *p && *p != 'e'; p++)
		if (*p >= '0' && *p <= '9')
			digits[nd++] = (unsigned char)(*p - '0');
	point = *p ? atoi(p + 1) + 1 : 1; /* digits before the decimal point */
	ip = point > 0 ? point : 1;
	len = ip + decimals;
	/* fixed[1..len]: the digits at each place; fixed[0] takes a carry out of the top. */
	fixed[0] = 0;
	for (int i = 0; i < len; i++) {
		int j = i - (ip - point);

		fixed[i + 1] = (unsigned char)(j >= 0 && j < nd ? digits[j] : 0);
	}
	if (point + decimals >= 0 && point + decimals < nd && digits[point + decimals] >= 5) {
		int i = len;

		while (fixed[i] == 9)
			fixed[i--] = 0;
		fixed[i]++;
	}
	first = fixed[0] ? 0 : 1;
	for (int i = first; i <= ip; i++)
		buf[o++] = (char)('0' + fixed[i]);
	if (decimals > 0)
		buf[o++] = '.';
	for (int i = ip + 1; i <= len; i++)
		buf[o++] = (char)('0' + fixed[i]);
	buf[o] = '\0';
	return buf;
}

/* ---- percentile iteration (HdrHistogram's PercentileIterator) ----------------------- */

struct pct_iter {
	const struct rl_hist *h;
	int ticks;
	int32_t index;	     /* current counts index, -1 before the first step */
	uint64_t cumulative; /* counts up to and including index */
	double level;	     /* next percentile level to report */
	double reported;     /* level of the step just returned */
	int64_t value;	     /* highest equivalent value of that step */
	int64_t last_value;  /* highest equivalent value of the last non-zero index seen */
	int seen_last;
};

static int pct_advance(struct pct_iter *it)
{
	const struct rl_hist *h = it->h;

	if (it->index + 1 >= h->counts_len)
		return 0;
	it->index++;
	if (h->counts[it->index]) {
		it->cumulative += h->counts[it->index];
		it->last_value =
		    rl_hist_highest_equivalent(h, rl_hist_value_of_index(h, it->index));
	}
	return 1;
}

/*
 * The reporting step halves with every halving of the distance to 100%: `ticks` steps
 * from 0% to 50%, `ticks` more from 50% to 75%, and so on.
 */
static double pct_next_level(double level, int ticks)
{
	double halvings = floor(log(100.0 / (100.0 - level)) / log(2.0)) + 1.0;
	double next;

	if (!(halvings <= 62.0)) /* level at 100% or lost in round-off: stop stepping */
		halvings = 62.0;
	next = level + 100.0 / ((double)ticks * ldexp(1.0, (int)halvings));
	/* No further level can be reached before the final 100% step. */
	if (!(next > level) || next >= 100.0)
		next = INFINITY;
	return next;
}

/* Steps to the next reported percentile; returns 0 when done. */
static int pct_next(struct pct_iter *it)
{
	const struct rl_hist *h = it->h;

	if (h->total == 0 || it->seen_last)
		return 0;
	if (it->cumulative < h->total) {
		for (;;) {
			if (it->index >= 0 && h->counts[it->index]) {
				double current = 100.0 * (double)it->cumulative / (double)h->total;

				if (it->level <= current) {
					it->value = it->last_value;
					it->reported = it->level;
					it->level = pct_next_level(it->level, it->ticks);
					return 1;
				}
			}
			if (!pct_advance(it))
				break;
		}
	}
	/* Every recorded value was passed: one last step, at 100%. */
	it->seen_last = 1;
	it->reported = 100.0;
	it->value = it->last_value;
	return 1;
}

int rl_hist_write_hgrm(const struct rl_hist *h, FILE *f, double scale, int ticks)
{
	struct pct_iter it = {.h = h, .ticks = ticks, .index = -1};
	char a[FIXED_BUF], b[FIXED_BUF], c[FIXED_BUF];
	struct c_numeric cn;
	int digits, rc;
	double max;

	if (!h || !f || !h->counts || ticks < 1 || !isfinite(scale) || !(scale > 0.0))
		return -EINVAL;
	digits = h->sigfigs;
	c_numeric_begin(&cn);
	rc = out(f, "%12s %14s %10s %14s\n\n", "Value", "Percentile", "TotalCount",
		 "1/(1-Percentile)");
	while (rc == 0 && pct_next(&it)) {
		double p = it.reported / 100.0;

		java_fixed(a, (double)it.value / scale, digits);
		java_fixed(b, p, 12);
		if (it.reported < 100.0)
			rc = out(f, "%12s %2s %10" PRIu64 " %14s\n", a, b, it.cumulative,
				 java_fixed(c, 1.0 / (1.0 - p), 2));
		else
			rc = out(f, "%12s %2s %10" PRIu64 "\n", a, b, it.cumulative);
	}
	max = h->total ? (double)rl_hist_highest_equivalent(h, h->max) : 0.0;
	if (rc == 0)
		rc = out(f, "#[Mean    = %12s, StdDeviation   = %12s]\n",
			 java_fixed(a, rl_hist_mean(h) / scale, digits),
			 java_fixed(b, rl_hist_stddev(h) / scale, digits));
	if (rc == 0)
		rc = out(f, "#[Max     = %12s, Total count    = %12" PRIu64 "]\n",
			 java_fixed(a, max / scale, digits), h->total);
	if (rc == 0)
		rc = out(f, "#[Buckets = %12d, SubBuckets     = %12d]\n", (int)h->bucket_count,
			 (int)h->sub_bucket_count);
	c_numeric_end(&cn);
	if (rc == 0 && fflush(f) != 0)
		rc = -EIO;
	return rc;
}

/* ---- big-endian fields and ZigZag LEB128 ------------------------------------------ */

static void put_be32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (24 - 8 * i));
}

static void put_be64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (56 - 8 * i));
}

static uint32_t get_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint64_t get_be64(const uint8_t *p)
{
	return (uint64_t)get_be32(p) << 32 | get_be32(p + 4);
}

/* Appends `v` ZigZag LEB128 encoded at p; returns the bytes written (1..9). */
static size_t zigzag_put(uint8_t *p, int64_t v)
{
	uint64_t u = ((uint64_t)v << 1) ^ (v < 0 ? UINT64_MAX : 0);
	size_t n = 0;

	while (n < VARINT_MAX_BYTES - 1) {
		if ((u >> 7) == 0) {
			p[n++] = (uint8_t)u;
			return n;
		}
		p[n++] = (uint8_t)((u & 0x7f) | 0x80);
		u >>= 7;
	}
	p[n++] = (uint8_t)u; /* the ninth byte carries the last 8 bits */
	return n;
}

/* Reads one varint from p[*pos .. len); -EBADMSG if it runs past the end. */
static int zigzag_get(const uint8_t *p, size_t len, size_t *pos, int64_t *v)
{
	uint64_t u = 0, r;
	int i;

	for (i = 0; i < VARINT_MAX_BYTES - 1; i++) {
		if (*pos >= len)
			return -EBADMSG;
		u |= (uint64_t)(p[*pos] & 0x7f) << (7 * i);
		if (!(p[(*pos)++] & 0x80))
			break;
	}
	if (i == VARINT_MAX_BYTES - 1) {
		if (*pos >= len)
			return -EBADMSG;
		u |= (uint64_t)p[(*pos)++] << 56;
	}
	r = (u >> 1) ^ (0 - (u & 1));
	*v = r <= (uint64_t)INT64_MAX ? (int64_t)r : -(int64_t)(~r) - 1;
	return 0;
}

/* ---- base64 ---------------------------------------------------------------------- */

static char *base64_encode(const uint8_t *src, size_t len, size_t *out_len)
{
	static const char b64_alphabet[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t n = 4 * ((len + 2) / 3), o = 0;
	char *dst = malloc(n + 1);

	if (!dst)
		return NULL;
	for (size_t i = 0; i < len; i += 3) {
		uint32_t t = (uint32_t)src[i] << 16;

		if (i + 1 < len)
			t |= (uint32_t)src[i + 1] << 8;
		if (i + 2 < len)
			t |= src[i + 2];
		dst[o++] = b64_alphabet[t >> 18 & 63];
		dst[o++] = b64_alphabet[t >> 12 & 63];
		dst[o++] = i + 1 < len ? b64_alphabet[t >> 6 & 63] : '=';
		dst[o++] = i + 2 < len ? b64_alphabet[t & 63] : '=';
	}
	dst[o] = '\0';
	*out_len = o;
	return dst;
}

static int base64_value(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

/* Decodes padded standard base64 (trailing whitespace allowed) into a malloc'ed buffer. */
static int base64_decode(const char *s, uint8_t **out, size_t *out_len)
{
	size_t n = strlen(s), pad, len, o = 0;
	uint8_t *dst;

	while (n > 0 &&
	       (s[n - 1] == '\n' || s[n - 1] == '\r' || s[n - 1] == ' ' || s[n - 1] == '\t'))
		n--;
	if (n == 0 || n % 4 != 0)
		return -EBADMSG;
	pad = s[n - 1] == '=' ? (s[n - 2] == '=' ? 2 : 1) : 0;
	len = n / 4 * 3 - pad;
	dst = malloc(len ? len : 1);
	if (!dst)
		return -ENOMEM;
	for (size_t i = 0; i < n; i += 4) {
		uint32_t t = 0;

		for (size_t j = 0; j < 4; j++) {
			int v = base64_value(s[i + j]);

			if (v < 0 && !(s[i + j] == '=' && i + 4 == n && j >= 4 - pad)) {
				free(dst);
				return -EBADMSG;
			}
			t = t << 6 | (uint32_t)(v < 0 ? 0 : v);
		}
		for (size_t j = 0; j < 3 && o < len; j++)
			dst[o++] = (uint8_t)(t >> (16 - 8 * j));
	}
	*out = dst;
	*out_len = len;
	return 0;
}

/* ---- encoding -------------------------------------------------------------------- */

/* Builds the uncompressed V2 encoding of h. */
static int encode_v2(const struct rl_hist *h, uint8_t **out, size_t *out_len)
{
	int32_t relevant = 1;
	size_t pos = V2_HEADER_SIZE;
	uint8_t *buf;

	for (int32_t i = h->counts_len - 1; i > 0; i--) {
		if (h->counts[i]) {
			relevant = i + 1;
			break;
		}
	}
	buf = malloc(V2_HEADER_SIZE + (size_t)relevant * VARINT_MAX_BYTES);
	if (!buf)
		return -ENOMEM;
	for (int32_t i = 0; i < relevant; i++) {
		uint64_t c = h->counts[i];
		int64_t zeros = 1;

		if (c == 0) {
			while (i + 1 < relevant && h->counts[i + 1] == 0) {
				zeros++;
				i++;
			}
			pos += zigzag_put(buf + pos, zeros > 1 ? -zeros : 0);
		} else {
			pos += zigzag_put(buf + pos, c > INT64_MAX ? INT64_MAX : (int64_t)c);
		}
	}
	put_be32(buf, V2_COOKIE_BASE | COOKIE_WORD_SIZE_TAG);
	put_be32(buf + 4, (uint32_t)(pos - V2_HEADER_SIZE));
	put_be32(buf + 8, 0);
	put_be32(buf + 12, (uint32_t)h->sigfigs);
	put_be64(buf + 16, (uint64_t)h->lowest);
	put_be64(buf + 24, (uint64_t)h->highest);
	{
		double ratio = 1.0;
		uint64_t bits;

		memcpy(&bits, &ratio, sizeof(bits));
		put_be64(buf + 32, bits);
	}
	*out = buf;
	*out_len = pos;
	return 0;
}

int rl_hist_encode(const struct rl_hist *h, char **out)
{
	uint8_t *raw = NULL, *env = NULL;
	size_t raw_len, b64_len;
	uLongf zlen;
	int rc, zrc;

	*out = NULL;
	if (!h->counts)
		return -EINVAL;
	rc = encode_v2(h, &raw, &raw_len);
	if (rc < 0)
		return rc;
	zlen = compressBound((uLong)raw_len);
	env = malloc(ENVELOPE_HEADER_SIZE + zlen);
	if (!env) {
		free(raw);
		return -ENOMEM;
	}
	zrc = compress2(env + ENVELOPE_HEADER_SIZE, &zlen, raw, (uLong)raw_len, Z_BEST_COMPRESSION);
	free(raw);
	if (zrc != Z_OK || zlen > INT32_MAX) {
		free(env);
		return zrc == Z_MEM_ERROR ? -ENOMEM : -EIO;
	}
	put_be32(env, V2_COMPRESSED_BASE | COOKIE_WORD_SIZE_TAG);
	put_be32(env + 4, (uint32_t)zlen);
	*out = base64_encode(env, ENVELOPE_HEADER_SIZE + zlen, &b64_len);
	free(env);
	if (!*out)
		return -ENOMEM;
	if (b64_len > INT_MAX) {
		free(*out);
		*out = NULL;
		return -ENOMEM;
	}
	return (int)b64_len;
}

/* ---- decoding -------------------------------------------------------------------- */

/* Inflates exactly `len` bytes into dst. */
static int inflate_exact(z_stream *zs, uint8_t *dst, size_t len)
{
	zs->next_out = dst;
	zs->avail_out = (uInt)len;
	while (zs->avail_out > 0) {
		int zrc = inflate(zs, Z_NO_FLUSH);

		if (zrc == Z_MEM_ERROR)
			return -ENOMEM;
		if (zrc == Z_STREAM_END && zs->avail_out > 0)
			return -EBADMSG;
		if (zrc != Z_OK && zrc != Z_STREAM_END)
			return -EBADMSG;
	}
	return 0;
}

/* The zlib stream must end right after the payload. */
static int inflate_check_end(z_stream *zs)
{
	uint8_t spare;

	zs->next_out = &spare;
	zs->avail_out = 1;
	if (inflate(zs, Z_FINISH) != Z_STREAM_END || zs->avail_out != 1)
		return -EBADMSG;
	return 0;
}

/* Fills h->counts (already laid out) from the varint payload. */
static int decode_counts(struct rl_hist *h, const uint8_t *p, size_t len)
{
	size_t pos = 0;
	uint64_t index = 0;
	int32_t first = -1, last = -1;

	while (pos < len) {
		int64_t v;

		if (zigzag_get(p, len, &pos, &v) < 0)
			return -EBADMSG;
		if (v < 0) {
			uint64_t zeros = 0 - (uint64_t)v;

			if (zeros > (uint64_t)h->counts_len - index)
				return -EBADMSG;
			index += zeros;
			continue;
		}
		if (index >= (uint64_t)h->counts_len || h->total > UINT64_MAX - (uint64_t)v)
			return -EBADMSG;
		if (v > 0) {
			if (first < 0)
				first = (int32_t)index;
			last = (int32_t)index;
		}
		h->counts[index++] = (uint64_t)v;
		h->total += (uint64_t)v;
	}
	if (first >= 0) {
		h->min = rl_hist_value_of_index(h, first);
		h->max = rl_hist_value_of_index(h, last);
	}
	return 0;
}

/* Reads the V2 header and payload from the zlib stream into h. */
static int decode_v2(z_stream *zs, struct rl_hist *h)
{
	uint8_t hdr[V2_HEADER_SIZE], *payload;
	uint32_t payload_len;
	int64_t lowest, highest;
	int32_t sigfigs;
	int rc;

	rc = inflate_exact(zs, hdr, sizeof(hdr));
	if (rc < 0)
		return rc;
	/*
	 * The normalizing index offset (hdr + 8) and the conversion ratio (hdr + 32) are ignored:
	 * the payload holds counts by logical index whatever the writer's internal rotation, and
	 * some writers (hdr-histogram-js) put 1 in the offset field.
	 */
	if ((get_be32(hdr) & ~COOKIE_WORD_SIZE_MASK) != V2_COOKIE_BASE)
		return -EBADMSG;
	payload_len = get_be32(hdr + 4);
	sigfigs = (int32_t)get_be32(hdr + 12);
	lowest = (int64_t)get_be64(hdr + 16);
	highest = (int64_t)get_be64(hdr + 24);
	if (lowest < 1 || highest < 1 || sigfigs < 1 || sigfigs > 5)
		return -EBADMSG;
	rc = rl_hist_init(h, lowest, highest, sigfigs);
	if (rc < 0)
		return rc == -ENOMEM ? -ENOMEM : -EBADMSG;
	if ((uint64_t)payload_len > (uint64_t)h->counts_len * VARINT_MAX_BYTES)
		return -EBADMSG;
	payload = malloc(payload_len ? payload_len : 1);
	if (!payload)
		return -ENOMEM;
	rc = inflate_exact(zs, payload, payload_len);
	if (rc == 0)
		rc = inflate_check_end(zs);
	if (rc == 0)
		rc = decode_counts(h, payload, payload_len);
	free(payload);
	return rc;
}

int rl_hist_decode(const char *b64, struct rl_hist *h)
{
	z_stream zs;
	uint8_t *raw;
	size_t raw_len;
	int rc;

	memset(h, 0, sizeof(*h));
	h->min = INT64_MAX;
	if (!b64)
		return -EBADMSG;
	rc = base64_decode(b64, &raw, &raw_len);
	if (rc < 0)
		return rc;
	if (raw_len < ENVELOPE_HEADER_SIZE ||
	    (get_be32(raw) & ~COOKIE_WORD_SIZE_MASK) != V2_COMPRESSED_BASE ||
	    get_be32(raw + 4) != raw_len - ENVELOPE_HEADER_SIZE) {
		free(raw);
		return -EBADMSG;
	}
	memset(&zs, 0, sizeof(zs));
	zs.next_in = raw + ENVELOPE_HEADER_SIZE;
	zs.avail_in = (uInt)(raw_len - ENVELOPE_HEADER_SIZE);
	if (inflateInit(&zs) != Z_OK) {
		free(raw);
		return -ENOMEM;
	}
	rc = decode_v2(&zs, h);
	inflateEnd(&zs);
	free(raw);
	if (rc < 0)
		rl_hist_free(h);
	return rc;
}

/* ---- interval log ---------------------------------------------------------------- */

int rl_hist_log_header(FILE *f, double start_unix_s)
{
	char date[128] = "", num[FIXED_BUF];
	struct c_numeric cn;
	struct tm tm;
	time_t t;
	int rc;

	if (!f || !isfinite(start_unix_s) || start_unix_s < 0.0)
		return -EINVAL;
	c_numeric_begin(&cn);
	t = (time_t)start_unix_s;
	if (localtime_r(&t, &tm))
		strftime(date, sizeof(date), "%a %b %d %H:%M:%S %Z %Y", &tm);
	rc = out(f, "#[Logged with ringlab]\n");
	if (rc == 0)
		rc = out(f, "#[Histogram log format version " LOG_FORMAT_VERSION "]\n");
	if (rc == 0)
		rc = out(f, "#[StartTime: %s (seconds since epoch), %s]\n",
			 java_fixed(num, start_unix_s, 3), date);
	if (rc == 0)
		rc = out(f, "#[BaseTime: %s (seconds since epoch)]\n",
			 java_fixed(num, start_unix_s, 3));
	if (rc == 0)
		rc = out(f, "\"StartTimestamp\",\"Interval_Length\",\"Interval_Max\","
			    "\"Interval_Compressed_Histogram\"\n");
	c_numeric_end(&cn);
	return rc;
}

int rl_hist_log_interval(FILE *f, const struct rl_hist *h, double start_s, double length_s,
			 double scale)
{
	return rl_hist_log_tagged(f, NULL, h, start_s, length_s, scale);
}

int rl_hist_log_tagged(FILE *f, const char *tag, const struct rl_hist *h, double start_s,
		       double length_s, double scale)
{
	char a[FIXED_BUF], b[FIXED_BUF], c[FIXED_BUF], *b64;
	struct c_numeric cn;
	double max;
	int rc;

	if (!f || !h || !isfinite(scale) || !(scale > 0.0))
		return -EINVAL;
	if (tag && (!*tag || strpbrk(tag, ", \t\r\n")))
		return -EINVAL;
	rc = rl_hist_encode(h, &b64);
	if (rc < 0)
		return rc;
	max = h->total ? (double)rl_hist_highest_equivalent(h, h->max) : 0.0;
	c_numeric_begin(&cn);
	rc = out(f, "%s%s%s%s,%s,%s,%s\n", tag ? "Tag=" : "", tag ? tag : "", tag ? "," : "",
		 java_fixed(a, start_s, 3), java_fixed(b, length_s, 3),
		 java_fixed(c, max / scale, 3), b64);
	c_numeric_end(&cn);
	free(b64);
	return rc;
}
