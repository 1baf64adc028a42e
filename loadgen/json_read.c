/*
 * json_read.c - a recursive-descent JSON parser into a tree (see json_read.h).
 */
#include "json_read.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_DEPTH 64

struct parser {
	const char *s;
	size_t len, pos;
	char *why;
	size_t wlen;
	int err;
};

static int fail(struct parser *p, const char *what)
{
	if (!p->err) {
		p->err = -EBADMSG;
		snprintf(p->why, p->wlen, "%s at byte %zu", what, p->pos);
	}
	return p->err;
}

static void skip_ws(struct parser *p)
{
	while (p->pos < p->len && (p->s[p->pos] == ' ' || p->s[p->pos] == '\t' ||
				   p->s[p->pos] == '\n' || p->s[p->pos] == '\r'))
		p->pos++;
}

static bool literal(struct parser *p, const char *word)
{
	size_t n = strlen(word);

	if (p->len - p->pos < n || memcmp(p->s + p->pos, word, n) != 0)
		return false;
	p->pos += n;
	return true;
}

static int hex4(struct parser *p, unsigned *out)
{
	unsigned v = 0;
	int i;

	if (p->len - p->pos < 4)
		return fail(p, "truncated \\u escape");
	for (i = 0; i < 4; i++) {
		char c = p->s[p->pos++];

		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= (unsigned)(c - '0');
		else if (c >= 'a' && c <= 'f')
			v |= (unsigned)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			v |= (unsigned)(c - 'A' + 10);
		else
			return fail(p, "bad \\u escape");
	}
	*out = v;
	return 0;
}

static size_t put_utf8(char *o, unsigned cp)
{
	if (cp < 0x80) {
		o[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		o[0] = (char)(0xc0 | (cp >> 6));
		o[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		o[0] = (char)(0xe0 | (cp >> 12));
		o[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		o[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	o[0] = (char)(0xf0 | (cp >> 18));
	o[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
	o[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
	o[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

/* Parses a string literal (p->pos on the opening quote) into a malloc'ed C string. */
static int parse_string(struct parser *p, char **out)
{
	size_t start = ++p->pos, end = start, n = 0;
	unsigned cp, lo;
	char *o;

	while (end < p->len && p->s[end] != '"')
		end += p->s[end] == '\\' ? 2 : 1;
	if (end >= p->len)
		return fail(p, "unterminated string");
	o = malloc(end - start + 1); /* escapes never grow the text */
	if (!o)
		return p->err = -ENOMEM;
	while (p->pos < end) {
		char c = p->s[p->pos++];

		if ((unsigned char)c < 0x20) {
			free(o);
			return fail(p, "control character in string");
		}
		if (c != '\\') {
			o[n++] = c;
			continue;
		}
		c = p->s[p->pos++];
		switch (c) {
		case '"':
		case '\\':
		case '/':
			o[n++] = c;
			break;
		case 'b':
			o[n++] = '\b';
			break;
		case 'f':
			o[n++] = '\f';
			break;
		case 'n':
			o[n++] = '\n';
			break;
		case 'r':
			o[n++] = '\r';
			break;
		case 't':
			o[n++] = '\t';
			break;
		case 'u':
			if (hex4(p, &cp)) {
				free(o);
				return p->err;
			}
			if (cp >= 0xd800 && cp < 0xdc00 && p->pos + 6 <= end &&
			    p->s[p->pos] == '\\' && p->s[p->pos + 1] == 'u') {
				p->pos += 2;
				if (hex4(p, &lo)) {
					free(o);
					return p->err;
				}
				cp = 0x10000 + ((cp - 0xd800) << 10) + (lo & 0x3ff);
			}
			n += put_utf8(o + n, cp);
			break;
		default:
			free(o);
			return fail(p, "bad escape");
		}
	}
	p->pos = end + 1;
	o[n] = '\0';
	*out = o;
	return 0;
}

static int parse_number(struct parser *p, struct lg_jval *v)
{
	const char *start = p->s + p->pos;
	char buf[64], *end;
	size_t n = 0;
	bool integer = true;

	while (p->pos + n < p->len && n < sizeof(buf) - 1 && strchr("+-0123456789.eE", start[n])) {
		if (strchr(".eE", start[n]))
			integer = false;
		n++;
	}
	memcpy(buf, start, n);
	buf[n] = '\0';
	errno = 0;
	v->num = strtod(buf, &end);
	if (n == 0 || *end || !isfinite(v->num))
		return fail(p, "bad number");
	if (integer && buf[0] != '-') {
		errno = 0;
		v->u = strtoull(buf, &end, 10);
		v->is_uint = errno == 0 && !*end;
	}
	v->type = LG_J_NUM;
	p->pos += n;
	return 0;
}

static int parse_value(struct parser *p, struct lg_jval **out, int depth);

/* Appends to an array or object, growing by doubling. */
static int append(struct parser *p, struct lg_jval *v, struct lg_jval *item, char *key, size_t *cap)
{
	if (v->n == *cap) {
		size_t nc = *cap ? *cap * 2 : 8;
		struct lg_jval **items = realloc(v->items, nc * sizeof(*items));

		if (!items)
			return p->err = -ENOMEM;
		v->items = items;
		if (v->type == LG_J_OBJ) {
			char **keys = realloc(v->keys, nc * sizeof(*keys));

			if (!keys)
				return p->err = -ENOMEM;
			v->keys = keys;
		}
		*cap = nc;
	}
	v->items[v->n] = item;
	if (v->type == LG_J_OBJ)
		v->keys[v->n] = key;
	v->n++;
	return 0;
}

static int parse_container(struct parser *p, struct lg_jval *v, int depth)
{
	bool obj = p->s[p->pos] == '{';
	char close = obj ? '}' : ']';
	size_t cap = 0;

	v->type = obj ? LG_J_OBJ : LG_J_ARR;
	p->pos++;
	skip_ws(p);
	if (p->pos < p->len && p->s[p->pos] == close) {
		p->pos++;
		return 0;
	}
	for (;;) {
		struct lg_jval *item = NULL;
		char *key = NULL;

		skip_ws(p);
		if (obj) {
			if (p->pos >= p->len || p->s[p->pos] != '"')
				return fail(p, "expected a member name");
			if (parse_string(p, &key))
				return p->err;
			skip_ws(p);
			if (p->pos >= p->len || p->s[p->pos] != ':') {
				free(key);
				return fail(p, "expected ':'");
			}
			p->pos++;
		}
		if (parse_value(p, &item, depth + 1) || append(p, v, item, key, &cap)) {
			free(key);
			lg_jval_free(item);
			return p->err;
		}
		skip_ws(p);
		if (p->pos < p->len && p->s[p->pos] == ',') {
			p->pos++;
			continue;
		}
		if (p->pos < p->len && p->s[p->pos] == close) {
			p->pos++;
			return 0;
		}
		return fail(p, obj ? "expected ',' or '}'" : "expected ',' or ']'");
	}
}

static int parse_value(struct parser *p, struct lg_jval **out, int depth)
{
	struct lg_jval *v;
	char c;

	*out = NULL;
	if (depth > MAX_DEPTH)
		return fail(p, "nested too deeply");
	skip_ws(p);
	if (p->pos >= p->len)
		return fail(p, "unexpected end");
	v = calloc(1, sizeof(*v));
	if (!v)
		return p->err = -ENOMEM;
	*out = v;
	c = p->s[p->pos];
	if (c == '{' || c == '[')
		return parse_container(p, v, depth);
	if (c == '"') {
		v->type = LG_J_STR;
		return parse_string(p, &v->str);
	}
	if (literal(p, "true") || literal(p, "false")) {
		v->type = LG_J_BOOL;
		v->b = c == 't';
		return 0;
	}
	if (literal(p, "null"))
		return 0;
	return parse_number(p, v);
}

int lg_json_parse(const char *text, size_t len, struct lg_jval **out, char *why, size_t wlen)
{
	struct parser p = {.s = text, .len = len, .why = why, .wlen = wlen};

	if (wlen)
		why[0] = '\0';
	if (parse_value(&p, out, 0) == 0) {
		skip_ws(&p);
		if (p.pos != p.len)
			fail(&p, "trailing data");
	}
	if (p.err) {
		lg_jval_free(*out);
		*out = NULL;
	}
	return p.err;
}

void lg_jval_free(struct lg_jval *v)
{
	size_t i;

	if (!v)
		return;
	for (i = 0; i < v->n; i++) {
		lg_jval_free(v->items[i]);
		if (v->keys)
			free(v->keys[i]);
	}
	free(v->items);
	free(v->keys);
	free(v->str);
	free(v);
}

const struct lg_jval *lg_jget(const struct lg_jval *v, const char *path)
{
	const char *dot;
	size_t i, n;

	while (v && *path) {
		if (v->type != LG_J_OBJ)
			return NULL;
		dot = strchr(path, '.');
		n = dot ? (size_t)(dot - path) : strlen(path);
		for (i = 0; i < v->n; i++)
			if (strlen(v->keys[i]) == n && !memcmp(v->keys[i], path, n))
				break;
		v = i < v->n ? v->items[i] : NULL;
		path += n + (dot ? 1 : 0);
	}
	return v;
}

double lg_jnum(const struct lg_jval *v, const char *path, double dflt)
{
	v = lg_jget(v, path);
	return v && v->type == LG_J_NUM ? v->num : dflt;
}

uint64_t lg_juint(const struct lg_jval *v, const char *path, uint64_t dflt)
{
	v = lg_jget(v, path);
	return v && v->type == LG_J_NUM && v->is_uint ? v->u : dflt;
}

const char *lg_jstr(const struct lg_jval *v, const char *path, const char *dflt)
{
	v = lg_jget(v, path);
	return v && v->type == LG_J_STR ? v->str : dflt;
}

bool lg_jbool(const struct lg_jval *v, const char *path, bool dflt)
{
	v = lg_jget(v, path);
	return v && v->type == LG_J_BOOL ? v->b : dflt;
}
