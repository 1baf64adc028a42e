/*
 * payload.h - the pseudo-random request bytes shared by the echo, udp and file client protocols.
 *
 * Every connection (or UDP socket) draws a 64-bit key from its seed; byte b of request i
 * is byte b % 8 of the little-endian word
 *     word(i, j) = mix(mix(key + (i + 1) * G1) + (j + 1) * G2),   j = b / 8
 * where mix is the SplitMix64 finaliser.  So bytes differ between connections and between
 * requests, never repeat in a cycle, and any byte can be computed on its own: a reply is
 * checked in place, piece by piece as it arrives (any offset, any split), by recomputing
 * the expected words.  Nothing is stored, copied or fetched from memory.  (A stored random
 * pattern per connection works too, but with thousands of connections every slice of it is
 * a cache miss: two per request, more than the generator costs.)
 */
#ifndef RINGLAB_LG_PAYLOAD_H
#define RINGLAB_LG_PAYLOAD_H

#include <stddef.h>
#include <stdint.h>

#include "lg_proto.h"

/* The key of a connection whose seed is `seed`. */
uint64_t lg_payload_key(uint64_t seed);

/* Writes bytes [off, off + len) of request i of the connection keyed `key` to buf.
 * Returns len. */
size_t lg_payload_fill(uint64_t key, uint64_t i, uint64_t off, uint8_t *buf, size_t len);

/* Checks that p[0..n) are bytes [off, off + n) of request i.  Returns 0, or -EBADMSG with
 * the first differing byte (offset within the request) in *mm. */
int lg_payload_check(uint64_t key, uint64_t i, uint64_t off, const uint8_t *p, size_t n,
		     struct lg_mismatch *mm);

#endif
