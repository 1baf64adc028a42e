/*
 * test_line.c - newline framing for the chat protocol, with every input placed right
 * before a PROT_NONE guard page so a read past its end crashes.
 */
#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "line.h"
#include "tap.h"

static uint8_t *base;
static size_t page;

static long next(const char *s, size_t n, size_t max, size_t *len)
{
	uint8_t *p = base + page - n;

	memcpy(p, s, n);
	return rl_line_next(p, n, max, len);
}

#define NEXT(lit, max, len) next(lit, sizeof(lit) - 1, max, len)

int main(void)
{
	char big[300];
	size_t len = 99;

	page = (size_t)sysconf(_SC_PAGESIZE);
	base = mmap(NULL, 2 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	mprotect(base + page, page, PROT_NONE);

	tap_ok(NEXT("hello\nworld", 100, &len) == 6 && len == 5,
	       "a line is consumed with its newline");
	tap_ok(NEXT("hello\r\n", 100, &len) == 7 && len == 5,
	       "CRLF: the CR is not part of the text");
	tap_ok(NEXT("\n", 100, &len) == 1 && len == 0, "an empty line is a line");
	tap_ok(NEXT("\r\n", 100, &len) == 2 && len == 0, "a bare CRLF is an empty line");
	tap_ok(NEXT("partial", 100, &len) == -EAGAIN, "no newline yet: wait for more");
	tap_ok(NEXT("", 100, &len) == -EAGAIN, "nothing yet: wait");
	memset(big, 'x', sizeof(big));
	big[100] = '\n';
	tap_ok(next(big, 101, 100, &len) == 101 && len == 100, "a line of exactly max_line fits");
	big[100] = '\r';
	big[101] = '\n';
	tap_ok(next(big, 102, 100, &len) == 102 && len == 100, "max_line plus CRLF fits");
	big[101] = 'x';
	big[102] = '\n';
	tap_ok(next(big, 103, 100, &len) == -EMSGSIZE, "max_line + 1 bytes of text is too long");
	tap_ok(next(big, 101, 100, &len) == -EAGAIN, "max_line + 1 bytes could still end in CRLF");
	tap_ok(next(big, 102, 100, &len) == -EMSGSIZE,
	       "max_line + 2 bytes without a newline can never fit");
	tap_ok(next(big, 300, 100, &len) == -EMSGSIZE, "a long run without newline is too long");
	return tap_done();
}
