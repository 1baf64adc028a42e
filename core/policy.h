/*
 * policy.h - what every engine decides the same way about an open connection, written
 * once: at each timer sweep, whether it lives on or is cut (drain deadline, lingering
 * close, close deadline, line deadline, idle timeout), how often to sweep, and when the
 * backpressure pause starts and ends.
 *
 * The engines keep only the mechanism: io_uring and epoll walk their connection list at
 * each sweep, the blocking engine asks when a connection thread's recv() times out; each
 * applies the verdict its own way (a close through the ring, close(2), the end of a
 * connection thread).  Decisions on struct rl_conn fields and the loop's clock; the one
 * action taken in here goes through conn.h (a line cut queues the error line and asks for
 * a close).  No socket calls (see rl_policy_judge's `peer_has_all`), so it is all tested
 * on hand-made connections (tests/unit/test_policy.c).
 */
#ifndef RL_POLICY_H
#define RL_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "clock.h"

struct rl_conn;
struct rl_server_config;
struct rl_stats;

/* Sweep period while draining: the drain deadline is checked this often. */
#define RL_POLICY_DRAIN_TICK_NS (20 * RL_NSEC_PER_MSEC)
/* Sweep period while a connection waits for its last replies to be read. */
#define RL_POLICY_LINGER_TICK_NS (100 * RL_NSEC_PER_MSEC)

/* The loop's side of a sweep, filled by the engine before it walks its connections. */
struct rl_policy_clock {
	uint64_t now_ns;	    /* the loop's clock */
	uint64_t drain_deadline_ns; /* with draining: when every connection is cut */
	bool draining;		    /* the server is stopping */
};

/* What to do with one connection (rl_policy_judge).  The CLOSE_* verdicts, and only
 * they, ask the engine to close it now (rl_verdict_closes). */
enum rl_verdict {
	RL_VERDICT_KEEP = 0,	/* nothing due */
	RL_VERDICT_LINGER,	/* closing once its replies are read: sweep again at the
				   linger pace (RL_POLICY_LINGER_TICK_NS) */
	RL_VERDICT_LINE_CUT,	/* its line deadline passed: the error line is queued and a
				   polite close requested; the engine's flush does the rest */
	RL_VERDICT_CLOSE_ACKED, /* lingering, and the peer has every byte: close */
	RL_VERDICT_CLOSE_DRAIN, /* draining and the drain deadline passed: close */
	RL_VERDICT_CLOSE_LATE,	/* its last replies were not read by its close deadline */
	RL_VERDICT_CLOSE_IDLE,	/* quiet for --idle-timeout */
};

/* True when `v` asks the engine to close the connection now. */
static inline bool rl_verdict_closes(enum rl_verdict v)
{
	return v >= RL_VERDICT_CLOSE_ACKED;
}

/*
 * Judges connection `c` at a sweep: the first that applies of
 *   1. `peer_has_all` (a lingering close whose every byte the peer acknowledged): CLOSE_ACKED
 *   2. draining and k->drain_deadline_ns passed:                 CLOSE_DRAIN
 *   3. a close requested (RL_CONN_CLOSE_AFTER): before c->close_deadline_ns LINGER, after
 *      it CLOSE_LATE (counted in idle_closed)
 *   4. draining: KEEP -- the drain deadline alone bounds a draining connection: no line
 *      or idle cut then (why, and how the engines differed: policy.c)
 *   5. its line deadline passed (guard.h): rl_guard_line_cut() (counts line_timeouts), LINE_CUT
 *   6. quiet for --idle-timeout since c->last_active_ns: CLOSE_IDLE (counted in idle_closed)
 *   7. KEEP.
 * `peer_has_all` is the engine's to find out, because only it knows how to reach its
 * socket (rl_socket_unacked() on the fd, for a connection in its lingering close; false
 * otherwise).  Counts go to `st`; the connection stays the caller's.  Returns the verdict.
 */
enum rl_verdict rl_policy_judge(struct rl_conn *c, const struct rl_policy_clock *k,
				bool peer_has_all, struct rl_stats *st);

/*
 * The period of the sweep for the idle timeout, the line deadline and --evict-idle (a
 * full engine looks again for a victim): a quarter of the shortest, within 10 ms..1 s.
 * 0 when all are off.
 */
uint64_t rl_policy_sweep_ns(const struct rl_server_config *cfg);

/*
 * How long an engine may wait before its next sweep: RL_POLICY_DRAIN_TICK_NS while
 * draining, RL_POLICY_LINGER_TICK_NS while some connection lingers, and otherwise
 * rl_policy_sweep_ns(), the shortest that applies.  rl_policy_sweep_ns() is left out
 * while draining: nothing it times is judged then.  UINT64_MAX when no sweep is due (an
 * engine's own timers, such as the accept back-off, come on top).
 */
uint64_t rl_policy_tick_ns(const struct rl_server_config *cfg, bool draining, bool lingering);

/*
 * Backpressure: whether to stop reading a connection with `queued` bytes waiting to be
 * sent, given whether it is stopped (`paused`).  It stops at cfg->sendq_high bytes and
 * resumes once the queue is down to half of that, so a peer that reads slowly does not
 * flap the connection between the two states.
 */
bool rl_policy_pause(const struct rl_server_config *cfg, size_t queued, bool paused);

#endif
