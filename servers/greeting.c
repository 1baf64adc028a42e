/*
 * greeting.c - the "thank you for connecting" server: on accept, send a message, close.
 *
 * What it shows: how fast a server can accept, write and close.  Nothing is read.  On the
 * uring engine the whole lifecycle goes through the ring: the multishot accept completes,
 * the send is queued in the same loop turn, and the close is issued from the send's
 * completion -- no syscall outside io_uring_enter.  On the blocking engine,
 * --blocking-mode iterative is the textbook accept/send/close loop with no threads.
 *
 * Settings: --message TEXT (default "Hello from ringlab\n") or --message-file PATH.
 *
 * Run:  ringlab-server greeting --listen 127.0.0.1:7001 --engine uring
 *       nc 127.0.0.1 7001
 */
#include "conn.h"
#include "protocols.h"
#include "server.h"

static int greeting_on_open(struct rl_conn *c)
{
	const struct rl_server_config *cfg = rl_conn_config(c);
	int ret = rl_conn_send(c, cfg->message, cfg->message_len);

	if (ret < 0)
		return ret;
	rl_conn_count_request(c);
	rl_conn_close(c);
	return 0;
}

/* The greeting is all there is: whatever a client sends is ignored. */
static long greeting_on_data(struct rl_conn *c, const uint8_t *p, size_t n)
{
	return (long)n;
}

const struct rl_proto rl_proto_greeting = {
    .name = "greeting",
    .summary = "send --message on accept, then close",
    .on_open = greeting_on_open,
    .on_data = greeting_on_data,
};
