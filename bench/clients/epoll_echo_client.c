/*
 * epoll_echo_client.c - a plain epoll echo client, the reference ringlab-load is measured
 * against (issue: "its echo throughput >= 1.2x that of a plain epoll client").
 *
 * The way such clients are usually written, and written carefully: one thread, N
 * nonblocking connections with TCP_NODELAY, level-triggered epoll; each connection
 * sends SIZE bytes, reads until the whole reply is in (short reads are normal), checks
 * it byte for byte against what it sent, and sends again (closed loop, one request in
 * flight).  It prints requests, elapsed seconds and requests per second.
 *
 *   epoll_echo_client HOST PORT CONNECTIONS SIZE SECONDS
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

struct client {
	int fd;
	size_t sent, got;
	unsigned char *req, *resp;
};

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Writes what is left of the request; returns 0, or -1 on error. */
static int pump_send(struct client *c, size_t size)
{
	while (c->sent < size) {
		ssize_t n = send(c->fd, c->req + c->sent, size - c->sent, MSG_NOSIGNAL);

		if (n < 0)
			return errno == EAGAIN ? 0 : -1;
		c->sent += (size_t)n;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct sockaddr_in sa = {.sin_family = AF_INET};
	struct epoll_event ev, events[512];
	unsigned long long requests = 0, mismatches = 0;
	struct client *cl;
	size_t size;
	double end, start;
	int nconn, ep, i, one = 1;

	if (argc != 6) {
		fprintf(stderr, "usage: %s HOST PORT CONNECTIONS SIZE SECONDS\n", argv[0]);
		return 2;
	}
	inet_pton(AF_INET, argv[1], &sa.sin_addr);
	sa.sin_port = htons((unsigned short)atoi(argv[2]));
	nconn = atoi(argv[3]);
	size = (size_t)atol(argv[4]);
	cl = calloc((size_t)nconn, sizeof(*cl));
	ep = epoll_create1(0);
	for (i = 0; i < nconn; i++) {
		struct client *c = &cl[i];
		size_t k;

		c->fd = socket(AF_INET, SOCK_STREAM, 0);
		if (c->fd < 0 || connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
			perror("connect");
			return 1;
		}
		setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		c->req = malloc(size);
		c->resp = malloc(size);
		for (k = 0; k < size; k++)
			c->req[k] = (unsigned char)(i * 7 + k * 13);
		ev.events = EPOLLIN;
		ev.data.ptr = c;
		epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev);
	}
	for (i = 0; i < nconn; i++) {
		int fl = 1;

		ioctl(cl[i].fd, FIONBIO, &fl);
		if (pump_send(&cl[i], size) < 0)
			return 1;
	}
	start = now_s();
	end = start + atof(argv[5]);
	while (now_s() < end) {
		int n = epoll_wait(ep, events, 512, 100);

		for (i = 0; i < n; i++) {
			struct client *c = events[i].data.ptr;
			ssize_t r = recv(c->fd, c->resp + c->got, size - c->got, 0);

			if (r <= 0) {
				if (r < 0 && errno == EAGAIN)
					continue;
				fprintf(stderr, "connection lost\n");
				return 1;
			}
			c->got += (size_t)r;
			if (c->got < size)
				continue;
			if (memcmp(c->req, c->resp, size))
				mismatches++;
			requests++;
			c->got = c->sent = 0;
			if (pump_send(c, size) < 0)
				return 1;
		}
	}
	end = now_s();
	printf("requests %llu elapsed %.3f rps %.0f mismatches %llu\n", requests, end - start,
	       (double)requests / (end - start), mismatches);
	return mismatches ? 1 : 0;
}
