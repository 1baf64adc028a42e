/*
 * policy.c - the per-connection decisions every engine shares (see policy.h): the sweep
 * verdict, the sweep period and the backpressure thresholds.
 */
#include "policy.h"

#include "clock.h"
#include "conn.h"
#include "guard.h"
#include "log.h"
#include "server.h"

enum rl_verdict rl_policy_judge(struct rl_conn *c, const struct rl_policy_clock *k,
				bool peer_has_all, struct rl_stats *st)
{
	uint64_t idle = c->loop->srv->cfg.idle_timeout_ns, now = k->now_ns;
	uint32_t f = rl_conn_flags(c);

	if (peer_has_all)
		return RL_VERDICT_CLOSE_ACKED; /* nothing left to lose: stop lingering */
	if (k->draining && now >= k->drain_deadline_ns)
		return RL_VERDICT_CLOSE_DRAIN;
	if (f & RL_CONN_CLOSE_AFTER) {
		if (now < c->close_deadline_ns)
			return RL_VERDICT_LINGER;
		rl_debug("connection %llu did not read its last replies in time",
			 (unsigned long long)c->id);
		st->idle_closed++;
		return RL_VERDICT_CLOSE_LATE;
	}
	/*
	 * Draining: every connection is being closed politely (close-after-flush, or its read
	 * is being stopped first), and --drain-timeout is the one bound on how long that may
	 * take.  An idle or line cut now would drop replies the drain is there to deliver, by
	 * a second, unrelated deadline.  The epoll engine always skipped both here; io_uring
	 * skipped the line cut but not the idle cut (a connection whose read was still being
	 * cancelled could be cut as idle); the blocking engine's cross_conn reader idle-cut a
	 * closing connection.  Every engine now takes this verdict.
	 */
	if (k->draining)
		return RL_VERDICT_KEEP;
	if (rl_guard_line_expired(c, now)) {
		rl_guard_line_cut(c, st); /* error line, then close after it */
		return RL_VERDICT_LINE_CUT;
	}
	if (idle && now >= c->last_active_ns && now - c->last_active_ns >= idle) {
		st->idle_closed++;
		return RL_VERDICT_CLOSE_IDLE;
	}
	return RL_VERDICT_KEEP;
}

uint64_t rl_policy_sweep_ns(const struct rl_server_config *cfg)
{
	uint64_t t = UINT64_MAX;

	if (cfg->idle_timeout_ns)
		t = cfg->idle_timeout_ns / 4;
	if (cfg->line_timeout_ns && cfg->line_timeout_ns / 4 < t)
		t = cfg->line_timeout_ns / 4;
	if (cfg->evict_idle_ns && cfg->evict_idle_ns / 4 < t)
		t = cfg->evict_idle_ns / 4;
	if (t == UINT64_MAX)
		return 0;
	if (t < 10 * RL_NSEC_PER_MSEC)
		t = 10 * RL_NSEC_PER_MSEC;
	return t > RL_NSEC_PER_SEC ? RL_NSEC_PER_SEC : t;
}

uint64_t rl_policy_tick_ns(const struct rl_server_config *cfg, bool draining, bool lingering)
{
	uint64_t sweep = rl_policy_sweep_ns(cfg), t = UINT64_MAX;

	if (draining)
		t = RL_POLICY_DRAIN_TICK_NS;
	if (lingering && RL_POLICY_LINGER_TICK_NS < t)
		t = RL_POLICY_LINGER_TICK_NS;
	if (sweep && !draining && sweep < t)
		t = sweep; /* idle timeout, line deadline, --evict-idle */
	return t;
}

bool rl_policy_pause(const struct rl_server_config *cfg, size_t queued, bool paused)
{
	return paused ? queued > cfg->sendq_high / 2 : queued >= cfg->sendq_high;
}
