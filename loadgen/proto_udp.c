/*
 * proto_udp.c - the udp client protocol: one datagram per request, echoed by the server.
 *
 * A datagram of --size bytes (at least 16) carries
 *     bytes 0..7    its sequence number on the socket (little endian),
 *     bytes 8..15   the client's send time (CLOCK_MONOTONIC ns, little endian),
 *     bytes 16..    filler: byte b is byte b % 8 of the little-endian word
 *                   mix(mix(key + (i + 1) * G1) + (b / 8 + 1) * G2), the key drawn per
 *                   socket from its seed (mix: the SplitMix64 finaliser),
 * so every datagram of every socket differs.  The engine (dgram.c) writes the header and
 * matches replies to requests by sequence number; this file makes and checks the filler.
 * With --reply-any / --expect TEXT the server answers with fixed text instead, and dgram.c
 * compares against that text.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "lg_proto.h"

#define UDP_HEADER   16u
#define UDP_SIZE_MAX 65507u
#define G1	     0x9e3779b97f4a7c15ull
#define G2	     0xd1b54a32d192ed03ull

struct udp_state {
	uint64_t key;
	uint64_t size;
};

static inline uint64_t mix(uint64_t z)
{
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* Filler word j of datagram i (bytes 8j .. 8j+7 of the datagram, header included). */
static uint64_t filler_word(const struct udp_state *u, uint64_t i, uint64_t j)
{
	return mix(mix(u->key + (i + 1) * G1) + (j + 1) * G2);
}

static int udp_check(const struct lg_proto_params *p, char *why, size_t len)
{
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

	u->key = mix(seed + G1);
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

/* Produces filler bytes [off, off + len) of datagram i (off >= 16: the header is the
 * engine's). */
static size_t udp_request_produce(const void *st, uint64_t i, uint64_t off, uint8_t *buf,
				  size_t len)
{
	uint64_t j = UINT64_MAX, w = 0;
	size_t k;

	for (k = 0; k < len; k++) {
		if ((off + k) / 8 != j) {
			j = (off + k) / 8;
			w = filler_word(st, i, j);
		}
		buf[k] = (uint8_t)(w >> (8 * ((off + k) % 8)));
	}
	return len;
}

static long udp_reply_verify(void *st, uint64_t i, uint64_t off, const uint8_t *p, size_t n,
			     bool *done, struct lg_mismatch *mm)
{
	const struct udp_state *u = st;
	uint64_t j = UINT64_MAX, w = 0;
	size_t k;

	for (k = 0; k < n; k++) {
		uint8_t want;

		if ((off + k) / 8 != j) {
			j = (off + k) / 8;
			w = filler_word(u, i, j);
		}
		want = (uint8_t)(w >> (8 * ((off + k) % 8)));
		if (p[k] != want) {
			mm->offset = off + k;
			mm->expected = want;
			mm->got = p[k];
			return -EBADMSG;
		}
	}
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
