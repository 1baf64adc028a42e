/*
 * stats.c - error counters, histograms and the interval hand-over (see stats.h).
 */
#include "stats.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

static const char *const kind_names[LG_ERR__COUNT] = {
    [LG_ERR_CONNECT] = "connect",
    [LG_ERR_CONNECT_TIMEOUT] = "connect_timeout",
    [LG_ERR_RESET] = "reset",
    [LG_ERR_EOF] = "eof",
    [LG_ERR_TIMEOUT] = "timeout",
    [LG_ERR_MISMATCH] = "mismatch",
    [LG_ERR_UNEXPECTED] = "unexpected_data",
    [LG_ERR_IO] = "io",
};

int lg_hist_init(struct rl_hist *h)
{
	return rl_hist_init(h, LG_HIST_LOWEST, LG_HIST_HIGHEST, LG_HIST_SIGFIGS);
}

void lg_errors_add(struct lg_errors *dst, const struct lg_errors *src)
{
	int i;

	for (i = 0; i < LG_ERR__COUNT; i++)
		dst->kind[i] += src->kind[i];
	for (i = 0; i < LG_ERRNO_SLOTS; i++) {
		dst->connect_errno[i] += src->connect_errno[i];
		dst->io_errno[i] += src->io_errno[i];
	}
}

void lg_pace_stats_add(struct lg_pace_stats *dst, const struct lg_pace_stats *src)
{
	dst->scheduled += src->scheduled;
	dst->sent += src->sent;
	dst->behind_start += src->behind_start;
	dst->behind_end += src->behind_end;
	if (src->send_late_max_ns > dst->send_late_max_ns)
		dst->send_late_max_ns = src->send_late_max_ns;
}

void lg_errors_count(struct lg_errors *e, enum lg_err_kind kind, int err)
{
	int slot = err < 0 ? -err : err;

	if (slot >= LG_ERRNO_SLOTS)
		slot = LG_ERRNO_SLOTS - 1;
	e->kind[kind]++;
	if (kind == LG_ERR_CONNECT)
		e->connect_errno[slot]++;
	else if (kind == LG_ERR_IO)
		e->io_errno[slot]++;
}

uint64_t lg_errors_total(const struct lg_errors *e)
{
	uint64_t n = 0;
	int i;

	for (i = 0; i < LG_ERR__COUNT; i++)
		n += e->kind[i];
	return n;
}

const char *lg_err_kind_name(enum lg_err_kind kind)
{
	return kind >= 0 && kind < LG_ERR__COUNT ? kind_names[kind] : "?";
}

const char *lg_errno_name(int i, char *buf, unsigned long len)
{
	const char *name = i > 0 && i < LG_ERRNO_SLOTS - 1 ? strerrorname_np(i) : NULL;

	if (name)
		snprintf(buf, len, "%s", name);
	else if (i == LG_ERRNO_SLOTS - 1)
		snprintf(buf, len, "E%d+", i);
	else
		snprintf(buf, len, "E%d", i);
	return buf;
}

int lg_interval_init(struct lg_interval *iv)
{
	memset(iv, 0, sizeof(*iv));
	iv->idx = -1;
	return lg_hist_init(&iv->hist);
}

void lg_interval_free(struct lg_interval *iv)
{
	rl_hist_free(&iv->hist);
}

void lg_interval_reset(struct lg_interval *iv, int64_t idx)
{
	iv->idx = idx;
	iv->requests = iv->errors = iv->bytes_in = iv->bytes_out = 0;
	iv->live = 0;
	rl_hist_reset(&iv->hist);
}

void lg_interval_add(struct lg_interval *dst, const struct lg_interval *src)
{
	dst->requests += src->requests;
	dst->errors += src->errors;
	dst->bytes_in += src->bytes_in;
	dst->bytes_out += src->bytes_out;
	dst->live += src->live;
	rl_hist_merge(&dst->hist, &src->hist);
}

int lg_pub_init(struct lg_pub *p)
{
	int i, ret = 0;

	memset(p, 0, sizeof(*p));
	pthread_mutex_init(&p->lock, NULL);
	for (i = 0; i < LG_PUB_SLOTS && !ret; i++)
		ret = lg_interval_init(&p->slot[i]);
	atomic_store(&p->done_idx, 0);
	return ret;
}

void lg_pub_free(struct lg_pub *p)
{
	int i;

	for (i = 0; i < LG_PUB_SLOTS; i++)
		lg_interval_free(&p->slot[i]);
	pthread_mutex_destroy(&p->lock);
}

void lg_pub_publish(struct lg_pub *p, struct lg_interval *cur, int64_t next_idx)
{
	struct lg_interval *s = &p->slot[cur->idx % LG_PUB_SLOTS];

	pthread_mutex_lock(&p->lock);
	/* A slot still holding an older interval means the main thread is seconds late:
	 * fold it into this one rather than lose it. */
	lg_interval_add(s, cur);
	s->live = cur->live;
	s->idx = cur->idx;
	atomic_store_explicit(&p->done_idx, next_idx, memory_order_release);
	pthread_mutex_unlock(&p->lock);
	lg_interval_reset(cur, next_idx);
}

int lg_pub_ready(struct lg_pub *p, int64_t idx)
{
	return atomic_load_explicit(&p->done_idx, memory_order_acquire) > idx;
}

void lg_pub_take(struct lg_pub *p, int64_t idx, struct lg_interval *into)
{
	struct lg_interval *s = &p->slot[idx % LG_PUB_SLOTS];

	pthread_mutex_lock(&p->lock);
	if (s->idx == idx) {
		lg_interval_add(into, s);
		lg_interval_reset(s, -1);
	}
	pthread_mutex_unlock(&p->lock);
}
