/*
 * guard.c - the defences against slow and flooding clients (see guard.h): the per-source
 * connection table, the line deadline, the eviction choice, and their rate-limited logs.
 *
 * The per-source table is a hash table with linear probing and backward-shift deletion,
 * keyed by IPv4 address or IPv6 /64, holding only sources with a connection open.  One
 * mutex guards it: it is touched once at accept and once at close, never per byte.
 */
#include "guard.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "clock.h"
#include "log.h"
#include "server.h"
#include "srcfilter.h"

#define GUARD_MIN_SLOTS 256u
#define LOG_EVERY_NS	RL_NSEC_PER_SEC
#define APPLY_EVERY_NS	(10 * RL_NSEC_PER_MSEC)

enum { LOG_SOURCE, LOG_LINE, LOG_EVICT, LOG_FILTER };

struct rl_guard_slot {
	struct rl_guard_key key; /* family 0: empty */
	uint32_t open;
	bool blocked; /* in g->blocked[] */
};

int rl_guard_init(struct rl_guard *g, const struct rl_server_config *cfg)
{
	memset(g, 0, sizeof(*g));
	pthread_mutex_init(&g->mu, NULL);
	if (cfg && !cfg->max_conns_per_source)
		return 0;
	g->slots = calloc(GUARD_MIN_SLOTS, sizeof(*g->slots));
	if (!g->slots)
		return -ENOMEM;
	g->cap = GUARD_MIN_SLOTS;
	return 0;
}

void rl_guard_destroy(struct rl_guard *g)
{
	free(g->slots);
	g->slots = NULL;
	pthread_mutex_destroy(&g->mu);
}

/* Reads the peer's source key; family 0 for unix sockets or on error. */
static struct rl_guard_key key_of(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	struct rl_guard_key k = {0, 0};
	const uint8_t *b;
	uint64_t v = 0;
	int i;

	if (getpeername(fd, (struct sockaddr *)&ss, &len) < 0)
		return k;
	if (ss.ss_family == AF_INET) {
		k.family = AF_INET;
		k.bits = ((const struct sockaddr_in *)&ss)->sin_addr.s_addr;
		return k;
	}
	if (ss.ss_family != AF_INET6)
		return k;
	b = ((const struct sockaddr_in6 *)&ss)->sin6_addr.s6_addr;
	if (IN6_IS_ADDR_V4MAPPED((const struct in6_addr *)b)) {
		k.family = AF_INET; /* ::ffff:a.b.c.d is the IPv4 client a.b.c.d */
		memcpy(&k.bits, b + 12, 4);
		k.bits &= 0xffffffffu;
		return k;
	}
	for (i = 0; i < 8; i++) /* the /64: one site's clients share it */
		v = v << 8 | b[i];
	k.family = AF_INET6;
	k.bits = v;
	return k;
}

/* True at most once a second per kind (when --verbose): log it, saying how many lines were
 * skipped since (*skipped). */
static bool log_due(struct rl_guard *g, int kind, unsigned long long *skipped)
{
	uint64_t now, next;

	if (!rl_log_enabled(RL_LOG_DEBUG))
		return false;
	now = rl_now_ns();
	next = atomic_load_explicit(&g->log_next_ns[kind], memory_order_relaxed);
	if (now < next ||
	    !atomic_compare_exchange_strong(&g->log_next_ns[kind], &next, now + LOG_EVERY_NS)) {
		atomic_fetch_add_explicit(&g->log_skipped[kind], 1, memory_order_relaxed);
		return false;
	}
	*skipped = (unsigned long long)atomic_exchange(&g->log_skipped[kind], 0);
	return true;
}

void rl_guard_filter(struct rl_guard *g, const int *fds, unsigned n, unsigned max)
{
	pthread_mutex_lock(&g->mu);
	g->lfds = fds;
	g->nlfd = n;
	g->max = max;
	pthread_mutex_unlock(&g->mu);
}

/* Adds s's source to the program's list (under mu). */
static void block(struct rl_guard *g, struct rl_guard_slot *s)
{
	if (!g->nlfd || s->blocked || s->key.family != AF_INET || g->nblocked >= RL_SRCFILTER_MAX)
		return;
	g->blocked[g->nblocked++] = (uint32_t)s->key.bits;
	s->blocked = true;
	g->dirty = true;
	atomic_fetch_add_explicit(&g->blocks, 1, memory_order_relaxed);
}

/* Takes s's source off the program's list (under mu). */
static void unblock(struct rl_guard *g, struct rl_guard_slot *s)
{
	unsigned i;

	if (!s->blocked)
		return;
	s->blocked = false;
	for (i = 0; i < g->nblocked; i++) {
		if (g->blocked[i] == (uint32_t)s->key.bits) {
			g->blocked[i] = g->blocked[--g->nblocked];
			g->dirty = true;
			return;
		}
	}
}

/* Re-attaches the listeners' program if the list changed and (unless `now`) the last
 * attach is 10 ms old (under mu).  A failure turns the filter off for good. */
static void apply(struct rl_guard *g, bool now)
{
	unsigned long long skipped;
	uint64_t t;
	int ret;

	if (!g->dirty || !g->nlfd)
		return;
	t = rl_now_ns();
	if (!now && t < g->apply_next_ns)
		return;
	g->apply_next_ns = t + APPLY_EVERY_NS;
	g->dirty = false;
	atomic_store(&g->attached_once, true);
	ret = rl_srcfilter_apply(g->lfds, g->nlfd, g->blocked, g->nblocked);
	if (ret >= 0 && log_due(g, LOG_FILTER, &skipped))
		rl_debug("--max-conns-per-source %u: %u sources at their cap, their SYNs dropped "
			 "by the listener's filter (%llu more changes since the last such line)",
			 g->max, g->nblocked, skipped);
	if (ret < 0) {
		rl_err("--max-conns-per-source: attaching the listener's SYN filter: %s; "
		       "over-cap connections are accepted and reset instead",
		       strerror(-ret));
		rl_srcfilter_apply(g->lfds, g->nlfd, NULL, 0);
		g->nlfd = 0;
		g->nblocked = 0; /* slots' blocked flags now name nothing: unblock() finds none */
	}
}

static uint32_t hash_key(const struct rl_guard_key *k, uint32_t mask)
{
	uint64_t h = (k->bits ^ (k->family << 56)) * 0x9e3779b97f4a7c15ull;

	return (uint32_t)(h >> 32) & mask;
}

static bool key_eq(const struct rl_guard_key *a, const struct rl_guard_key *b)
{
	return a->family == b->family && a->bits == b->bits;
}

/* Returns the slot holding `k`, or the empty slot where it would go. */
static struct rl_guard_slot *find(struct rl_guard *g, const struct rl_guard_key *k)
{
	uint32_t mask = g->cap - 1, i = hash_key(k, mask);

	while (g->slots[i].key.family && !key_eq(&g->slots[i].key, k))
		i = (i + 1) & mask;
	return &g->slots[i];
}

/* Doubles the table.  Returns 0 or -ENOMEM (the old table stays). */
static int grow(struct rl_guard *g)
{
	struct rl_guard_slot *old = g->slots, *s;
	uint32_t ocap = g->cap, i;

	g->slots = calloc((size_t)ocap * 2, sizeof(*g->slots));
	if (!g->slots) {
		g->slots = old;
		return -ENOMEM;
	}
	g->cap = ocap * 2;
	for (i = 0; i < ocap; i++) {
		if (!old[i].key.family)
			continue;
		s = find(g, &old[i].key);
		*s = old[i];
	}
	free(old);
	return 0;
}

/* Empties slot `i` and shifts back the entries that probed past it. */
static void remove_at(struct rl_guard *g, uint32_t i)
{
	uint32_t mask = g->cap - 1, j = i, home;

	for (;;) {
		g->slots[i].key.family = 0;
		for (;;) {
			j = (j + 1) & mask;
			if (!g->slots[j].key.family)
				return;
			home = hash_key(&g->slots[j].key, mask);
			/* Stays unless its home lies cyclically outside (i, j]. */
			if (i <= j ? (i < home && home <= j) : (i < home || home <= j))
				continue;
			break;
		}
		g->slots[i] = g->slots[j];
		i = j;
	}
}

int rl_guard_admit_key(struct rl_guard *g, const struct rl_guard_key *k, unsigned max)
{
	struct rl_guard_slot *s;
	int ret = 0;

	pthread_mutex_lock(&g->mu);
	if (!g->slots || ((g->used + 1) * 2 > g->cap && grow(g) < 0)) {
		ret = -ENOMEM;
		goto out;
	}
	s = find(g, k);
	if (!s->key.family) {
		s->key = *k;
		s->open = 0;
		s->blocked = false; /* an emptied slot keeps a moved entry's stale flag */
		g->used++;
	}
	if (s->open >= max)
		ret = -EDQUOT;
	else
		s->open++;
	if (s->open >= max) /* the next one would be refused: refuse it at SYN */
		block(g, s);
	apply(g, false);
out:
	pthread_mutex_unlock(&g->mu);
	return ret;
}

void rl_guard_release_key(struct rl_guard *g, const struct rl_guard_key *k)
{
	struct rl_guard_slot *s;

	pthread_mutex_lock(&g->mu);
	s = g->slots ? find(g, k) : NULL;
	if (s && s->key.family) {
		s->open--;
		if (s->blocked && s->open < g->max) {
			unblock(g, s);
			apply(g, true); /* never leave a source locked out for lack of a timer */
		}
		if (s->open == 0) {
			remove_at(g, (uint32_t)(s - g->slots));
			g->used--;
		}
	}
	apply(g, false);
	pthread_mutex_unlock(&g->mu);
}

int rl_guard_admit(struct rl_server *srv, struct rl_conn *c, int fd)
{
	struct rl_guard_key k;
	int ret;

	c->src.family = 0;
	if (!srv->cfg.max_conns_per_source)
		return 0;
	k = key_of(fd);
	if (!k.family)
		return 0; /* unix sockets: no source to count */
	ret = rl_guard_admit_key(&srv->guard, &k, srv->cfg.max_conns_per_source);
	if (!ret) {
		c->src = k;
		/* An accepted socket inherits its listener's program, which would filter each
		 * of its packets (and could even name its own source, if the source was blocked
		 * between its handshake's ACK and its creation). */
		if (atomic_load_explicit(&srv->guard.attached_once, memory_order_relaxed))
			rl_srcfilter_detach(fd);
	} else if (ret == -EDQUOT) {
		/* Refused: the caller's close() sends a reset.  A FIN would cost a four-packet
		 * close and leave a TIME_WAIT socket per refusal (108k a minute at 1,800/s). */
		struct linger lg = {.l_onoff = 1, .l_linger = 0};

		setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	}
	return ret;
}

void rl_guard_release(struct rl_server *srv, struct rl_conn *c)
{
	if (!c->src.family)
		return;
	rl_guard_release_key(&srv->guard, &c->src);
	c->src.family = 0;
}

uint64_t rl_guard_line_left(const struct rl_conn *c, uint64_t now_ns)
{
	uint64_t lt = c->loop->srv->cfg.line_timeout_ns, end;

	if (!lt || !c->partial_since_ns || !c->rx_len ||
	    (rl_conn_flags(c) & (RL_CONN_PAUSED | RL_CONN_CLOSE_AFTER | RL_CONN_ABORT)))
		return UINT64_MAX;
	end = c->partial_since_ns + lt;
	return now_ns >= end ? 0 : end - now_ns;
}

bool rl_guard_line_expired(const struct rl_conn *c, uint64_t now_ns)
{
	return rl_guard_line_left(c, now_ns) == 0;
}

void rl_guard_line_cut(struct rl_conn *c, struct rl_stats *st)
{
	struct rl_server *srv = c->loop->srv;
	const char *why = srv->proto->line_timeout_reply;
	unsigned long long skipped;

	st->line_timeouts++;
	if (log_due(&srv->guard, LOG_LINE, &skipped))
		rl_debug("connection %llu cut: an incomplete line (%zu bytes) outlived "
			 "--line-timeout (%llu more since the last such line)",
			 (unsigned long long)c->id, c->rx_len, skipped);
	if (why)
		rl_conn_send(c, why, strlen(why));
	rl_conn_close(c);
}

uint64_t rl_guard_evict_age(const struct rl_server_config *cfg, const struct rl_conn *c,
			    uint64_t now_ns, bool other_thread)
{
	uint64_t min = cfg->evict_idle_ns;
	uint64_t since = __atomic_load_n(&c->quiet_since_ns, __ATOMIC_RELAXED);

	if (!min || !since || now_ns < since || now_ns - since < min)
		return 0;
	if (!other_thread &&
	    (rl_conn_closing(c) || rl_conn_queued(c) || c->fops_pending || c->fops_done))
		return 0; /* a request in progress: its replies are owed */
	return now_ns - since;
}

void rl_guard_note_evict(struct rl_server *srv, struct rl_stats *st, uint64_t age_ns)
{
	unsigned long long skipped;

	st->evicted++;
	if (log_due(&srv->guard, LOG_EVICT, &skipped))
		rl_debug("--max-conns reached: evicted a connection quiet for %llu ms to make room "
			 "(%llu more since the last such line)",
			 (unsigned long long)(age_ns / RL_NSEC_PER_MSEC), skipped);
}

void rl_guard_note_refused(struct rl_server *srv, struct rl_stats *st, int err)
{
	unsigned long long skipped;

	if (err != -EDQUOT) {
		st->errors++;
		return;
	}
	st->source_refused++;
	if (log_due(&srv->guard, LOG_SOURCE, &skipped))
		rl_debug("--max-conns-per-source %u reached: a new connection closed at once "
			 "(%llu more since the last such line)",
			 srv->cfg.max_conns_per_source, skipped);
}
