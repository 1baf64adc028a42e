/*
 * pipeline.h - a connection's requests on a byte stream: released, coalesced into sends,
 * and matched in order by the replies.
 *
 * Each connection numbers its requests 0, 1, 2, ... and keeps four counters:
 *   replied <= produced <= issued, with issued - replied <= --pipeline.
 * A request is *issued* when it may go (closed loop: as soon as the pipeline has room;
 * open loop: once its intended time has come and the pipeline has room), *produced* when
 * the mode's fill function has copied it into the connection's send buffer (that is when
 * its send time is stamped: the batch in which the send carrying its first byte is
 * prepared), and *replied* once every byte of its reply has arrived and matched.
 *
 * Sends: one in flight per connection.  Requests issued while it is in flight, and all
 * requests issued in the same batch, go out together in the next send (coalescing); a
 * short send resumes from where it stopped.  Used by the stream mode (traffic.c), the
 * chat room (chatpath.c, a request is a line) and, for its single reply, cycle.c.
 */
#ifndef RL_LG_PIPELINE_H
#define RL_LG_PIPELINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lg_conn.h"
#include "ring.h"
#include "worker.h"

/* Copies issued requests of c into its empty send buffer (a mode's own). */
typedef void lg_pipeline_fill_fn(struct lg_worker *w, struct lg_conn *c);

/* c is open: arms its recv, starts its schedule (open loop) and issues requests. */
void lg_pipeline_start(struct lg_worker *w, struct lg_conn *c);

/* Releases requests on c that may go now (pipeline room, schedule), marks c dirty. */
void lg_pipeline_issue(struct lg_worker *w, struct lg_conn *c);

/* Marks c as having something to send this batch (c->sbuf may hold bytes already). */
void lg_pipeline_mark_dirty(struct lg_worker *w, struct lg_conn *c);

/* Once per batch: turns what the dirty connections have to send into send SQEs (one per
 * connection), refilling an empty send buffer with `fill`. */
void lg_pipeline_flush(struct lg_worker *w, lg_pipeline_fill_fn *fill);

/* For a fill function: stamps request i of c as sent now (and, in a closed loop, intended
 * now).  Returns its slot. */
struct lg_slot *lg_pipeline_stamp(struct lg_worker *w, struct lg_conn *c, uint64_t i);

/* Handles a send completion of c (the worker has counted it off c->inflight). */
void lg_pipeline_on_send(struct lg_worker *w, struct lg_conn *c, const struct rl_cqe *cqe);

/* Called for each complete, verified reply of c, before c->replied moves past it. */
typedef void lg_pipeline_reply_fn(struct lg_worker *w, struct lg_conn *c);

/*
 * Verifies n received bytes at p against c's outstanding requests, oldest first, with the
 * protocol's reply_verify; calls `done` (may be NULL) for each reply completed.  Returns
 * the number of replies completed (>= 0), or -EPROTO / -EBADMSG after failing c (bytes
 * with no request sent, a mismatch).
 */
long lg_pipeline_verify(struct lg_worker *w, struct lg_conn *c, const uint8_t *p, size_t n,
			lg_pipeline_reply_fn *done);

/* The peer closed c while requests were expected: an error. */
void lg_pipeline_on_eof(struct lg_worker *w, struct lg_conn *c);

/* Fails c when its oldest request, sent, has had no complete reply for --timeout. */
void lg_pipeline_sweep(struct lg_worker *w, struct lg_conn *c);

#endif
