/*
 * proto_echo.c - the echo client protocol: send --size pseudo-random bytes per request,
 * expect exactly those bytes back.
 *
 * Payloads: the pseudo-random bytes of payload.h, keyed per connection, so a reply is
 * verified in place as it arrives, nothing stored.
 *
 * A reply that belongs to another connection or request, or has one flipped bit, fails at
 * the first wrong byte.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "lg_proto.h"
#include "payload.h"

#define SIZE_MAX_ECHO (64ull * 1024 * 1024)

struct echo_state {
	uint64_t key;
	uint64_t size;
};

static int echo_check(const struct lg_proto_params *p, char *why, size_t len)
{
	if (p->size < 1 || p->size > SIZE_MAX_ECHO) {
		snprintf(why, len, "echo needs --size between 1 B and 64 MiB");
		return -EINVAL;
	}
	return 0;
}

static int echo_conn_init(void *st, const struct lg_proto_params *p, uint64_t seed)
{
	struct echo_state *e = st;

	e->key = lg_payload_key(seed);
	e->size = p->size;
	return 0;
}

static void echo_conn_fini(void *st)
{
	(void)st;
}

static uint64_t echo_request_len(const void *st, uint64_t i)
{
	const struct echo_state *e = st;

	(void)i;
	return e->size;
}

static size_t echo_request_produce(void *st, uint64_t i, uint64_t off, uint8_t *buf,
				   size_t len)
{
	const struct echo_state *e = st;

	return lg_payload_fill(e->key, i, off, buf, len);
}

static long echo_reply_verify(void *st, uint64_t i, uint64_t off, const uint8_t *p, size_t n,
			      bool *done, struct lg_mismatch *mm)
{
	const struct echo_state *e = st;
	size_t k = (size_t)(e->size - off);

	if (n < k)
		k = n;
	if (lg_payload_check(e->key, i, off, p, k, mm))
		return -EBADMSG;
	*done = off + k == e->size;
	return (long)k;
}

const struct lg_proto lg_proto_echo = {
    .name = "echo",
    .summary = "send --size pseudo-random bytes per request, expect the same bytes back",
    .conn_state_size = sizeof(struct echo_state),
    .check = echo_check,
    .conn_init = echo_conn_init,
    .conn_fini = echo_conn_fini,
    .request_len = echo_request_len,
    .request_produce = echo_request_produce,
    .reply_verify = echo_reply_verify,
};
