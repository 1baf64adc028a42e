/*
 * test_policy.c - the per-connection policy every engine shares (core/policy.c), on
 * hand-made connections: each verdict of rl_policy_judge() and the order they are tried
 * in (the drain deadline before a close deadline, a close before the line and idle cuts,
 * no line or idle cut while draining), what each one counts, the sweep period, and the
 * backpressure thresholds.
 */
#include <pthread.h>
#include <stdint.h>
#include <string.h>

#include "clock.h"
#include "policy.h"
#include "server.h"
#include "tap.h"

#define MS   RL_NSEC_PER_MSEC
#define T0   (1000 * RL_NSEC_PER_SEC) /* the loop's clock when a case starts */
#define IDLE (100 * MS)
#define LINE (300 * MS)

static const char timeout_reply[] = "ERR line timeout\n";

static const struct rl_proto proto = {
    .name = "policy-test",
    .line_timeout_reply = timeout_reply,
};

static struct rl_server srv;
static struct rl_loop loop;
static uint8_t rx[16];

/* A connection opened at T0 with nothing in progress; the loop's counters zeroed. */
static void fresh(struct rl_conn *c)
{
	memset(c, 0, sizeof(*c));
	rl_list_init(&c->dirty);
	memset(&loop.stats, 0, sizeof(loop.stats));
	rl_list_init(&loop.dirty);
	loop.now_ns = T0;
	c->loop = &loop;
	c->id = 1;
	c->last_active_ns = T0;
	rl_sendq_init(&c->sq);
}

/* Gives `c` an incomplete line begun at `since`. */
static void partial_line(struct rl_conn *c, uint64_t since)
{
	c->rx = rx;
	c->rx_len = 3;
	c->rx_cap = sizeof(rx);
	c->partial_since_ns = since;
}

static enum rl_verdict judge(struct rl_conn *c, uint64_t now, bool draining, uint64_t drain_end,
			     bool peer_has_all)
{
	struct rl_policy_clock k = {
	    .now_ns = now, .drain_deadline_ns = drain_end, .draining = draining};

	loop.now_ns = now;
	return rl_policy_judge(c, &k, peer_has_all, &loop.stats);
}

static void test_keep_and_idle(void)
{
	struct rl_conn c;

	fresh(&c);
	tap_ok(judge(&c, T0 + IDLE - 1, false, 0, false) == RL_VERDICT_KEEP,
	       "quiet for less than --idle-timeout: keep");
	tap_ok(judge(&c, T0 + IDLE, false, 0, false) == RL_VERDICT_CLOSE_IDLE &&
		   loop.stats.idle_closed == 1,
	       "quiet for --idle-timeout: close, counted in idle_closed");
	fresh(&c);
	c.last_active_ns = T0 + 5 * MS; /* a clock read after the sweep's */
	tap_ok(judge(&c, T0, false, 0, false) == RL_VERDICT_KEEP,
	       "active after the sweep's clock: keep (no wrap-around)");
	srv.cfg.idle_timeout_ns = 0;
	fresh(&c);
	tap_ok(judge(&c, T0 + 3600 * RL_NSEC_PER_SEC, false, 0, false) == RL_VERDICT_KEEP,
	       "--idle-timeout off: keep an hour-quiet connection");
	srv.cfg.idle_timeout_ns = IDLE;
}

static void test_draining(void)
{
	uint64_t end = T0 + 5 * RL_NSEC_PER_SEC;
	struct rl_conn c;

	fresh(&c);
	tap_ok(judge(&c, T0 + 2 * IDLE, true, end, false) == RL_VERDICT_KEEP &&
		   loop.stats.idle_closed == 0,
	       "draining and idle: keep, nothing counted (the drain deadline bounds it)");
	fresh(&c);
	partial_line(&c, T0);
	tap_ok(judge(&c, T0 + 2 * LINE, true, end, false) == RL_VERDICT_KEEP &&
		   loop.stats.line_timeouts == 0 && !(c.flags & RL_CONN_CLOSE_AFTER),
	       "draining past a line deadline: keep, no error line, no count");
	fresh(&c);
	tap_ok(judge(&c, end, true, end, false) == RL_VERDICT_CLOSE_DRAIN &&
		   loop.stats.idle_closed == 0,
	       "drain deadline reached: close, not counted as idle");
	fresh(&c);
	c.flags |= RL_CONN_CLOSE_AFTER;
	c.close_deadline_ns = end + RL_NSEC_PER_SEC;
	tap_ok(judge(&c, end, true, end, false) == RL_VERDICT_CLOSE_DRAIN,
	       "drain deadline before a later close deadline: close (drain)");
	fresh(&c);
	c.flags |= RL_CONN_CLOSE_AFTER;
	c.close_deadline_ns = end - RL_NSEC_PER_SEC;
	tap_ok(judge(&c, end - 2 * RL_NSEC_PER_SEC, true, end, false) == RL_VERDICT_LINGER,
	       "draining, replies still unread before the close deadline: linger");
	tap_ok(judge(&c, end - RL_NSEC_PER_SEC, true, end, false) == RL_VERDICT_CLOSE_LATE &&
		   loop.stats.idle_closed == 1,
	       "draining, close deadline passed before the drain deadline: close (late)");
}

static void test_close_after(void)
{
	struct rl_conn c;

	fresh(&c);
	c.flags |= RL_CONN_CLOSE_AFTER;
	c.close_deadline_ns = T0 + RL_NSEC_PER_SEC;
	tap_ok(judge(&c, T0 + 2 * IDLE, false, 0, false) == RL_VERDICT_LINGER &&
		   loop.stats.idle_closed == 0,
	       "CLOSE_AFTER before its deadline, though idle: linger, not an idle cut");
	tap_ok(judge(&c, T0 + RL_NSEC_PER_SEC - 1, false, 0, false) == RL_VERDICT_LINGER,
	       "CLOSE_AFTER a nanosecond before its deadline: linger");
	tap_ok(judge(&c, T0 + RL_NSEC_PER_SEC, false, 0, false) == RL_VERDICT_CLOSE_LATE &&
		   loop.stats.idle_closed == 1,
	       "CLOSE_AFTER at its deadline: close (late replies), counted in idle_closed");
	fresh(&c);
	c.flags |= RL_CONN_CLOSE_AFTER;
	c.close_deadline_ns = T0 + RL_NSEC_PER_SEC;
	partial_line(&c, T0);
	tap_ok(judge(&c, T0 + 2 * LINE, false, 0, false) == RL_VERDICT_LINGER &&
		   loop.stats.line_timeouts == 0,
	       "CLOSE_AFTER holding an old incomplete line: linger, no line cut");
}

static void test_acked(void)
{
	uint64_t end = T0 + RL_NSEC_PER_SEC;
	struct rl_conn c;

	fresh(&c);
	c.flags |= RL_CONN_CLOSE_AFTER;
	c.close_deadline_ns = end;
	tap_ok(judge(&c, T0, false, 0, true) == RL_VERDICT_CLOSE_ACKED,
	       "lingering and the peer has every byte: close");
	tap_ok(judge(&c, end + 1, true, end, true) == RL_VERDICT_CLOSE_ACKED &&
		   loop.stats.idle_closed == 0,
	       "the same past the drain and close deadlines: close (acked), nothing counted");
}

static void test_line(void)
{
	struct rl_conn c;

	fresh(&c);
	partial_line(&c, T0);
	c.last_active_ns = T0 + LINE - 1; /* it kept trickling bytes: never idle */
	tap_ok(judge(&c, T0 + LINE - 1, false, 0, false) == RL_VERDICT_KEEP,
	       "an incomplete line younger than --line-timeout: keep");
	tap_ok(judge(&c, T0 + LINE, false, 0, false) == RL_VERDICT_LINE_CUT,
	       "an incomplete line as old as --line-timeout: line cut");
	tap_ok(loop.stats.line_timeouts == 1 && loop.stats.idle_closed == 0,
	       "the line cut counts line_timeouts only");
	tap_ok(rl_sendq_bytes(&c.sq) == strlen(timeout_reply) && (c.flags & RL_CONN_CLOSE_AFTER) &&
		   c.close_deadline_ns == T0 + LINE + srv.cfg.drain_timeout_ns &&
		   rl_list_first(&loop.dirty) == &c.dirty,
	       "the line cut queued the error line and asked for a close after it");
	tap_ok(judge(&c, T0 + LINE + MS, false, 0, false) == RL_VERDICT_LINGER &&
		   loop.stats.line_timeouts == 1,
	       "the next sweep lets it send the error line (linger), not cut twice");
	rl_sendq_clear(&c.sq);

	fresh(&c);
	partial_line(&c, T0);
	tap_ok(judge(&c, T0 + LINE + IDLE, false, 0, false) == RL_VERDICT_LINE_CUT &&
		   loop.stats.idle_closed == 0,
	       "both the line deadline and the idle timeout passed: the line cut wins");
	rl_sendq_clear(&c.sq);

	fresh(&c);
	partial_line(&c, T0);
	c.flags |= RL_CONN_PAUSED;
	c.last_active_ns = T0 + LINE;
	tap_ok(judge(&c, T0 + LINE, false, 0, false) == RL_VERDICT_KEEP,
	       "input paused by the protocol: its kept bytes are no line to time");
}

static void test_sync(void)
{
	struct rl_conn_sync sync;
	struct rl_conn c;

	pthread_mutex_init(&sync.mu, NULL);
	pthread_cond_init(&sync.cv, NULL);
	fresh(&c);
	c.sync = &sync;
	c.flags |= RL_CONN_CLOSE_AFTER;
	c.close_deadline_ns = T0 + RL_NSEC_PER_SEC;
	tap_ok(judge(&c, T0 + 2 * IDLE, false, 0, false) == RL_VERDICT_LINGER,
	       "a connection with a lock (blocking cross_conn): the same verdicts");
	pthread_cond_destroy(&sync.cv);
	pthread_mutex_destroy(&sync.mu);
}

static void test_verdict_closes(void)
{
	tap_ok(!rl_verdict_closes(RL_VERDICT_KEEP) && !rl_verdict_closes(RL_VERDICT_LINGER) &&
		   !rl_verdict_closes(RL_VERDICT_LINE_CUT),
	       "keep, linger and line cut leave the connection open");
	tap_ok(rl_verdict_closes(RL_VERDICT_CLOSE_ACKED) &&
		   rl_verdict_closes(RL_VERDICT_CLOSE_DRAIN) &&
		   rl_verdict_closes(RL_VERDICT_CLOSE_LATE) &&
		   rl_verdict_closes(RL_VERDICT_CLOSE_IDLE),
	       "every CLOSE_* verdict closes");
}

static void test_tick(void)
{
	struct rl_server_config cfg;

	rl_server_config_defaults(&cfg);
	tap_ok(rl_policy_tick_ns(&cfg, false, false) == UINT64_MAX, "nothing to time: no sweep");
	tap_ok(rl_policy_tick_ns(&cfg, true, false) == RL_POLICY_DRAIN_TICK_NS,
	       "draining: the drain pace");
	tap_ok(rl_policy_tick_ns(&cfg, false, true) == RL_POLICY_LINGER_TICK_NS,
	       "lingering: the linger pace");
	cfg.idle_timeout_ns = 40 * MS;
	tap_ok(rl_policy_tick_ns(&cfg, false, true) == 10 * MS,
	       "--idle-timeout 40ms: a quarter of it, shorter than the linger pace");
	tap_ok(rl_policy_tick_ns(&cfg, true, true) == RL_POLICY_DRAIN_TICK_NS,
	       "draining: the idle/line/evict sweep is left out (nothing it times is judged)");
	cfg.idle_timeout_ns = 0;
	cfg.line_timeout_ns = 10 * RL_NSEC_PER_SEC;
	tap_ok(rl_policy_tick_ns(&cfg, false, false) == RL_NSEC_PER_SEC,
	       "--line-timeout 10s: a quarter of it, at most 1s");
}

static void test_pause(void)
{
	struct rl_server_config cfg;

	rl_server_config_defaults(&cfg);
	cfg.sendq_high = 1000;
	tap_ok(!rl_policy_pause(&cfg, 999, false), "reading, 999 of 1000 queued: go on reading");
	tap_ok(rl_policy_pause(&cfg, 1000, false), "reading, 1000 of 1000 queued: pause");
	tap_ok(rl_policy_pause(&cfg, 501, true), "paused, 501 queued: stay paused");
	tap_ok(!rl_policy_pause(&cfg, 500, true), "paused, down to half (500): resume");
	tap_ok(!rl_policy_pause(&cfg, 0, true), "paused, queue empty: resume");
}

int main(void)
{
	rl_server_config_defaults(&srv.cfg);
	srv.cfg.idle_timeout_ns = IDLE;
	srv.cfg.line_timeout_ns = LINE;
	srv.proto = &proto;
	loop.srv = &srv;

	test_keep_and_idle();
	test_draining();
	test_close_after();
	test_acked();
	test_line();
	test_sync();
	test_verdict_closes();
	test_tick();
	test_pause();
	return tap_done();
}
