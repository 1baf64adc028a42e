/*
 * proto_udp.c - the udp client protocol: one datagram per request, echoed by the server.
 *
 * A datagram of --size bytes (at least 16) carries
 *     bytes 0..7    its sequence number on the socket (little endian),
 *     bytes 8..15   the client's send time (CLOCK_MONOTONIC ns, little endian),
 *     bytes 16..    filler: bytes 16.. of request i in payload.h's pseudo-random
 *                   stream, keyed per socket,
 * so every datagram of every socket differs.  With --sockperf (at least 22 bytes) it is a
 * sockperf ping-pong message instead, which `sockperf sr` and `ringlab-server udp
 * --sockperf` answer:
 *     bytes 0..13   sockperf's header, big endian: the sequence number (u64), flags (u16:
 *                   0x0003, from a client and asking for a pong) and the length (u32:
 *                   --size); the reply has flags 0x0002 (the client bit cleared),
 *     bytes 14..21  the client's send time (little endian),
 *     bytes 22..    filler, as above from byte 22 of the stream.
 * The engine (dgram.c) writes and checks the header and matches replies to requests by
 * sequence number; this file makes and checks the filler.  With --reply-any / --expect
 * TEXT the server answers with fixed text instead, and dgram.c compares against that text.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "lg_proto.h"
#include "payload.h"

#define UDP_HEADER	    16u
#define UDP_SOCKPERF_HEADER 22u /* sockperf's 14 bytes, then the send time */
#define UDP_SIZE_MAX	    65507u

struct udp_state {
	uint64_t key;
	uint64_t size;
};

static int udp_check(const struct lg_proto_params *p, char *why, size_t len)
{
	if (p->sockperf && (p->size < UDP_SOCKPERF_HEADER || p->size > UDP_SIZE_MAX)) {
		snprintf(why, len,
			 "udp --sockperf needs --size between 22 and 65507 bytes (sockperf's "
			 "14-byte header, then the 8-byte send time)");
		return -EINVAL;
	}
	if (p->size < UDP_HEADER || p->size > UDP_SIZE_MAX) {
		snprintf(why, len, "udp needs --size between 16 and 65507 bytes");
		return -EINVAL;
	}
	if (p->expect && p->expect_len > UDP_SIZE_MAX) {
		snprintf(why, len, "udp: --expect text longer than a datagram");
		return -EINVAL;
	}
	return 0;
}

static int udp_conn_init(void *st, const struct lg_proto_params *p, uint64_t seed)
{
	struct udp_state *u = st;

	u->key = lg_payload_key(seed);
	u->size = p->size;
	return 0;
}

static void udp_conn_fini(void *st)
{
	(void)st;
}

static uint64_t udp_request_len(const void *st, uint64_t i)
{
	const struct udp_state *u = st;

	(void)i;
	return u->size;
}

/* Produces filler bytes [off, off + len) of datagram i (off: past the engine's header). */
static size_t udp_request_produce(void *st, uint64_t i, uint64_t off, uint8_t *buf, size_t len)
{
	const struct udp_state *u = st;

	return lg_payload_fill(u->key, i, off, buf, len);
}

static long udp_reply_verify(void *st, uint64_t i, uint64_t off, const uint8_t *p, size_t n,
			     bool *done, struct lg_mismatch *mm)
{
	const struct udp_state *u = st;

	if (lg_payload_check(u->key, i, off, p, n, mm))
		return -EBADMSG;
	*done = off + n == u->size;
	return (long)n;
}

const struct lg_proto lg_proto_udp = {
    .name = "udp",
    .summary = "sequence-numbered, timestamped datagrams; RTT, loss, reordering, duplicates",
    .datagram = true,
    .conn_state_size = sizeof(struct udp_state),
    .check = udp_check,
    .conn_init = udp_conn_init,
    .conn_fini = udp_conn_fini,
    .request_len = udp_request_len,
    .request_produce = udp_request_produce,
    .reply_verify = udp_reply_verify,
};
