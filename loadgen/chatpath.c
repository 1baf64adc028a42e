/*
 * chatpath.c - the broadcast mode (lg_mode_chat; lg_proto.broadcast, e.g. chat): N clients
 * of one process in one room, every line must reach every other client exactly once, in
 * order.
 *
 * Joining: the server says nothing when a client joins, and a line sent before a client
 * joined never reaches it.  So nobody sends data until everyone is known to be in the
 * room: once every connection is up, client 0 sends "S" lines (every tick) until each
 * other client has received one -- a client that receives a broadcast is in the room.
 * Then every sender starts (open loop: its schedule starts then); with --senders M only
 * clients 0..M-1 send, and --rate is spread over those M.  The run's window does not wait
 * for this; a room that never fills up sends nothing and the run fails.
 *
 * Sending goes through the pipeline (pipeline.h: issue, coalesced sends, open-loop
 * schedule): a "request" is a line, produced here by fill().  A line is *complete* once
 * all N - 1 other clients have received it (its slot's mark counts the receivers); closed
 * loop keeps --pipeline lines incomplete per client, and the --timeout sweep drops a
 * client whose oldest line stays incomplete too long.
 *
 * Receiving: each client keeps the partial line it is reading and, per sender, the next
 * sequence number it expects.  A line must carry that number (a gap, a repeat, or a line
 * from an unknown member or one that does not send is a mismatch) and exactly the bytes
 * of lg_chat_line().  Its fan-out latency is now - the sender's intended send time (same
 * process, same clock), read from the sender's request slot.  One thread only (cli.c
 * enforces it): receivers update senders' counters directly.  The room's tables are the
 * mode's own state.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "lg_mode.h"
#include "log.h"
#include "pipeline.h"
#include "record.h"

#define SYNC_EVERY_NS (50 * 1000000ull)

/* The room: the mode's state. */
struct chat_state {
	uint64_t *rx_next; /* [receiver * n + sender] next line expected */
	char *part;	   /* each member's partial line, part_cap() bytes each */
	uint32_t *plen;
	uint8_t *in_room; /* member known to be in the room */
	char *line;	  /* scratch for the expected line */
	unsigned joined;  /* members (besides 0) known to be in the room */
	bool go;	  /* everyone is in: lines flow */
	uint64_t next_sync;
};

static struct chat_state *room(const struct lg_worker *w)
{
	return w->mode_state;
}

static size_t part_cap(const struct lg_worker *w)
{
	return (size_t)w->cfg->params.size + 32;
}

/* Allocates the room's tables.  Returns 0 or -ENOMEM. */
static int setup(struct lg_worker *w)
{
	struct chat_state *st = calloc(1, sizeof(*st));
	size_t n = w->nconns;

	if (!st)
		return -ENOMEM;
	w->mode_state = st;
	st->rx_next = calloc(n * n, sizeof(*st->rx_next));
	st->part = malloc(n * part_cap(w));
	st->plen = calloc(n, sizeof(*st->plen));
	st->in_room = calloc(n, sizeof(*st->in_room));
	st->line = malloc(part_cap(w));
	if (!st->rx_next || !st->part || !st->plen || !st->in_room || !st->line)
		return -ENOMEM;
	return 0;
}

static void teardown(struct lg_worker *w)
{
	struct chat_state *st = room(w);

	if (st) {
		free(st->rx_next);
		free(st->part);
		free(st->plen);
		free(st->in_room);
		free(st->line);
	}
	free(st);
	w->mode_state = NULL;
}

/* Copies issued lines into c's empty send buffer, stamping their send times. */
static void fill(struct lg_worker *w, struct lg_conn *c)
{
	size_t size = (size_t)w->cfg->params.size;

	while (c->produced < c->issued && c->slen + size <= w->sbuf_cap) {
		struct lg_slot *s = lg_pipeline_stamp(w, c, c->produced);

		s->mark = 0;
		lg_chat_line(c->id, c->produced, size, (char *)c->sbuf + c->slen);
		c->slen += (uint32_t)size;
		c->produced++;
	}
}

static void flush(struct lg_worker *w)
{
	lg_pipeline_flush(w, fill);
}

/* Before the room is full: client 0 sends "S" lines; when all are in, the senders start. */
static void tick(struct lg_worker *w)
{
	struct chat_state *st = room(w);
	struct lg_conn *c0 = &w->conns[0];
	unsigned i, senders = w->cfg->params.senders;

	if (st->go || !w->ramp_done || w->established < w->nconns)
		return;
	if (st->joined + 1 >= w->nconns) {
		st->go = true;
		rl_debug("chat: all %u clients are in the room; %u send", w->nconns, senders);
		for (i = 0; i < w->nconns && i < senders; i++)
			if (w->conns[i].state == LC_OPEN)
				lg_pipeline_start(w, &w->conns[i]);
		return;
	}
	if (w->now < st->next_sync || c0->state != LC_OPEN || (c0->flags & LCF_SEND_BUSY) ||
	    c0->soff != c0->slen)
		return;
	st->next_sync = w->now + SYNC_EVERY_NS;
	memcpy(c0->sbuf, "S\n", 2);
	c0->soff = 0;
	c0->slen = 2;
	lg_pipeline_mark_dirty(w, c0);
}

/* A line completed at every receiver: the sender moves on. */
static void delivered(struct lg_worker *w, struct lg_conn *sc, uint64_t seq)
{
	struct lg_slot *s = &sc->slots[seq & w->slot_mask];
	bool moved = false;

	s->mark++;
	while (sc->replied < sc->produced &&
	       sc->slots[sc->replied & w->slot_mask].mark + 1 >= w->nconns) {
		sc->replied++;
		lg_record_done(sc);
		moved = true;
		if (w->in_window)
			w->chat_lines++;
	}
	if (moved)
		lg_pipeline_issue(w, sc);
}

static void bad_line(struct lg_worker *w, struct lg_conn *c, const char *why, uint64_t sender,
		     uint64_t seq)
{
	if (atomic_fetch_add(&w->run->mismatch_logged, 1) < 10)
		rl_warn("chat: client %u: %s (sender %llu, line %llu)", c->id, why,
			(unsigned long long)sender, (unsigned long long)seq);
	lg_conn_fail(w, c, LG_ERR_MISMATCH, -EBADMSG);
}

/* One complete line (newline included) received by c. */
static void on_line(struct lg_worker *w, struct lg_conn *c, const char *p, size_t n)
{
	struct chat_state *st = room(w);
	size_t size = (size_t)w->cfg->params.size;
	const char *sp = memchr(p, ' ', n), *end;
	unsigned long long sender, seq;
	struct lg_conn *sc;
	unsigned idx = lg_conn_index(w, c);
	uint64_t *next;

	if (!sp) {
		bad_line(w, c, "line without the server's prefix", 0, 0);
		return;
	}
	sp++;
	n -= (size_t)(sp - p);
	if (n == 2 && sp[0] == 'S') {
		if (!st->in_room[idx] && idx != 0) {
			st->in_room[idx] = 1;
			st->joined++;
		}
		return;
	}
	sender = strtoull(sp, (char **)&end, 10);
	seq = *end == ' ' ? strtoull(end + 1, NULL, 10) : 0;
	if (end == sp || *end != ' ' || sender >= w->nconns || sender == c->id) {
		bad_line(w, c, "line from an unknown sender", sender, 0);
		return;
	}
	if (sender >= w->cfg->params.senders) {
		bad_line(w, c, "line from a client that does not send", sender, 0);
		return;
	}
	sc = &w->conns[sender - w->first_id];
	next = &st->rx_next[(size_t)idx * w->nconns + (sender - w->first_id)];
	if (seq != *next || seq >= sc->produced) {
		bad_line(w, c, seq < *next ? "line received twice or out of order" : "line missing",
			 sender, *next);
		return;
	}
	lg_chat_line((uint32_t)sender, seq, size, st->line);
	if (n != size || memcmp(sp, st->line, size) != 0) {
		bad_line(w, c, "line content differs", sender, seq);
		return;
	}
	(*next)++;
	lg_record_reply(w, sc->slots[seq & w->slot_mask].intended,
			sc->slots[seq & w->slot_mask].sent);
	delivered(w, sc, seq);
}

/* Handles n bytes received by member c. */
static void on_bytes(struct lg_worker *w, struct lg_conn *c, const uint8_t *p, size_t n)
{
	struct chat_state *st = room(w);
	unsigned idx = lg_conn_index(w, c);
	char *part = st->part + (size_t)idx * part_cap(w);
	uint32_t *plen = &st->plen[idx];

	while (n && c->state == LC_OPEN) {
		const uint8_t *nl = memchr(p, '\n', n);
		size_t take = nl ? (size_t)(nl - p) + 1 : n;

		if (*plen + take > part_cap(w)) {
			bad_line(w, c, "line longer than --size", 0, 0);
			return;
		}
		memcpy(part + *plen, p, take);
		*plen += (uint32_t)take;
		p += take;
		n -= take;
		if (nl) {
			on_line(w, c, part, *plen);
			*plen = 0;
		}
	}
}

const struct lg_mode_ops lg_mode_chat = {
    .name = "chat",
    .sock_type = SOCK_STREAM,
    .setup = setup,
    .teardown = teardown,
    .connected = lg_conn_arm_recv, /* lines flow once the room is full (tick) */
    .on_bytes = on_bytes,
    .on_eof = lg_pipeline_on_eof,
    .on_send = lg_pipeline_on_send,
    .timer = lg_pipeline_issue,
    .sweep = lg_pipeline_sweep,
    .flush = flush,
    .tick = tick,
};
