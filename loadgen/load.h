/*
 * load.h - ringlab-load's run configuration and the state its threads share.
 *
 * One run: the main thread parses the command line into struct lg_config (cli.c), starts
 * one worker per --threads (worker.c), each with its own io_uring and its share of the
 * connections, and then watches the clock (monitor.c): once a second it collects what the
 * workers measured, prints progress and writes the interval log.  At the end it merges the
 * workers' totals and reports (report.c, report_json.c).
 *
 * Timeline, all on CLOCK_MONOTONIC: t0 (the workers start connecting) -> ramp-up (every
 * connect attempt has finished) -> warm-up (--warmup, samples discarded) -> window start S
 * (on a whole second after t0, so the per-second intervals line up with the window) ->
 * window end E = S + --duration, or earlier on SIGINT/SIGTERM or when every connection is
 * gone.  Only replies completed inside [S, E) count.
 */
#ifndef RL_LOAD_H
#define RL_LOAD_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "addr.h"
#include "lg_proto.h"

#define LG_MAX_CONNECTIONS 20000u
#define LG_MAX_THREADS	   64u

struct lg_config {
	const struct lg_proto *proto;
	struct lg_proto_params params;
	struct rl_addr target;
	char target_str[RL_ADDR_STRLEN];
	unsigned connections;
	unsigned threads;
	uint64_t duration_ns;
	uint64_t warmup_ns;
	unsigned pipeline;
	double rate;		 /* requests/s, all connections; 0: closed loop */
	double connect_rate;	 /* connections opened per second; 0: unlimited */
	unsigned max_connecting; /* connects in flight per thread, at most */
	bool have_source;
	struct rl_addr_range source;
	const char *source_str;
	uint64_t timeout_ns;
	const char *json_path;
	const char *hgrm_path;
	const char *log_path;
	bool mode_set;		/* --mode was given */
	const char *expect_str; /* --expect or --expect-file as given (for reports) */
	bool quiet;
	bool verbose;
	uint64_t seed; /* patterns and schedule phases derive from it */
	/* Sharding (shard.c): this process runs shard_index of shard_count.  connections,
	 * rate and source above are this shard's share; the totals are what was asked for. */
	unsigned shard_index, shard_count; /* 0 of 1 when not sharded */
	const char *shard_from;		   /* "--shard", an environment variable, NULL */
	unsigned conn_offset;		   /* global index of this shard's first connection */
	unsigned source_offset;		   /* index of its first --source address in the range */
	unsigned total_connections;
	double total_rate;
	double start_at;     /* --start-at: window start, Unix seconds; 0: not given */
	uint64_t max_late_ns; /* a window starting later than start_at + this is an error */
};

/* What every thread reads: written by the main thread, read by the workers. */
struct lg_run {
	const struct lg_config *cfg;
	uint64_t t0;			  /* set before the workers are released */
	uint64_t start_target;		  /* --start-at on this clock; 0: none, or past */
	bool abort;			  /* set instead of t0 when a worker failed to set up */
	_Atomic uint64_t start;		  /* window start S; 0 until the ramp-up is over */
	_Atomic uint64_t end;		  /* window end E; UINT64_MAX until S is known */
	_Atomic unsigned mismatch_logged; /* mismatch lines printed, all threads */
	_Atomic bool addrnotavail_logged; /* the port exhaustion advice was printed */
};

/* Index of the one-second interval that time `ns` falls in (intervals start at t0). */
static inline int64_t lg_interval_of(const struct lg_run *run, uint64_t ns)
{
	return ns < run->t0 ? 0 : (int64_t)((ns - run->t0) / 1000000000ull);
}

/* Start time of interval `idx`. */
static inline uint64_t lg_interval_start(const struct lg_run *run, int64_t idx)
{
	return run->t0 + (uint64_t)idx * 1000000000ull;
}

/*
 * Parses argv into cfg (cli.c).  Prints --help/--version itself.  Returns 0 to run, 1 when
 * the program should exit 0 (help, version), 2 after printing one line about bad usage.
 */
int lg_cli_parse(int argc, char **argv, struct lg_config *cfg);

/* The client protocol called `name` ("echo"), or NULL (cli.c). */
const struct lg_proto *lg_proto_by_name(const char *name);

/* Fills cfg with the defaults of every option (cli.c). */
void lg_config_defaults(struct lg_config *cfg);

#endif
