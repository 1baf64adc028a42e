/*
 * cli.c - ringlab-load's command line: options, defaults, --help, --version.
 *
 *   ringlab-load PROTOCOL --target ADDR [options]
 *
 * Addresses and numbers are parsed by the same core code as ringlab-server's (addr.h,
 * units.h).  Bad usage prints one line on stderr and makes the program exit 2.
 */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "load.h"
#include "rl_config.h"
#include "units.h"

#define DEFAULT_CONNECTIONS	64u
#define DEFAULT_DURATION_NS	(10 * RL_NSEC_PER_SEC)
#define DEFAULT_WARMUP_NS	(1 * RL_NSEC_PER_SEC)
#define DEFAULT_SIZE		64u
#define DEFAULT_PIPELINE_CLOSED 1u
#define DEFAULT_PIPELINE_OPEN	64u
#define DEFAULT_TIMEOUT_NS	(5 * RL_NSEC_PER_SEC)
#define DEFAULT_MAX_CONNECTING	256u
#define MAX_PIPELINE		4096u

static const struct lg_proto *const protocols[] = {
    &lg_proto_echo,
};

enum {
	OPT_WARMUP = 256,
	OPT_CONNECT_RATE,
	OPT_SOURCE,
	OPT_TIMEOUT,
	OPT_JSON,
	OPT_HGRM,
	OPT_LOG,
	OPT_SEED,
};

static const struct option long_opts[] = {
    {"target", required_argument, NULL, 'a'},
    {"connections", required_argument, NULL, 'c'},
    {"threads", required_argument, NULL, 't'},
    {"duration", required_argument, NULL, 'd'},
    {"warmup", required_argument, NULL, OPT_WARMUP},
    {"size", required_argument, NULL, 's'},
    {"pipeline", required_argument, NULL, 'p'},
    {"rate", required_argument, NULL, 'r'},
    {"connect-rate", required_argument, NULL, OPT_CONNECT_RATE},
    {"source", required_argument, NULL, OPT_SOURCE},
    {"timeout", required_argument, NULL, OPT_TIMEOUT},
    {"json", required_argument, NULL, OPT_JSON},
    {"hgrm", required_argument, NULL, OPT_HGRM},
    {"log", required_argument, NULL, OPT_LOG},
    {"seed", required_argument, NULL, OPT_SEED},
    {"quiet", no_argument, NULL, 'q'},
    {"verbose", no_argument, NULL, 'v'},
    {"help", no_argument, NULL, 'h'},
    {"version", no_argument, NULL, 'V'},
    {NULL, 0, NULL, 0},
};

static void usage(FILE *f)
{
	size_t i;

	fprintf(f, "Usage: ringlab-load PROTOCOL --target ADDR [options]\n"
		   "\n"
		   "Opens --connections connections to ADDR over --threads io_uring threads,\n"
		   "sends requests for --duration and verifies every reply byte.  Prints a\n"
		   "summary; exits 0 when clean, 1 on any error or unmet target, 2 on bad usage.\n"
		   "\n"
		   "Protocols:\n");
	for (i = 0; i < sizeof(protocols) / sizeof(protocols[0]); i++)
		fprintf(f, "  %-10s %s\n", protocols[i]->name, protocols[i]->summary);
	fprintf(
	    f,
	    "\n"
	    "Options:\n"
	    "  -a, --target ADDR        server: HOST:PORT, [V6ADDR]:PORT or unix:/PATH (required)\n"
	    "  -c, --connections N      connections, 1..20000 per process (default 64)\n"
	    "  -t, --threads N          threads, one io_uring each; connections are split\n"
	    "                           evenly (default 1)\n"
	    "  -d, --duration DUR       length of the measurement window (default 10s)\n"
	    "      --warmup DUR         traffic before the window, not measured (default 1s);\n"
	    "                           the window starts on the next whole second of the run\n"
	    "  -s, --size SIZE          request payload bytes (default 64)\n"
	    "  -p, --pipeline K         requests in flight per connection (default 1; 64 with\n"
	    "                           --rate)\n"
	    "  -r, --rate R             open loop: R requests/s in total, each connection on its\n"
	    "                           own schedule; latency is measured from the intended send\n"
	    "                           time (coordinated omission corrected).  Without --rate:\n"
	    "                           closed loop, a request goes as soon as a reply frees\n"
	    "                           its pipeline slot\n"
	    "      --connect-rate R     connections opened per second while ramping up (default\n"
	    "                           unlimited, at most 256 connects in flight per thread)\n"
	    "      --source RANGE       bind sockets round-robin to source addresses, e.g.\n"
	    "                           127.0.0.2-127.0.0.50 (IP_BIND_ADDRESS_NO_PORT)\n"
	    "      --timeout DUR        a connect or request unanswered this long is an error and\n"
	    "                           drops the connection (default 5s)\n"
	    "      --json FILE          write parameters, environment, results, per-second\n"
	    "                           series and errors as JSON\n"
	    "      --hgrm FILE          write the latency percentile distribution (HdrHistogram\n"
	    "                           .hgrm, microseconds); with --rate the uncorrected one "
	    "goes\n"
	    "                           to FILE with .uncorrected before the extension\n"
	    "      --log FILE           write an HdrHistogram interval log, one interval per\n"
	    "                           second of the window (corrected latency, microseconds)\n"
	    "      --seed N             seed for payloads and schedule phases (default: random)\n"
	    "  -q, --quiet              no progress lines, summary reduced to the essentials\n"
	    "  -v, --verbose            log ring setup and every dropped connection\n"
	    "  -h, --help               this text\n"
	    "  -V, --version            version, git commit and liburing version\n"
	    "\n"
	    "Durations take ns, us, ms, s, m, h (bare: seconds); sizes take B, KiB, MiB, KB, MB;\n"
	    "counts and rates take k, M (2.5k = 2500).\n"
	    "\n"
	    "Examples:\n"
	    "  ringlab-load echo --target 127.0.0.1:7000 -c 1000 -t 2 -d 10s\n"
	    "  ringlab-load echo --target 127.0.0.1:7000 -c 100 --rate 50k --hgrm lat.hgrm\n"
	    "  ringlab-load echo --target 127.0.0.1:7000 -c 10000 --connect-rate 5000 -p 8\n"
	    "  ringlab-load echo --target 10.0.0.1:7000 -c 20000 --source 10.0.0.2-10.0.0.9\n"
	    "  ringlab-load echo --target unix:/tmp/echo.sock -c 64 --json run.json --quiet\n");
}

/* Prints one line about bad usage and returns 2. */
__attribute__((format(printf, 1, 2))) static int bad_usage(const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fprintf(stderr, "ringlab-load: %s (see --help)\n", msg);
	return 2;
}

static int parse_uint(const char *opt, const char *arg, uint64_t min, uint64_t max, unsigned *out)
{
	uint64_t v;

	if (rl_parse_count(arg, min, max, &v))
		return bad_usage("invalid value for --%s: '%s' (%llu..%llu)", opt, arg,
				 (unsigned long long)min, (unsigned long long)max);
	*out = (unsigned)v;
	return 0;
}

static int parse_rate(const char *opt, const char *arg, double *out)
{
	uint64_t v;

	if (rl_parse_count(arg, 1, 1000000000ull, &v))
		return bad_usage("invalid rate for --%s: '%s'", opt, arg);
	*out = (double)v;
	return 0;
}

static int parse_dur(const char *opt, const char *arg, uint64_t min, uint64_t *out)
{
	if (rl_parse_duration_ns(arg, out) || *out < min)
		return bad_usage("invalid duration for --%s: '%s'", opt, arg);
	return 0;
}

static uint64_t random_seed(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ((uint64_t)ts.tv_sec * 1000000007ull) ^ (uint64_t)ts.tv_nsec ^
	       ((uint64_t)getpid() << 32);
}

static void defaults(struct lg_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->connections = DEFAULT_CONNECTIONS;
	cfg->threads = 1;
	cfg->duration_ns = DEFAULT_DURATION_NS;
	cfg->warmup_ns = DEFAULT_WARMUP_NS;
	cfg->params.size = DEFAULT_SIZE;
	cfg->timeout_ns = DEFAULT_TIMEOUT_NS;
	cfg->max_connecting = DEFAULT_MAX_CONNECTING;
	cfg->seed = random_seed();
}

/* Checks the combination of options once all are known. */
static int finish(struct lg_config *cfg, const char *target, bool pipeline_set)
{
	char why[256] = "";
	int fam;

	if (!target)
		return bad_usage("missing --target ADDR");
	if (rl_addr_parse(target, false, &cfg->target))
		return bad_usage("invalid --target address '%s'", target);
	if (rl_addr_format(&cfg->target, cfg->target_str, sizeof(cfg->target_str)) < 0)
		snprintf(cfg->target_str, sizeof(cfg->target_str), "%s", target);
	fam = rl_addr_family(&cfg->target);
	if (rl_addr_port(&cfg->target) == 0)
		return bad_usage("--target needs a port other than 0");
	if (cfg->have_source) {
		if (fam == AF_UNIX)
			return bad_usage("--source does not apply to a unix: target");
		if (rl_addr_family(&cfg->source.first) != fam)
			return bad_usage("--source '%s' is not the same address family as --target",
					 cfg->source_str);
	}
	if (cfg->threads > cfg->connections)
		return bad_usage("--threads %u is more than --connections %u", cfg->threads,
				 cfg->connections);
	if (!pipeline_set)
		cfg->pipeline = cfg->rate > 0 ? DEFAULT_PIPELINE_OPEN : DEFAULT_PIPELINE_CLOSED;
	cfg->params.connections = cfg->connections;
	cfg->params.pipeline = cfg->pipeline;
	if (cfg->proto->check && cfg->proto->check(&cfg->params, why, sizeof(why)))
		return bad_usage("%s", why);
	return 0;
}

static int parse_option(int opt, const char *arg, struct lg_config *cfg, const char **target,
			bool *pipeline_set)
{
	switch (opt) {
	case 'a':
		*target = arg;
		return 0;
	case 'c':
		return parse_uint("connections", arg, 1, LG_MAX_CONNECTIONS, &cfg->connections);
	case 't':
		return parse_uint("threads", arg, 1, LG_MAX_THREADS, &cfg->threads);
	case 'd':
		return parse_dur("duration", arg, RL_NSEC_PER_MSEC, &cfg->duration_ns);
	case OPT_WARMUP:
		return parse_dur("warmup", arg, 0, &cfg->warmup_ns);
	case 's':
		if (rl_parse_size(arg, &cfg->params.size) || cfg->params.size == 0)
			return bad_usage("invalid size for --size: '%s'", arg);
		return 0;
	case 'p':
		*pipeline_set = true;
		return parse_uint("pipeline", arg, 1, MAX_PIPELINE, &cfg->pipeline);
	case 'r':
		return parse_rate("rate", arg, &cfg->rate);
	case OPT_CONNECT_RATE:
		return parse_rate("connect-rate", arg, &cfg->connect_rate);
	case OPT_SOURCE:
		if (rl_addr_range_parse(arg, &cfg->source))
			return bad_usage("invalid --source range '%s'", arg);
		cfg->have_source = true;
		cfg->source_str = arg;
		return 0;
	case OPT_TIMEOUT:
		return parse_dur("timeout", arg, RL_NSEC_PER_MSEC, &cfg->timeout_ns);
	case OPT_JSON:
		cfg->json_path = arg;
		return 0;
	case OPT_HGRM:
		cfg->hgrm_path = arg;
		return 0;
	case OPT_LOG:
		cfg->log_path = arg;
		return 0;
	case OPT_SEED:
		if (rl_parse_count(arg, 0, UINT64_MAX, &cfg->seed))
			return bad_usage("invalid --seed '%s'", arg);
		return 0;
	case 'q':
		cfg->quiet = true;
		return 0;
	case 'v':
		cfg->verbose = true;
		return 0;
	default:
		return bad_usage("unknown option");
	}
}

int lg_cli_parse(int argc, char **argv, struct lg_config *cfg)
{
	const char *target = NULL;
	bool pipeline_set = false;
	size_t i;
	int opt, ret;

	defaults(cfg);
	opterr = 0;
	while ((opt = getopt_long(argc, argv, ":a:c:t:d:s:p:r:qvhV", long_opts, NULL)) != -1) {
		switch (opt) {
		case 'h':
			usage(stdout);
			return 1;
		case 'V':
			printf("ringlab-load %s (git %s, liburing %s, %s build)\n", RL_VERSION,
			       RL_GIT_COMMIT, RL_LIBURING_VERSION, RL_BUILD_TYPE);
			return 1;
		case ':':
			return bad_usage("option %s needs a value", argv[optind - 1]);
		case '?':
			return bad_usage("unknown option '%s'", argv[optind - 1]);
		default:
			ret = parse_option(opt, optarg, cfg, &target, &pipeline_set);
			if (ret)
				return ret;
		}
	}
	if (optind >= argc)
		return bad_usage("missing PROTOCOL (echo)");
	if (optind + 1 < argc)
		return bad_usage("unexpected argument '%s'", argv[optind + 1]);
	for (i = 0; i < sizeof(protocols) / sizeof(protocols[0]); i++)
		if (!strcmp(argv[optind], protocols[i]->name))
			cfg->proto = protocols[i];
	if (!cfg->proto)
		return bad_usage("unknown protocol '%s'", argv[optind]);
	return finish(cfg, target, pipeline_set);
}
