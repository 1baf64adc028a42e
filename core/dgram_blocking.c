/*
 * dgram_blocking.c - the classic UDP server: recvfrom() then sendto(), in a loop.
 *
 * One thread per socket (--threads N gives N SO_REUSEPORT sockets and N threads), each
 * blocked in recvfrom().  MSG_TRUNC makes recvfrom() return a datagram's real length, so
 * one larger than --max-datagram is counted as truncated instead of echoed as garbage.
 * Stop: shutdown(SHUT_RD) on each socket wakes its recvfrom() with 0.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "dgram.h"
#include "log.h"
#include "server.h"

struct bloop {
	_Alignas(16) struct rl_loop base;
	int fd;
};

static int blocking_reply(struct rl_dgram *d, const void *p, size_t n)
{
	struct bloop *l = (struct bloop *)d->loop;
	ssize_t sent;

	do
		sent = sendto(l->fd, p, n, 0, d->from, d->fromlen);
	while (sent < 0 && errno == EINTR);
	if (sent < 0)
		return -errno;
	l->base.stats.bytes_out += (uint64_t)sent;
	return 0;
}

static void *loop_main(void *arg)
{
	struct bloop *l = arg;
	struct rl_server *srv = l->base.srv;
	size_t cap = srv->cfg.max_datagram;
	uint8_t *buf = malloc(cap);
	struct sockaddr_storage from;
	struct rl_dgram d = {
	    .loop = &l->base, .from = (struct sockaddr *)&from, .reply = blocking_reply};
	ssize_t n;

	l->fd = rl_server_listen_fd(srv, l->base.index);
	rl_server_thread_ready(srv, buf ? 0 : -ENOMEM);
	while (buf && !atomic_load(&srv->stopping)) {
		d.fromlen = sizeof(from);
		n = recvfrom(l->fd, buf, cap, MSG_TRUNC, (struct sockaddr *)&from, &d.fromlen);
		if (n < 0) {
			if (errno != EINTR)
				l->base.stats.errors++;
			continue;
		}
		if (n == 0 && atomic_load(&srv->stopping))
			break;
		l->base.stats.bytes_in += (uint64_t)n;
		if ((size_t)n > cap) {
			l->base.stats.truncated++;
			continue;
		}
		rl_loop_count_request(&l->base);
		if (srv->proto->on_datagram(&d, buf, (size_t)n) < 0)
			l->base.stats.errors++;
	}
	free(buf);
	rl_server_thread_done(srv, &l->base.stats, 0);
	return NULL;
}

static int blocking_dgram_start(struct rl_server *srv)
{
	return rl_loops_start(srv, sizeof(struct bloop), loop_main, 0);
}

static void blocking_dgram_stop(struct rl_server *srv)
{
	unsigned i;

	for (i = 0; i < srv->nlisten; i++)
		shutdown(srv->listen_fds[i], SHUT_RD);
}

const struct rl_engine rl_engine_blocking_dgram = {
    .name = "blocking",
    .start = blocking_dgram_start,
    .stop = blocking_dgram_stop,
    .join = rl_loops_join,
};
