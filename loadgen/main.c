/*
 * main.c - ringlab-load: the load generator of ringlab.
 *
 *   ringlab-load PROTOCOL --target ADDR [options]      (see --help and docs/loadgen.md)
 *
 * Parses the command line (cli.c), raises the open-file limit, starts one worker thread
 * per --threads (worker.c) and lets the monitor (monitor.c) run the clock on this thread
 * until the window is over; then joins the workers, merges their results and reports
 * (report.c, report_json.c).  Exit status: 0 clean; 1 on verification or connection
 * errors, timeouts, unmet targets or a failure to run; 2 on bad usage.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "load.h"
#include "log.h"
#include "merge.h"
#include "monitor.h"
#include "report.h"
#include "slowloris.h"
#include "worker.h"

#define FD_RESERVE 64 /* descriptors besides the sockets: rings, files, stdio */

/* Raises the soft RLIMIT_NOFILE to the hard limit.  Returns the limit now in force. */
static rlim_t raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return RLIM_INFINITY;
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
			getrlimit(RLIMIT_NOFILE, &rl);
	}
	return rl.rlim_cur;
}

/* Warns when plain descriptors are in use and the limit is below what is needed.  With
 * registered files the sockets take no descriptor once connected. */
static void check_nofile(const struct lg_worker *ws, const struct lg_config *cfg)
{
	rlim_t lim = raise_nofile();
	unsigned i;

	for (i = 0; i < cfg->threads; i++)
		if (!ws[i].fixed && !ws[i].setup_err)
			break;
	if (i == cfg->threads || lim == RLIM_INFINITY || cfg->connections + FD_RESERVE <= lim)
		return;
	rl_warn("the open-file limit (%llu) leaves room for about %llu connections; the others "
		"will fail with EMFILE (raise the hard limit: ulimit -Hn)",
		(unsigned long long)lim,
		(unsigned long long)(lim > FD_RESERVE ? lim - FD_RESERVE : 0));
}

/* Starts the workers; returns how many threads were created (all of them, or fewer on
 * failure, reported). */
static unsigned start_workers(struct lg_worker *ws, const struct lg_config *cfg, struct lg_run *run,
			      pthread_barrier_t *barrier)
{
	unsigned i, first = cfg->conn_offset, base = cfg->connections / cfg->threads;
	unsigned extra = cfg->connections % cfg->threads;
	int ret;

	for (i = 0; i < cfg->threads; i++) {
		unsigned n = base + (i < extra ? 1 : 0);

		lg_worker_prepare(&ws[i], cfg, run, i, first, n, barrier);
		first += n;
		ret = pthread_create(&ws[i].thread, NULL, lg_worker_main, &ws[i]);
		if (ret) {
			rl_err("cannot start thread %u: %s", i, strerror(ret));
			return i;
		}
	}
	return cfg->threads;
}

/*
 * Sets t0 (and with --start-at the window's target on the monotonic clock).  With
 * --start-at, t0 is put a whole number of seconds before the target, waiting here for at
 * most a second, so that the per-second intervals line up with the target instant.
 */
static void set_t0(struct lg_run *run)
{
	const struct lg_config *cfg = run->cfg;
	uint64_t now = rl_now_ns(), target, k;
	double ahead;
	struct timespec ts;

	run->t0 = now;
	if (cfg->start_at <= 0)
		return;
	ahead = cfg->start_at - rl_wall_s();
	if (ahead <= 0)
		return; /* already past: the window starts as soon as it can, and is late */
	target = now + (uint64_t)(ahead * 1e9);
	k = (target - now) / RL_NSEC_PER_SEC;
	run->t0 = target - k * RL_NSEC_PER_SEC;
	run->start_target = target;
	ts = rl_ns_to_timespec(run->t0);
	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
		;
}

/* Opens --log before the run, so a bad path fails fast.  Returns 0 or 1 (reported). */
static int open_log(const struct lg_config *cfg, FILE **logf)
{
	*logf = NULL;
	if (!cfg->log_path)
		return 0;
	*logf = fopen(cfg->log_path, "w");
	if (!*logf) {
		rl_err("cannot open --log %s: %s", cfg->log_path, strerror(errno));
		return 1;
	}
	return 0;
}

/* Runs the load: threads, monitor, join, merge.  Returns 0, or 1 when nothing could run. */
static int run(const struct lg_config *cfg, struct lg_result *res, FILE *logf)
{
	struct lg_run lrun;
	struct lg_monitor mon;
	pthread_barrier_t barrier;
	struct lg_worker *ws = calloc(cfg->threads, sizeof(*ws));
	unsigned i, started;
	char tag[160] = "", host[96] = "";

	if (cfg->shard_count > 1) {
		if (gethostname(host, sizeof(host) - 1) != 0 || !host[0])
			snprintf(host, sizeof(host), "unknown");
		host[strcspn(host, ", \t\r\n")] = '\0';
		snprintf(tag, sizeof(tag), "%s/%u/%u", host, cfg->shard_index, cfg->shard_count);
	}
	if (!ws) {
		rl_err("out of memory");
		return 1;
	}
	memset(&lrun, 0, sizeof(lrun));
	lrun.cfg = cfg;
	atomic_store(&lrun.start, 0);
	atomic_store(&lrun.end, UINT64_MAX);
	pthread_barrier_init(&barrier, NULL, cfg->threads + 1);
	started = start_workers(ws, cfg, &lrun, &barrier);
	if (started < cfg->threads)
		return 1; /* the started threads wait on the barrier; exiting ends them */
	pthread_barrier_wait(&barrier); /* every worker has set up (or failed to) */
	for (i = 0; i < cfg->threads; i++)
		if (ws[i].setup_err)
			lrun.abort = true;
	check_nofile(ws, cfg);
	set_t0(&lrun);
	pthread_barrier_wait(&barrier); /* go */
	memset(&mon, 0, sizeof(mon));
	mon.run = &lrun;
	mon.workers = ws;
	mon.nworkers = cfg->threads;
	mon.res = res;
	mon.logf = logf;
	mon.tag = tag[0] ? tag : NULL;
	mon.progress = !cfg->quiet && !lrun.abort;
	mon.tty = isatty(STDERR_FILENO);
	lg_monitor_run(&mon);
	for (i = 0; i < cfg->threads; i++)
		pthread_join(ws[i].thread, NULL);
	pthread_barrier_destroy(&barrier);
	lg_result_collect(res, ws, cfg->threads);
	for (i = 0; i < cfg->threads; i++)
		lg_worker_release(&ws[i]);
	free(ws);
	return 0;
}

int main(int argc, char **argv)
{
	struct lg_config cfg;
	struct lg_result res;
	struct lg_sysinfo si;
	sigset_t set;
	FILE *logf;
	int ret, status;

	rl_log_init(argv[0], RL_LOG_WARN);
	if (argc > 1 && !strcmp(argv[1], "slowloris"))
		return lg_slowloris_main(argc - 1, argv + 1); /* the attacker: slowloris.c */
	if (argc > 1 && !strcmp(argv[1], "merge"))
		return lg_merge_main(argc - 1, argv + 1);
	ret = lg_cli_parse(argc, argv, &cfg);
	if (ret) {
		free((void *)cfg.params.expect); /* --expect / --expect-file copies */
		return ret == 1 ? 0 : 2;
	}
	rl_log_init(argv[0], cfg.verbose ? RL_LOG_DEBUG : cfg.quiet ? RL_LOG_WARN : RL_LOG_INFO);
	signal(SIGPIPE, SIG_IGN);
	/* SIGINT/SIGTERM are taken synchronously by the monitor; every thread inherits the
	 * mask. */
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	raise_nofile();
	lg_sysinfo_get(&si);
	if (open_log(&cfg, &logf)) {
		free((void *)cfg.params.expect);
		return 1;
	}
	if (lg_result_init(&res, &cfg)) {
		rl_err("out of memory");
		free((void *)cfg.params.expect);
		return 1;
	}
	ret = run(&cfg, &res, logf);
	if (logf && fclose(logf) != 0) {
		rl_err("cannot write --log %s: %s", cfg.log_path, strerror(errno));
		ret = 1;
	}
	if (ret) {
		lg_result_free(&res);
		free((void *)cfg.params.expect);
		return 1;
	}
	status = lg_result_status(&res);
	lg_report_summary(&res, stdout);
	if (cfg.hgrm_path && lg_report_hgrm(&res))
		status = 1;
	if (cfg.json_path && lg_report_json(&res, &si, status))
		status = 1;
	lg_result_free(&res);
	free((void *)cfg.params.expect);
	return status;
}
