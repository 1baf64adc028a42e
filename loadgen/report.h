/*
 * report.h - the result of a run and everything that presents it: the terminal summary
 * and the .hgrm files (report.c), the JSON document and the environment description both
 * use (report_json.c).
 */
#ifndef RL_LG_REPORT_H
#define RL_LG_REPORT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "hist.h"
#include "load.h"
#include "stats.h"

struct lg_worker;
struct lg_json;

/* One second of the measurement window (the last one may be shorter). */
struct lg_series_point {
	double t_s;	 /* interval start, seconds since the window start */
	double length_s; /* interval length */
	uint64_t requests;
	uint64_t errors;
	int64_t p50_ns; /* corrected latency */
	int64_t p99_ns;
	char *hist_b64; /* the interval's histogram, compressed and base64 (owned), or NULL */
};

struct lg_result {
	const struct lg_config *cfg;
	bool window_started; /* the ramp-up and warm-up ended before the run did */
	bool interrupted;    /* SIGINT/SIGTERM */
	bool setup_failed;   /* a worker could not set up: nothing ran */
	int fatal;	     /* a worker's ring failed (-errno), 0 if none */
	uint64_t start_ns;   /* window start S */
	uint64_t end_ns;     /* effective window end */
	double start_wall_s; /* wall clock at S */
	double start_late_s; /* --start-at: S minus the requested instant (wall clock) */
	uint64_t elapsed_ns; /* end_ns - start_ns: the divisor of every rate */
	unsigned established;
	unsigned open_at_end;
	uint64_t requests;
	uint64_t bytes_in, bytes_out;
	struct rl_hist hist_c;	     /* corrected (closed loop: the only one) */
	struct rl_hist hist_u;	     /* uncorrected; open loop only */
	struct rl_hist hist_connect; /* conn_per_request: connect latency (corrected) */
	struct rl_hist hist_ttfb;    /* conn_per_request: time to first byte (corrected) */
	struct lg_errors err;
	struct lg_dgram_stats dg;     /* datagram protocols */
	struct lg_pace_stats pace;    /* open loop: the schedule against the window */
	uint64_t chat_lines;	      /* broadcast: lines delivered to every other member */
	double cpu_user_s, cpu_sys_s; /* worker threads, over the window */
	unsigned nthreads;
	double thread_cpu_pct[LG_MAX_THREADS];
	double max_thread_cpu_pct;
	struct lg_series_point *series; /* owned */
	size_t nseries, series_cap;
	/* Extra members the JSON document ends with (merge.c: the shards), or NULL. */
	void (*json_extra)(struct lg_json *j, const struct lg_result *res, const void *arg);
	const void *json_extra_arg;
	size_t json_extra_n;
	const char *exit_note; /* a FAILED line of the caller's (merge), or NULL */
	bool latency_only;     /* merged interval logs: no connections, CPU or bytes known */
};

/* The machine and build a run happened on. */
struct lg_sysinfo {
	char kernel[128];
	char cpu_model[160];
	long cpus;
	char date[40]; /* ISO 8601, UTC */
	char hostname[96];
	char clocksource[32]; /* the kernel's current clocksource ("tsc"), or "unknown" */
	int clock_synced;     /* adjtimex: 1 synchronized (NTP/chrony), 0 not, -1 unknown */
	long clock_est_error_us, clock_max_error_us;
};

/* Percentiles every report shows. */
#define LG_NPCT 6
extern const double lg_percentiles[LG_NPCT];
extern const char *const lg_percentile_names[LG_NPCT];

/* Initialises `res` (histograms allocated).  Returns 0 or -ENOMEM. */
int lg_result_init(struct lg_result *res, const struct lg_config *cfg);

/* Frees the histograms and the series. */
void lg_result_free(struct lg_result *res);

/* Appends one series point.  Returns 0 or -ENOMEM. */
int lg_result_add_point(struct lg_result *res, const struct lg_series_point *pt);

/* Adds the joined workers' totals, histograms, errors and CPU times into res. */
void lg_result_collect(struct lg_result *res, struct lg_worker *ws, unsigned n);

/* True when --start-at was given and the window started later than --max-late allows. */
bool lg_result_late(const struct lg_result *res);

/* Returns the exit status the run deserves: 0 clean, 1 otherwise. */
int lg_result_status(const struct lg_result *res);

/* Requests per second over the measured window (0 when nothing was measured). */
double lg_result_rps(const struct lg_result *res);

/* Prints the summary (wrk-like) to f; --quiet keeps only the essential lines. */
void lg_report_summary(const struct lg_result *res, FILE *f);

/*
 * Writes the corrected distribution to cfg->hgrm_path and, in open loop, the uncorrected
 * one next to it (".uncorrected" before the extension).  Returns 0 or -errno (reported).
 */
int lg_report_hgrm(const struct lg_result *res);

/* Writes the JSON document to cfg->json_path.  Returns 0 or -errno (reported). */
int lg_report_json(const struct lg_result *res, const struct lg_sysinfo *si, int status);

/* Fills si from uname, /proc/cpuinfo and the clock. */
void lg_sysinfo_get(struct lg_sysinfo *si);

#endif
