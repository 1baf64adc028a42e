/*
 * stats.h - what ringlab-load counts: errors by kind, totals, latency histograms, and the
 * one-second intervals a worker hands to the main thread.
 *
 * Workers record into their own structures without locks.  Once a second (when a worker's
 * clock crosses an interval boundary) it publishes the interval it just finished into one
 * of a few slots under its mutex; the main thread takes the slot a moment later.  That is
 * the only lock, taken twice a second per worker.
 */
#ifndef RL_LG_STATS_H
#define RL_LG_STATS_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "hist.h"

/* Histogram layout of every latency histogram: 1 ns .. 1 hour, 3 significant digits. */
#define LG_HIST_LOWEST	1
#define LG_HIST_HIGHEST (3600ll * 1000000000ll)
#define LG_HIST_SIGFIGS 3

enum lg_err_kind {
	LG_ERR_CONNECT,		/* connect() failed; by errno in connect_errno[] */
	LG_ERR_CONNECT_TIMEOUT, /* no connect answer within --timeout */
	LG_ERR_RESET,		/* ECONNRESET / EPIPE while connected */
	LG_ERR_EOF,		/* the peer closed while requests were expected */
	LG_ERR_TIMEOUT,		/* a request got no complete reply within --timeout */
	LG_ERR_MISMATCH,	/* a reply byte differed from what was sent */
	LG_ERR_UNEXPECTED,	/* bytes arrived with no request outstanding */
	LG_ERR_IO,		/* any other send/recv error; by errno in io_errno[] */
	LG_ERR__COUNT,
};

#define LG_ERRNO_SLOTS 160 /* errno values above this are counted in the last slot */

struct lg_errors {
	uint64_t kind[LG_ERR__COUNT];
	uint64_t connect_errno[LG_ERRNO_SLOTS];
	uint64_t io_errno[LG_ERRNO_SLOTS];
};

/* Datagram counts (udp), inside the measurement window. */
struct lg_dgram_stats {
	uint64_t sent;	     /* datagrams sent */
	uint64_t answered;   /* first replies received */
	uint64_t lost;	     /* no reply within --timeout */
	uint64_t reordered;  /* a reply arrived after a reply to a later datagram */
	uint64_t duplicates; /* a second reply to the same datagram */
	uint64_t late;	     /* a reply after the datagram was counted lost */
};

/*
 * The open-loop schedule against the measurement window [S, E) (pace.h, record.h).  A
 * request is *finished* once it completed (udp: or was counted lost).  In a run without
 * errors, finished in the window = scheduled + behind_start - behind_end, exactly.
 */
struct lg_pace_stats {
	uint64_t scheduled;	   /* requests intended in [S, E) */
	uint64_t sent;		   /* of those, the ones sent before E */
	uint64_t behind_start;	   /* intended before S and not finished at S */
	uint64_t behind_end;	   /* intended before E and not finished at E */
	uint64_t send_late_max_ns; /* the longest a request sent in the window waited past its
				    * intended time (one still unsent at E: until E) */
};

/* One second (or less, for the last) of one worker: all samples, corrected latency. */
struct lg_interval {
	int64_t idx; /* interval index, -1: slot empty */
	uint64_t requests;
	uint64_t errors;
	uint64_t bytes_in;
	uint64_t bytes_out;
	unsigned live; /* connections open when the interval was published */
	struct rl_hist hist;
};

#define LG_PUB_SLOTS 4

/* A worker's published intervals, shared with the main thread. */
struct lg_pub {
	pthread_mutex_t lock;
	struct lg_interval slot[LG_PUB_SLOTS];
	_Atomic int64_t done_idx; /* every interval < done_idx is published */
};

/* Initialises h with the layout above.  Returns 0 or -ENOMEM. */
int lg_hist_init(struct rl_hist *h);

/* Adds src's counts into dst. */
void lg_errors_add(struct lg_errors *dst, const struct lg_errors *src);

/* Adds src's schedule counts into dst (the lateness: the larger of the two). */
void lg_pace_stats_add(struct lg_pace_stats *dst, const struct lg_pace_stats *src);

/* Counts one error of `kind`; `err` (a negative errno) selects the errno slot. */
void lg_errors_count(struct lg_errors *e, enum lg_err_kind kind, int err);

/* Returns the total over all kinds. */
uint64_t lg_errors_total(const struct lg_errors *e);

/* Returns the short name of an error kind ("connect", "timeout", ...). */
const char *lg_err_kind_name(enum lg_err_kind kind);

/* Returns the symbolic name of errno slot i ("ECONNREFUSED"), or "E<number>". */
const char *lg_errno_name(int i, char *buf, unsigned long len);

/* Initialises an interval (idx -1, empty histogram).  Returns 0 or -ENOMEM. */
int lg_interval_init(struct lg_interval *iv);

/* Frees the interval's histogram. */
void lg_interval_free(struct lg_interval *iv);

/* Empties the interval and gives it index idx. */
void lg_interval_reset(struct lg_interval *iv, int64_t idx);

/* Adds src's counts and histogram into dst (dst keeps its index). */
void lg_interval_add(struct lg_interval *dst, const struct lg_interval *src);

/* Initialises the slots (done_idx 0).  Returns 0 or -ENOMEM. */
int lg_pub_init(struct lg_pub *p);

/* Frees the slots. */
void lg_pub_free(struct lg_pub *p);

/*
 * Worker side: adds `cur` to its slot, marks every interval before `next_idx` published
 * and resets `cur` to index next_idx.  next_idx INT64_MAX: the worker has finished.
 */
void lg_pub_publish(struct lg_pub *p, struct lg_interval *cur, int64_t next_idx);

/* Main side: true once the worker has published interval idx (or finished). */
int lg_pub_ready(struct lg_pub *p, int64_t idx);

/* Main side: adds the worker's interval idx (if it recorded any) into `into`, frees the
 * slot. */
void lg_pub_take(struct lg_pub *p, int64_t idx, struct lg_interval *into);

#endif
