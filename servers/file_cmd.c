/*
 * file_cmd.c - parsing of the file protocol's command lines (see file_cmd.h).
 */
#include "file_cmd.h"

#include <errno.h>
#include <string.h>

int rl_filename_check(const uint8_t *name, size_t len)
{
	size_t i;

	if (len == 0 || len > RL_FILENAME_MAX || name[0] == '.')
		return -EINVAL;
	for (i = 0; i < len; i++)
		if (name[i] <= 0x20 || name[i] == 0x7f || name[i] == '/')
			return -EINVAL;
	return 0;
}

/* Parses a plain decimal number (no sign, no spaces, at most 20 digits, fits in 64 bits). */
static int parse_u64(const uint8_t *p, size_t n, uint64_t *out)
{
	uint64_t v = 0;
	size_t i;

	if (n == 0 || n > 20)
		return -EBADMSG;
	for (i = 0; i < n; i++) {
		unsigned d;

		if (p[i] < '0' || p[i] > '9')
			return -EBADMSG;
		d = (unsigned)(p[i] - '0');
		if (v > (UINT64_MAX - d) / 10)
			return -EBADMSG;
		v = v * 10 + d;
	}
	*out = v;
	return 0;
}

static int word_is(const uint8_t *w, size_t n, const char *s)
{
	return n == strlen(s) && memcmp(w, s, n) == 0;
}

long rl_filecmd_parse(const uint8_t *buf, size_t len, size_t max_line, struct rl_filecmd *out)
{
	const uint8_t *nl = memchr(buf, '\n', len < max_line ? len : max_line);
	const uint8_t *w[4];
	size_t wl[4], line, nw = 0, i, start = 0;
	int ret;

	if (!nl)
		return len >= max_line ? -EMSGSIZE : -EAGAIN;
	line = (size_t)(nl - buf);
	if (line && buf[line - 1] == '\r')
		line--;
	/* Split on single spaces; an empty word (two spaces, leading space) is malformed. */
	for (i = 0; i <= line; i++) {
		if (i < line && buf[i] != ' ')
			continue;
		if (nw == 4 || i == start)
			return -EBADMSG;
		w[nw] = buf + start;
		wl[nw++] = i - start;
		start = i + 1;
	}
	memset(out, 0, sizeof(*out));
	if (word_is(w[0], wl[0], "PUT") && nw == 3) {
		out->kind = RL_FILECMD_PUT;
		ret = parse_u64(w[2], wl[2], &out->size);
		if (ret)
			return ret;
	} else if (word_is(w[0], wl[0], "GET") && nw == 2) {
		out->kind = RL_FILECMD_GET;
	} else if (word_is(w[0], wl[0], "DEL") && nw == 2) {
		out->kind = RL_FILECMD_DEL;
	} else if (word_is(w[0], wl[0], "LIST") && nw == 1) {
		out->kind = RL_FILECMD_LIST;
		return (long)(nl - buf + 1);
	} else {
		return -EBADMSG;
	}
	out->name = w[1];
	out->name_len = wl[1];
	if (rl_filename_check(out->name, out->name_len))
		return -EINVAL;
	return (long)(nl - buf + 1);
}
