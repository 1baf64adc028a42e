/*
 * cli.c - ringlab-load's command line: options, defaults, --help, --version.
 *
 *   ringlab-load PROTOCOL --target ADDR [options]
 *
 * Addresses, numbers and usage errors go through the same core code as ringlab-server's
 * (addr.h, cli.h).  Bad usage prints one line on stderr and makes the program exit 2.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "clock.h"
#include "load.h"
#include "shard.h"
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
    &lg_proto_echo, &lg_proto_greeting, &lg_proto_udp, &lg_proto_chat, &lg_proto_file,
};

#define DGRAM_BUDGET (256ull * 1024 * 1024) /* udp send buffers, all sockets */

#define EXPECT_FILE_MAX (1024u * 1024u)

enum {
	OPT_WARMUP = 256,
	OPT_CONNECT_RATE,
	OPT_SOURCE,
	OPT_TIMEOUT,
	OPT_JSON,
	OPT_HGRM,
	OPT_LOG,
	OPT_SEED,
	OPT_EXPECT,
	OPT_EXPECT_FILE,
	OPT_REPLY_ANY,
	OPT_MODE,
	OPT_SENDERS,
	OPT_SHARD,
	OPT_SHARDS,
	OPT_START_AT,
	OPT_MAX_LATE,
	OPT_SOCKPERF,
};

#define DEFAULT_MAX_LATE_NS (100 * RL_NSEC_PER_MSEC)

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
    {"expect", required_argument, NULL, OPT_EXPECT},
    {"expect-file", required_argument, NULL, OPT_EXPECT_FILE},
    {"reply-any", no_argument, NULL, OPT_REPLY_ANY},
    {"sockperf", no_argument, NULL, OPT_SOCKPERF},
    {"mode", required_argument, NULL, OPT_MODE},
    {"senders", required_argument, NULL, OPT_SENDERS},
    {"shard", required_argument, NULL, OPT_SHARD},
    {"shards", required_argument, NULL, OPT_SHARDS},
    {"start-at", required_argument, NULL, OPT_START_AT},
    {"max-late", required_argument, NULL, OPT_MAX_LATE},
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
	    "  -c, --connections N      connections, 1..20000 per process (default 64); with\n"
	    "                           --shard, the whole run's (each shard gets its share)\n"
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
	    "      --expect TEXT        greeting: the greeting expected byte for byte, with the\n"
	    "                           escapes \\n \\r \\t \\\\\n"
	    "                           (default \"Hello from ringlab\\n\")\n"
	    "      --expect-file PATH   greeting: the expected greeting is the file's contents\n"
	    "                           udp: --expect/--expect-file is the server's fixed reply\n"
	    "      --reply-any          udp: the server sends a fixed reply (--reply); match\n"
	    "                           replies to datagrams by arrival order\n"
	    "      --sockperf           udp: speak sockperf ping-pong, for 'sockperf sr' and\n"
	    "                           'ringlab-server udp --sockperf' (--size >= 22)\n"
	    "      --mode M             file: put (default), get or mixed\n"
	    "      --senders M          chat: only the first M of the --connections clients\n"
	    "                           send lines (--rate is shared among them); all of\n"
	    "                           them receive and verify (default: all send)\n");
	fprintf(
	    f,
	    "      --shard I/N          this process is shard I (0..N-1) of N: it runs its share\n"
	    "                           of --connections, --rate and --source, so N shards with\n"
	    "                           the same options offer exactly the load of one process.\n"
	    "                           Without --shard the shard comes from the environment:\n"
	    "                           JOB_COMPLETION_INDEX (Kubernetes Indexed Job; give the\n"
	    "                           count with --shards N), else SLURM_PROCID/SLURM_NTASKS\n"
	    "      --shards N           the shard count that goes with JOB_COMPLETION_INDEX\n"
	    "      --start-at TIME      connect and warm up, then start the window at TIME: Unix\n"
	    "                           seconds (1765000000.5) or +DUR from now (+5s)\n"
	    "      --max-late DUR       a window that starts later than --start-at by more than\n"
	    "                           this is an error (default 100ms)\n"
	    "  -q, --quiet              no progress lines, summary reduced to the essentials\n"
	    "  -v, --verbose            log ring setup and every dropped connection\n"
	    "  -h, --help               this text\n"
	    "  -V, --version            version, git commit and liburing version\n"
	    "\n");
	fprintf(
	    f,
	    "Durations take ns, us, ms, s, m, h (bare: seconds); sizes take B, KiB, MiB, KB, MB;\n"
	    "counts and rates take k, M (2.5k = 2500).\n"
	    "\n"
	    "greeting: every connection is one request: connect, read the greeting up to the\n"
	    "server's EOF, verify it, close, connect again.  --connections N connectors in a\n"
	    "closed loop, or --rate R connections/s in total (open loop, latency from the\n"
	    "intended connect time).  Three latencies: connect, first byte, total (to EOF).\n"
	    "Port exhaustion (EADDRNOTAVAIL) is reported; spread with --source.\n"
	    "\n"
	    "udp: --connections connected UDP sockets; datagrams of --size >= 16 bytes carry a\n"
	    "sequence number, the send time and per-socket filler, and are echoed back.\n"
	    "--pipeline K datagrams outstanding per socket (closed loop) or --rate R datagrams/s\n"
	    "(open loop).  A datagram unanswered for --timeout is lost (not an error).  Reports\n"
	    "RTT, loss, reordering, duplicates and late replies.  --sockperf: the datagrams\n"
	    "start with sockperf's 14-byte ping-pong header instead (sequence number, flags,\n"
	    "length), then the send time and the filler; a reply must come back with the\n"
	    "client flag cleared and every other byte as sent.\n"
	    "\n"
	    "chat: --connections clients (use e.g. 50) join one room (one thread); each sends\n"
	    "--size-byte lines carrying its index and a sequence number, closed loop (--pipeline\n"
	    "lines not yet received by everyone) or --rate lines/s in total.  Every client\n"
	    "verifies it gets every other client's lines once, in order.  --senders M: only\n"
	    "clients 0..M-1 send (--rate R: R/M lines/s each), the others just listen.\n"
	    "Latency: send to receipt at each other client (fan-out).\n"
	    "\n"
	    "file: each connection transfers --size-byte files: PUT (the server's sha256 must\n"
	    "be ours), GET (the bytes must be what was uploaded) or both alternately; names\n"
	    "lg-<pid>-<connection key>-<0..7>.  A request is one transfer: req/s = files/s.\n"
	    "\n"
	    "Examples:\n"
	    "  ringlab-load echo --target 127.0.0.1:7000 -c 1000 -t 2 -d 10s\n"
	    "  ringlab-load echo --target 127.0.0.1:7000 -c 100 --rate 50k --hgrm lat.hgrm\n"
	    "  ringlab-load echo --target 127.0.0.1:7000 -c 10000 --connect-rate 5000 -p 8\n"
	    "  ringlab-load echo --target 10.0.0.1:7000 -c 20000 --source 10.0.0.2-10.0.0.9\n"
	    "  ringlab-load echo --target unix:/tmp/echo.sock -c 64 --json run.json --quiet\n"
	    "  ringlab-load greeting --target 127.0.0.1:7001 -c 32 --expect 'Hi\\n'\n"
	    "  ringlab-load greeting --target 127.0.0.1:7001 -c 64 --rate 5k\n"
	    "  ringlab-load udp --target 127.0.0.1:7002 -c 100 -p 4 --timeout 200ms\n"
	    "  ringlab-load udp --target 127.0.0.1:7002 -c 10 --expect 'Hello UDP Client'\n"
	    "  ringlab-load udp --target 127.0.0.1:11111 -c 64 --sockperf\n"
	    "  ringlab-load chat --target 127.0.0.1:7003 -c 50 --rate 1000\n"
	    "  ringlab-load chat --target 127.0.0.1:7003 -c 1000 --senders 10 --rate 1000\n"
	    "  ringlab-load file --target 127.0.0.1:7004 -c 8 -s 1MiB --mode mixed\n"
	    "  ringlab-load echo --target 198.18.0.1:7000 -c 60000 --shard 2/4 --start-at +10s\n"
	    "  ringlab-load merge --json all.json shard0.json shard1.json shard2.json\n");
}

static int parse_rate(const char *opt, const char *arg, double *out)
{
	uint64_t v;

	if (rl_parse_count(arg, 1, 1000000000ull, &v))
		return rl_cli_usage_error("invalid rate for --%s: '%s'", opt, arg);
	*out = (double)v;
	return 0;
}

/* Decodes the C escapes \n \r \t \\ of --expect in place; returns the new length. */
static size_t unescape(char *s)
{
	char *in = s, *out = s;

	while (*in) {
		if (in[0] == '\\' && in[1]) {
			char e = in[1];

			*out++ = e == 'n' ? '\n' : e == 'r' ? '\r' : e == 't' ? '\t' : e;
			in += 2;
			continue;
		}
		*out++ = *in++;
	}
	*out = 0;
	return (size_t)(out - s);
}

/* Reads --expect-file into a buffer that lives as long as the process. */
static int read_expect_file(const char *path, struct lg_config *cfg)
{
	char *buf;
	size_t n;
	int ret = rl_cli_read_file(path, EXPECT_FILE_MAX, &buf, &n);

	if (ret == -ENOMEM)
		return rl_cli_usage_error("out of memory for --expect-file");
	if (ret == -EFBIG)
		return rl_cli_usage_error("--expect-file '%s' is larger than 1 MiB", path);
	if (ret)
		return rl_cli_usage_error("cannot read --expect-file '%s': %s", path,
					  strerror(-ret));
	cfg->params.expect = (const uint8_t *)buf;
	cfg->params.expect_len = n;
	cfg->expect_str = path;
	return 0;
}

/* --start-at: Unix seconds with fraction, or +DUR from now. */
static int parse_start_at(const char *arg, struct lg_config *cfg)
{
	uint64_t ns;
	char *end;
	double v;

	if (arg[0] == '+') {
		if (rl_parse_duration_ns(arg + 1, &ns))
			return rl_cli_usage_error("invalid --start-at '%s'", arg);
		cfg->start_at = rl_wall_s() + (double)ns / 1e9;
		return 0;
	}
	errno = 0;
	v = strtod(arg, &end);
	if (errno || end == arg || *end || !(v > 0))
		return rl_cli_usage_error("invalid --start-at '%s' (Unix seconds, or +DUR)", arg);
	cfg->start_at = v;
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
	cfg->shard_count = 1;
	cfg->max_late_ns = DEFAULT_MAX_LATE_NS;
}

/* Checks the combination of options once all are known. */
static int finish(struct lg_config *cfg, const char *target, bool pipeline_set, unsigned shards)
{
	char why[256] = "";
	int fam;

	if (!target)
		return rl_cli_usage_error("missing --target ADDR");
	if (rl_addr_parse(target, false, &cfg->target))
		return rl_cli_usage_error("invalid --target address '%s'", target);
	if (rl_addr_format(&cfg->target, cfg->target_str, sizeof(cfg->target_str)) < 0)
		snprintf(cfg->target_str, sizeof(cfg->target_str), "%s", target);
	fam = rl_addr_family(&cfg->target);
	if (rl_addr_port(&cfg->target) == 0)
		return rl_cli_usage_error("--target needs a port other than 0");
	if (cfg->have_source) {
		if (fam == AF_UNIX)
			return rl_cli_usage_error("--source does not apply to a unix: target");
		if (rl_addr_family(&cfg->source.first) != fam)
			return rl_cli_usage_error(
			    "--source '%s' is not the same address family as --target",
			    cfg->source_str);
	}
	if (!cfg->shard_from && lg_shard_from_env(cfg, shards, why, sizeof(why)))
		return rl_cli_usage_error("%s", why);
	if (cfg->shard_from && shards && cfg->shard_count != shards)
		return rl_cli_usage_error("--shards %u disagrees with the shard count %u (%s)",
					  shards, cfg->shard_count, cfg->shard_from);
	if (lg_shard_apply(cfg, why, sizeof(why)))
		return rl_cli_usage_error("%s", why);
	if (cfg->connections > LG_MAX_CONNECTIONS)
		return rl_cli_usage_error("--connections: at most %u per process (this one would "
					  "have %u; split the load with --shard)",
					  LG_MAX_CONNECTIONS, cfg->connections);
	if (cfg->threads > cfg->connections)
		return rl_cli_usage_error("--threads %u is more than --connections %u",
					  cfg->threads, cfg->connections);
	if (!pipeline_set)
		cfg->pipeline = cfg->rate > 0 ? DEFAULT_PIPELINE_OPEN : DEFAULT_PIPELINE_CLOSED;
	cfg->params.connections = cfg->connections;
	cfg->params.pipeline = cfg->pipeline;
	if (cfg->params.expect && cfg->proto != &lg_proto_greeting && !cfg->proto->datagram)
		return rl_cli_usage_error(
		    "--expect and --expect-file apply to greeting and udp only");
	if (cfg->params.reply_any && !cfg->proto->datagram)
		return rl_cli_usage_error("--reply-any applies to udp only");
	if (cfg->params.sockperf && !cfg->proto->datagram)
		return rl_cli_usage_error("--sockperf applies to udp only");
	if (cfg->params.sockperf && (cfg->params.reply_any || cfg->params.expect))
		return rl_cli_usage_error("--sockperf expects sockperf's replies: no --reply-any, "
					  "--expect or --expect-file with it");
	if (cfg->mode_set && cfg->proto != &lg_proto_file)
		return rl_cli_usage_error("--mode applies to the file protocol only");
	if (cfg->proto->broadcast && cfg->threads != 1)
		return rl_cli_usage_error("chat runs one room in one thread: --threads must be 1");
	if (cfg->proto->broadcast && cfg->connections > 1000)
		return rl_cli_usage_error(
		    "chat: at most 1000 --connections (every line goes to all)");
	if (cfg->params.senders && !cfg->proto->broadcast)
		return rl_cli_usage_error("--senders applies to chat only");
	if (!cfg->params.senders)
		cfg->params.senders = cfg->connections;
	if (cfg->proto->datagram && cfg->params.expect)
		cfg->params.reply_any = true;
	if (cfg->proto->datagram &&
	    cfg->params.size * cfg->connections * cfg->pipeline > DGRAM_BUDGET)
		return rl_cli_usage_error(
		    "udp: --size x --connections x --pipeline is over 256 MiB");
	if (cfg->proto->conn_per_request && cfg->rate > 0)
		cfg->pipeline = 1;
	if (cfg->proto->check && cfg->proto->check(&cfg->params, why, sizeof(why)))
		return rl_cli_usage_error("%s", why);
	return 0;
}

static int parse_option(int opt, const char *arg, struct lg_config *cfg, const char **target,
			bool *pipeline_set, unsigned *shards)
{
	switch (opt) {
	case 'a':
		*target = arg;
		return 0;
	case 'c':
		/* At most LG_MAX_CONNECTIONS per process, checked once the shard is known. */
		return rl_cli_uint("connections", arg, 1, LG_MAX_CONNECTIONS * 4096ull,
				   &cfg->connections);
	case 't':
		return rl_cli_uint("threads", arg, 1, LG_MAX_THREADS, &cfg->threads);
	case 'd':
		return rl_cli_duration("duration", arg, RL_NSEC_PER_MSEC, &cfg->duration_ns);
	case OPT_WARMUP:
		return rl_cli_duration("warmup", arg, 0, &cfg->warmup_ns);
	case 's':
		return rl_cli_size("size", arg, 1, UINT64_MAX, &cfg->params.size);
	case 'p':
		*pipeline_set = true;
		return rl_cli_uint("pipeline", arg, 1, MAX_PIPELINE, &cfg->pipeline);
	case 'r':
		return parse_rate("rate", arg, &cfg->rate);
	case OPT_CONNECT_RATE:
		return parse_rate("connect-rate", arg, &cfg->connect_rate);
	case OPT_SOURCE:
		if (rl_addr_range_parse(arg, &cfg->source))
			return rl_cli_usage_error("invalid --source range '%s'", arg);
		cfg->have_source = true;
		cfg->source_str = arg;
		return 0;
	case OPT_TIMEOUT:
		return rl_cli_duration("timeout", arg, RL_NSEC_PER_MSEC, &cfg->timeout_ns);
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
			return rl_cli_usage_error("invalid --seed '%s'", arg);
		return 0;
	case OPT_EXPECT: {
		char *copy = strdup(arg);

		if (!copy)
			return rl_cli_usage_error("out of memory");
		cfg->params.expect_len = unescape(copy);
		cfg->params.expect = (const uint8_t *)copy;
		cfg->expect_str = arg;
		return 0;
	}
	case OPT_EXPECT_FILE:
		return read_expect_file(arg, cfg);
	case OPT_MODE:
		if (!strcmp(arg, "put"))
			cfg->params.file_mode = LG_FILE_PUT;
		else if (!strcmp(arg, "get"))
			cfg->params.file_mode = LG_FILE_GET;
		else if (!strcmp(arg, "mixed"))
			cfg->params.file_mode = LG_FILE_MIXED;
		else
			return rl_cli_usage_error("invalid --mode '%s' (put, get or mixed)", arg);
		cfg->mode_set = true;
		return 0;
	case OPT_SENDERS:
		return rl_cli_uint("senders", arg, 1, LG_MAX_CONNECTIONS, &cfg->params.senders);
	case OPT_SHARD:
		if (lg_shard_parse(arg, &cfg->shard_index, &cfg->shard_count))
			return rl_cli_usage_error("invalid --shard '%s' (I/N with 0 <= I < N)",
						  arg);
		cfg->shard_from = "--shard";
		return 0;
	case OPT_SHARDS:
		return rl_cli_uint("shards", arg, 1, 4096, shards);
	case OPT_START_AT:
		return parse_start_at(arg, cfg);
	case OPT_MAX_LATE:
		return rl_cli_duration("max-late", arg, 0, &cfg->max_late_ns);
	case OPT_REPLY_ANY:
		cfg->params.reply_any = true;
		return 0;
	case OPT_SOCKPERF:
		cfg->params.sockperf = true;
		return 0;
	case 'q':
		cfg->quiet = true;
		return 0;
	case 'v':
		cfg->verbose = true;
		return 0;
	default:
		return rl_cli_usage_error("unknown option");
	}
}

/* lg_cli_parse() but returning -EINVAL on bad usage, as every step does. */
static int parse_args(int argc, char **argv, struct lg_config *cfg)
{
	const char *target = NULL, *name;
	bool pipeline_set = false;
	unsigned shards = 0;
	size_t i;
	int opt, ret;

	rl_cli_init("ringlab-load", RL_CLI_SHOW_RANGE);
	defaults(cfg);
	opterr = 0;
	while ((opt = getopt_long(argc, argv, ":a:c:t:d:s:p:r:qvhV", long_opts, NULL)) != -1) {
		switch (opt) {
		case 'h':
			usage(stdout);
			return 1;
		case 'V':
			rl_cli_print_version();
			return 1;
		case ':':
		case '?':
			return rl_cli_bad_option(opt, argv);
		default:
			ret = parse_option(opt, optarg, cfg, &target, &pipeline_set, &shards);
			if (ret)
				return ret;
		}
	}
	ret = rl_cli_operand(argc, argv, "PROTOCOL (echo, greeting, udp, chat, file)", &name);
	if (ret)
		return ret;
	for (i = 0; i < sizeof(protocols) / sizeof(protocols[0]); i++)
		if (!strcmp(name, protocols[i]->name))
			cfg->proto = protocols[i];
	if (!cfg->proto)
		return rl_cli_usage_error("unknown protocol '%s'", name);
	return finish(cfg, target, pipeline_set, shards);
}

const struct lg_proto *lg_proto_by_name(const char *name)
{
	size_t i;

	for (i = 0; i < sizeof(protocols) / sizeof(protocols[0]); i++)
		if (!strcmp(name, protocols[i]->name))
			return protocols[i];
	return NULL;
}

void lg_config_defaults(struct lg_config *cfg)
{
	defaults(cfg);
}

int lg_cli_parse(int argc, char **argv, struct lg_config *cfg)
{
	int ret = parse_args(argc, argv, cfg);

	return ret < 0 ? 2 : ret;
}
