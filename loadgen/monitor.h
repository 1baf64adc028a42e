/*
 * monitor.h - the main thread during a run: it decides when the measurement window
 * starts, collects each second's measurements from the workers, prints progress, writes
 * the interval log and the per-second series, and stops the run on SIGINT/SIGTERM.
 */
#ifndef RL_LG_MONITOR_H
#define RL_LG_MONITOR_H

#include <stdbool.h>
#include <stdio.h>

#include "load.h"
#include "report.h"
#include "worker.h"

struct lg_monitor {
	struct lg_run *run;
	struct lg_worker *workers;
	unsigned nworkers;
	struct lg_result *res;
	FILE *logf;    /* --log, or NULL */
	const char *tag; /* interval-log tag ("host/I/N" when sharded), or NULL */
	bool progress; /* print one line per second on stderr */
	bool tty;      /* stderr is a terminal: rewrite the line in place */
};

/*
 * Runs until every worker has finished (window over, all connections gone, or a signal
 * cut the window short).  SIGINT and SIGTERM must be blocked in every thread; they are
 * taken here with sigtimedwait.  Fills res's window times and series.  Returns 0, or
 * -errno when writing the interval log failed (reported; the run still completes).
 */
int lg_monitor_run(struct lg_monitor *m);

#endif
