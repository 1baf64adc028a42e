/*
 * udp.c - the UDP server: each datagram is echoed to its sender, answered with a fixed
 * --reply (the classic "Hello UDP Client" server), or answered the way `sockperf server`
 * answers (--sockperf), so `sockperf ping-pong` can measure any engine.
 *
 * What it shows: datagram I/O on each engine.  uring: multishot recvmsg into a provided
 * buffer ring, replies as sendmsg SQEs batched into one submit per loop turn.  epoll:
 * recvmmsg/sendmmsg batches.  blocking: recvfrom/sendto, one thread per socket.
 * Datagrams up to 64 KiB; larger than --max-datagram ones are counted as truncated and
 * dropped, never echoed cut short.
 *
 * --sockperf: every sockperf message starts with a 14-byte header in network byte order:
 * sequence number (u64), flags (u16), length (u32).  A datagram whose flags say "from a
 * client" and "pong request", and not "warm-up", is sent back whole with the client bit
 * cleared -- what `sockperf sr` does, checked against it on the wire.  Anything else
 * (shorter than the header, no pong request, a reply, a warm-up message) is counted as
 * a request like every datagram, and not answered.  The length field is not checked: a
 * datagram is one message.
 *
 * Run:  ringlab-server udp --listen 127.0.0.1:7002 --engine uring
 *       echo hi | nc -u -q1 127.0.0.1 7002
 *       ringlab-server udp --listen 127.0.0.1:11111 --sockperf &
 *       sockperf ping-pong -i 127.0.0.1 -p 11111 -t 5
 */
#include <string.h>

#include "dgram.h"
#include "protocols.h"
#include "server.h"

#define SOCKPERF_HEADER	  14u
#define SOCKPERF_FLAGS_AT 8u /* big-endian u16 */
#define SOCKPERF_CLIENT	  0x0001u
#define SOCKPERF_PONG_REQ 0x0002u
#define SOCKPERF_WARMUP	  0x0004u

/* Answers a sockperf ping as `sockperf sr` does; see the comment at the top. */
static int sockperf_pong(struct rl_dgram *d, const uint8_t *p, size_t n)
{
	const unsigned want = SOCKPERF_CLIENT | SOCKPERF_PONG_REQ;
	uint8_t out[65536];
	unsigned flags;

	if (n < SOCKPERF_HEADER || n > sizeof(out))
		return 0;
	flags = (unsigned)p[SOCKPERF_FLAGS_AT] << 8 | p[SOCKPERF_FLAGS_AT + 1];
	if ((flags & (want | SOCKPERF_WARMUP)) != want)
		return 0;
	memcpy(out, p, n);
	out[SOCKPERF_FLAGS_AT + 1] &= (uint8_t)~SOCKPERF_CLIENT;
	return rl_dgram_reply(d, out, n);
}

static int udp_on_datagram(struct rl_dgram *d, const uint8_t *p, size_t n)
{
	const struct rl_server_config *cfg = rl_dgram_config(d);

	if (cfg->sockperf)
		return sockperf_pong(d, p, n);
	if (cfg->reply)
		return rl_dgram_reply(d, cfg->reply, cfg->reply_len);
	return rl_dgram_reply(d, p, n);
}

const struct rl_proto rl_proto_udp = {
    .name = "udp",
    .summary = "UDP: echo each datagram to its sender, send --reply, or answer sockperf",
    .on_datagram = udp_on_datagram,
};
