/*
 * traffic.c - the stream mode (lg_mode_stream): requests and replies on a byte stream,
 * for the protocols with no mode flag (echo, file).
 *
 * Requests go through the pipeline (pipeline.h): issued under the pipeline bound and the
 * open-loop schedule, produced here by the protocol's request_len/request_produce into the
 * send buffer, coalesced into one send per connection and batch.  Replies are verified in
 * place, as they arrive from the connection's multishot recv, against the outstanding
 * requests oldest first; each complete reply records its latency (record.h) and lets the
 * next request go.  EOF, a reply timeout, a mismatch or bytes nobody asked for drop the
 * connection for good.
 */
#include <sys/socket.h>

#include "lg_mode.h"
#include "pipeline.h"
#include "record.h"

/* Copies issued requests into the empty send buffer, stamping their send times. */
static void fill(struct lg_worker *w, struct lg_conn *c)
{
	const struct lg_proto *p = w->cfg->proto;

	while (c->produced < c->issued && c->slen < w->sbuf_cap) {
		uint64_t i = c->produced, len = p->request_len(c->pstate, i);
		uint64_t left = len - c->prod_off, room = w->sbuf_cap - c->slen;
		size_t n = (size_t)(left < room ? left : room);

		if (c->prod_off == 0)
			lg_pipeline_stamp(w, c, i);
		if (n)
			p->request_produce(c->pstate, i, c->prod_off, c->sbuf + c->slen, n);
		c->slen += (uint32_t)n;
		c->prod_off += n;
		if (c->prod_off == len) {
			c->produced++;
			c->prod_off = 0;
		}
	}
}

static void flush(struct lg_worker *w)
{
	lg_pipeline_flush(w, fill);
}

/* A reply is complete: records its latency and tells the protocol. */
static void reply_done(struct lg_worker *w, struct lg_conn *c)
{
	const struct lg_slot *s = &c->slots[c->replied & w->slot_mask];

	lg_record_reply(w, s->intended, s->sent);
	lg_record_done(c);
	if (w->cfg->proto->reply_done)
		w->cfg->proto->reply_done(c->pstate, c->replied);
}

/* Verifies n received bytes; replies completed make room for the next requests. */
static void on_bytes(struct lg_worker *w, struct lg_conn *c, const uint8_t *p, size_t n)
{
	if (lg_pipeline_verify(w, c, p, n, reply_done) > 0)
		lg_pipeline_issue(w, c);
}

const struct lg_mode_ops lg_mode_stream = {
    .name = "stream",
    .sock_type = SOCK_STREAM,
    .connected = lg_pipeline_start,
    .on_bytes = on_bytes,
    .on_eof = lg_pipeline_on_eof,
    .on_send = lg_pipeline_on_send,
    .timer = lg_pipeline_issue,
    .sweep = lg_pipeline_sweep,
    .flush = flush,
};
