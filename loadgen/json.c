/*
 * json.c - the streaming JSON writer (see json.h).
 *
 * Strings: '"' and '\\' are escaped, control characters become \n, \t, ... or \u00XX,
 * valid UTF-8 passes through unchanged and every byte of an invalid sequence becomes
 * U+FFFD, so the output is always valid JSON (RFC 8259) whatever the input bytes were.
 */
#include "json.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <string.h>

/* Length of the valid UTF-8 sequence at p (1..4), or 0 if the bytes are not one. */
static int utf8_seq(const unsigned char *p)
{
	int n, i;
	uint32_t cp;

	if (p[0] < 0x80)
		return 1;
	if ((p[0] & 0xe0) == 0xc0) {
		n = 2;
		cp = p[0] & 0x1fu;
	} else if ((p[0] & 0xf0) == 0xe0) {
		n = 3;
		cp = p[0] & 0x0fu;
	} else if ((p[0] & 0xf8) == 0xf0) {
		n = 4;
		cp = p[0] & 0x07u;
	} else {
		return 0;
	}
	for (i = 1; i < n; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (p[i] & 0x3fu);
	}
	if ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) ||
	    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0; /* overlong, out of range, or a surrogate */
	return n;
}

int lg_json_write_string(FILE *f, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	int n, bad = 0;

	bad |= fputc('"', f) == EOF;
	while (*p) {
		switch (*p) {
		case '"':
			bad |= fputs("\\\"", f) == EOF;
			break;
		case '\\':
			bad |= fputs("\\\\", f) == EOF;
			break;
		case '\n':
			bad |= fputs("\\n", f) == EOF;
			break;
		case '\r':
			bad |= fputs("\\r", f) == EOF;
			break;
		case '\t':
			bad |= fputs("\\t", f) == EOF;
			break;
		case '\b':
			bad |= fputs("\\b", f) == EOF;
			break;
		case '\f':
			bad |= fputs("\\f", f) == EOF;
			break;
		default:
			if (*p < 0x20 || *p == 0x7f) {
				bad |= fprintf(f, "\\u%04x", *p) < 0;
				break;
			}
			n = utf8_seq(p);
			if (!n) {
				bad |= fputs("\\ufffd", f) == EOF;
				break;
			}
			bad |= fwrite(p, 1, (size_t)n, f) != (size_t)n;
			p += n;
			continue;
		}
		p++;
	}
	bad |= fputc('"', f) == EOF;
	return bad ? -EIO : 0;
}

static void fail(struct lg_json *j, int err)
{
	if (!j->err)
		j->err = err;
}

static void indent(struct lg_json *j)
{
	int i;

	fputc('\n', j->f);
	for (i = 0; i < j->depth; i++)
		fputs("  ", j->f);
}

/* Separator, indentation and key before a value. */
static void member(struct lg_json *j, const char *key)
{
	if (j->depth > 0) {
		if (j->has_items[j->depth])
			fputc(',', j->f);
		indent(j);
	}
	j->has_items[j->depth] = true;
	if (key) {
		if (lg_json_write_string(j->f, key))
			fail(j, -EIO);
		fputs(": ", j->f);
	}
}

void lg_json_init(struct lg_json *j, FILE *f)
{
	memset(j, 0, sizeof(*j));
	j->f = f;
}

static void open_(struct lg_json *j, const char *key, char c)
{
	member(j, key);
	fputc(c, j->f);
	if (j->depth + 1 >= LG_JSON_MAX_DEPTH) {
		fail(j, -EINVAL);
		return;
	}
	j->depth++;
	j->has_items[j->depth] = false;
}

static void close_(struct lg_json *j, char c)
{
	if (j->depth == 0) {
		fail(j, -EINVAL);
		return;
	}
	j->depth--;
	if (j->has_items[j->depth + 1])
		indent(j);
	fputc(c, j->f);
}

void lg_json_object(struct lg_json *j, const char *key)
{
	open_(j, key, '{');
}

void lg_json_array(struct lg_json *j, const char *key)
{
	open_(j, key, '[');
}

void lg_json_end_object(struct lg_json *j)
{
	close_(j, '}');
}

void lg_json_end_array(struct lg_json *j)
{
	close_(j, ']');
}

void lg_json_str(struct lg_json *j, const char *key, const char *v)
{
	member(j, key);
	if (!v)
		fputs("null", j->f);
	else if (lg_json_write_string(j->f, v))
		fail(j, -EIO);
}

void lg_json_uint(struct lg_json *j, const char *key, uint64_t v)
{
	member(j, key);
	fprintf(j->f, "%" PRIu64, v);
}

void lg_json_int(struct lg_json *j, const char *key, int64_t v)
{
	member(j, key);
	fprintf(j->f, "%" PRId64, v);
}

void lg_json_double(struct lg_json *j, const char *key, double v)
{
	member(j, key);
	if (isfinite(v))
		fprintf(j->f, "%.15g", v);
	else
		fputs("null", j->f);
}

void lg_json_bool(struct lg_json *j, const char *key, bool v)
{
	member(j, key);
	fputs(v ? "true" : "false", j->f);
}

void lg_json_null(struct lg_json *j, const char *key)
{
	member(j, key);
	fputs("null", j->f);
}

int lg_json_finish(struct lg_json *j)
{
	fputc('\n', j->f);
	if (j->depth != 0)
		fail(j, -EINVAL);
	if (ferror(j->f))
		fail(j, -EIO);
	return j->err;
}
