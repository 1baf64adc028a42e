/*
 * line.c - newline framing (see line.h).
 */
#include "line.h"

#include <errno.h>
#include <string.h>

long rl_line_next(const uint8_t *buf, size_t len, size_t max_line, size_t *text_len)
{
	/* A line of max_line bytes may be followed by "\r\n": look that far, no further. */
	size_t window = max_line + 2 < len ? max_line + 2 : len;
	const uint8_t *nl = memchr(buf, '\n', window);
	size_t n;

	if (!nl)
		return len > max_line + 1 ? -EMSGSIZE : -EAGAIN;
	n = (size_t)(nl - buf);
	if (n && buf[n - 1] == '\r')
		n--;
	if (n > max_line)
		return -EMSGSIZE;
	*text_len = n;
	return (long)(nl - buf) + 1;
}
