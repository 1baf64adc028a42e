/*
 * main.c - ringlab-server: one binary, one protocol per run, any engine.
 *
 *   ringlab-server PROTOCOL [--engine uring|epoll|blocking] [--listen ADDR] [options]
 *
 * Parses the command line (bad usage: one line on stderr, exit 2), then hands the
 * protocol and the configuration to rl_server_run().  Exit status: 0 after a clean
 * SIGINT/SIGTERM shutdown, 1 when the server could not run, 2 for bad usage.
 */
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "cli.h"
#include "log.h"
#include "protocols.h"
#include "rl_config.h"
#include "server.h"

static const struct rl_proto *const protocols[] = {
    &rl_proto_echo, &rl_proto_greeting, &rl_proto_udp, &rl_proto_chat, &rl_proto_file,
};

enum {
	OPT_MAX_CONNS = 256,
	OPT_IDLE_TIMEOUT,
	OPT_DRAIN_TIMEOUT,
	OPT_BACKLOG,
	OPT_BUF_COUNT,
	OPT_BUF_SIZE,
	OPT_SQ_ENTRIES,
	OPT_CQ_ENTRIES,
	OPT_MAX_QUEUE,
	OPT_BLOCKING_MODE,
	OPT_MESSAGE,
	OPT_MESSAGE_FILE,
	OPT_REPLY,
	OPT_MAX_DATAGRAM,
	OPT_SOCKPERF,
	OPT_MAX_LINE,
	OPT_ECHO_SELF,
	OPT_ROOT,
	OPT_FSYNC,
	OPT_MAX_SIZE,
	OPT_SINK,
	OPT_DEBUG_SPIN,
	OPT_MAX_PER_SOURCE,
	OPT_NO_SOURCE_FILTER,
	OPT_LINE_TIMEOUT,
	OPT_EVICT_IDLE,
};

static const struct option long_opts[] = {
    {"listen", required_argument, NULL, 'l'},
    {"engine", required_argument, NULL, 'e'},
    {"threads", required_argument, NULL, 't'},
    {"max-conns", required_argument, NULL, OPT_MAX_CONNS},
    {"idle-timeout", required_argument, NULL, OPT_IDLE_TIMEOUT},
    {"drain-timeout", required_argument, NULL, OPT_DRAIN_TIMEOUT},
    {"max-conns-per-source", required_argument, NULL, OPT_MAX_PER_SOURCE},
    {"no-source-filter", no_argument, NULL, OPT_NO_SOURCE_FILTER},
    {"line-timeout", required_argument, NULL, OPT_LINE_TIMEOUT},
    {"evict-idle", required_argument, NULL, OPT_EVICT_IDLE},
    {"backlog", required_argument, NULL, OPT_BACKLOG},
    {"buf-count", required_argument, NULL, OPT_BUF_COUNT},
    {"buf-size", required_argument, NULL, OPT_BUF_SIZE},
    {"sq-entries", required_argument, NULL, OPT_SQ_ENTRIES},
    {"cq-entries", required_argument, NULL, OPT_CQ_ENTRIES},
    {"max-queue", required_argument, NULL, OPT_MAX_QUEUE},
    {"blocking-mode", required_argument, NULL, OPT_BLOCKING_MODE},
    {"message", required_argument, NULL, OPT_MESSAGE},
    {"message-file", required_argument, NULL, OPT_MESSAGE_FILE},
    {"reply", required_argument, NULL, OPT_REPLY},
    {"max-datagram", required_argument, NULL, OPT_MAX_DATAGRAM},
    {"sockperf", no_argument, NULL, OPT_SOCKPERF},
    {"max-line", required_argument, NULL, OPT_MAX_LINE},
    {"echo-self", no_argument, NULL, OPT_ECHO_SELF},
    {"root", required_argument, NULL, OPT_ROOT},
    {"fsync", no_argument, NULL, OPT_FSYNC},
    {"max-size", required_argument, NULL, OPT_MAX_SIZE},
    {"sink", no_argument, NULL, OPT_SINK},
    {"debug-spin-ns", required_argument, NULL, OPT_DEBUG_SPIN},
    {"verbose", no_argument, NULL, 'v'},
    {"help", no_argument, NULL, 'h'},
    {"version", no_argument, NULL, 'V'},
    {NULL, 0, NULL, 0},
};

static void usage(FILE *f)
{
	size_t i;

	fprintf(f, "Usage: ringlab-server PROTOCOL [options]\n"
		   "\n"
		   "Protocols:\n");
	for (i = 0; i < sizeof(protocols) / sizeof(protocols[0]); i++)
		fprintf(f, "  %-10s %s\n", protocols[i]->name, protocols[i]->summary);
	fputs("\n"
	      "Options:\n"
	      "  -l, --listen ADDR        HOST:PORT, [V6ADDR]:PORT or unix:/PATH; port 0 picks a\n"
	      "                           free port (default 127.0.0.1:7000). The first line on\n"
	      "                           stdout is 'listening on ADDR'.\n"
	      "  -e, --engine NAME        uring (default), epoll or blocking\n"
	      "  -t, --threads N          event loops, one per thread, each with its own\n"
	      "                           SO_REUSEPORT listener (uring, epoll; default 1)\n"
	      "      --max-conns N        connections at once; past it accept waits (default:\n"
	      "                           no limit; blocking: 16384 threads)\n"
	      "      --idle-timeout DUR   close connections silent this long (default off)\n"
	      "      --drain-timeout DUR  on SIGINT/SIGTERM, time allowed to send replies in\n"
	      "                           flight before connections are cut (default 5s)\n"
	      "\n"

	      "Defences (docs/architecture.md, 'Slow and flooding clients'):\n",
	      f);
	fputs(
	    "      --max-conns-per-source N  connections at once from one IPv4 address or\n"
	    "                           IPv6 /64; past it a new one is closed at once\n"
	    "                           (default: no limit; under attack: e.g. 64); an IPv4\n"
	    "                           source at its cap is dropped at SYN by a BPF filter\n"
	    "                           on the listener, before accept\n"
	    "      --no-source-filter   refuse over-cap sources only after accept (reset)\n"
	    "      --line-timeout DUR   chat, file: an incomplete line or command must complete\n"
	    "                           within DUR of its first byte, however slowly it trickles\n"
	    "                           in; past it: an error line, then close (default off;\n"
	    "                           under attack: e.g. 10s)\n"
	    "      --evict-idle DUR     when --max-conns is reached, close the connection idle\n"
	    "                           or incomplete the longest, if that is at least DUR, to\n"
	    "                           make room (default off; under attack: e.g. 1s)\n"
	    "\n",
	    f);
	fputs(
	    "Other engine settings:\n"
	    "      --backlog N          listen backlog (default 4096)\n"
	    "      --buf-count N        uring: provided buffers per ring, a power of two\n"
	    "                           (default 4096)\n"
	    "      --buf-size SIZE      uring: bytes per provided buffer (default 4KiB)\n"
	    "      --sq-entries N       uring: submission queue size (default 1024)\n"
	    "      --cq-entries N       uring: completion queue size (default 8 x SQ)\n"
	    "      --max-queue SIZE     stop reading a client with this much unsent reply\n"
	    "                           queued, until it reads (default 1MiB; chat: disconnect\n"
	    "                           it with an error instead)\n"
	    "      --blocking-mode M    blocking: threads (one per connection, default) or\n"
	    "                           iterative (the accept loop serves each connection)\n"
	    "\n"
	    "Protocol settings:\n"
	    "      --message TEXT       greeting: what to send (default 'Hello from ringlab\\n')\n"
	    "      --message-file PATH  greeting: send this file's bytes (at most 1 MiB)\n"
	    "      --reply TEXT         udp: answer every datagram with TEXT instead of echoing\n"
	    "      --max-datagram SIZE  udp: larger datagrams are counted as truncated and\n"
	    "                           dropped (default 64KiB)\n"
	    "      --sockperf           udp: answer like 'sockperf server', for 'sockperf\n"
	    "                           ping-pong': a datagram with sockperf's client and\n"
	    "                           pong-request flags goes back with the client flag\n"
	    "                           cleared; others (under 14 B, no pong request, warm-up)\n"
	    "                           count as requests and get no reply (docs/protocol.md)\n"
	    "      --max-line SIZE      chat: longest line; longer ones get an error and the\n"
	    "                           connection is closed (default 4KiB)\n"
	    "      --echo-self          chat: send each line back to its sender too\n"
	    "      --root DIR           file: the directory files are stored in (required)\n"
	    "      --fsync              file: fsync each upload before it becomes visible\n"
	    "      --max-size SIZE      file: largest upload (default 1GiB)\n"
	    "      --sink               file: store whatever each connection sends until EOF\n"
	    "                           as output<N>.txt (nc HOST PORT < file)\n"
	    "\n"
	    "Test aid:\n"
	    "      --debug-spin-ns DUR  busy-wait this long on every request (a bare number is\n"
	    "                           nanoseconds): a deliberately\n"
	    "                           slow build, to prove the regression gate catches one.\n"
	    "                           Never use it to measure.\n"
	    "\n"
	    "  -v, --verbose            log ring setup, back-offs and dropped connections\n"
	    "  -h, --help               this text\n"
	    "  -V, --version            version, git commit and liburing version\n"
	    "\n"
	    "Durations take ns, us, ms, s, m, h (bare: seconds); sizes take B, KiB, MiB, GiB.\n"
	    "\n"
	    "Examples:\n"
	    "  ringlab-server echo --listen 127.0.0.1:0 --engine uring --threads 2\n"
	    "  ringlab-server echo --listen unix:/tmp/echo.sock --engine blocking\n"
	    "  ringlab-server greeting --listen [::1]:7001 --message 'Hello, client'\n"
	    "  ringlab-server udp --listen 127.0.0.1:7002 --reply 'Hello UDP Client'\n"
	    "  ringlab-server udp --listen 127.0.0.1:11111 --sockperf   (sockperf pp -p 11111)\n"
	    "  ringlab-server file --root /srv/files --listen 127.0.0.1:7004 --fsync\n",
	    f);
}

/* Parses argv into cfg and *proto.  Returns 0 to run, 1 after --help/--version, -EINVAL
 * on bad usage (already reported). */
static int parse_args(int argc, char **argv, struct rl_server_config *cfg,
		      const struct rl_proto **proto, int *verbose, char **file_buf)
{
	const char *name;
	uint64_t v = 0;
	size_t i;
	int opt, ret = 0;

	opterr = 0;
	while ((opt = getopt_long(argc, argv, ":l:e:t:vhV", long_opts, NULL)) != -1) {
		switch (opt) {
		case 'l':
			ret = rl_addr_parse(optarg, true, &cfg->listen);
			if (ret)
				return rl_cli_usage_error("invalid --%s address '%s'", "listen",
							  optarg);
			break;
		case 'e':
			if (rl_engine_parse(optarg, &cfg->engine))
				return rl_cli_usage_error(
				    "unknown --%s '%s' (uring, epoll, blocking)", "engine", optarg);
			break;
		case 't':
			ret = rl_cli_uint("threads", optarg, 1, 64, &cfg->threads);
			break;
		case OPT_MAX_CONNS:
			ret = rl_cli_uint("max-conns", optarg, 1, 10000000, &cfg->max_conns);
			break;
		case OPT_IDLE_TIMEOUT:
			ret = rl_cli_duration("idle-timeout", optarg, 0, &cfg->idle_timeout_ns);
			break;
		case OPT_MAX_PER_SOURCE:
			ret = rl_cli_uint("max-conns-per-source", optarg, 1, 10000000,
					  &cfg->max_conns_per_source);
			break;
		case OPT_NO_SOURCE_FILTER:
			cfg->no_source_filter = true;
			break;
		case OPT_LINE_TIMEOUT:
			ret = rl_cli_duration("line-timeout", optarg, 0, &cfg->line_timeout_ns);
			break;
		case OPT_EVICT_IDLE:
			ret = rl_cli_duration("evict-idle", optarg, 0, &cfg->evict_idle_ns);
			break;
		case OPT_DRAIN_TIMEOUT:
			ret = rl_cli_duration("drain-timeout", optarg, 0, &cfg->drain_timeout_ns);
			break;
		case OPT_BACKLOG:
			ret = rl_cli_uint("backlog", optarg, 1, 1u << 20, &cfg->backlog);
			break;
		case OPT_BUF_COUNT:
			ret = rl_cli_uint("buf-count", optarg, 1, 32768, &cfg->buf_count);
			if (!ret && (cfg->buf_count & (cfg->buf_count - 1)))
				return rl_cli_usage_error("--%s must be a power of two, not '%s'",
							  "buf-count", optarg);
			break;
		case OPT_BUF_SIZE:
			ret = rl_cli_size("buf-size", optarg, 64, 1u << 20, &v);
			cfg->buf_size = (unsigned)v;
			break;
		case OPT_SQ_ENTRIES:
			ret = rl_cli_uint("sq-entries", optarg, 8, 32768, &cfg->sq_entries);
			break;
		case OPT_CQ_ENTRIES:
			ret = rl_cli_uint("cq-entries", optarg, 16, 1u << 20, &cfg->cq_entries);
			break;
		case OPT_MAX_QUEUE:
			ret = rl_cli_size("max-queue", optarg, 1024, (uint64_t)1 << 32, &v);
			cfg->sendq_high = (size_t)v;
			break;
		case OPT_BLOCKING_MODE:
			if (!strcmp(optarg, "threads"))
				cfg->blocking_mode = RL_BLOCKING_THREADS;
			else if (!strcmp(optarg, "iterative"))
				cfg->blocking_mode = RL_BLOCKING_ITERATIVE;
			else
				return rl_cli_usage_error(
				    "unknown --blocking-mode '%s' (threads, iterative)", optarg);
			break;
		case OPT_MESSAGE:
			cfg->message = optarg;
			cfg->message_len = strlen(optarg);
			break;
		case OPT_MESSAGE_FILE:
			free(*file_buf); /* the last --message-file wins */
			*file_buf = NULL;
			ret = rl_cli_read_file(optarg, 1u << 20, file_buf, &cfg->message_len);
			if (ret)
				return rl_cli_usage_error("cannot read --message-file '%s': %s",
							  optarg, strerror(-ret));
			cfg->message = *file_buf;
			break;
		case OPT_REPLY:
			cfg->reply = optarg;
			cfg->reply_len = strlen(optarg);
			break;
		case OPT_MAX_LINE:
			ret = rl_cli_size("max-line", optarg, 1, 1u << 20, &v);
			cfg->max_line = (size_t)v;
			break;
		case OPT_ECHO_SELF:
			cfg->echo_self = true;
			break;
		case OPT_ROOT:
			cfg->root = optarg;
			break;
		case OPT_FSYNC:
			cfg->fsync = true;
			break;
		case OPT_MAX_SIZE:
			ret = rl_cli_size("max-size", optarg, 0, UINT64_MAX, &cfg->max_size);
			break;
		case OPT_SINK:
			cfg->sink = true;
			break;
		case OPT_DEBUG_SPIN:
			/* The name says ns: a bare number is nanoseconds here, not seconds. */
			if (optarg[0] && strspn(optarg, "0123456789") == strlen(optarg)) {
				unsigned ns = 0;

				ret = rl_cli_uint("debug-spin-ns", optarg, 0, UINT_MAX, &ns);
				cfg->debug_spin_ns = ns;
			} else
				ret = rl_cli_duration("debug-spin-ns", optarg, 0,
						      &cfg->debug_spin_ns);
			break;
		case OPT_MAX_DATAGRAM:
			ret = rl_cli_size("max-datagram", optarg, 1, 65536, &v);
			cfg->max_datagram = (size_t)v;
			break;
		case OPT_SOCKPERF:
			cfg->sockperf = true;
			break;
		case 'v':
			*verbose = 1;
			cfg->verbose = true;
			break;
		case 'h':
			usage(stdout);
			return 1;
		case 'V':
			rl_cli_print_version();
			return 1;
		default:
			return rl_cli_bad_option(opt, argv);
		}
		if (ret)
			return ret;
	}
	ret = rl_cli_operand(argc, argv, "PROTOCOL", &name);
	if (ret)
		return ret;
	for (i = 0; i < sizeof(protocols) / sizeof(protocols[0]); i++)
		if (!strcmp(name, protocols[i]->name))
			*proto = protocols[i];
	if (!*proto)
		return rl_cli_usage_error("unknown protocol '%s'", name);
	if ((*proto)->cross_conn && cfg->engine != RL_ENGINE_BLOCKING && cfg->threads > 1)
		return rl_cli_usage_error(
		    "%s keeps its room in one event loop: --threads must be 1 with "
		    "--engine uring or epoll",
		    (*proto)->name);
	if (cfg->sockperf && cfg->reply)
		return rl_cli_usage_error(
		    "--sockperf and --reply are two different answers: pick one");
	if (*proto == &rl_proto_file && !cfg->root)
		return rl_cli_usage_error("file needs --root DIR");
	/* A line protocol must be able to hold its longest line plus "\r\n" unconsumed. */
	if (cfg->max_input < cfg->max_line + 2)
		cfg->max_input = cfg->max_line + 2;
	if (cfg->engine == RL_ENGINE_BLOCKING && !cfg->max_conns)
		cfg->max_conns = 16384;
	return 0;
}

int main(int argc, char **argv)
{
	struct rl_server_config cfg;
	const struct rl_proto *proto = NULL;
	char *file_buf = NULL;
	int verbose = 0, ret;

	rl_log_init(argv[0], RL_LOG_WARN);
	rl_cli_init("ringlab-server", 0);
	rl_server_config_defaults(&cfg);
	ret = parse_args(argc, argv, &cfg, &proto, &verbose, &file_buf);
	if (ret) {
		free(file_buf);
		return ret == 1 ? 0 : 2;
	}
	rl_log_init(argv[0], verbose ? RL_LOG_DEBUG : RL_LOG_WARN);
	ret = rl_server_run(&cfg, proto);
	free(file_buf);
	return ret ? 1 : 0;
}
