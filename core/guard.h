/*
 * guard.h - the server's defences against slow and flooding clients, as policy shared by
 * every engine: a per-source connection cap (--max-conns-per-source), a deadline for an
 * incomplete line or command header (--line-timeout), and the choice of which connection
 * to evict when --max-conns is reached (--evict-idle).
 *
 * Engines supply only the mechanism: rl_guard_admit() at accept, rl_conn_release() (which
 * calls rl_guard_release()) at close, rl_guard_evict_age() to pick a victim when full; the
 * line deadline is judged in their timer sweep by rl_policy_judge() (policy.h), which
 * calls rl_guard_line_expired()/rl_guard_line_cut().  Every defence is off by
 * default (the benchmarks run without them) and counted in struct rl_stats.
 */
#ifndef RL_GUARD_H
#define RL_GUARD_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "srcfilter.h"

struct rl_conn;
struct rl_server;
struct rl_server_config;
struct rl_stats;

/* A client's source: an IPv4 address, or the /64 prefix of an IPv6 address. */
struct rl_guard_key {
	uint64_t family; /* 0: none (unix socket, or the cap is off) */
	uint64_t bits;	 /* the IPv4 address, or the IPv6 /64 prefix */
};

/* Connections open per source, shared by every loop of a server (accept and close only). */
struct rl_guard {
	pthread_mutex_t mu;
	struct rl_guard_slot *slots;	 /* open addressing, a power of two */
	uint32_t cap;			 /* slots */
	uint32_t used;			 /* sources with at least one connection */
	_Atomic uint64_t log_next_ns[4]; /* rate limit of each defence's --verbose line */
	_Atomic uint64_t log_skipped[4];

	/* The in-kernel refusal (srcfilter.h; rl_guard_filter()): IPv4 sources at their cap
	 * are blocked at SYN by the listeners' program.  Under mu but the atomics. */
	const int *lfds; /* the TCP listeners; nlfd 0: filter off */
	unsigned nlfd;
	unsigned max;			    /* the cap the filter blocks at */
	uint32_t blocked[RL_SRCFILTER_MAX]; /* network byte order */
	unsigned nblocked;
	bool dirty;		   /* blocked[] differs from the attached program */
	uint64_t apply_next_ns;	   /* rate limit of re-attaching */
	atomic_bool attached_once; /* accepted sockets then drop the inherited program */
	_Atomic uint64_t blocks;   /* sources blocked (counter source-blocked) */
};

/* Sets up `g` for `cfg` (NULL: with the per-source table, for tests).  Returns 0 or
 * -ENOMEM. */
int rl_guard_init(struct rl_guard *g, const struct rl_server_config *cfg);

/* Frees what rl_guard_init() allocated. */
void rl_guard_destroy(struct rl_guard *g);

/*
 * Turns on the in-kernel refusal for --max-conns-per-source `max`: from now on an IPv4
 * source that reaches `max` is added to the program on the `n` TCP listeners in `fds`
 * (which stay the caller's and must outlive `g`) and removed when it drops below.  Blocks
 * are batched (at most one re-attach per 10 ms; until then the accept-and-reset path
 * refuses), unblocks applied at once.  Past RL_SRCFILTER_MAX sources, for IPv6 sources,
 * or after an attach fails (the filter is then off for good, logged), the
 * accept-and-reset path alone refuses.
 */
void rl_guard_filter(struct rl_guard *g, const int *fds, unsigned n, unsigned max);

/*
 * Counts one more connection from source `k` unless it already has `max` open.  Returns 0,
 * -EDQUOT (at the limit; nothing counted) or -ENOMEM.  Thread-safe.
 */
int rl_guard_admit_key(struct rl_guard *g, const struct rl_guard_key *k, unsigned max);

/* Counts one connection from `k` less (one that rl_guard_admit_key() admitted). */
void rl_guard_release_key(struct rl_guard *g, const struct rl_guard_key *k);

/*
 * Admits the connection just accepted on `fd` against --max-conns-per-source: records its
 * source in c->src (released by rl_conn_release()).  Returns 0, or -EDQUOT when its
 * source already has the maximum open: fd is then set to reset on close (SO_LINGER 0),
 * and the caller closes it at once and counts source_refused.  Any thread; c need not be
 * opened yet.
 */
int rl_guard_admit(struct rl_server *srv, struct rl_conn *c, int fd);

/* Forgets c's source (rl_conn_release() calls it; engines call it themselves only when a
 * connection fails between admission and rl_conn_open()).  Idempotent. */
void rl_guard_release(struct rl_server *srv, struct rl_conn *c);

/* True when c holds an incomplete line older than --line-timeout at `now_ns`. */
bool rl_guard_line_expired(const struct rl_conn *c, uint64_t now_ns);

/* Nanoseconds until c's line deadline (0: passed), or UINT64_MAX when none runs. */
uint64_t rl_guard_line_left(const struct rl_conn *c, uint64_t now_ns);

/*
 * Ends a connection whose line deadline passed: sends the protocol's error line (if it
 * has one), closes politely, counts line_timeouts in `st` and logs (rate-limited).
 */
void rl_guard_line_cut(struct rl_conn *c, struct rl_stats *st);

/*
 * How long c has been idle, or has held an incomplete line, at `now_ns`, if it may be
 * evicted to make room for a new connection: 0 when it may not (--evict-idle off, closing,
 * replies or file operations in flight, or quiet for less than --evict-idle).  Engines
 * evict the connection with the largest value.  Safe to call from another thread (the
 * blocking engine's acceptor) when `other_thread` is set: it then reads only the
 * connection's quiet-since time.
 */
uint64_t rl_guard_evict_age(const struct rl_server_config *cfg, const struct rl_conn *c,
			    uint64_t now_ns, bool other_thread);

/* Counts and logs (rate-limited) an eviction in `st`. */
void rl_guard_note_evict(struct rl_server *srv, struct rl_stats *st, uint64_t age_ns);
/* Counts a connection rl_guard_admit() refused with `err` in `st`: -EDQUOT as a per-source
 * refusal (logged, rate-limited), anything else as an error. */
void rl_guard_note_refused(struct rl_server *srv, struct rl_stats *st, int err);

#endif
