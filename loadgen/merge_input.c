/*
 * merge_input.c - reading the shards' files for `ringlab-load merge` (merge_input.h).
 *
 * A --json input gives its window (Unix seconds), its encoded window histograms
 * (corrected; uncorrected in an open loop; connect and first byte for greeting) and one
 * encoded histogram per second of its series.  A --log input gives only intervals: its
 * window runs from the first interval to the end of the last, and its corrected histogram
 * is the sum of the intervals; its shard comes from the lines' Tag=host/I/N.  Every
 * histogram is decoded here, so the merge only adds them.  Any input that cannot be used
 * is reported in one line naming the file.
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hist_log.h"
#include "merge_input.h"
#include "shard.h"
#include "stats.h"

#define INPUT_MAX (256u * 1024u * 1024u)

int lg_merge_input_error(const char *path, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "ringlab-load merge: %s: ", path);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return -EINVAL;
}

static int decode_into(const char *path, const char *what, const char *b64, struct rl_hist *h)
{
	char msg[96];

	if (!b64) {
		snprintf(msg, sizeof(msg), "%s", what);
		return lg_merge_input_error(path,
					    "no encoded %s histogram (not a --json of a "
					    "ringlab-load that writes them?)",
					    msg);
	}
	if (rl_hist_decode(b64, h)) {
		snprintf(msg, sizeof(msg), "%s", what);
		return lg_merge_input_error(path, "the %s histogram does not decode (corrupt file)",
					    msg);
	}
	return 0;
}

static int add_interval(struct lg_shard_in *s, double start, double len, const char *b64)
{
	size_t n = s->niv + 1;
	double *st = realloc(s->iv_start, n * sizeof(*st)), *ln;
	struct rl_hist *h;

	if (!st)
		return -ENOMEM;
	s->iv_start = st;
	ln = realloc(s->iv_len, n * sizeof(*ln));
	if (!ln)
		return -ENOMEM;
	s->iv_len = ln;
	h = realloc(s->iv_hist, n * sizeof(*h));
	if (!h)
		return -ENOMEM;
	s->iv_hist = h;
	memset(&h[s->niv], 0, sizeof(*h));
	if (rl_hist_decode(b64, &h[s->niv]))
		return lg_merge_input_error(s->path, "an interval histogram does not decode (%s)",
					    "corrupt file");
	st[s->niv] = start;
	ln[s->niv] = len;
	s->niv = n;
	return 0;
}

static int load_json(struct lg_shard_in *s, const char *text, size_t len)
{
	const struct lg_jval *series;
	char why[160];
	size_t i;
	int rc;

	rc = lg_json_parse(text, len, &s->doc, why, sizeof(why));
	if (rc == -ENOMEM)
		return rc;
	if (rc)
		return lg_merge_input_error(s->path, "not valid JSON: %s", why);
	if (strcmp(lg_jstr(s->doc, "tool", ""), "ringlab-load") != 0)
		return lg_merge_input_error(s->path, "%s", "not a ringlab-load --json document");
	snprintf(s->host, sizeof(s->host), "%s",
		 lg_jstr(s->doc, "shard.host", lg_jstr(s->doc, "environment.hostname", "?")));
	s->index = (unsigned)lg_juint(s->doc, "shard.index", 0);
	s->count = (unsigned)lg_juint(s->doc, "shard.count", 1);
	s->exit_status = (int)lg_jnum(s->doc, "exit_status", 1);
	s->start = lg_jnum(s->doc, "totals.window_start_unix_s", NAN);
	s->end = lg_jnum(s->doc, "totals.window_end_unix_s", NAN);
	if (!isfinite(s->start) || !isfinite(s->end))
		return lg_merge_input_error(s->path, "%s",
					    "no measurement window (the run never started "
					    "measuring)");
	if (decode_into(s->path, "corrected", lg_jstr(s->doc, "histograms.corrected", NULL),
			&s->hc))
		return -EINVAL;
	s->have_u = lg_jstr(s->doc, "histograms.uncorrected", NULL) != NULL;
	if (s->have_u && decode_into(s->path, "uncorrected",
				     lg_jstr(s->doc, "histograms.uncorrected", NULL), &s->hu))
		return -EINVAL;
	s->have_conn = lg_jstr(s->doc, "histograms.connect", NULL) != NULL;
	if (s->have_conn &&
	    (decode_into(s->path, "connect", lg_jstr(s->doc, "histograms.connect", NULL),
			 &s->hconn) ||
	     decode_into(s->path, "first_byte", lg_jstr(s->doc, "histograms.first_byte", NULL),
			 &s->httfb)))
		return -EINVAL;
	series = lg_jget(s->doc, "series");
	for (i = 0; series && series->type == LG_J_ARR && i < series->n; i++) {
		const struct lg_jval *p = series->items[i];
		const char *b64 = lg_jstr(p, "histogram", NULL);

		if (!b64)
			return lg_merge_input_error(s->path, "%s",
						    "a series point has no histogram");
		rc = add_interval(s, s->start + lg_jnum(p, "t_s", 0), lg_jnum(p, "length_s", 0),
				  b64);
		if (rc)
			return rc;
	}
	return 0;
}

/* "Tag=host/I/N," -> host, I, N. */
static int parse_tag(struct lg_shard_in *s, const char *tag, size_t len)
{
	char buf[sizeof(s->host)], *a, *b;
	unsigned i, n;

	if (len >= sizeof(buf))
		return -EINVAL;
	memcpy(buf, tag, len);
	buf[len] = '\0';
	b = strrchr(buf, '/');
	if (!b)
		return -EINVAL;
	*b = '\0';
	a = strrchr(buf, '/');
	if (!a)
		return -EINVAL;
	*b = '/';
	if (lg_shard_parse(a + 1, &i, &n))
		return -EINVAL;
	*a = '\0';
	if (s->count && (s->index != i || s->count != n || strcmp(s->host, buf) != 0))
		return -EEXIST;
	snprintf(s->host, sizeof(s->host), "%s", buf);
	s->index = i;
	s->count = n;
	return 0;
}

static int load_log(struct lg_shard_in *s, char *text)
{
	double base = NAN;
	char *line, *save = NULL, *f[4];
	int rc, nf;

	s->is_log = true;
	s->count = 0;
	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *p = line, *tag = NULL, *comma;

		if (!strncmp(line, "#[BaseTime: ", 12)) {
			base = strtod(line + 12, NULL);
			continue;
		}
		if (line[0] == '#' || line[0] == '"' || !line[0])
			continue;
		if (!strncmp(p, "Tag=", 4)) {
			tag = p + 4;
			comma = strchr(tag, ',');
			if (!comma)
				return lg_merge_input_error(s->path, "%s",
							    "a tagged line has no fields");
			rc = parse_tag(s, tag, (size_t)(comma - tag));
			if (rc == -EEXIST)
				return lg_merge_input_error(s->path, "%s",
							    "lines carry different tags (one "
							    "shard per file)");
			if (rc)
				return lg_merge_input_error(s->path, "%s", "a tag is not host/I/N");
			p = comma + 1;
		}
		for (nf = 0; nf < 4 && p; nf++) {
			f[nf] = p;
			p = nf < 3 ? strchr(p, ',') : NULL;
			if (p)
				*p++ = '\0';
		}
		if (nf != 4 || !isfinite(base))
			return lg_merge_input_error(
			    s->path, "%s",
			    isfinite(base)
				? "an interval line has fewer than 4 fields (corrupt file)"
				: "no #[BaseTime: ...] before the intervals (not a ringlab-load "
				  "--log?)");
		rc = add_interval(s, base + strtod(f[0], NULL), strtod(f[1], NULL), f[3]);
		if (rc)
			return rc;
	}
	if (!s->niv)
		return lg_merge_input_error(s->path, "%s",
					    "no intervals (empty or not an interval log)");
	if (!s->count) {
		snprintf(s->host, sizeof(s->host), "?");
		s->count = 1;
	}
	s->start = s->iv_start[0];
	s->end = s->iv_start[s->niv - 1] + s->iv_len[s->niv - 1];
	if (lg_hist_init(&s->hc))
		return -ENOMEM;
	for (size_t i = 0; i < s->niv; i++)
		if (rl_hist_merge(&s->hc, &s->iv_hist[i]))
			return lg_merge_input_error(s->path, "%s",
						    "intervals of different layouts");
	s->exit_status = 0;
	return 0;
}

/* Reads a whole file into a NUL-terminated malloc'ed buffer.  Returns 0 or -errno. */
static int read_all(const char *path, char **out, size_t *len)
{
	FILE *f = fopen(path, "r");
	size_t n = 0, cap = 65536, got;
	char *buf, *nb;
	int rc = 0;

	if (!f)
		return -errno;
	buf = malloc(cap);
	while (buf) {
		got = fread(buf + n, 1, cap - n - 1, f);
		n += got;
		if (n < cap - 1)
			break;
		if (cap >= INPUT_MAX) {
			rc = -EFBIG;
			break;
		}
		nb = realloc(buf, cap * 2);
		if (!nb)
			free(buf);
		buf = nb;
		cap *= 2;
	}
	if (!buf)
		rc = -ENOMEM;
	else if (!rc && ferror(f))
		rc = -EIO;
	fclose(f);
	if (rc) {
		free(buf);
		return rc;
	}
	buf[n] = '\0';
	*out = buf;
	*len = n;
	return 0;
}

int lg_merge_load(struct lg_shard_in *s)
{
	char *text = NULL;
	size_t len = 0, i;
	int rc = read_all(s->path, &text, &len);

	if (rc == -ENOMEM)
		return rc;
	if (rc)
		return lg_merge_input_error(s->path, "cannot read: %s", strerror(-rc));
	for (i = 0; i < len && (text[i] == ' ' || text[i] == '\n' || text[i] == '\t'); i++)
		;
	if (i < len && text[i] == '{')
		rc = load_json(s, text, len);
	else if (memchr(text, '\0', len))
		rc = lg_merge_input_error(s->path, "%s", "binary data: neither --json nor --log");
	else
		rc = load_log(s, text);
	free(text);
	return rc;
}

void lg_merge_free(struct lg_shard_in *s)
{
	size_t i;

	lg_jval_free(s->doc);
	rl_hist_free(&s->hc);
	rl_hist_free(&s->hu);
	rl_hist_free(&s->hconn);
	rl_hist_free(&s->httfb);
	for (i = 0; i < s->niv; i++)
		rl_hist_free(&s->iv_hist[i]);
	free(s->iv_hist);
	free(s->iv_start);
	free(s->iv_len);
}

/* The run parameters every shard must share. */
static const char *const same_str[] = {"parameters.protocol", "parameters.target",
				       "parameters.mode"};
static const char *const same_num[] = {"parameters.size", "parameters.pipeline",
				       "shard.total_connections", "shard.total_rate",
				       "parameters.duration_s"};

int lg_merge_check_same(struct lg_shard_in *in, size_t n)
{
	size_t i, k;
	char msg[400];

	for (i = 0; i < n; i++) {
		if (in[i].is_log != in[0].is_log)
			return lg_merge_input_error(in[i].path, "%s",
						    "mixes --log and --json inputs");
		if (in[i].count != in[0].count) {
			snprintf(msg, sizeof(msg), "shard count %u, but %s has %u", in[i].count,
				 in[0].path, in[0].count);
			return lg_merge_input_error(in[i].path, "mismatched shards: %s", msg);
		}
		for (k = 0; k < i; k++)
			if (in[k].index == in[i].index && in[i].count > 1) {
				snprintf(msg, sizeof(msg), "shard %u/%u is also in %s", in[i].index,
					 in[i].count, in[k].path);
				return lg_merge_input_error(in[i].path, "mismatched shards: %s",
							    msg);
			}
		if (in[i].is_log)
			continue;
		for (k = 0; k < sizeof(same_str) / sizeof(same_str[0]); k++) {
			const char *a = lg_jstr(in[0].doc, same_str[k], ""),
				   *b = lg_jstr(in[i].doc, same_str[k], "");

			if (strcmp(a, b)) {
				snprintf(msg, sizeof(msg), "%s is '%s', but '%s' in %s",
					 same_str[k], b, a, in[0].path);
				return lg_merge_input_error(in[i].path, "not the same run: %s",
							    msg);
			}
		}
		for (k = 0; k < sizeof(same_num) / sizeof(same_num[0]); k++) {
			double a = lg_jnum(in[0].doc, same_num[k], -1),
			       b = lg_jnum(in[i].doc, same_num[k], -1);

			if (a != b) {
				snprintf(msg, sizeof(msg), "%s is %g, but %g in %s", same_num[k], b,
					 a, in[0].path);
				return lg_merge_input_error(in[i].path, "not the same run: %s",
							    msg);
			}
		}
	}
	return 0;
}
