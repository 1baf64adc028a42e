/*
 * dgram_epoll.c - the readiness baseline for datagram protocols (udp).
 *
 * Per thread: one nonblocking UDP socket (SO_REUSEPORT when there are several) in an
 * epoll set.  When it is readable: recvmmsg() up to BATCH datagrams in one call, hand each
 * to the protocol, and send every reply of the batch with one sendmmsg().  Batching both
 * ways is what a careful epoll UDP server does; it is the honest baseline for io_uring's
 * multishot recvmsg.  Datagrams larger than --max-datagram (MSG_TRUNC) are counted, not
 * echoed.  A full socket send buffer (EAGAIN) drops the rest of the batch's replies and
 * counts them as errors, as UDP would.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "dgram.h"
#include "log.h"
#include "server.h"

#define BATCH 32

struct out_slot {
	struct sockaddr_storage addr;
	uint8_t *data; /* RL_DGRAM_MAX bytes */
};

struct eloop {
	_Alignas(16) struct rl_loop base;
	int fd;
	int ep;
	size_t cap; /* max_datagram */
	struct mmsghdr in[BATCH];
	struct iovec in_iov[BATCH];
	struct sockaddr_storage in_addr[BATCH];
	uint8_t *in_buf;
	struct mmsghdr out[BATCH];
	struct iovec out_iov[BATCH];
	struct out_slot out_slot[BATCH];
	uint8_t *out_buf;
	unsigned nout;
};

static void flush_replies(struct eloop *l)
{
	unsigned sent = 0;
	int n;

	while (sent < l->nout) {
		n = sendmmsg(l->fd, l->out + sent, l->nout - sent, 0);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			l->base.stats.errors += l->nout - sent;
			break;
		}
		for (int i = 0; i < n; i++)
			l->base.stats.bytes_out += l->out[sent + (unsigned)i].msg_len;
		sent += (unsigned)n;
	}
	l->nout = 0;
}

static int epoll_reply(struct rl_dgram *d, const void *p, size_t n)
{
	struct eloop *l = (struct eloop *)d->loop;
	struct out_slot *s;
	struct mmsghdr *m;

	if (n > RL_DGRAM_MAX || d->fromlen > sizeof(s->addr))
		return -EMSGSIZE;
	if (l->nout == BATCH)
		flush_replies(l);
	s = &l->out_slot[l->nout];
	m = &l->out[l->nout];
	memcpy(s->data, p, n);
	memcpy(&s->addr, d->from, d->fromlen);
	l->out_iov[l->nout].iov_base = s->data;
	l->out_iov[l->nout].iov_len = n;
	memset(m, 0, sizeof(*m));
	m->msg_hdr.msg_name = &s->addr;
	m->msg_hdr.msg_namelen = d->fromlen;
	m->msg_hdr.msg_iov = &l->out_iov[l->nout];
	m->msg_hdr.msg_iovlen = 1;
	l->nout++;
	return 0;
}

/* Drains the socket: recvmmsg batches until it would block. */
static void on_readable(struct eloop *l)
{
	const struct rl_proto *proto = l->base.srv->proto;
	struct rl_dgram d = {.loop = &l->base, .reply = epoll_reply};
	int n, i;

	for (;;) {
		for (i = 0; i < BATCH; i++) {
			l->in_iov[i].iov_base = l->in_buf + (size_t)i * l->cap;
			l->in_iov[i].iov_len = l->cap;
			memset(&l->in[i].msg_hdr, 0, sizeof(l->in[i].msg_hdr));
			l->in[i].msg_hdr.msg_name = &l->in_addr[i];
			l->in[i].msg_hdr.msg_namelen = sizeof(l->in_addr[i]);
			l->in[i].msg_hdr.msg_iov = &l->in_iov[i];
			l->in[i].msg_hdr.msg_iovlen = 1;
		}
		n = recvmmsg(l->fd, l->in, BATCH, MSG_DONTWAIT, NULL);
		if (n <= 0)
			return;
		for (i = 0; i < n; i++) {
			struct msghdr *h = &l->in[i].msg_hdr;

			l->base.stats.bytes_in += l->in[i].msg_len;
			if (h->msg_flags & MSG_TRUNC) {
				l->base.stats.truncated++;
				continue;
			}
			d.from = h->msg_name;
			d.fromlen = h->msg_namelen;
			rl_loop_count_request(&l->base);
			if (proto->on_datagram(&d, l->in_iov[i].iov_base, l->in[i].msg_len) < 0)
				l->base.stats.errors++;
		}
		flush_replies(l);
		if (n < BATCH)
			return;
	}
}

static void *loop_main(void *arg)
{
	struct eloop *l = arg;
	struct rl_server *srv = l->base.srv;
	struct epoll_event ev[2], sev = {.events = EPOLLIN, .data.fd = 0};
	struct epoll_event wev = {.events = EPOLLIN, .data.fd = 1};
	int err = 0, n, i;

	l->fd = rl_server_listen_fd(srv, l->base.index);
	l->cap = srv->cfg.max_datagram;
	l->in_buf = malloc(BATCH * l->cap);
	/* Replies may be longer than what we accept (--reply): size them for any datagram. */
	l->out_buf = malloc(BATCH * (size_t)RL_DGRAM_MAX);
	for (i = 0; l->out_buf && i < BATCH; i++)
		l->out_slot[i].data = l->out_buf + (size_t)i * RL_DGRAM_MAX;
	fcntl(l->fd, F_SETFL, fcntl(l->fd, F_GETFL) | O_NONBLOCK);
	l->ep = epoll_create1(EPOLL_CLOEXEC);
	if (!l->in_buf || !l->out_buf)
		err = -ENOMEM;
	else if (l->ep < 0 || epoll_ctl(l->ep, EPOLL_CTL_ADD, l->fd, &sev) < 0 ||
		 epoll_ctl(l->ep, EPOLL_CTL_ADD, l->base.wake_fd, &wev) < 0)
		err = -errno;
	rl_server_thread_ready(srv, err);
	while (!err && !atomic_load(&srv->stopping)) {
		n = epoll_wait(l->ep, ev, 2, -1);
		for (i = 0; i < n; i++)
			if (ev[i].data.fd == 0)
				on_readable(l);
	}
	if (l->ep >= 0)
		close(l->ep);
	free(l->in_buf);
	free(l->out_buf);
	rl_server_thread_done(srv, &l->base.stats, err);
	return NULL;
}

static int epoll_dgram_start(struct rl_server *srv)
{
	return rl_loops_start(srv, sizeof(struct eloop), loop_main, EFD_NONBLOCK);
}

const struct rl_engine rl_engine_epoll_dgram = {
    .name = "epoll",
    .start = epoll_dgram_start,
    .stop = rl_loops_stop,
    .join = rl_loops_join,
};
