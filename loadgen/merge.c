/*
 * merge.c - `ringlab-load merge FILE...`: one result from the shards of a run (merge.h).
 *
 * Inputs are the --json documents of the shards (which carry their histograms, encoded,
 * for the whole window and for every second of it) or their --log interval logs.  The
 * merge decodes and adds the histograms, so merged percentiles are exactly those of one
 * histogram that recorded every shard's values; counts (the open-loop schedule's too),
 * bytes, errors and CPU times are summed, and the sender's lateness is the largest.
 * Per-second intervals are aligned by wall-clock time (window start + offset).  The
 * shards must describe the same run (protocol, target, sizes, shard count) and be
 * distinct shards; their windows should overlap: a start spread above --max-skew is
 * warned about, windows that do not overlap at all fail the merge.  Rates divide the
 * summed counts by the mean window length of the shards.
 *
 * The inputs are read, decoded and checked against each other by merge_input.c; this file
 * adds them up (aligning the per-second intervals), prints the per-shard table and the
 * merged report and writes --json/--hgrm/--log.
 */
#include "merge.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "hist_log.h"
#include "json.h"
#include "json_read.h"
#include "load.h"
#include "merge_input.h"
#include "report.h"
#include "stats.h"
#include "units.h"

#define DEFAULT_SKEW_NS (1 * RL_NSEC_PER_SEC)
#define MAX_SLOTS	(7 * 24 * 3600)
#define MAX_INPUTS	4096

struct merge_opts {
	const char *json, *hgrm, *log;
	uint64_t max_skew_ns;
	bool quiet;
};

/* Reads an errno map ({"ECONNREFUSED": 3}) back into slots. */
static void add_errno_map(uint64_t *by, const struct lg_jval *map)
{
	char name[32];
	size_t k;
	int i;

	for (k = 0; map && map->type == LG_J_OBJ && k < map->n; k++)
		for (i = 0; i < LG_ERRNO_SLOTS; i++)
			if (!strcmp(map->keys[k], lg_errno_name(i, name, sizeof(name)))) {
				by[i] += map->items[k]->is_uint ? map->items[k]->u : 0;
				break;
			}
}

/* Adds one JSON shard's counts into res (histograms are added by the caller). */
static void add_counts(struct lg_result *res, const struct lg_jval *d)
{
	const struct lg_jval *pct = lg_jget(d, "cpu.per_thread_percent");
	struct lg_pace_stats sched;
	char key[64];
	size_t i;
	int k;

	res->established += (unsigned)lg_juint(d, "connections.reached", 0);
	res->open_at_end += (unsigned)lg_juint(d, "connections.open_at_end", 0);
	res->requests += lg_juint(d, "totals.requests", 0);
	res->bytes_out += lg_juint(d, "totals.bytes_sent", 0);
	res->bytes_in += lg_juint(d, "totals.bytes_received", 0);
	res->interrupted |= lg_jbool(d, "totals.interrupted", false);
	for (k = 0; k < LG_ERR__COUNT; k++) {
		snprintf(key, sizeof(key), "errors.%s", lg_err_kind_name(k));
		res->err.kind[k] += lg_juint(d, key, 0);
	}
	add_errno_map(res->err.connect_errno, lg_jget(d, "errors.connect_by_errno"));
	add_errno_map(res->err.io_errno, lg_jget(d, "errors.io_by_errno"));
	res->dg.sent += lg_juint(d, "datagrams.sent", 0);
	res->dg.answered += lg_juint(d, "datagrams.answered", 0);
	res->dg.lost += lg_juint(d, "datagrams.lost", 0);
	res->dg.reordered += lg_juint(d, "datagrams.reordered", 0);
	res->dg.duplicates += lg_juint(d, "datagrams.duplicates", 0);
	res->dg.late += lg_juint(d, "datagrams.late", 0);
	res->chat_lines += lg_juint(d, "chat.lines", 0);
	sched.scheduled = lg_juint(d, "totals.scheduled", 0);
	sched.sent = lg_juint(d, "totals.sent", 0);
	sched.behind_start = lg_juint(d, "totals.behind_at_start", 0);
	sched.behind_end = lg_juint(d, "totals.behind_at_end", 0);
	sched.send_late_max_ns = (uint64_t)llround(lg_jnum(d, "totals.send_late_max_s", 0) * 1e9);
	lg_pace_stats_add(&res->pace, &sched);
	res->cpu_user_s += lg_jnum(d, "cpu.user_s", 0);
	res->cpu_sys_s += lg_jnum(d, "cpu.sys_s", 0);
	for (i = 0; pct && pct->type == LG_J_ARR && i < pct->n; i++) {
		double v = pct->items[i]->num;

		if (res->nthreads < LG_MAX_THREADS)
			res->thread_cpu_pct[res->nthreads++] = v;
		if (v > res->max_thread_cpu_pct)
			res->max_thread_cpu_pct = v;
	}
}

/* The merged run's configuration, from the first shard's parameters. */
static int make_config(struct lg_config *cfg, const struct lg_shard_in *in, size_t n,
		       const struct merge_opts *o)
{
	const struct lg_jval *d = in[0].doc;
	const char *proto = d ? lg_jstr(d, "parameters.protocol", "") : "echo";
	const char *fmode = d ? lg_jstr(d, "file.mode", "put") : "put";
	size_t i;

	lg_config_defaults(cfg);
	cfg->proto = lg_proto_by_name(proto);
	if (!cfg->proto)
		return lg_merge_input_error(in[0].path, "unknown protocol '%s'", proto);
	snprintf(cfg->target_str, sizeof(cfg->target_str), "%s",
		 d ? lg_jstr(d, "parameters.target", "?") : "?");
	cfg->connections = 0;
	cfg->threads = 0;
	cfg->rate = 0;
	for (i = 0; i < n; i++) {
		cfg->connections += (unsigned)lg_juint(in[i].doc, "parameters.connections", 0);
		cfg->threads += (unsigned)lg_juint(in[i].doc, "parameters.threads", 0);
		cfg->rate += lg_jnum(in[i].doc, "parameters.rate", 0);
	}
	if (d) {
		cfg->duration_ns = (uint64_t)(lg_jnum(d, "parameters.duration_s", 0) * 1e9);
		cfg->warmup_ns = (uint64_t)(lg_jnum(d, "parameters.warmup_s", 0) * 1e9);
		cfg->params.size = lg_juint(d, "parameters.size", 0);
		cfg->pipeline = (unsigned)lg_juint(d, "parameters.pipeline", 1);
		cfg->params.senders = (unsigned)lg_juint(d, "parameters.senders", cfg->connections);
		cfg->params.sockperf = lg_jbool(d, "parameters.sockperf", false);
		cfg->seed = lg_juint(d, "parameters.seed", 0);
	}
	cfg->params.file_mode = !strcmp(fmode, "get")	  ? LG_FILE_GET
				: !strcmp(fmode, "mixed") ? LG_FILE_MIXED
							  : LG_FILE_PUT;
	cfg->params.connections = cfg->connections;
	cfg->total_connections = cfg->connections;
	cfg->total_rate = cfg->rate;
	cfg->quiet = o->quiet;
	cfg->json_path = o->json;
	cfg->hgrm_path = o->hgrm;
	cfg->log_path = o->log;
	return 0;
}

/* Adds the shards' intervals into one per wall-clock second from `base`. */
static int merge_series(struct lg_result *res, struct lg_shard_in *in, size_t n, double base)
{
	struct rl_hist *slot = NULL;
	double *len = NULL;
	uint64_t *errs = NULL;
	long nslots = 0, k;
	size_t i, j;
	int rc = 0;

	for (i = 0; i < n; i++)
		for (j = 0; j < in[i].niv; j++) {
			k = lround(in[i].iv_start[j] - base);
			if (k + 1 > nslots)
				nslots = k + 1;
		}
	if (nslots > MAX_SLOTS)
		return lg_merge_input_error(in[0].path, "%s", "the windows span more than a week");
	slot = calloc((size_t)nslots + 1, sizeof(*slot));
	len = calloc((size_t)nslots + 1, sizeof(*len));
	errs = calloc((size_t)nslots + 1, sizeof(*errs));
	if (!slot || !len || !errs) {
		rc = -ENOMEM;
		goto out;
	}
	for (k = 0; k < nslots && !rc; k++)
		rc = lg_hist_init(&slot[k]);
	for (i = 0; i < n && !rc; i++) {
		const struct lg_jval *series = in[i].doc ? lg_jget(in[i].doc, "series") : NULL;

		for (j = 0; j < in[i].niv && !rc; j++) {
			k = lround(in[i].iv_start[j] - base);
			if (k < 0)
				k = 0;
			rc = rl_hist_merge(&slot[k], &in[i].iv_hist[j]);
			if (in[i].iv_len[j] > len[k])
				len[k] = in[i].iv_len[j];
			if (series && j < series->n)
				errs[k] += lg_juint(series->items[j], "errors", 0);
		}
	}
	for (k = 0; k < nslots && !rc; k++) {
		struct lg_series_point pt;

		memset(&pt, 0, sizeof(pt));
		pt.t_s = (double)k;
		pt.length_s = len[k];
		pt.requests = slot[k].total;
		pt.errors = errs[k];
		pt.p50_ns = rl_hist_value_at(&slot[k], 50.0);
		pt.p99_ns = rl_hist_value_at(&slot[k], 99.0);
		if (rl_hist_encode(&slot[k], &pt.hist_b64) < 0 || lg_result_add_point(res, &pt)) {
			free(pt.hist_b64);
			rc = -ENOMEM;
		}
	}
out:
	for (k = 0; slot && k < nslots; k++)
		rl_hist_free(&slot[k]);
	free(slot);
	free(len);
	free(errs);
	return rc;
}

static void print_shards(const struct lg_shard_in *in, size_t n, double base, FILE *f)
{
	char p50[32], p99[32], p999[32], mx[32];
	size_t i;

	fprintf(f, "ringlab-load merge: %zu shard%s\n", n, n == 1 ? "" : "s");
	fprintf(f, "  %-7s %-16s %6s %12s %12s %9s %9s %9s %9s %7s %9s\n", "shard", "host", "conns",
		"requests", "req/s", "p50", "p99", "p99.9", "max", "errors", "start");
	for (i = 0; i < n; i++) {
		const struct lg_shard_in *s = &in[i];
		const struct rl_hist *h = &s->hc;
		double el = s->end - s->start;
		char id[24];

		snprintf(id, sizeof(id), "%u/%u", s->index, s->count);
		rl_format_duration((uint64_t)rl_hist_value_at(h, 50.0), p50, sizeof(p50));
		rl_format_duration((uint64_t)rl_hist_value_at(h, 99.0), p99, sizeof(p99));
		rl_format_duration((uint64_t)rl_hist_value_at(h, 99.9), p999, sizeof(p999));
		rl_format_duration((uint64_t)rl_hist_value_at(h, 100.0), mx, sizeof(mx));
		fprintf(f, "  %-7s %-16.16s %6llu %12llu %12.1f %9s %9s %9s %9s %7llu %+8.3fs\n",
			id, s->host,
			(unsigned long long)(s->doc ? lg_juint(s->doc, "parameters.connections", 0)
						    : 0),
			(unsigned long long)h->total, el > 0 ? (double)h->total / el : 0.0, p50,
			p99, p999, mx,
			(unsigned long long)(s->doc ? lg_juint(s->doc, "errors.total", 0) : 0),
			s->start - base);
	}
}

/* Checks the windows; prints warnings and returns a FAILED note or NULL. */
static const char *check_windows(const struct lg_shard_in *in, size_t n, uint64_t max_skew_ns,
				 FILE *f, char *note, size_t len)
{
	double first = in[0].start, last = in[0].start, end_min = in[0].end;
	const char *bad = NULL;
	unsigned present = 0;
	size_t i;

	for (i = 0; i < n; i++) {
		first = fmin(first, in[i].start);
		last = fmax(last, in[i].start);
		end_min = fmin(end_min, in[i].end);
		if (in[i].exit_status && !bad)
			bad = in[i].path;
		present++;
	}
	fprintf(f, "  windows       starts spread over %.3f s, common part %.3f s\n", last - first,
		end_min > last ? end_min - last : 0.0);
	if (last - first > (double)max_skew_ns / 1e9)
		fprintf(f,
			"WARNING: the shards' windows start %.3f s apart (more than --max-skew "
			"%.3f s): the merge adds seconds that did not happen together\n",
			last - first, (double)max_skew_ns / 1e9);
	if (in[0].count > 1 && present < in[0].count)
		fprintf(f, "WARNING: %u of %u shards merged: the load is partial\n", present,
			in[0].count);
	if (end_min <= last) {
		snprintf(note, len,
			 "the shards' windows do not overlap (one ends %.3f s before "
			 "another starts)",
			 last - end_min);
		return note;
	}
	if (bad) {
		snprintf(note, len, "a shard failed (exit status in %s)", bad);
		return note;
	}
	return NULL;
}

static void json_shards(struct lg_json *j, const struct lg_result *res, const void *arg)
{
	const struct lg_shard_in *in = arg;
	size_t i, n = res->json_extra_n;

	lg_json_array(j, "merged_from");
	for (i = 0; i < n; i++) {
		const struct lg_shard_in *s = &in[i];
		double el = s->end - s->start;

		lg_json_object(j, NULL);
		lg_json_str(j, "file", s->path);
		lg_json_str(j, "host", s->host);
		lg_json_uint(j, "index", s->index);
		lg_json_uint(j, "count", s->count);
		lg_json_int(j, "exit_status", s->exit_status);
		lg_json_uint(j, "connections",
			     s->doc ? lg_juint(s->doc, "parameters.connections", 0) : 0);
		lg_json_uint(j, "requests", s->hc.total);
		lg_json_double(j, "requests_per_s", el > 0 ? (double)s->hc.total / el : 0.0);
		lg_json_double(j, "window_start_unix_s", s->start);
		lg_json_double(j, "window_end_unix_s", s->end);
		lg_json_double(j, "p50_us", (double)rl_hist_value_at(&s->hc, 50.0) / 1000.0);
		lg_json_double(j, "p99_us", (double)rl_hist_value_at(&s->hc, 99.0) / 1000.0);
		lg_json_double(j, "p99.9_us", (double)rl_hist_value_at(&s->hc, 99.9) / 1000.0);
		lg_json_double(j, "max_us", (double)rl_hist_value_at(&s->hc, 100.0) / 1000.0);
		lg_json_end_object(j);
	}
	lg_json_end_array(j);
}

static int write_log(const struct lg_result *res, double base, const char *path)
{
	FILE *f = fopen(path, "w");
	struct rl_hist h;
	size_t i;
	int rc;

	if (!f) {
		fprintf(stderr, "ringlab-load merge: cannot write --log %s: %s\n", path,
			strerror(errno));
		return -errno;
	}
	rc = rl_hist_log_header(f, base);
	for (i = 0; i < res->nseries && !rc; i++) {
		rc = rl_hist_decode(res->series[i].hist_b64, &h);
		if (!rc)
			rc = rl_hist_log_interval(f, &h, res->series[i].t_s,
						  res->series[i].length_s, 1000.0);
		rl_hist_free(&h);
	}
	if (fclose(f) && !rc)
		rc = -EIO;
	if (rc)
		fprintf(stderr, "ringlab-load merge: cannot write --log %s: %s\n", path,
			strerror(-rc));
	return rc;
}

/* Environment of the merged document: the first shard's, hostname "merged". */
static void merged_sysinfo(struct lg_sysinfo *si, const struct lg_shard_in *in)
{
	const struct lg_jval *d = in[0].doc;

	lg_sysinfo_get(si);
	snprintf(si->hostname, sizeof(si->hostname), "merged");
	if (!d)
		return;
	snprintf(si->kernel, sizeof(si->kernel), "%s", lg_jstr(d, "environment.kernel", "?"));
	snprintf(si->cpu_model, sizeof(si->cpu_model), "%s",
		 lg_jstr(d, "environment.cpu_model", "?"));
	si->cpus = (long)lg_juint(d, "environment.cpus", 0);
}

static int usage_error(const char *msg)
{
	fprintf(stderr, "ringlab-load merge: %s\n", msg);
	return 2;
}

static void merge_usage(void)
{
	printf("Usage: ringlab-load merge [--json F] [--hgrm F] [--log F] [--max-skew DUR] "
	       "[-q] FILE...\n"
	       "\n"
	       "Adds the results of the shards of one run (their --json documents, or their\n"
	       "--log interval logs) into one: histograms are added (never percentiles),\n"
	       "requests, schedule counts, bytes, errors and CPU summed.  Prints a per-shard\n"
	       "table and the merged summary; writes the merged --json, --hgrm and --log.\n"
	       "Warns when the windows start more than --max-skew apart (default 1s); fails\n"
	       "when they do not overlap or a shard failed.  Exit 0 clean, 1 failed, 2 bad\n"
	       "usage or input.\n");
}

static int parse_merge_args(int argc, char **argv, struct merge_opts *o)
{
	static const struct option opts[] = {
	    {"json", required_argument, NULL, 'j'},
	    {"hgrm", required_argument, NULL, 'g'},
	    {"log", required_argument, NULL, 'l'},
	    {"max-skew", required_argument, NULL, 'k'},
	    {"quiet", no_argument, NULL, 'q'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	int opt;

	memset(o, 0, sizeof(*o));
	o->max_skew_ns = DEFAULT_SKEW_NS;
	optind = 1;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, ":qh", opts, NULL)) != -1) {
		switch (opt) {
		case 'j':
			o->json = optarg;
			break;
		case 'g':
			o->hgrm = optarg;
			break;
		case 'l':
			o->log = optarg;
			break;
		case 'q':
			o->quiet = true;
			break;
		case 'k':
			if (rl_parse_duration_ns(optarg, &o->max_skew_ns))
				return usage_error("invalid --max-skew");
			break;
		case 'h':
			merge_usage();
			return 1;
		default:
			return usage_error("unknown option or missing argument (see merge --help)");
		}
	}
	if (optind >= argc)
		return usage_error("no input files (shards' --json or --log files)");
	if (argc - optind > MAX_INPUTS)
		return usage_error("too many input files");
	return 0;
}

static int merge_inputs(struct lg_shard_in *in, size_t n, const struct merge_opts *o)
{
	struct lg_config cfg;
	struct lg_result res;
	struct lg_sysinfo si;
	char note[256];
	double base = in[0].start, el = 0;
	size_t i;
	int rc, status;

	for (i = 0; i < n; i++) {
		base = fmin(base, in[i].start);
		el += in[i].end - in[i].start;
	}
	if (in[0].is_log) {
		cfg.proto = NULL;
		lg_config_defaults(&cfg);
		cfg.proto = lg_proto_by_name("echo");
		snprintf(cfg.target_str, sizeof(cfg.target_str), "(interval logs)");
		cfg.quiet = true;
		cfg.json_path = o->json;
		cfg.hgrm_path = o->hgrm;
		cfg.connections = 0;
	} else if ((rc = make_config(&cfg, in, n, o))) {
		return 2;
	}
	if (lg_result_init(&res, &cfg))
		return 2;
	res.window_started = true;
	res.start_wall_s = base;
	res.elapsed_ns = (uint64_t)(el / (double)n * 1e9);
	res.nthreads = 0;
	for (i = 0, rc = 0; i < n && !rc; i++) {
		rc = rl_hist_merge(&res.hist_c, &in[i].hc);
		if (!rc && in[i].have_u)
			rc = rl_hist_merge(&res.hist_u, &in[i].hu);
		if (!rc && in[i].have_conn)
			rc = rl_hist_merge(&res.hist_connect, &in[i].hconn) ||
			     rl_hist_merge(&res.hist_ttfb, &in[i].httfb);
		if (in[i].doc)
			add_counts(&res, in[i].doc);
		else
			res.requests += in[i].hc.total;
	}
	if (rc) {
		lg_result_free(&res);
		return lg_merge_input_error(in[i - 1].path, "%s", "histogram layouts differ"), 2;
	}
	if (cfg.rate <= 0 && in[0].have_u)
		cfg.rate = 1; /* keep the uncorrected row: the shards ran open loop */
	res.latency_only = in[0].is_log;
	rc = merge_series(&res, in, n, base);
	if (rc) {
		lg_result_free(&res);
		return 2;
	}
	print_shards(in, n, base, stdout);
	res.exit_note = check_windows(in, n, o->max_skew_ns, stdout, note, sizeof(note));
	status = lg_result_status(&res);
	if (in[0].is_log)
		status = res.exit_note ? 1 : 0;
	fputc('\n', stdout);
	lg_report_summary(&res, stdout);
	if (o->hgrm && lg_report_hgrm(&res))
		status = 1;
	if (o->log && write_log(&res, base, o->log))
		status = 1;
	if (o->json) {
		merged_sysinfo(&si, in);
		res.json_extra = json_shards;
		res.json_extra_arg = in;
		res.json_extra_n = n;
		if (lg_report_json(&res, &si, status))
			status = 1;
	}
	lg_result_free(&res);
	return status;
}

int lg_merge_main(int argc, char **argv)
{
	struct merge_opts o;
	struct lg_shard_in *in;
	size_t n, i;
	int rc;

	rc = parse_merge_args(argc, argv, &o);
	if (rc)
		return rc == 1 ? 0 : rc;
	n = (size_t)(argc - optind);
	in = calloc(n, sizeof(*in));
	if (!in)
		return usage_error("out of memory");
	for (i = 0, rc = 0; i < n && !rc; i++) {
		in[i].path = argv[optind + (int)i];
		rc = lg_merge_load(&in[i]);
	}
	if (!rc)
		rc = lg_merge_check_same(in, n);
	if (rc == -ENOMEM)
		fprintf(stderr, "ringlab-load merge: out of memory\n");
	rc = rc ? 2 : merge_inputs(in, n, &o);
	for (i = 0; i < n; i++)
		lg_merge_free(&in[i]);
	free(in);
	return rc;
}
