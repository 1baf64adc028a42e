/*
 * proto_chat.c - the chat client protocol: every client sends fixed-length lines to the
 * room; every other client must receive each of them exactly once, in per-sender order.
 *
 * With --senders M only clients 0..M-1 send; all N clients still receive and check.
 *
 * Line k of client s is exactly --size bytes, newline included:
 *     "<s> <k> " followed by filler letters, then '\n'
 * where filler byte j is 'a' + (s * 31 + k * 7 + j) % 26.  The server delivers it as
 * "<server id> <line>"; the engine (chatpath.c) strips the server's prefix, parses s and k
 * and compares the rest with lg_chat_line().  The send time is not in the line: sender and
 * receiver live in the same process, and the receiver reads it from the sender's request
 * slot, which stays put until every receiver has the line.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "lg_proto.h"

#define CHAT_SIZE_MIN 32u
#define CHAT_SIZE_MAX 4000u

struct chat_pstate {
	uint32_t index; /* this client's number: the sender index in its lines */
};

size_t lg_chat_line(uint32_t sender, uint64_t seq, size_t size, char *buf)
{
	int n = snprintf(buf, size, "%u %llu ", sender, (unsigned long long)seq);
	size_t j;

	for (j = (size_t)n; j + 1 < size; j++)
		buf[j] = (char)('a' + (sender * 31u + seq * 7u + j) % 26u);
	buf[size - 1] = '\n';
	return size;
}

static int chat_check(const struct lg_proto_params *p, char *why, size_t len)
{
	if (p->size < CHAT_SIZE_MIN || p->size > CHAT_SIZE_MAX) {
		snprintf(why, len, "chat needs --size between 32 and 4000 bytes (one line)");
		return -EINVAL;
	}
	if (p->connections < 2) {
		snprintf(why, len, "chat needs at least 2 --connections");
		return -EINVAL;
	}
	if (p->senders < 1 || p->senders > p->connections) {
		snprintf(why, len, "chat: --senders %u must be between 1 and --connections %u",
			 p->senders, p->connections);
		return -EINVAL;
	}
	return 0;
}

static int chat_conn_init(void *st, const struct lg_proto_params *p, uint64_t seed)
{
	(void)st;
	(void)p;
	(void)seed;
	return 0;
}

static void chat_conn_fini(void *st)
{
	(void)st;
}

static uint64_t chat_request_len(const void *st, uint64_t i)
{
	(void)st;
	(void)i;
	return 0; /* not used: chatpath.c produces lines through lg_chat_line */
}

static size_t chat_request_produce(void *st, uint64_t i, uint64_t off, uint8_t *buf,
				   size_t len)
{
	(void)st;
	(void)i;
	(void)off;
	(void)buf;
	return len;
}

static long chat_reply_verify(void *st, uint64_t i, uint64_t off, const uint8_t *p, size_t n,
			      bool *done, struct lg_mismatch *mm)
{
	(void)st;
	(void)i;
	(void)off;
	(void)p;
	(void)n;
	(void)done;
	(void)mm;
	return -EBADMSG;
}

const struct lg_proto lg_proto_chat = {
    .name = "chat",
    .summary = "N clients in one room; each line must reach every other client once, in order",
    .broadcast = true,
    .conn_state_size = sizeof(struct chat_pstate),
    .check = chat_check,
    .conn_init = chat_conn_init,
    .conn_fini = chat_conn_fini,
    .request_len = chat_request_len,
    .request_produce = chat_request_produce,
    .reply_verify = chat_reply_verify,
};
