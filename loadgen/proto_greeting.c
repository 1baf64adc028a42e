/*
 * proto_greeting.c - the greeting client protocol: connect, send nothing, read the
 * server's greeting up to EOF and compare it byte for byte with --expect TEXT (default
 * "Hello from ringlab\n") or the contents of --expect-file.
 *
 * Each connection carries exactly one "request" (conn_per_request): the engine (cycle.c)
 * connects, hands every received byte to greeting_reply_verify, and at EOF checks that the
 * greeting was complete; then it closes and connects again.  Bytes after the greeting are
 * reported by the engine as unexpected data; a greeting cut short as a mismatch.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "lg_proto.h"

#define DEFAULT_GREETING "Hello from ringlab\n"

struct greeting_state {
	const uint8_t *expect;
	size_t len;
};

static int greeting_check(const struct lg_proto_params *p, char *why, size_t len)
{
	if (p->expect && p->expect_len == 0) {
		snprintf(why, len, "greeting needs a non-empty --expect text");
		return -EINVAL;
	}
	return 0;
}

static int greeting_conn_init(void *st, const struct lg_proto_params *p, uint64_t seed)
{
	struct greeting_state *g = st;

	(void)seed;
	g->expect = p->expect ? p->expect : (const uint8_t *)DEFAULT_GREETING;
	g->len = p->expect ? p->expect_len : sizeof(DEFAULT_GREETING) - 1;
	return 0;
}

static void greeting_conn_fini(void *st)
{
	(void)st;
}

static uint64_t greeting_request_len(const void *st, uint64_t i)
{
	(void)st;
	(void)i;
	return 0;
}

static size_t greeting_request_produce(void *st, uint64_t i, uint64_t off, uint8_t *buf,
				       size_t len)
{
	(void)st;
	(void)i;
	(void)off;
	(void)buf;
	return len;
}

static long greeting_reply_verify(void *st, uint64_t i, uint64_t off, const uint8_t *p, size_t n,
				  bool *done, struct lg_mismatch *mm)
{
	const struct greeting_state *g = st;
	size_t k = g->len - (size_t)off, b;

	(void)i;
	if (n < k)
		k = n;
	for (b = 0; b < k; b++) {
		if (p[b] != g->expect[off + b]) {
			mm->offset = off + b;
			mm->expected = g->expect[off + b];
			mm->got = p[b];
			return -EBADMSG;
		}
	}
	*done = off + k == g->len;
	return (long)k;
}

const struct lg_proto lg_proto_greeting = {
    .name = "greeting",
    .summary = "connect, read the greeting to EOF, verify it against --expect, close",
    .conn_per_request = true,
    .conn_state_size = sizeof(struct greeting_state),
    .check = greeting_check,
    .conn_init = greeting_conn_init,
    .conn_fini = greeting_conn_fini,
    .request_len = greeting_request_len,
    .request_produce = greeting_request_produce,
    .reply_verify = greeting_reply_verify,
};
