/*
 * units.c - strict parsers for durations, sizes and counts typed on command lines, and a
 * formatter for durations.  See units.h for the contract.
 *
 * Numbers are parsed as an integer part and a fractional part kept as an exact decimal
 * fraction (numerator / 10^digits), so "1.5KiB" and "0.1s" come out exact with no
 * floating point involved.  Products are computed in 128 bits and checked for overflow.
 */
#include "units.h"

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

__extension__ typedef unsigned __int128 rl_u128;

/* At most this many fractional digits are kept; further digits must be zeros to be exact. */
#define FRAC_MAX_DIGITS 18

/* A parsed decimal number: ipart + fnum / fden, with fden = 10^k. */
struct decimal {
	uint64_t ipart;
	uint64_t fnum;
	uint64_t fden;
	bool frac_lost; /* nonzero digits beyond FRAC_MAX_DIGITS were dropped */
};

struct suffix {
	const char *name;
	uint64_t mult;
};

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/*
 * Parses "DIGITS[.DIGITS]" from the start of s.  On success stores the number in d, the
 * position after it in *end and returns 0; returns -EINVAL when there is no number or a
 * dot is not followed by a digit, -ERANGE when the integer part overflows 64 bits.
 */
static int parse_decimal(const char *s, struct decimal *d, const char **end)
{
	const char *p = s;

	memset(d, 0, sizeof(*d));
	d->fden = 1;
	if (!is_digit(*p))
		return -EINVAL;
	for (; is_digit(*p); p++) {
		unsigned digit = (unsigned)(*p - '0');

		if (d->ipart > (UINT64_MAX - digit) / 10)
			return -ERANGE;
		d->ipart = d->ipart * 10 + digit;
	}
	if (*p == '.') {
		unsigned ndigits = 0;

		p++;
		if (!is_digit(*p))
			return -EINVAL;
		for (; is_digit(*p); p++) {
			if (ndigits < FRAC_MAX_DIGITS) {
				d->fnum = d->fnum * 10 + (uint64_t)(*p - '0');
				d->fden *= 10;
				ndigits++;
			} else if (*p != '0') {
				d->frac_lost = true;
			}
		}
	}
	*end = p;
	return 0;
}

/*
 * Computes d * mult into *out.  The fractional contribution is rounded down; *exact tells
 * whether nothing was lost.  Returns 0 or -ERANGE.
 */
static int scale_decimal(const struct decimal *d, uint64_t mult, uint64_t *out, bool *exact)
{
	rl_u128 whole = (rl_u128)d->ipart * mult;
	rl_u128 fprod = (rl_u128)d->fnum * mult;
	rl_u128 total = whole + fprod / d->fden;

	if (total > UINT64_MAX)
		return -ERANGE;
	*exact = (fprod % d->fden) == 0 && !d->frac_lost;
	*out = (uint64_t)total;
	return 0;
}

static const struct suffix *find_suffix(const struct suffix *tab, const char *s, bool nocase)
{
	for (; tab->name; tab++) {
		if (nocase ? strcasecmp(tab->name, s) == 0 : strcmp(tab->name, s) == 0)
			return tab;
	}
	return NULL;
}

/* Parses number + suffix from the table; `exact` reports whether the value is whole. */
static int parse_with_suffix(const char *s, const struct suffix *tab, bool nocase, uint64_t *out,
			     bool *exact)
{
	struct decimal d;
	const struct suffix *suf;
	const char *end;
	int rc;

	if (!s)
		return -EINVAL;
	rc = parse_decimal(s, &d, &end);
	if (rc < 0)
		return rc;
	suf = find_suffix(tab, end, nocase);
	if (!suf)
		return -EINVAL;
	return scale_decimal(&d, suf->mult, out, exact);
}

#define NS_PER_US  1000ULL
#define NS_PER_MS  1000000ULL
#define NS_PER_SEC 1000000000ULL

int rl_parse_duration_ns(const char *s, uint64_t *out)
{
	static const struct suffix tab[] = {
	    {"", NS_PER_SEC},	      {"ns", 1},	 {"us", NS_PER_US},
	    {"ms", NS_PER_MS},	      {"s", NS_PER_SEC}, {"m", 60 * NS_PER_SEC},
	    {"h", 3600 * NS_PER_SEC}, {NULL, 0},
	};
	uint64_t v;
	bool exact;
	int rc;

	/* Sub-nanosecond fractions are truncated: durations need not be whole. */
	rc = parse_with_suffix(s, tab, false, &v, &exact);
	if (rc < 0)
		return rc;
	*out = v;
	return 0;
}

int rl_parse_size(const char *s, uint64_t *out)
{
	static const struct suffix tab[] = {
	    {"", 1},
	    {"B", 1},
	    {"K", 1ULL << 10},
	    {"KiB", 1ULL << 10},
	    {"M", 1ULL << 20},
	    {"MiB", 1ULL << 20},
	    {"G", 1ULL << 30},
	    {"GiB", 1ULL << 30},
	    {"T", 1ULL << 40},
	    {"TiB", 1ULL << 40},
	    {"KB", 1000ULL},
	    {"MB", 1000000ULL},
	    {"GB", 1000000000ULL},
	    {"TB", 1000000000000ULL},
	    {NULL, 0},
	};
	const char *p = s;
	uint64_t v;
	bool exact;
	int rc;

	/* "b" alone means bits; refuse it before the case-insensitive lookup accepts it. */
	if (p) {
		while (is_digit(*p) || *p == '.')
			p++;
		if (strcmp(p, "b") == 0)
			return -EINVAL;
	}
	rc = parse_with_suffix(s, tab, true, &v, &exact);
	if (rc < 0)
		return rc;
	if (!exact)
		return -EINVAL;
	*out = v;
	return 0;
}

int rl_parse_count(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	static const struct suffix tab[] = {
	    {"", 1},	       {"k", 1000ULL},	     {"K", 1000ULL},
	    {"M", 1000000ULL}, {"G", 1000000000ULL}, {NULL, 0},
	};
	uint64_t v;
	bool exact;
	int rc;

	rc = parse_with_suffix(s, tab, false, &v, &exact);
	if (rc < 0)
		return rc;
	if (!exact)
		return -EINVAL;
	if (v < min || v > max)
		return -ERANGE;
	*out = v;
	return 0;
}

static unsigned count_digits(uint64_t v)
{
	unsigned n = 1;

	while (v >= 10) {
		v /= 10;
		n++;
	}
	return n;
}

static uint64_t pow10_u64(unsigned n)
{
	uint64_t p = 1;

	while (n--)
		p *= 10;
	return p;
}

const char *rl_format_duration(uint64_t ns, char *buf, unsigned long len)
{
	static const struct {
		uint64_t unit;
		const char *name;
	} units[] = {{NS_PER_US, "us"}, {NS_PER_MS, "ms"}, {NS_PER_SEC, "s"}};
	uint64_t p, r, unit, ip, fp;
	unsigned digits, decimals, i;
	const char *name;

	if (!buf || len == 0)
		return buf;
	if (ns < 1000) {
		snprintf(buf, len, "%lluns", (unsigned long long)ns);
		return buf;
	}
	if (ns >= 1000 * NS_PER_SEC) {
		/* 1000 s and beyond: whole seconds, rounded. */
		/* Rounded to nearest, but never past what a duration can hold (so the text
		 * always parses back), and without (ns + half) overflowing. */
		uint64_t s = ns / NS_PER_SEC;

		if (ns % NS_PER_SEC >= NS_PER_SEC / 2 && s < UINT64_MAX / NS_PER_SEC)
			s++;
		snprintf(buf, len, "%llus", (unsigned long long)s);
		return buf;
	}
	/* Round to 3 significant digits first so that 999.96us becomes 1.00ms, not 1000us. */
	p = pow10_u64(count_digits(ns) - 3);
	r = (ns + p / 2) / p * p;
	unit = units[0].unit;
	name = units[0].name;
	for (i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (r >= units[i].unit) {
			unit = units[i].unit;
			name = units[i].name;
		}
	}
	ip = r / unit;
	fp = r % unit;
	digits = count_digits(ip);
	decimals = digits >= 3 ? 0 : 3 - digits;
	if (decimals == 0) {
		snprintf(buf, len, "%llu%s", (unsigned long long)ip, name);
	} else {
		fp /= unit / pow10_u64(decimals);
		snprintf(buf, len, "%llu.%0*llu%s", (unsigned long long)ip, (int)decimals,
			 (unsigned long long)fp, name);
	}
	return buf;
}
