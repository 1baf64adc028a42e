/*
 * report_json.c - the --json document, and the environment it records.
 *
 * Top-level keys (docs/loadgen.md describes each): tool, version, exit_status,
 * parameters, environment, connections, totals, latency_us {corrected, uncorrected},
 * series, errors, cpu.  Latencies are microseconds (doubles); rates are per second of
 * the measured window.  In a closed loop "uncorrected" repeats "corrected", and the
 * schedule's counts in totals (scheduled, sent, behind_at_start/_end, send_late_max_s)
 * are null.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/timex.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "hist_log.h"
#include "json.h"
#include "log.h"
#include "report.h"
#include "rl_config.h"

static void trim(char *s)
{
	size_t n = strlen(s);

	while (n && (s[n - 1] == '\n' || s[n - 1] == ' ' || s[n - 1] == '\t'))
		s[--n] = '\0';
}

/* The first "model name" (x86) or "Model"/"Hardware" (arm) line of /proc/cpuinfo. */
static void cpu_model(char *out, size_t len)
{
	static const char *const keys[] = {"model name", "Model", "Hardware", "cpu model"};
	char line[512], *colon;
	FILE *f = fopen("/proc/cpuinfo", "r");
	size_t k;

	snprintf(out, len, "unknown");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		colon = strchr(line, ':');
		if (!colon)
			continue;
		for (k = 0; k < sizeof(keys) / sizeof(keys[0]); k++) {
			if (strncmp(line, keys[k], strlen(keys[k])) != 0)
				continue;
			colon++;
			while (*colon == ' ' || *colon == '\t')
				colon++;
			snprintf(out, len, "%s", colon);
			trim(out);
			fclose(f);
			return;
		}
	}
	fclose(f);
}

/* What the wall clock rests on: the clocksource and the kernel's sync status. */
static void clock_info(struct lg_sysinfo *si)
{
	FILE *f = fopen("/sys/devices/system/clocksource/clocksource0/current_clocksource", "r");
	struct timex tx;
	int state;

	snprintf(si->clocksource, sizeof(si->clocksource), "unknown");
	if (f) {
		if (fgets(si->clocksource, sizeof(si->clocksource), f))
			trim(si->clocksource);
		fclose(f);
	}
	memset(&tx, 0, sizeof(tx));
	state = adjtimex(&tx);
	si->clock_synced = state < 0 ? -1 : (state != TIME_ERROR && !(tx.status & STA_UNSYNC));
	si->clock_est_error_us = state < 0 ? -1 : tx.esterror;
	si->clock_max_error_us = state < 0 ? -1 : tx.maxerror;
}

void lg_sysinfo_get(struct lg_sysinfo *si)
{
	struct utsname u;
	struct tm tm;
	time_t now = time(NULL);

	memset(si, 0, sizeof(*si));
	if (uname(&u) == 0)
		snprintf(si->kernel, sizeof(si->kernel), "%s", u.release);
	cpu_model(si->cpu_model, sizeof(si->cpu_model));
	si->cpus = sysconf(_SC_NPROCESSORS_ONLN);
	if (gmtime_r(&now, &tm))
		strftime(si->date, sizeof(si->date), "%Y-%m-%dT%H:%M:%SZ", &tm);
	if (gethostname(si->hostname, sizeof(si->hostname) - 1) != 0)
		si->hostname[0] = '\0';
	clock_info(si);
}

static void write_params(struct lg_json *j, const struct lg_config *cfg)
{
	lg_json_object(j, "parameters");
	lg_json_str(j, "protocol", cfg->proto->name);
	lg_json_str(j, "target", cfg->target_str);
	lg_json_str(j, "mode", cfg->rate > 0 ? "open" : "closed");
	lg_json_uint(j, "connections", cfg->connections);
	lg_json_uint(j, "threads", cfg->threads);
	lg_json_double(j, "duration_s", (double)cfg->duration_ns / 1e9);
	lg_json_double(j, "warmup_s", (double)cfg->warmup_ns / 1e9);
	lg_json_uint(j, "size", cfg->params.size);
	lg_json_uint(j, "pipeline", cfg->pipeline);
	if (cfg->rate > 0)
		lg_json_double(j, "rate", cfg->rate);
	else
		lg_json_null(j, "rate");
	if (cfg->connect_rate > 0)
		lg_json_double(j, "connect_rate", cfg->connect_rate);
	else
		lg_json_null(j, "connect_rate");
	lg_json_str(j, "source", cfg->have_source ? cfg->source_str : NULL);
	lg_json_double(j, "timeout_s", (double)cfg->timeout_ns / 1e9);
	lg_json_uint(j, "seed", cfg->seed);
	if (cfg->proto->broadcast)
		lg_json_uint(j, "senders", cfg->params.senders);
	if (cfg->proto->datagram)
		lg_json_bool(j, "sockperf", cfg->params.sockperf);
	lg_json_end_object(j);
}

static void write_env(struct lg_json *j, const struct lg_sysinfo *si)
{
	lg_json_object(j, "environment");
	lg_json_str(j, "kernel", si->kernel);
	lg_json_str(j, "cpu_model", si->cpu_model);
	lg_json_int(j, "cpus", si->cpus);
	lg_json_str(j, "hostname", si->hostname);
	lg_json_str(j, "liburing", RL_LIBURING_VERSION);
	lg_json_str(j, "git_commit", RL_GIT_COMMIT);
	lg_json_str(j, "build_type", RL_BUILD_TYPE);
	lg_json_str(j, "version", RL_VERSION);
	lg_json_str(j, "date", si->date);
	lg_json_object(j, "clock");
	lg_json_str(j, "window", "CLOCK_MONOTONIC");
	lg_json_str(j, "wall", "CLOCK_REALTIME");
	lg_json_str(j, "clocksource", si->clocksource);
	if (si->clock_synced < 0) {
		lg_json_null(j, "synchronized");
		lg_json_null(j, "est_error_us");
		lg_json_null(j, "max_error_us");
	} else {
		lg_json_bool(j, "synchronized", si->clock_synced);
		lg_json_int(j, "est_error_us", si->clock_est_error_us);
		lg_json_int(j, "max_error_us", si->clock_max_error_us);
	}
	lg_json_end_object(j);
	lg_json_end_object(j);
}

static void write_shard(struct lg_json *j, const struct lg_config *cfg, const char *host)
{
	lg_json_object(j, "shard");
	lg_json_str(j, "host", host);
	lg_json_uint(j, "index", cfg->shard_index);
	lg_json_uint(j, "count", cfg->shard_count);
	lg_json_str(j, "from", cfg->shard_from);
	lg_json_uint(j, "first_connection", cfg->conn_offset);
	lg_json_uint(j, "total_connections", cfg->total_connections);
	if (cfg->total_rate > 0)
		lg_json_double(j, "total_rate", cfg->total_rate);
	else
		lg_json_null(j, "total_rate");
	if (cfg->have_source) {
		lg_json_uint(j, "source_offset", cfg->source_offset);
		lg_json_uint(j, "source_count", cfg->source.count);
	}
	lg_json_end_object(j);
}

/* The histograms themselves (compressed V2, base64), so that shards can be merged. */
static void write_encoded(struct lg_json *j, const char *key, const struct rl_hist *h)
{
	char *b64 = NULL;

	if (rl_hist_encode(h, &b64) < 0) {
		j->err = j->err ? j->err : -ENOMEM;
		return;
	}
	lg_json_str(j, key, b64);
	free(b64);
}

static void write_histograms(struct lg_json *j, const struct lg_result *res)
{
	lg_json_object(j, "histograms");
	lg_json_str(j, "encoding", "HdrHistogram V2 compressed, base64, nanoseconds");
	write_encoded(j, "corrected", &res->hist_c);
	if (res->cfg->rate > 0)
		write_encoded(j, "uncorrected", &res->hist_u);
	else
		lg_json_null(j, "uncorrected");
	if (res->cfg->proto->conn_per_request) {
		write_encoded(j, "connect", &res->hist_connect);
		write_encoded(j, "first_byte", &res->hist_ttfb);
	}
	lg_json_end_object(j);
}

/* Open loop: the schedule against the window (stats.h); null in a closed loop. */
static void write_schedule(struct lg_json *j, const struct lg_result *res)
{
	static const char *const keys[] = {"scheduled", "sent", "behind_at_start", "behind_at_end",
					   "send_late_max_s"};
	const struct lg_pace_stats *p = &res->pace;
	size_t i;

	if (res->cfg->rate <= 0 || res->latency_only) {
		for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
			lg_json_null(j, keys[i]);
		return;
	}
	lg_json_uint(j, keys[0], p->scheduled);
	lg_json_uint(j, keys[1], p->sent);
	lg_json_uint(j, keys[2], p->behind_start);
	lg_json_uint(j, keys[3], p->behind_end);
	lg_json_double(j, keys[4], (double)p->send_late_max_ns / 1e9);
}

static void write_totals(struct lg_json *j, const struct lg_result *res)
{
	double el = (double)res->elapsed_ns / 1e9;

	lg_json_object(j, "connections");
	lg_json_uint(j, "target", res->cfg->connections);
	lg_json_uint(j, "reached", res->established);
	lg_json_uint(j, "open_at_end", res->open_at_end);
	lg_json_end_object(j);
	lg_json_object(j, "totals");
	lg_json_bool(j, "window_started", res->window_started);
	lg_json_bool(j, "interrupted", res->interrupted);
	lg_json_double(j, "elapsed_s", el);
	if (res->start_wall_s > 0) {
		lg_json_double(j, "window_start_unix_s", res->start_wall_s);
		lg_json_double(j, "window_end_unix_s", res->start_wall_s + el);
	} else {
		lg_json_null(j, "window_start_unix_s");
		lg_json_null(j, "window_end_unix_s");
	}
	if (res->cfg->start_at > 0) {
		lg_json_double(j, "start_at_unix_s", res->cfg->start_at);
		if (res->start_wall_s > 0)
			lg_json_double(j, "start_late_s", res->start_late_s);
		else
			lg_json_null(j, "start_late_s");
		lg_json_double(j, "max_late_s", (double)res->cfg->max_late_ns / 1e9);
	}
	lg_json_uint(j, "requests", res->requests);
	lg_json_double(j, "requests_per_s", lg_result_rps(res));
	if (res->cfg->proto->conn_per_request)
		lg_json_double(j, "connections_per_s", lg_result_rps(res));
	write_schedule(j, res);
	lg_json_uint(j, "bytes_sent", res->bytes_out);
	lg_json_uint(j, "bytes_received", res->bytes_in);
	lg_json_double(j, "mb_per_s_sent", el > 0 ? (double)res->bytes_out / el / 1e6 : 0.0);
	lg_json_double(j, "mb_per_s_received", el > 0 ? (double)res->bytes_in / el / 1e6 : 0.0);
	lg_json_end_object(j);
}

static void write_hist(struct lg_json *j, const char *key, const struct rl_hist *h)
{
	int i;

	lg_json_object(j, key);
	lg_json_uint(j, "count", h->total);
	lg_json_double(j, "min", h->total ? (double)h->min / 1000.0 : 0.0);
	lg_json_double(j, "mean", rl_hist_mean(h) / 1000.0);
	lg_json_double(j, "stddev", rl_hist_stddev(h) / 1000.0);
	for (i = 0; i < LG_NPCT; i++)
		lg_json_double(j, lg_percentile_names[i],
			       (double)rl_hist_value_at(h, lg_percentiles[i]) / 1000.0);
	lg_json_end_object(j);
}

static void write_series(struct lg_json *j, const struct lg_result *res)
{
	size_t i;

	lg_json_array(j, "series");
	for (i = 0; i < res->nseries; i++) {
		const struct lg_series_point *p = &res->series[i];

		lg_json_object(j, NULL);
		lg_json_double(j, "t_s", p->t_s);
		lg_json_double(j, "length_s", p->length_s);
		lg_json_uint(j, "requests", p->requests);
		lg_json_double(j, "requests_per_s",
			       p->length_s > 0 ? (double)p->requests / p->length_s : 0.0);
		lg_json_double(j, "p50_us", (double)p->p50_ns / 1000.0);
		lg_json_double(j, "p99_us", (double)p->p99_ns / 1000.0);
		lg_json_uint(j, "errors", p->errors);
		lg_json_str(j, "histogram", p->hist_b64);
		lg_json_end_object(j);
	}
	lg_json_end_array(j);
}

static void write_errno_map(struct lg_json *j, const char *key, const uint64_t *by)
{
	char name[32];
	int i;

	lg_json_object(j, key);
	for (i = 0; i < LG_ERRNO_SLOTS; i++)
		if (by[i])
			lg_json_uint(j, lg_errno_name(i, name, sizeof(name)), by[i]);
	lg_json_end_object(j);
}

static void write_errors(struct lg_json *j, const struct lg_errors *e)
{
	int k;

	lg_json_object(j, "errors");
	lg_json_uint(j, "total", lg_errors_total(e));
	for (k = 0; k < LG_ERR__COUNT; k++)
		lg_json_uint(j, lg_err_kind_name(k), e->kind[k]);
	write_errno_map(j, "connect_by_errno", e->connect_errno);
	write_errno_map(j, "io_by_errno", e->io_errno);
	lg_json_end_object(j);
}

static void write_cpu(struct lg_json *j, const struct lg_result *res)
{
	double el = (double)res->elapsed_ns / 1e9, cpu = res->cpu_user_s + res->cpu_sys_s;
	unsigned i;

	lg_json_object(j, "cpu");
	lg_json_double(j, "user_s", res->cpu_user_s);
	lg_json_double(j, "sys_s", res->cpu_sys_s);
	lg_json_double(j, "percent_of_core", el > 0 ? cpu / el * 100.0 : 0.0);
	lg_json_double(j, "us_per_request",
		       res->requests ? cpu * 1e6 / (double)res->requests : 0.0);
	lg_json_double(j, "busiest_thread_percent", res->max_thread_cpu_pct);
	lg_json_array(j, "per_thread_percent");
	for (i = 0; i < res->nthreads; i++)
		lg_json_double(j, NULL, res->thread_cpu_pct[i]);
	lg_json_end_array(j);
	lg_json_bool(j, "client_bound_warning", res->max_thread_cpu_pct > 90.0);
	lg_json_end_object(j);
}

int lg_report_json(const struct lg_result *res, const struct lg_sysinfo *si, int status)
{
	const char *path = res->cfg->json_path;
	struct lg_json j;
	FILE *f = fopen(path, "w");
	int rc;

	if (!f) {
		rc = -errno;
		rl_err("cannot write --json %s: %s", path, strerror(errno));
		return rc;
	}
	lg_json_init(&j, f);
	lg_json_object(&j, NULL);
	lg_json_str(&j, "tool", "ringlab-load");
	lg_json_str(&j, "version", RL_VERSION);
	lg_json_int(&j, "exit_status", status);
	write_params(&j, res->cfg);
	write_env(&j, si);
	write_shard(&j, res->cfg, si->hostname);
	write_totals(&j, res);
	lg_json_object(&j, "latency_us");
	write_hist(&j, "corrected", &res->hist_c);
	write_hist(&j, "uncorrected", res->cfg->rate > 0 ? &res->hist_u : &res->hist_c);
	if (res->cfg->proto->conn_per_request) {
		write_hist(&j, "connect", &res->hist_connect);
		write_hist(&j, "first_byte", &res->hist_ttfb);
		write_hist(&j, "total", &res->hist_c);
	}
	lg_json_end_object(&j);
	write_histograms(&j, res);
	if (res->cfg->proto == &lg_proto_file) {
		static const char *const modes[] = {"put", "get", "mixed"};

		lg_json_object(&j, "file");
		lg_json_str(&j, "mode", modes[res->cfg->params.file_mode % 3]);
		lg_json_uint(&j, "transfers", res->requests);
		lg_json_double(&j, "files_per_s", lg_result_rps(res));
		lg_json_double(&j, "mb_per_s",
			       lg_result_rps(res) * (double)res->cfg->params.size / 1e6);
		lg_json_end_object(&j);
	}
	if (res->cfg->proto->broadcast) {
		double el = (double)res->elapsed_ns / 1e9;

		lg_json_object(&j, "chat");
		lg_json_uint(&j, "lines", res->chat_lines);
		lg_json_double(&j, "lines_per_s", el > 0 ? (double)res->chat_lines / el : 0.0);
		lg_json_uint(&j, "deliveries", res->requests);
		lg_json_double(&j, "deliveries_per_s", lg_result_rps(res));
		lg_json_end_object(&j);
	}
	if (res->cfg->proto->datagram) {
		uint64_t resolved = res->dg.answered + res->dg.lost;

		lg_json_object(&j, "datagrams");
		lg_json_uint(&j, "sent", res->dg.sent);
		lg_json_uint(&j, "answered", res->dg.answered);
		lg_json_uint(&j, "lost", res->dg.lost);
		lg_json_double(&j, "loss_percent",
			       resolved ? 100.0 * (double)res->dg.lost / (double)resolved : 0.0);
		lg_json_uint(&j, "reordered", res->dg.reordered);
		lg_json_uint(&j, "duplicates", res->dg.duplicates);
		lg_json_uint(&j, "late", res->dg.late);
		lg_json_end_object(&j);
	}
	write_series(&j, res);
	write_errors(&j, &res->err);
	write_cpu(&j, res);
	if (res->json_extra)
		res->json_extra(&j, res, res->json_extra_arg);
	lg_json_end_object(&j);
	rc = lg_json_finish(&j);
	if (fclose(f) && !rc)
		rc = -EIO;
	if (rc)
		rl_err("cannot write --json %s: %s", path, strerror(-rc));
	return rc;
}
