/*
 * echo.c - the TCP echo protocol: every byte a client sends comes back, in order,
 * whatever the message size or framing.
 *
 * What it shows: the engine contract at its simplest.  The protocol consumes whatever
 * arrives and queues an identical reply; the engine does the rest.  On the uring engine
 * that is multishot accept, multishot recv into a provided buffer ring, and one send in
 * flight per connection from its ordered send queue (short sends resumed); on epoll it is
 * read/writev on readiness; on blocking, recv/send-all in a thread per connection.
 *
 * Run:  ringlab-server echo --listen 127.0.0.1:7000 --engine uring
 *       printf 'Hello, world' | nc -q1 127.0.0.1 7000
 */
#include "conn.h"
#include "protocols.h"

static long echo_on_data(struct rl_conn *c, const uint8_t *p, size_t n)
{
	int ret = rl_conn_send_input(c, p, n); /* uring: sent from its receive buffer */

	if (ret < 0)
		return ret;
	rl_conn_count_request(c);
	return (long)n;
}

const struct rl_proto rl_proto_echo = {
    .name = "echo",
    .summary = "TCP echo: every byte comes back, in order",
    .on_data = echo_on_data,
};
