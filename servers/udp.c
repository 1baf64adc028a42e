/*
 * udp.c - the UDP server: each datagram is echoed to its sender, or answered with a
 * fixed --reply (the classic "Hello UDP Client" server).
 *
 * What it shows: datagram I/O on each engine.  uring: multishot recvmsg into a provided
 * buffer ring, replies as sendmsg SQEs batched into one submit per loop turn.  epoll:
 * recvmmsg/sendmmsg batches.  blocking: recvfrom/sendto, one thread per socket.
 * Datagrams up to 64 KiB; larger than --max-datagram ones are counted as truncated and
 * dropped, never echoed cut short.
 *
 * Run:  ringlab-server udp --listen 127.0.0.1:7002 --engine uring
 *       echo hi | nc -u -q1 127.0.0.1 7002
 */
#include "dgram.h"
#include "protocols.h"
#include "server.h"

static int udp_on_datagram(struct rl_dgram *d, const uint8_t *p, size_t n)
{
	const struct rl_server_config *cfg = rl_dgram_config(d);

	if (cfg->reply)
		return rl_dgram_reply(d, cfg->reply, cfg->reply_len);
	return rl_dgram_reply(d, p, n);
}

const struct rl_proto rl_proto_udp = {
    .name = "udp",
    .summary = "UDP: echo each datagram to its sender, or send --reply",
    .on_datagram = udp_on_datagram,
};
