/*
 * chatpath.c - the broadcast data path (lg_proto.broadcast, e.g. chat): N clients of one
 * process in one room, every line must reach every other client exactly once, in order.
 *
 * Joining: the server says nothing when a client joins, and a line sent before a client
 * joined never reaches it.  So nobody sends data until everyone is known to be in the
 * room: once every connection is up, client 0 sends "S" lines (every tick) until each
 * other client has received one -- a client that receives a broadcast is in the room.
 * Then every sender starts (open loop: its schedule starts then); with --senders M only
 * clients 0..M-1 send, and --rate is spread over those M.  The run's window does not wait
 * for this; a room that never fills up sends nothing and the run fails.
 *
 * Sending reuses traffic.c (issue, coalesced sends, open-loop schedule): a "request" is a
 * line, produced here by lg_chat_fill.  A line is *complete* once all N - 1 other clients
 * have received it; closed loop keeps --pipeline lines incomplete per client, and the
 * --timeout sweep drops a client whose oldest line stays incomplete too long.
 *
 * Receiving: each client keeps the partial line it is reading and, per sender, the next
 * sequence number it expects.  A line must carry that number (a gap, a repeat, or a line
 * from an unknown member or one that does not send is a mismatch) and exactly the bytes
 * of lg_chat_line().  Its fan-out latency is now - the sender's intended send time (same
 * process, same clock), read from the sender's request slot.  One thread only (cli.c
 * enforces it): receivers update senders' counters directly.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "worker.h"

#define SYNC_EVERY_NS (50 * 1000000ull)

static bool open_loop(const struct lg_worker *w)
{
	return w->period_ns > 0;
}

static size_t part_cap(const struct lg_worker *w)
{
	return (size_t)w->cfg->params.size + 32;
}

int lg_chat_setup(struct lg_worker *w)
{
	size_t n = w->nconns;

	w->chat_rx_next = calloc(n * n, sizeof(*w->chat_rx_next));
	w->chat_part = malloc(n * part_cap(w));
	w->chat_plen = calloc(n, sizeof(*w->chat_plen));
	w->chat_in_room = calloc(n, sizeof(*w->chat_in_room));
	w->chat_line = malloc(part_cap(w));
	if (!w->chat_rx_next || !w->chat_part || !w->chat_plen || !w->chat_in_room || !w->chat_line)
		return -ENOMEM;
	return 0;
}

void lg_chat_free(struct lg_worker *w)
{
	free(w->chat_rx_next);
	free(w->chat_part);
	free(w->chat_plen);
	free(w->chat_in_room);
	free(w->chat_line);
	w->chat_rx_next = NULL;
	w->chat_part = NULL;
	w->chat_plen = NULL;
	w->chat_in_room = NULL;
	w->chat_line = NULL;
}

void lg_chat_fill(struct lg_worker *w, struct lg_conn *c)
{
	size_t size = (size_t)w->cfg->params.size;

	while (c->produced < c->issued && c->slen + size <= w->sbuf_cap) {
		struct lg_slot *s = &c->slots[c->produced & w->slot_mask];

		s->sent = w->now;
		if (!open_loop(w))
			s->intended = w->now;
		s->deliv = 0;
		lg_chat_line(c->id, c->produced, size, (char *)c->sbuf + c->slen);
		c->slen += (uint32_t)size;
		c->produced++;
	}
}

/* Before the room is full: client 0 sends "S" lines; when all are in, the senders start. */
void lg_chat_tick(struct lg_worker *w)
{
	struct lg_conn *c0 = &w->conns[0];
	unsigned i, senders = w->cfg->params.senders;

	if (w->chat_go || !w->ramp_done || w->established < w->nconns)
		return;
	if (w->chat_joined + 1 >= w->nconns) {
		w->chat_go = true;
		rl_debug("chat: all %u clients are in the room; %u send", w->nconns, senders);
		for (i = 0; i < w->nconns && i < senders; i++)
			if (w->conns[i].state == LC_OPEN)
				lg_traffic_start(w, &w->conns[i]);
		return;
	}
	if (w->now < w->chat_next_sync || c0->state != LC_OPEN || (c0->flags & LCF_SEND_BUSY) ||
	    c0->soff != c0->slen)
		return;
	w->chat_next_sync = w->now + SYNC_EVERY_NS;
	memcpy(c0->sbuf, "S\n", 2);
	c0->soff = 0;
	c0->slen = 2;
	lg_traffic_mark_dirty(w, c0);
}

/* A line completed at every receiver: the sender moves on. */
static void delivered(struct lg_worker *w, struct lg_conn *sc, uint64_t seq)
{
	struct lg_slot *s = &sc->slots[seq & w->slot_mask];
	bool moved = false;

	s->deliv++;
	while (sc->replied < sc->produced &&
	       sc->slots[sc->replied & w->slot_mask].deliv + 1 >= w->nconns) {
		sc->replied++;
		moved = true;
		if (w->in_window)
			w->chat_lines++;
	}
	if (moved)
		lg_traffic_issue(w, sc);
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
	size_t size = (size_t)w->cfg->params.size;
	const char *sp = memchr(p, ' ', n), *end;
	unsigned long long sender, seq;
	struct lg_conn *sc;
	unsigned idx = (unsigned)(c - w->conns);
	uint64_t *next;

	if (!sp) {
		bad_line(w, c, "line without the server's prefix", 0, 0);
		return;
	}
	sp++;
	n -= (size_t)(sp - p);
	if (n == 2 && sp[0] == 'S') {
		if (!w->chat_in_room[idx] && idx != 0) {
			w->chat_in_room[idx] = 1;
			w->chat_joined++;
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
	next = &w->chat_rx_next[(size_t)idx * w->nconns + (sender - w->first_id)];
	if (seq != *next || seq >= sc->produced) {
		bad_line(w, c, seq < *next ? "line received twice or out of order" : "line missing",
			 sender, *next);
		return;
	}
	lg_chat_line((uint32_t)sender, seq, size, w->chat_line);
	if (n != size || memcmp(sp, w->chat_line, size) != 0) {
		bad_line(w, c, "line content differs", sender, seq);
		return;
	}
	(*next)++;
	{
		int64_t lat = (int64_t)(w->now - sc->slots[seq & w->slot_mask].intended);

		rl_hist_record(&w->cur.hist, lat);
		w->cur.requests++;
		if (w->in_window) {
			w->requests++;
			rl_hist_record(&w->hist_c, lat);
			if (open_loop(w))
				rl_hist_record(
				    &w->hist_u,
				    (int64_t)(w->now - sc->slots[seq & w->slot_mask].sent));
		}
	}
	delivered(w, sc, seq);
}

void lg_chat_on_bytes(struct lg_worker *w, struct lg_conn *c, const uint8_t *p, size_t n)
{
	unsigned idx = (unsigned)(c - w->conns);
	char *part = w->chat_part + (size_t)idx * part_cap(w);
	uint32_t *plen = &w->chat_plen[idx];

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
