/*
 * report.c - the result of a run: merging the workers, judging it (exit status), the
 * terminal summary and the .hgrm percentile files.
 *
 * Every rate divides by the measured window (res->elapsed_ns: from the window start to
 * the moment the last worker stopped, or the nominal end), never by --duration.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "hist_log.h"
#include "log.h"
#include "report.h"
#include "units.h"
#include "worker.h"

#define CPU_WARN_PCT 90.0

const double lg_percentiles[LG_NPCT] = {50.0, 90.0, 99.0, 99.9, 99.99, 100.0};
const char *const lg_percentile_names[LG_NPCT] = {"p50", "p90", "p99", "p99.9", "p99.99", "max"};

int lg_result_init(struct lg_result *res, const struct lg_config *cfg)
{
	memset(res, 0, sizeof(*res));
	res->cfg = cfg;
	if (lg_hist_init(&res->hist_c) || lg_hist_init(&res->hist_u) ||
	    lg_hist_init(&res->hist_connect) || lg_hist_init(&res->hist_ttfb))
		return -ENOMEM;
	return 0;
}

void lg_result_free(struct lg_result *res)
{
	rl_hist_free(&res->hist_c);
	rl_hist_free(&res->hist_u);
	rl_hist_free(&res->hist_connect);
	rl_hist_free(&res->hist_ttfb);
	for (size_t i = 0; i < res->nseries; i++)
		free(res->series[i].hist_b64);
	free(res->series);
	res->series = NULL;
	res->nseries = res->series_cap = 0;
}

int lg_result_add_point(struct lg_result *res, const struct lg_series_point *pt)
{
	struct lg_series_point *n;
	size_t cap;

	if (res->nseries == res->series_cap) {
		cap = res->series_cap ? res->series_cap * 2 : 64;
		n = realloc(res->series, cap * sizeof(*n));
		if (!n)
			return -ENOMEM;
		res->series = n;
		res->series_cap = cap;
	}
	res->series[res->nseries++] = *pt;
	return 0;
}

static double tv_s(const struct timeval *tv)
{
	return (double)tv->tv_sec + (double)tv->tv_usec / 1e6;
}

void lg_result_collect(struct lg_result *res, struct lg_worker *ws, unsigned n)
{
	bool open = res->cfg->rate > 0;
	double elapsed = (double)res->elapsed_ns / 1e9, user, sys;
	unsigned i;

	res->nthreads = n;
	for (i = 0; i < n; i++) {
		struct lg_worker *w = &ws[i];

		if (w->setup_err)
			res->setup_failed = true;
		if (w->fatal && !res->fatal)
			res->fatal = w->fatal;
		res->established += w->established;
		res->open_at_end += w->live;
		res->requests += w->requests;
		res->bytes_in += w->bytes_in;
		res->bytes_out += w->bytes_out;
		if (w->hist_c.counts)
			rl_hist_merge(&res->hist_c, &w->hist_c);
		if (open && w->hist_u.counts)
			rl_hist_merge(&res->hist_u, &w->hist_u);
		if (w->hist_connect.counts)
			rl_hist_merge(&res->hist_connect, &w->hist_connect);
		if (w->hist_ttfb.counts)
			rl_hist_merge(&res->hist_ttfb, &w->hist_ttfb);
		lg_errors_add(&res->err, &w->err);
		res->chat_lines += w->chat_lines;
		res->dg.sent += w->dg.sent;
		res->dg.answered += w->dg.answered;
		res->dg.lost += w->dg.lost;
		res->dg.reordered += w->dg.reordered;
		res->dg.duplicates += w->dg.duplicates;
		res->dg.late += w->dg.late;
		lg_pace_stats_add(&res->pace, &w->pace);
		if (!w->window_seen)
			continue;
		user = tv_s(&w->ru_end.ru_utime) - tv_s(&w->ru_start.ru_utime);
		sys = tv_s(&w->ru_end.ru_stime) - tv_s(&w->ru_start.ru_stime);
		res->cpu_user_s += user;
		res->cpu_sys_s += sys;
		res->thread_cpu_pct[i] = elapsed > 0 ? (user + sys) / elapsed * 100.0 : 0.0;
		if (res->thread_cpu_pct[i] > res->max_thread_cpu_pct)
			res->max_thread_cpu_pct = res->thread_cpu_pct[i];
	}
}

bool lg_result_late(const struct lg_result *res)
{
	const struct lg_config *cfg = res->cfg;

	return cfg->start_at > 0 && res->start_wall_s > 0 &&
	       res->start_late_s > (double)cfg->max_late_ns / 1e9;
}

int lg_result_status(const struct lg_result *res)
{
	if (lg_result_late(res) || res->exit_note)
		return 1;
	if (res->setup_failed || res->fatal || !res->window_started || !res->requests)
		return 1;
	if (res->established < res->cfg->connections || lg_errors_total(&res->err))
		return 1;
	return 0;
}

double lg_result_rps(const struct lg_result *res)
{
	return res->elapsed_ns ? (double)res->requests * 1e9 / (double)res->elapsed_ns : 0.0;
}

static void print_latency_row(FILE *f, const char *label, const struct rl_hist *h)
{
	char buf[32];
	int i;

	fprintf(f, "  %-13s", label);
	for (i = 0; i < LG_NPCT; i++) {
		if (!h->total)
			fprintf(f, " %9s", "-");
		else
			fprintf(f, " %9s",
				rl_format_duration((uint64_t)rl_hist_value_at(h, lg_percentiles[i]),
						   buf, sizeof(buf)));
	}
	fputc('\n', f);
}

static void print_errors(const struct lg_result *res, FILE *f)
{
	const struct lg_errors *e = &res->err;
	uint64_t total = lg_errors_total(e);
	const char *sep = "";
	char name[32];
	int k, i;

	if (!total) {
		fprintf(f, "  errors        none\n");
		return;
	}
	fprintf(f, "  errors        %llu:", (unsigned long long)total);
	for (k = 0; k < LG_ERR__COUNT; k++) {
		if (!e->kind[k])
			continue;
		if (k == LG_ERR_CONNECT || k == LG_ERR_IO) {
			const uint64_t *by = k == LG_ERR_CONNECT ? e->connect_errno : e->io_errno;

			for (i = 0; i < LG_ERRNO_SLOTS; i++)
				if (by[i]) {
					fprintf(f, "%s %s %s %llu", sep, lg_err_kind_name(k),
						lg_errno_name(i, name, sizeof(name)),
						(unsigned long long)by[i]);
					sep = ",";
				}
			continue;
		}
		fprintf(f, "%s %s %llu", sep, lg_err_kind_name(k), (unsigned long long)e->kind[k]);
		sep = ",";
	}
	fputc('\n', f);
}

static void print_verdict(const struct lg_result *res, FILE *f)
{
	const struct lg_config *cfg = res->cfg;

	if (res->setup_failed)
		fprintf(f, "FAILED: a thread could not set up; nothing was measured\n");
	if (res->fatal)
		fprintf(f, "FAILED: io_uring error: %s\n", strerror(-res->fatal));
	if (!res->window_started && !res->setup_failed)
		fprintf(f, "FAILED: the run ended before the measurement window started\n");
	else if (!res->requests && !res->setup_failed)
		fprintf(f, "FAILED: no request completed in the measurement window\n");
	if (res->established < cfg->connections && !res->latency_only)
		fprintf(f, "FAILED: connection target not reached: %u of %u established\n",
			res->established, cfg->connections);
	if (lg_errors_total(&res->err))
		fprintf(f, "FAILED: %llu errors (see above)\n",
			(unsigned long long)lg_errors_total(&res->err));
	if (res->exit_note)
		fprintf(f, "FAILED: %s\n", res->exit_note);
	if (lg_result_late(res))
		fprintf(f,
			"FAILED: the window started %.3f s after --start-at (--max-late %.3f s)\n",
			res->start_late_s, (double)cfg->max_late_ns / 1e9);
	if (res->interrupted)
		fprintf(f, "note: interrupted; the window was cut short\n");
	if (res->max_thread_cpu_pct > CPU_WARN_PCT)
		fprintf(f,
			"WARNING: a load generator thread used %.0f%% of a core: these numbers may "
			"measure the client, not the server (add --threads or machines)\n",
			res->max_thread_cpu_pct);
}

/* Open loop: the schedule against the window (stats.h). */
static void print_schedule(const struct lg_result *res, FILE *f)
{
	const struct lg_pace_stats *p = &res->pace;
	char late[32];

	rl_format_duration(p->send_late_max_ns, late, sizeof(late));
	fprintf(f,
		"  schedule      %llu due in the window, %llu of them sent in it (at most %s "
		"late); unfinished: %llu at its start, %llu at its end\n",
		(unsigned long long)p->scheduled, (unsigned long long)p->sent, late,
		(unsigned long long)p->behind_start, (unsigned long long)p->behind_end);
}

void lg_report_summary(const struct lg_result *res, FILE *f)
{
	const struct lg_config *cfg = res->cfg;
	double el = (double)res->elapsed_ns / 1e9, cpu = res->cpu_user_s + res->cpu_sys_s;
	bool open = cfg->rate > 0, cycle = cfg->proto->conn_per_request;

	if (!cfg->quiet) {
		fprintf(f, "ringlab-load %s -> %s: %s loop", cfg->proto->name, cfg->target_str,
			open ? "open" : "closed");
		if (open)
			fprintf(f, " at %.0f %s/s", cfg->rate, cycle ? "connections" : "req");
		if (cycle)
			fprintf(f, ", one request per connection\n");
		else
			fprintf(f, ", pipeline %u, %llu B requests%s\n", cfg->pipeline,
				(unsigned long long)cfg->params.size,
				cfg->params.sockperf ? " (sockperf ping-pong)" : "");
	}
	if (res->latency_only) {
		fprintf(f, "  duration      %.3f s measured (mean of the interval logs)\n", el);
		fprintf(f, "  requests      %llu, %.1f req/s\n", (unsigned long long)res->requests,
			lg_result_rps(res));
		fprintf(f, "  latency       %9s %9s %9s %9s %9s %9s\n", "p50", "p90", "p99",
			"p99.9", "p99.99", "max");
		print_latency_row(f, "", &res->hist_c);
		print_verdict(res, f);
		fflush(f);
		return;
	}
	fprintf(f, "  connections   %u/%u reached, %u open at the end, %u thread%s\n",
		res->established, cfg->connections, res->open_at_end, cfg->threads,
		cfg->threads == 1 ? "" : "s");
	fprintf(f, "  duration      %.3f s measured (--duration %.3f s, warm-up %.3f s)\n", el,
		(double)cfg->duration_ns / 1e9, (double)cfg->warmup_ns / 1e9);
	if (cfg->shard_count > 1 && !cfg->quiet)
		fprintf(f, "  shard         %u/%u (%s): connections %u..%u of %u\n",
			cfg->shard_index, cfg->shard_count, cfg->shard_from, cfg->conn_offset,
			cfg->conn_offset + cfg->connections - 1, cfg->total_connections);
	if (cfg->start_at > 0 && res->start_wall_s > 0)
		fprintf(f, "  start         window at %.3f (Unix s), %.3f s after --start-at\n",
			res->start_wall_s, res->start_late_s);
	if (cycle)
		fprintf(f, "  requests      %llu complete connections, %.1f connections/s\n",
			(unsigned long long)res->requests, lg_result_rps(res));
	else
		fprintf(f, "  requests      %llu, %.1f req/s\n", (unsigned long long)res->requests,
			lg_result_rps(res));
	if (open && !cfg->quiet)
		print_schedule(res, f);
	if (!cfg->quiet)
		fprintf(f, "  transfer      %.2f MB/s sent, %.2f MB/s received (MB = 10^6 B)\n",
			el > 0 ? (double)res->bytes_out / el / 1e6 : 0.0,
			el > 0 ? (double)res->bytes_in / el / 1e6 : 0.0);
	if (cfg->proto == &lg_proto_file)
		fprintf(f,
			"  files         %llu transfers of %llu B, %.1f files/s, %.2f MB/s of file "
			"data\n",
			(unsigned long long)res->requests, (unsigned long long)cfg->params.size,
			lg_result_rps(res), lg_result_rps(res) * (double)cfg->params.size / 1e6);
	if (cfg->proto->broadcast)
		fprintf(f,
			"  chat          %llu lines from %u senders, each delivered to all %u "
			"others (%.1f lines/s), %llu deliveries (%.1f/s)\n",
			(unsigned long long)res->chat_lines, cfg->params.senders,
			cfg->connections - 1, el > 0 ? (double)res->chat_lines / el : 0.0,
			(unsigned long long)res->requests, lg_result_rps(res));
	if (cfg->proto->datagram) {
		const struct lg_dgram_stats *d = &res->dg;
		uint64_t resolved = d->answered + d->lost;

		fprintf(f,
			"  datagrams     %llu sent, %llu answered, %llu lost (%.3f%%), %llu "
			"reordered, %llu duplicates, %llu late\n",
			(unsigned long long)d->sent, (unsigned long long)d->answered,
			(unsigned long long)d->lost,
			resolved ? 100.0 * (double)d->lost / (double)resolved : 0.0,
			(unsigned long long)d->reordered, (unsigned long long)d->duplicates,
			(unsigned long long)d->late);
	}
	fprintf(f, "  latency       %9s %9s %9s %9s %9s %9s\n", "p50", "p90", "p99", "p99.9",
		"p99.99", "max");
	if (cycle) {
		print_latency_row(f, "  connect", &res->hist_connect);
		print_latency_row(f, "  first byte", &res->hist_ttfb);
		print_latency_row(f, "  total", &res->hist_c);
		if (open)
			print_latency_row(f, "  uncorrected", &res->hist_u);
	} else if (open) {
		print_latency_row(f, "  corrected", &res->hist_c);
		print_latency_row(f, "  uncorrected", &res->hist_u);
	} else {
		print_latency_row(f, "", &res->hist_c);
	}
	print_errors(res, f);
	if (!cfg->quiet)
		fprintf(f,
			"  client CPU    %.2f s user + %.2f s sys = %.1f%% of a core (busiest "
			"thread %.1f%%), %.2f us/request\n",
			res->cpu_user_s, res->cpu_sys_s, el > 0 ? cpu / el * 100.0 : 0.0,
			res->max_thread_cpu_pct,
			res->requests ? cpu * 1e6 / (double)res->requests : 0.0);
	print_verdict(res, f);
	fflush(f);
}

static int write_hgrm(const struct rl_hist *h, const char *path)
{
	FILE *f = fopen(path, "w");
	int rc;

	if (!f) {
		rc = -errno;
		rl_err("cannot write --hgrm %s: %s", path, strerror(errno));
		return rc;
	}
	rc = rl_hist_write_hgrm(h, f, 1000.0, 5);
	if (fclose(f) && !rc)
		rc = -EIO;
	if (rc)
		rl_err("cannot write --hgrm %s: %s", path, strerror(-rc));
	return rc;
}

int lg_report_hgrm(const struct lg_result *res)
{
	const char *path = res->cfg->hgrm_path, *slash, *dot;
	char *u;
	size_t stem;
	int rc;

	rc = write_hgrm(&res->hist_c, path);
	if (rc || res->cfg->rate <= 0)
		return rc;
	slash = strrchr(path, '/');
	dot = strrchr(slash ? slash + 1 : path, '.');
	if (dot && dot == (slash ? slash + 1 : path))
		dot = NULL; /* a leading dot names a hidden file, not an extension */
	stem = dot ? (size_t)(dot - path) : strlen(path);
	u = malloc(strlen(path) + sizeof(".uncorrected"));
	if (!u)
		return -ENOMEM;
	memcpy(u, path, stem);
	strcpy(u + stem, ".uncorrected");
	if (dot)
		strcat(u, dot);
	rc = write_hgrm(&res->hist_u, u);
	free(u);
	return rc;
}
