/*
 * test_file_cmd.c - the file protocol's command parser and name rules.  Every input is
 * placed right before a PROT_NONE guard page, so reading one byte past it crashes.
 */
#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "file_cmd.h"
#include "tap.h"

static uint8_t *guard_base;
static size_t page;

/* Copies s (n bytes) so that it ends exactly at the guard page. */
static const uint8_t *guarded(const void *s, size_t n)
{
	uint8_t *p = guard_base + page - n;

	memcpy(p, s, n);
	return p;
}

static long parse(const char *s, size_t n, struct rl_filecmd *c)
{
	return rl_filecmd_parse(guarded(s, n), n, 1024, c);
}

#define PARSE(lit, c) parse(lit, sizeof(lit) - 1, c)

int main(void)
{
	struct rl_filecmd c;
	char big[2000];
	long r;

	page = (size_t)sysconf(_SC_PAGESIZE);
	guard_base =
	    mmap(NULL, 2 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	mprotect(guard_base + page, page, PROT_NONE);

	r = PARSE("PUT hello.txt 1234\n", &c);
	tap_ok(r == 19 && c.kind == RL_FILECMD_PUT && c.size == 1234 && c.name_len == 9 &&
		   !memcmp(c.name, "hello.txt", 9),
	       "PUT name size parses, consuming the line (%ld)", r);
	r = PARSE("PUT a 0\r\nrest", &c);
	tap_ok(r == 9 && c.size == 0, "CRLF endings are accepted and only the line is consumed");
	r = PARSE("GET a.bin\n", &c);
	tap_ok(r == 10 && c.kind == RL_FILECMD_GET, "GET name parses");
	r = PARSE("DEL a.bin\n", &c);
	tap_ok(r == 10 && c.kind == RL_FILECMD_DEL, "DEL name parses");
	r = PARSE("LIST\n", &c);
	tap_ok(r == 5 && c.kind == RL_FILECMD_LIST, "LIST parses");
	r = PARSE("PUT x 18446744073709551615\n", &c);
	tap_ok(r > 0 && c.size == UINT64_MAX, "the largest 64-bit size parses");

	tap_ok(PARSE("PUT hello.txt 12", &c) == -EAGAIN, "a line without newline is incomplete");
	tap_ok(PARSE("", &c) == -EAGAIN, "an empty buffer is incomplete");
	memset(big, 'A', sizeof(big));
	tap_ok(parse(big, sizeof(big), &c) == -EMSGSIZE,
	       "no newline in max_line bytes is too long");
	tap_ok(parse(big, 1024, &c) == -EMSGSIZE,
	       "exactly max_line bytes without newline is too long");

	tap_ok(PARSE("PUT x 18446744073709551616\n", &c) == -EBADMSG,
	       "a size past 64 bits is malformed");
	tap_ok(PARSE("PUT x 99999999999999999999999\n", &c) == -EBADMSG,
	       "a 23-digit size is malformed");
	tap_ok(PARSE("PUT x -5\n", &c) == -EBADMSG, "a negative size is malformed");
	tap_ok(PARSE("PUT x 1e3\n", &c) == -EBADMSG, "a size with letters is malformed");
	tap_ok(PARSE("PUT x\n", &c) == -EBADMSG, "PUT without a size is malformed");
	tap_ok(PARSE("GET\n", &c) == -EBADMSG, "GET without a name is malformed");
	tap_ok(PARSE("GET  a\n", &c) == -EBADMSG, "two spaces are malformed");
	tap_ok(PARSE("GET a \n", &c) == -EBADMSG, "a trailing space is malformed");
	tap_ok(PARSE("LIST x\n", &c) == -EBADMSG, "LIST with an argument is malformed");
	tap_ok(PARSE("get a\n", &c) == -EBADMSG, "commands are case-sensitive");
	tap_ok(PARSE("\n", &c) == -EBADMSG, "an empty line is malformed");
	tap_ok(PARSE("\x01\x02garbage\n", &c) == -EBADMSG, "binary garbage is malformed");

	tap_ok(PARSE("GET ../x\n", &c) == -EINVAL, "'../x' is refused");
	tap_ok(PARSE("GET /etc/passwd\n", &c) == -EINVAL, "'/etc/passwd' is refused");
	tap_ok(PARSE("GET a/b\n", &c) == -EINVAL, "'a/b' is refused");
	tap_ok(PARSE("GET .\n", &c) == -EINVAL, "'.' is refused");
	tap_ok(PARSE("GET ..\n", &c) == -EINVAL, "'..' is refused");
	tap_ok(PARSE("GET .hidden\n", &c) == -EINVAL, "a leading dot is refused");
	tap_ok(PARSE("GET a\x01"
		     "b\n",
		     &c) == -EINVAL,
	       "a control byte is refused");
	tap_ok(parse("GET a\0b\n", 8, &c) == -EINVAL, "a NUL byte is refused");
	tap_ok(PARSE("GET a\x7f\n", &c) == -EINVAL, "DEL (0x7f) is refused");
	memcpy(big, "GET ", 4);
	memset(big + 4, 'n', 300);
	big[304] = '\n';
	tap_ok(parse(big, 305, &c) == -EINVAL, "a 300-byte name is refused");
	memset(big + 4, 'n', 255);
	big[259] = '\n';
	tap_ok(parse(big, 260, &c) == 260, "a 255-byte name is allowed");
	tap_ok(PARSE("GET r\xc3\xa9sum\xc3\xa9.pdf\n", &c) > 0, "UTF-8 names are allowed");
	tap_ok(rl_filename_check((const uint8_t *)"", 0) == -EINVAL, "an empty name is refused");
	return tap_done();
}
