/*
 * dgram.h - the engine-neutral datagram API: what a datagram protocol (servers/udp.c)
 * sees of one received datagram, and how it answers.
 *
 * A datagram protocol sets rl_proto.on_datagram.  The engine calls it once per datagram
 * with the sender's address; the protocol answers with rl_dgram_reply(), which copies
 * the reply and queues it to the sender.  Replies are batched: one io_uring_enter per
 * loop turn (uring), one sendmmsg per recvmmsg batch (epoll), or sent at once (blocking).
 */
#ifndef RL_DGRAM_H
#define RL_DGRAM_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

struct rl_loop;
struct rl_server_config;

struct rl_dgram {
	struct rl_loop *loop;
	const struct sockaddr *from;
	socklen_t fromlen;
	/* The engine's reply function; protocols call rl_dgram_reply(). */
	int (*reply)(struct rl_dgram *d, const void *p, size_t n);
};

/* Queues a copy of `n` bytes as one datagram to the sender.  Returns 0 or -errno. */
static inline int rl_dgram_reply(struct rl_dgram *d, const void *p, size_t n)
{
	return d->reply(d, p, n);
}

/* Returns the server configuration (protocol settings included). */
const struct rl_server_config *rl_dgram_config(const struct rl_dgram *d);

/* Largest UDP payload: 65535 minus the IPv4 and UDP headers. */
#define RL_DGRAM_MAX 65507u

#endif
