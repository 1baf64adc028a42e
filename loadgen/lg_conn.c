/*
 * lg_conn.c - a connection's plumbing on the worker's ring (lg_conn.h): SQEs, the socket
 * and its connect, the multishot recv and the list of recvs starved of buffers, failure
 * (counted, logged) and the close.
 *
 * A connection is torn down by cancelling everything on its fd and closing it through the
 * ring; the close is queued once nothing else is in flight (lg_conn_closed, called by the
 * worker after each of the connection's completions).
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "lg_conn.h"
#include "log.h"
#include "pace.h"
#include "record.h"
#include "udata.h"

#define MISMATCH_LOG_MAX 10

struct io_uring_sqe *lg_sqe(struct lg_worker *w)
{
	struct io_uring_sqe *sqe = rl_ring_sqe(&w->r);

	if (!sqe && !w->fatal) {
		rl_err("thread %u: no SQE available even after submitting; stopping", w->index);
		w->fatal = -EIO;
	}
	return sqe;
}

/* ---- closing ---- */

static void prep_close(struct lg_worker *w, struct lg_conn *c, struct io_uring_sqe *sqe)
{
	if (w->fixed)
		io_uring_prep_close_direct(sqe, (unsigned)c->fd);
	else
		io_uring_prep_close(sqe, c->fd);
	io_uring_sqe_set_data64(sqe, rl_udata(c, RL_OP_CLOSE));
	c->flags |= LCF_CLOSE_SENT;
}

/* Takes c off the starved list if it is on it. */
static void unstarve(struct lg_conn *c)
{
	rl_list_remove(&c->starved);
	c->flags &= ~LCF_STARVED;
}

void lg_conn_close(struct lg_worker *w, struct lg_conn *c)
{
	struct io_uring_sqe *sqe;

	if (c->state == LC_CLOSING || c->state == LC_DEAD)
		return;
	c->state = LC_CLOSING;
	lg_pace_cancel(w, c);
	unstarve(c);
	sqe = lg_sqe(w);
	if (!sqe)
		return;
	if (c->inflight) {
		io_uring_prep_cancel_fd(sqe, c->fd,
					IORING_ASYNC_CANCEL_ALL |
					    (w->fixed ? IORING_ASYNC_CANCEL_FD_FIXED : 0));
		io_uring_sqe_set_data64(sqe, rl_udata(c, RL_OP_CANCEL));
	} else {
		prep_close(w, c, sqe);
	}
	c->inflight++;
}

bool lg_conn_closed(struct lg_worker *w, struct lg_conn *c)
{
	struct io_uring_sqe *sqe;

	if (c->state != LC_CLOSING || c->inflight)
		return false;
	if (c->flags & LCF_CLOSE_SENT)
		return true;
	sqe = lg_sqe(w);
	if (!sqe)
		return false;
	prep_close(w, c, sqe);
	c->inflight++;
	return false;
}

/* ---- errors ---- */

/* Counts a failed connect; explains port exhaustion once per run. */
static void count_connect_error(struct lg_worker *w, int err)
{
	lg_record_error(w, LG_ERR_CONNECT, err);
	if (err == -EADDRNOTAVAIL && !atomic_exchange(&w->run->addrnotavail_logged, true))
		rl_err("connect failed with EADDRNOTAVAIL: the local ephemeral ports towards %s "
		       "are used up (ip_local_port_range, or sockets in TIME_WAIT).  Remedy: "
		       "spread the connections over several source addresses with --source "
		       "(e.g. 127.0.0.2-127.0.0.50), fewer --connections or a lower --rate, or "
		       "wait for TIME_WAIT to expire (60 s) before the next run",
		       w->cfg->target_str);
}

void lg_conn_fail(struct lg_worker *w, struct lg_conn *c, enum lg_err_kind kind, int err)
{
	if (c->state == LC_CLOSING || c->state == LC_DEAD)
		return;
	if (kind == LG_ERR_CONNECT)
		count_connect_error(w, err);
	else
		lg_record_error(w, kind, err);
	rl_debug("connection %u: %s error (%s)", c->id, lg_err_kind_name(kind),
		 err ? strerror(err < 0 ? -err : err) : "-");
	lg_conn_close(w, c);
}

enum lg_err_kind lg_conn_io_kind(int res)
{
	return res == -ECONNRESET || res == -EPIPE ? LG_ERR_RESET : LG_ERR_IO;
}

/* Logs where the reply to request `req` of c went wrong. */
static void log_mismatch(const struct lg_conn *c, uint64_t req, const struct lg_mismatch *mm)
{
	if (mm->got < 0) {
		rl_warn("reply cut short on connection %u, request %llu: EOF after %llu bytes",
			c->id, (unsigned long long)req, (unsigned long long)mm->offset);
		return;
	}
	rl_warn("reply mismatch on connection %u, request %llu, reply byte %llu: got 0x%02x, "
		"expected 0x%02x",
		c->id, (unsigned long long)req, (unsigned long long)mm->offset,
		(unsigned)mm->got & 0xffu, (unsigned)mm->expected & 0xffu);
}

void lg_conn_mismatch(struct lg_worker *w, struct lg_conn *c, uint64_t req,
		      const struct lg_mismatch *mm)
{
	if (atomic_fetch_add(&w->run->mismatch_logged, 1) < MISMATCH_LOG_MAX)
		log_mismatch(c, req, mm);
	lg_conn_fail(w, c, LG_ERR_MISMATCH, -EBADMSG);
}

/* ---- connecting ---- */

/* A connect that fails before reaching the ring: counted, and the connection is dead. */
static int connect_failed_early(struct lg_worker *w, struct lg_conn *c, int fd, int err)
{
	count_connect_error(w, err);
	rl_debug("connection %u: connect failed: %s", c->id, strerror(-err));
	if (fd >= 0)
		close(fd);
	c->fd = -1;
	c->state = LC_DEAD;
	return err;
}

/* Creates and prepares the socket of c; returns its fd or -errno. */
static int make_socket(struct lg_worker *w, struct lg_conn *c, int type)
{
	const struct lg_config *cfg = w->cfg;
	int family = rl_addr_family(&cfg->target), one = 1, fd, err;
	struct rl_addr src;

	fd = socket(family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (family != AF_UNIX && type == SOCK_STREAM)
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (cfg->have_source) {
		/* Pick the port at connect time, per 4-tuple: each source address then has the
		 * whole ephemeral range for every destination. */
		setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one));
		rl_addr_range_get(&cfg->source, c->id, &src);
		if (bind(fd, (struct sockaddr *)&src.ss, src.len) < 0) {
			err = -errno;
			if (err == -EADDRNOTAVAIL &&
			    !atomic_exchange(&w->run->addrnotavail_logged, true))
				rl_err("cannot bind to --source address %s: EADDRNOTAVAIL (the "
				       "address "
				       "is not configured on this host; add it to an interface, or "
				       "use 127.x.y.z addresses for a loopback target)",
				       cfg->source_str);
			close(fd);
			return err;
		}
	}
	return fd;
}

int lg_conn_connect(struct lg_worker *w, struct lg_conn *c, int sock_type)
{
	const struct lg_config *cfg = w->cfg;
	struct io_uring_sqe *sqe;
	int fd = make_socket(w, c, sock_type), idx = (int)lg_conn_index(w, c), ret;

	if (fd < 0)
		return connect_failed_early(w, c, -1, fd);
	if (w->fixed) {
		/* The table keeps the socket; the descriptor itself is not needed any more. */
		ret = io_uring_register_files_update(&w->r.ring, (unsigned)idx, &fd, 1);
		close(fd);
		if (ret < 0)
			return connect_failed_early(w, c, -1, ret);
		fd = idx;
	}
	c->fd = fd;
	sqe = lg_sqe(w);
	if (!sqe)
		return connect_failed_early(w, c, w->fixed ? -1 : fd, -EIO);
	io_uring_prep_connect(sqe, c->fd, (const struct sockaddr *)&cfg->target.ss,
			      cfg->target.len);
	lg_sqe_file(w, sqe);
	io_uring_sqe_set_data64(sqe, rl_udata(c, RL_OP_CONNECT));
	c->inflight++;
	c->state = LC_CONNECTING;
	c->t_connect = w->now;
	w->connecting++;
	if (!(c->flags & LCF_WAS_OPEN)) {
		c->flags |= LCF_RAMP;
		w->ramp_connecting++;
	}
	return 0;
}

/* ---- receiving ---- */

void lg_conn_arm_recv(struct lg_worker *w, struct lg_conn *c)
{
	struct io_uring_sqe *sqe;

	if (c->state != LC_OPEN || (c->flags & (LCF_RECV_ARMED | LCF_STARVED)))
		return;
	sqe = lg_sqe(w);
	if (!sqe)
		return;
	rl_bufring_prep_recv(sqe, c->fd, &w->br);
	lg_sqe_file(w, sqe);
	io_uring_sqe_set_data64(sqe, rl_udata(c, RL_OP_RECV));
	c->inflight++;
	c->flags |= LCF_RECV_ARMED;
}

void lg_conn_starve(struct lg_worker *w, struct lg_conn *c)
{
	c->flags |= LCF_STARVED;
	rl_list_insert_tail(&w->starved, &c->starved);
}

void lg_conn_rearm_starved(struct lg_worker *w)
{
	unsigned budget = rl_bufring_available(&w->br);
	struct rl_list *n;

	while (budget-- && (n = rl_list_pop(&w->starved))) {
		struct lg_conn *c = rl_list_entry(n, struct lg_conn, starved);

		c->flags &= ~LCF_STARVED;
		lg_conn_arm_recv(w, c);
	}
}
