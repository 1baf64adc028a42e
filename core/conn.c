/*
 * conn.c - the engine-neutral connection (see conn.h): input accumulation, protocol
 * dispatch, the dirty list and counters.
 */
#include "conn.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "clock.h"
#include "dgram.h"
#include "fixedbuf.h"
#include "server.h"

/* Takes the connection's lock when other threads may touch it. */
static void conn_lock(struct rl_conn *c)
{
	if (c->sync)
		pthread_mutex_lock(&c->sync->mu);
}

/* Tells whoever sends for this connection that there is work, and unlocks. */
static void conn_kick_unlock(struct rl_conn *c)
{
	if (c->sync) {
		pthread_cond_broadcast(&c->sync->cv);
		pthread_mutex_unlock(&c->sync->mu);
	} else {
		rl_conn_mark_dirty(c);
	}
}

static void conn_unlock(struct rl_conn *c)
{
	if (c->sync)
		pthread_mutex_unlock(&c->sync->mu);
}

uint32_t rl_conn_flags(const struct rl_conn *c)
{
	uint32_t f;

	if (!c->sync)
		return c->flags;
	pthread_mutex_lock(&c->sync->mu);
	f = c->flags;
	pthread_mutex_unlock(&c->sync->mu);
	return f;
}

void rl_stats_add(struct rl_stats *dst, const struct rl_stats *src)
{
	dst->accepted += src->accepted;
	dst->closed += src->closed;
	dst->refused += src->refused;
	dst->idle_closed += src->idle_closed;
	dst->resets += src->resets;
	dst->errors += src->errors;
	dst->bytes_in += src->bytes_in;
	dst->bytes_out += src->bytes_out;
	dst->requests += src->requests;
	dst->accept_backoffs += src->accept_backoffs;
	dst->enobufs += src->enobufs;
	dst->truncated += src->truncated;
	dst->discarded += src->discarded;
	dst->source_refused += src->source_refused;
	dst->line_timeouts += src->line_timeouts;
	dst->evicted += src->evicted;
	dst->sent_in_place += src->sent_in_place;
	dst->files_registered += src->files_registered;
}

static size_t align16(size_t n)
{
	return (n + 15u) & ~(size_t)15u;
}

size_t rl_conn_alloc_size(const struct rl_server *srv, size_t engine_size)
{
	return align16(engine_size) + srv->proto->conn_state_size;
}

int rl_conn_open(struct rl_conn *c, struct rl_loop *loop, size_t engine_size, uint64_t now_ns)
{
	struct rl_server *srv = loop->srv;
	const struct rl_proto *proto = srv->proto;

	c->loop = loop;
	c->state = (uint8_t *)c + align16(engine_size);
	rl_sendq_init(&c->sq);
	c->rx = NULL;
	c->rx_len = 0;
	c->rx_cap = 0;
	rl_list_init(&c->dirty);
	c->id = atomic_fetch_add_explicit(&srv->next_conn_id, 1, memory_order_relaxed) + 1;
	c->last_active_ns = now_ns;
	c->partial_since_ns = 0;
	__atomic_store_n(&c->quiet_since_ns, now_ns, __ATOMIC_RELAXED);
	c->flags = 0;
	if (proto->on_open)
		return proto->on_open(c);
	return 0;
}

const struct rl_server_config *rl_dgram_config(const struct rl_dgram *d)
{
	return &d->loop->srv->cfg;
}

const struct rl_server_config *rl_conn_config(const struct rl_conn *c)
{
	return &c->loop->srv->cfg;
}

void rl_loop_count_request(struct rl_loop *loop)
{
	uint64_t spin = loop->srv->cfg.debug_spin_ns, until;

	loop->stats.requests++;
	if (!spin)
		return;
	/* A deliberate, fixed slowdown per request: the regression gate's proof that it
	 * catches a slower build (docs/ci.md).  Never set it in a real measurement. */
	until = rl_now_ns() + spin;
	while (rl_now_ns() < until)
		;
}

void rl_conn_mark_dirty(struct rl_conn *c)
{
	if (c->flags & RL_CONN_DIRTY)
		return;
	c->flags |= RL_CONN_DIRTY;
	rl_list_insert_head(&c->loop->dirty, &c->dirty);
}

static int rx_reserve(struct rl_conn *c, size_t need, size_t limit)
{
	size_t ncap;
	uint8_t *n;

	if (need > limit)
		return -EMSGSIZE;
	if (need <= c->rx_cap)
		return 0;
	ncap = c->rx_cap ? c->rx_cap : 4096;
	while (ncap < need)
		ncap *= 2;
	if (ncap > limit)
		ncap = limit;
	n = realloc(c->rx, ncap);
	if (!n)
		return -ENOMEM;
	c->rx = n;
	c->rx_cap = ncap;
	return 0;
}

/*
 * Keeps the guard's clocks (guard.h): when input is left over as an incomplete line, the
 * line deadline runs from the read that began it (bytes that only add to it do not move
 * it); a connection with nothing incomplete is quiet from its last read.
 */
static void note_partial(struct rl_conn *c, uint64_t now_ns)
{
	if (!c->rx_len)
		c->partial_since_ns = 0;
	else if (!c->partial_since_ns && !(rl_conn_flags(c) & RL_CONN_PAUSED))
		c->partial_since_ns = now_ns ? now_ns : 1;
	__atomic_store_n(&c->quiet_since_ns, c->partial_since_ns ? c->partial_since_ns : now_ns,
			 __ATOMIC_RELAXED);
}

static int deliver(struct rl_conn *c, const uint8_t *p, size_t n, uint64_t now_ns);

int rl_conn_deliver(struct rl_conn *c, const uint8_t *p, size_t n, uint64_t now_ns)
{
	int ret = deliver(c, p, n, now_ns);

	note_partial(c, now_ns);
	return ret;
}

static int deliver(struct rl_conn *c, const uint8_t *p, size_t n, uint64_t now_ns)
{
	const struct rl_server *srv = c->loop->srv;
	size_t limit = srv->cfg.max_input, take;
	uint32_t f = rl_conn_flags(c);
	long used;
	int ret;

	c->last_active_ns = now_ns;
	if (f & (RL_CONN_ABORT | RL_CONN_CLOSE_AFTER)) {
		c->loop->stats.discarded += n; /* closing: later input is not a request */
		return 0;
	}
	c->loop->stats.bytes_in += n;

	if (!c->rx_len && !(f & RL_CONN_PAUSED)) {
		/* Fast path: the protocol reads the engine's buffer in place. */
		used = srv->proto->on_data(c, p, n);
		if (used < 0)
			return (int)used;
		p += used;
		n -= (size_t)used;
		if (n <= limit) { /* keep the rest (it was just presented) */
			if (!n)
				return 0;
			ret = rx_reserve(c, n, limit);
			if (ret)
				return ret;
			memcpy(c->rx, p, n);
			c->rx_len = n;
			return 0;
		}
	}
	/* Append and present again, at most `limit` bytes at a time, so a protocol always
	 * sees input up to the limit (and can answer "too long") before it is refused. */
	while (n) {
		take = limit - c->rx_len < n ? limit - c->rx_len : n;
		if (!take)
			return -EMSGSIZE; /* the protocol left the input buffer full */
		ret = rx_reserve(c, c->rx_len + take, limit);
		if (ret)
			return ret;
		memcpy(c->rx + c->rx_len, p, take);
		c->rx_len += take;
		p += take;
		n -= take;
		f = rl_conn_flags(c);
		if (f & RL_CONN_PAUSED)
			continue; /* bytes in flight when the protocol paused: kept for later */
		if (f & (RL_CONN_ABORT | RL_CONN_CLOSE_AFTER))
			return 0;
		used = srv->proto->on_data(c, c->rx, c->rx_len);
		if (used < 0)
			return (int)used;
		c->rx_len -= (size_t)used;
		if (c->rx_len)
			memmove(c->rx, c->rx + used, c->rx_len);
	}
	return 0;
}

void rl_conn_eof(struct rl_conn *c)
{
	const struct rl_proto *proto = c->loop->srv->proto;

	conn_lock(c);
	c->flags |= RL_CONN_EOF;
	conn_unlock(c);
	if (proto->on_eof)
		proto->on_eof(c);
	else
		rl_conn_close(c);
}

static void report_fileop(struct rl_conn *c, struct rl_fileop *op)
{
	const struct rl_proto *proto = c->loop->srv->proto;

	c->fops_pending--;
	if (proto->on_fileop)
		proto->on_fileop(c, op);
}

void rl_conn_release(struct rl_conn *c)
{
	const struct rl_proto *proto = c->loop->srv->proto;

	while (c->fops_done) { /* finished synchronously, not reported yet */
		struct rl_fileop *op = c->fops_done;

		c->fops_done = op->next;
		report_fileop(c, op);
	}

	rl_conn_forget_dirty(c);
	rl_guard_release(c->loop->srv, c);
	if (proto->on_close)
		proto->on_close(c);
	rl_sendq_clear(&c->sq);
	free(c->rx);
	c->rx = NULL;
	c->rx_len = c->rx_cap = 0;
}

int rl_conn_send(struct rl_conn *c, const void *p, size_t n)
{
	int ret = 0;

	conn_lock(c);
	if (c->flags & RL_CONN_ABORT) {
		conn_unlock(c);
		return 0;
	}
	ret = rl_sendq_append(&c->sq, p, n);
	conn_kick_unlock(c);
	return ret;
}

int rl_conn_send_input(struct rl_conn *c, const void *p, size_t n)
{
	struct rl_loop *l = c->loop;

	if (l->send_input && !c->sync && l->send_input(l, c, p, n) == 0)
		return 0;
	return rl_conn_send(c, p, n);
}

int rl_conn_send_chunk(struct rl_conn *c, struct rl_chunk *ch, uint32_t off, uint32_t len,
		       size_t max_queued)
{
	int ret;

	conn_lock(c);
	if (rl_conn_closing(c)) {
		conn_unlock(c);
		return 0;
	}
	/* The bound is on backlog: an empty queue always takes one message. */
	if (max_queued && c->sq.bytes && c->sq.bytes + len > max_queued) {
		conn_unlock(c);
		return -ENOBUFS;
	}
	if (c->sync)
		ret = rl_sendq_append(&c->sq, ch->data + off, len);
	else
		ret = rl_sendq_append_chunk(&c->sq, ch, off, len);
	conn_kick_unlock(c);
	return ret;
}

void rl_conn_close(struct rl_conn *c)
{
	conn_lock(c);
	if (c->flags & (RL_CONN_ABORT | RL_CONN_CLOSE_AFTER)) {
		conn_unlock(c);
		return;
	}
	c->flags |= RL_CONN_CLOSE_AFTER;
	/* The blocking engine keeps no loop clock (now_ns 0): it reads the clock. */
	c->close_deadline_ns =
	    (c->loop->now_ns ? c->loop->now_ns : rl_now_ns()) + c->loop->srv->cfg.drain_timeout_ns;
	conn_kick_unlock(c);
}

void rl_conn_abort(struct rl_conn *c)
{
	conn_lock(c);
	c->flags |= RL_CONN_ABORT;
	conn_kick_unlock(c);
}

void rl_conn_forget_dirty(struct rl_conn *c)
{
	if (!(c->flags & RL_CONN_DIRTY) || c->sync)
		return;
	rl_list_remove(&c->dirty);
	c->flags &= ~RL_CONN_DIRTY;
}

/* Runs a file operation with plain system calls.  Returns the result or -errno. */
static int fileop_run_sync(struct rl_fileop *op)
{
	long r = -1;

	switch (op->kind) {
	case RL_FOP_OPEN:
		r = syscall(SYS_openat2, op->dirfd, op->path, &op->how, sizeof(op->how));
		break;
	case RL_FOP_READ:
		r = pread(op->fd, op->buf, op->len, (off_t)op->off);
		break;
	case RL_FOP_WRITE:
		r = pwrite(op->fd, op->buf, op->len, (off_t)op->off);
		break;
	case RL_FOP_FSYNC:
		r = fsync(op->fd);
		break;
	case RL_FOP_CLOSE:
		r = close(op->fd);
		break;
	case RL_FOP_RENAME:
		r = renameat(op->dirfd, op->path, op->dirfd, op->path2);
		break;
	case RL_FOP_UNLINK:
		r = unlinkat(op->dirfd, op->path, 0);
		break;
	case RL_FOP_STATX:
		r = statx(op->fd, "", AT_EMPTY_PATH, STATX_BASIC_STATS, op->stx);
		break;
	}
	return r < 0 ? -errno : (int)r;
}

int rl_conn_fileop(struct rl_conn *c, struct rl_fileop *op)
{
	struct rl_fileop **pp;
	int ret;

	op->conn = c;
	op->next = NULL;
	op->res = 0;
	if (c->loop->submit_fileop) {
		ret = c->loop->submit_fileop(c->loop, op);
		if (ret == 0)
			c->fops_pending++;
		return ret;
	}
	op->res = fileop_run_sync(op);
	for (pp = &c->fops_done; *pp; pp = &(*pp)->next)
		;
	*pp = op;
	c->fops_pending++;
	if (!c->sync)
		rl_conn_mark_dirty(c);
	return 0;
}

void rl_conn_fileop_done(struct rl_fileop *op, int res)
{
	op->res = res;
	report_fileop(op->conn, op);
}

struct rl_chunk *rl_conn_file_chunk(struct rl_conn *c, size_t cap)
{
	struct rl_fixedbuf *fb = c->loop->fixedbuf;
	struct rl_chunk *ch = NULL;

	if (fb && cap <= fb->size)
		ch = rl_fixedbuf_get(fb);
	return ch ? ch : rl_chunk_new(cap); /* all lent: the heap, rather than wait */
}

void rl_conn_pause_input(struct rl_conn *c, bool pause)
{
	conn_lock(c);
	if (pause) {
		c->flags |= RL_CONN_PAUSED;
	} else if (c->flags & RL_CONN_PAUSED) {
		c->flags &= ~RL_CONN_PAUSED;
		c->flags |= RL_CONN_RESUMED;
	}
	conn_unlock(c);
	if (!c->sync)
		rl_conn_mark_dirty(c);
}

int rl_conn_run_deferred(struct rl_conn *c)
{
	const struct rl_proto *proto = c->loop->srv->proto;
	long used;

	for (;;) {
		if (c->fops_done) {
			struct rl_fileop *op = c->fops_done;

			c->fops_done = op->next;
			report_fileop(c, op);
			continue;
		}
		if (!(c->flags & RL_CONN_RESUMED) || (c->flags & RL_CONN_PAUSED)) {
			if (!c->rx_len)
				c->partial_since_ns = 0;
			return 0;
		}
		c->flags &= ~RL_CONN_RESUMED;
		if (!c->rx_len || rl_conn_closing(c))
			continue;
		used = proto->on_data(c, c->rx, c->rx_len);
		if (used < 0)
			return (int)used;
		c->rx_len -= (size_t)used;
		if (c->rx_len)
			memmove(c->rx, c->rx + used, c->rx_len);
	}
}

void rl_conn_sent(struct rl_conn *c)
{
	const struct rl_proto *proto = c->loop->srv->proto;

	if (proto->on_sent && !rl_conn_closing(c))
		proto->on_sent(c);
}
