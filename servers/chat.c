/*
 * chat.c - a multi-client chat room: each newline-terminated line a client sends goes to
 * every other connected client as "<id> text\n" (to the sender too with --echo-self).
 *
 * What it shows: fan-out.  On the uring engine a line is formatted once into one
 * reference-counted chunk that every recipient's send queue shares, and the sends to all
 * N recipients leave in one batch of SQEs at the end of the loop turn.  On epoll the same
 * chunk is written with one sendmsg per recipient.  On blocking, each client has a reader
 * and a writer thread; the room is guarded by a mutex and lines are copied per recipient.
 *
 * Limits: a line longer than --max-line gets "ERR line too long" and the connection is
 * closed.  A client that does not read has at most --max-queue bytes queued; past that
 * it gets "ERR too slow" and is disconnected (cut off after --drain-timeout if it still
 * does not read), so memory stays bounded and the others are never held up.
 *
 * One room per process.  On uring and epoll it lives in a single event loop, so --threads
 * must be 1 (run one server per room to use more cores).
 *
 * Run:  ringlab-server chat --listen 127.0.0.1:7003 --engine uring
 *       nc 127.0.0.1 7003   (in two terminals)
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "conn.h"
#include "line.h"
#include "list.h"
#include "protocols.h"
#include "server.h"

struct member {
	struct rl_list link; /* in room.members while in_room */
	struct rl_conn *conn;
	int in_room;
};

/* The room.  The lock only matters on the blocking engine; one loop never contends it. */
static struct {
	pthread_mutex_t lock;
	struct rl_list members; /* newest first */
} room = {.lock = PTHREAD_MUTEX_INITIALIZER, .members = RL_LIST_INIT(room.members)};

static void room_leave_locked(struct member *m)
{
	if (!m->in_room)
		return;
	rl_list_remove(&m->link);
	m->in_room = 0;
}

static int chat_on_open(struct rl_conn *c)
{
	struct member *m = rl_conn_state(c);

	m->conn = c;
	pthread_mutex_lock(&room.lock);
	rl_list_insert_head(&room.members, &m->link);
	m->in_room = 1;
	pthread_mutex_unlock(&room.lock);
	return 0;
}

static void chat_on_close(struct rl_conn *c)
{
	pthread_mutex_lock(&room.lock);
	room_leave_locked(rl_conn_state(c));
	pthread_mutex_unlock(&room.lock);
}

/* Tells `c` why it is being disconnected, then closes it once that is sent. */
static void kick(struct rl_conn *c, const char *why)
{
	pthread_mutex_lock(&room.lock);
	room_leave_locked(rl_conn_state(c));
	pthread_mutex_unlock(&room.lock);
	rl_conn_send(c, why, strlen(why));
	rl_conn_close(c);
}

/* Sends "<id> text\n" to every member but the sender (all with --echo-self). */
static int broadcast(struct rl_conn *from, const uint8_t *text, size_t len)
{
	const struct rl_server_config *cfg = rl_conn_config(from);
	struct rl_chunk *line = rl_chunk_new(len + 24);
	struct rl_list *tmp;
	struct member *m;
	char why[96];
	int n;

	if (!line)
		return -ENOMEM;
	n = snprintf((char *)line->data, 24, "%llu ", (unsigned long long)rl_conn_id(from));
	memcpy(line->data + n, text, len);
	line->data[(size_t)n + len] = '\n';
	line->len = (uint32_t)((size_t)n + len + 1);
	snprintf(why, sizeof(why), "ERR too slow: more than %zu bytes waiting to be read\n",
		 cfg->sendq_high);

	/* A member is only safe to touch while it is in the room and the lock is held: on
	 * the blocking engine its own thread frees it right after leaving.  So a member
	 * that is too slow is told why and closed here, under the lock (rl_conn_send and
	 * rl_conn_close only queue and flag; neither re-enters the room). */
	pthread_mutex_lock(&room.lock);
	rl_list_foreach_entry(m, tmp, &room.members, struct member, link) {
		if (m->conn == from && !cfg->echo_self)
			continue;
		if (rl_conn_send_chunk(m->conn, line, 0, line->len, cfg->sendq_high) == -ENOBUFS) {
			room_leave_locked(m);
			rl_conn_send(m->conn, why, strlen(why));
			rl_conn_close(m->conn);
		}
	}
	pthread_mutex_unlock(&room.lock);
	rl_chunk_unref(line);
	rl_conn_count_request(from);
	return 0;
}

static long chat_on_data(struct rl_conn *c, const uint8_t *p, size_t n)
{
	const struct rl_server_config *cfg = rl_conn_config(c);
	size_t off = 0, len;
	char why[64];
	long used;
	int ret;

	while ((used = rl_line_next(p + off, n - off, cfg->max_line, &len)) > 0) {
		ret = broadcast(c, p + off, len);
		if (ret < 0)
			return ret;
		off += (size_t)used;
	}
	if (used == -EAGAIN)
		return (long)off; /* a partial line waits for the rest */
	snprintf(why, sizeof(why), "ERR line too long (max %zu bytes)\n", cfg->max_line);
	kick(c, why);
	return (long)n;
}

const struct rl_proto rl_proto_chat = {
    .name = "chat",
    .summary = "chat room: each line goes to every other client as '<id> text'",
    .conn_state_size = sizeof(struct member),
    .cross_conn = true,
    .on_open = chat_on_open,
    .line_timeout_reply = "ERR line timeout: a line must be complete within --line-timeout\n",
    .on_data = chat_on_data,
    .on_close = chat_on_close,
};
