/*
 * monitor.c - the main thread's once-a-second duty during a run (see monitor.h).
 *
 * Intervals are the seconds since t0.  Interval k is collected just after it ends: each
 * worker publishes it when its own clock crosses the boundary (workers wake up for it),
 * the monitor waits (bounded) until all have, then merges their slots.  The window start
 * S is chosen once every worker's ramp-up is over: the first whole second at least
 * --warmup later, so the window's intervals are whole seconds too (only the last may be
 * shorter, when the window is cut short).
 */
#include "monitor.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "hist_log.h"
#include "log.h"
#include "units.h"

#define RAMP_POLL_NS	(20 * RL_NSEC_PER_MSEC)
#define COLLECT_WAIT_NS (500 * RL_NSEC_PER_MSEC)
#define COLLECT_POLL_NS (1 * RL_NSEC_PER_MSEC)
#define END_POLL_NS	(5 * RL_NSEC_PER_MSEC)

static bool all(const struct lg_monitor *m, bool ramp)
{
	unsigned i;

	for (i = 0; i < m->nworkers; i++) {
		struct lg_worker *w = &m->workers[i];

		if (atomic_load(&w->finished))
			continue;
		if (!ramp || !atomic_load(&w->ramp_done_pub))
			return false;
	}
	return true;
}

static void decide_window(struct lg_monitor *m, uint64_t now)
{
	struct lg_run *run = m->run;
	const struct lg_config *cfg = run->cfg;
	uint64_t s = now + cfg->warmup_ns - run->t0;
	int rc;

	s = run->t0 + (s + RL_NSEC_PER_SEC - 1) / RL_NSEC_PER_SEC * RL_NSEC_PER_SEC;
	/* --start-at: the target, on the same whole-second grid, unless warm-up ends later. */
	if (run->start_target > s)
		s = run->start_target;
	m->res->start_ns = s;
	m->res->start_wall_s = rl_wall_s() + ((double)s - (double)now) / 1e9;
	if (cfg->start_at > 0) {
		m->res->start_late_s = m->res->start_wall_s - cfg->start_at;
		if (m->res->start_late_s > (double)cfg->max_late_ns / 1e9)
			rl_err(
			    "the window starts %.3f s after --start-at (bound --max-late %.3f s)",
			    m->res->start_late_s, (double)cfg->max_late_ns / 1e9);
	}
	/* E before S: a worker that sees S also sees E. */
	atomic_store(&run->end, s + cfg->duration_ns);
	atomic_store(&run->start, s);
	if (m->logf) {
		rc = rl_hist_log_header(m->logf, m->res->start_wall_s);
		if (rc)
			rl_err("cannot write --log: %s", strerror(-rc));
	}
	rl_debug("ramp-up done after %.3fs; window starts at %.3fs", (double)(now - run->t0) / 1e9,
		 (double)(s - run->t0) / 1e9);
}

static void sleep_ns(uint64_t ns)
{
	struct timespec ts = rl_ns_to_timespec(ns);

	nanosleep(&ts, NULL);
}

static void print_progress(struct lg_monitor *m, int64_t k, const struct lg_interval *iv,
			   double len_s, uint64_t total_errors)
{
	const struct lg_run *run = m->run;
	uint64_t start = lg_interval_start(run, k), s = m->res->start_ns;
	char p99[32], line[256], phase[48] = "";
	int n;

	if (!s)
		snprintf(phase, sizeof(phase), "  [ramp-up]");
	else if (start < s)
		snprintf(phase, sizeof(phase), "  [warm-up]");
	rl_format_duration((uint64_t)rl_hist_value_at(&iv->hist, 99.0), p99, sizeof(p99));
	n = snprintf(line, sizeof(line),
		     "%5llds  %10.0f req/s  p99 %8s  errors %llu (total %llu)  conns %u/%u%s",
		     (long long)k + 1, len_s > 0 ? (double)iv->requests / len_s : 0.0,
		     iv->hist.total ? p99 : "-", (unsigned long long)iv->errors,
		     (unsigned long long)total_errors, iv->live, run->cfg->connections, phase);
	if (n < 0)
		return;
	if (m->tty)
		fprintf(stderr, "\r%s\033[K", line);
	else
		fprintf(stderr, "%s\n", line);
	fflush(stderr);
}

/* Merges the workers' interval k and records it; `last`: the final, partial interval. */
static int collect(struct lg_monitor *m, int64_t k, struct lg_interval *iv, uint64_t *errors,
		   uint64_t end)
{
	struct lg_result *res = m->res;
	uint64_t start = lg_interval_start(m->run, k), stop, waited = 0;
	struct lg_series_point pt;
	double len_s;
	unsigned i;
	int rc = 0;

	for (i = 0; i < m->nworkers; i++)
		while (!lg_pub_ready(&m->workers[i].pub, k) && waited < COLLECT_WAIT_NS) {
			sleep_ns(COLLECT_POLL_NS);
			waited += COLLECT_POLL_NS;
		}
	lg_interval_reset(iv, k);
	for (i = 0; i < m->nworkers; i++)
		lg_pub_take(&m->workers[i].pub, k, iv);
	*errors += iv->errors;
	stop = lg_interval_start(m->run, k + 1);
	if (end < stop)
		stop = end;
	len_s = stop > start ? (double)(stop - start) / 1e9 : 0.0;
	if (m->progress && len_s > 0)
		print_progress(m, k, iv, len_s, *errors);
	if (!res->start_ns || start < res->start_ns || start >= end || len_s <= 0)
		return 0;
	memset(&pt, 0, sizeof(pt));
	pt.t_s = (double)(start - res->start_ns) / 1e9;
	pt.length_s = len_s;
	pt.requests = iv->requests;
	pt.errors = iv->errors;
	pt.p50_ns = rl_hist_value_at(&iv->hist, 50.0);
	pt.p99_ns = rl_hist_value_at(&iv->hist, 99.0);
	if (rl_hist_encode(&iv->hist, &pt.hist_b64) < 0)
		return -ENOMEM;
	if (lg_result_add_point(res, &pt)) {
		free(pt.hist_b64);
		return -ENOMEM;
	}
	if (m->logf) {
		rc = rl_hist_log_tagged(m->logf, m->tag, &iv->hist, pt.t_s, len_s, 1000.0);
		if (rc)
			rl_err("cannot write --log: %s", strerror(-rc));
	}
	return rc;
}

/* Latest exit time of the workers, all of which have finished. */
static uint64_t last_exit(const struct lg_monitor *m)
{
	uint64_t t = 0;
	unsigned i;

	for (i = 0; i < m->nworkers; i++)
		if (m->workers[i].exit_ns > t)
			t = m->workers[i].exit_ns;
	return t;
}

static void on_signal(struct lg_monitor *m, int sig, uint64_t now)
{
	uint64_t end = atomic_load(&m->run->end);

	if (!m->res->interrupted)
		rl_info("%s: ending the run", strsignal(sig));
	m->res->interrupted = true;
	if (now < end)
		atomic_store(&m->run->end, now);
}

int lg_monitor_run(struct lg_monitor *m)
{
	struct lg_run *run = m->run;
	struct lg_interval iv;
	uint64_t now, boundary, wait, errors = 0, end;
	struct timespec ts;
	sigset_t set;
	int64_t k = 0;
	int sig, rc = 0, ret;

	if (lg_interval_init(&iv))
		return -ENOMEM;
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	for (;;) {
		now = rl_now_ns();
		if (!m->res->start_ns && !m->res->interrupted && all(m, true) && !all(m, false))
			decide_window(m, now);
		boundary = lg_interval_start(run, k + 1);
		if (now >= boundary) {
			ret = collect(m, k++, &iv, &errors, atomic_load(&run->end));
			rc = rc ? rc : ret;
			continue;
		}
		if (all(m, false)) {
			end = last_exit(m);
			if (end > atomic_load(&run->end))
				end = atomic_load(&run->end);
			m->res->end_ns = end;
			ret = collect(m, k, &iv, &errors, end);
			rc = rc ? rc : ret;
			break;
		}
		wait = boundary - now;
		if (!m->res->start_ns && wait > RAMP_POLL_NS)
			wait = RAMP_POLL_NS;
		/* Past the window end, look often: the workers are about to finish. */
		end = atomic_load(&run->end);
		if (end != UINT64_MAX && now + wait > end + END_POLL_NS)
			wait = (end > now ? end - now : 0) + END_POLL_NS;
		ts = rl_ns_to_timespec(wait);
		sig = sigtimedwait(&set, NULL, &ts);
		if (sig > 0)
			on_signal(m, sig, rl_now_ns());
	}
	if (m->progress && m->tty)
		fprintf(stderr, "\r\033[K");
	lg_interval_free(&iv);
	if (m->res->start_ns && m->res->end_ns > m->res->start_ns) {
		m->res->window_started = true;
		m->res->elapsed_ns = m->res->end_ns - m->res->start_ns;
	}
	return rc;
}
