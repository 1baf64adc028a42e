/*
 * file_store.c - the file server's file operations (the protocol, and how a command
 * arrives, are in file.c).
 *
 * What it shows: a protocol driving file I/O through its engine, one operation in flight
 * per connection (rl_conn_fileop, core/conn.h; on io_uring each is an SQE on the loop's
 * ring), as a state machine advanced by file_on_fileop() when an operation completes.
 * PUT stages the body in a file chunk (a registered buffer on io_uring) and writes it
 * from there into a temporary file, then fsync (--fsync), close and rename over the
 * name; a failure closes and unlinks the temporary file, then reports.  GET opens,
 * statx-es, and reads a chunk at a time, sending each from the chunk it was read into,
 * at most GET_AHEAD bytes queued ahead of the peer.  Opens are openat2 beneath --root
 * (RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS).  LIST is plain readdir: getdents has no
 * io_uring operation.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conn.h"
#include "file.h"
#include "log.h"
#include "server.h"
#include "sha256.h"

#define TMP_PREFIX ".ringlab-tmp-"
#define GET_AHEAD  (1u << 20) /* bytes queued for sending before reading pauses */

static int root_fd = -1;
static atomic_uint_fast64_t tmp_seq;
static atomic_uint_fast64_t sink_seq;

/* ---- replies ---- */

void file_reply(struct rl_conn *c, const char *fmt, ...)
{
	char line[128 + RL_FILENAME_MAX];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (n > 0)
		rl_conn_send(c, line, (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1);
}

/* Maps an errno from the file system to a protocol error reply. */
static void reply_errno(struct rl_conn *c, int err)
{
	switch (err) {
	case -ENOENT:
		file_reply(c, "ERR 404 no such file\n");
		break;
	case -ELOOP:
	case -EXDEV:
	case -EACCES:
	case -EPERM:
	case -EISDIR:
		file_reply(c, "ERR 403 not allowed: %s\n", strerror(-err));
		break;
	case -ENOSPC:
	case -EDQUOT:
	case -EFBIG:
		file_reply(c, "ERR 507 cannot store: %s\n", strerror(-err));
		break;
	default:
		file_reply(c, "ERR 500 %s\n", strerror(-err));
		break;
	}
}

/* ---- file operations ---- */

void file_start_op(struct rl_conn *c, struct fconn *f, enum fstate st, enum rl_fileop_kind k)
{
	int ret;

	f->st = st;
	f->op.kind = k;
	f->op.dirfd = root_fd;
	f->op.fd = f->fd;
	ret = rl_conn_fileop(c, &f->op);
	if (ret < 0) {
		rl_warn("file operation could not start: %s", strerror(-ret));
		rl_conn_abort(c);
	}
}

void file_open_file(struct rl_conn *c, struct fconn *f, enum fstate st, const char *path,
		    uint64_t flags)
{
	memset(&f->op.how, 0, sizeof(f->op.how));
	f->op.how.flags = flags | O_CLOEXEC;
	f->op.how.mode = (flags & O_CREAT) ? 0644 : 0;
	f->op.how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
	f->op.path = path;
	file_start_op(c, f, st, RL_FOP_OPEN);
}

/* Gives the upload's staging chunk back (a registered buffer is not held by an idle
 * connection). */
static void put_release(struct fconn *f)
{
	if (f->stage)
		rl_chunk_unref(f->stage);
	f->stage = NULL;
	f->buf_len = 0;
}

/* A command finished: take the next one, or close if the client has sent its last. */
static void back_to_idle(struct rl_conn *c, struct fconn *f)
{
	put_release(f);
	f->st = F_IDLE;
	f->fd = -1;
	f->tmp[0] = '\0';
	if (f->sink || (rl_conn_peer_eof(c) && !rl_conn_kept_input(c)))
		rl_conn_close(c);
	else
		rl_conn_pause_input(c, false);
}

/* The failed upload is cleaned up: report it and skip the rest of its body. */
static void put_failed(struct rl_conn *c, struct fconn *f)
{
	f->tmp[0] = '\0';
	put_release(f);
	reply_errno(c, f->err);
	f->discard = f->size == UINT64_MAX ? 0 : f->size - f->received;
	if (f->sink || rl_conn_peer_eof(c)) {
		rl_conn_close(c);
		return;
	}
	f->st = f->discard ? F_DISCARD : F_IDLE;
	rl_conn_pause_input(c, false);
}

/* An upload failed with `err`: close and remove the temporary file, then report. */
static void put_fail(struct rl_conn *c, struct fconn *f, int err)
{
	f->err = err;
	f->buf_len = 0;
	if (f->fd >= 0) {
		file_start_op(c, f, F_FAIL_CLOSE, RL_FOP_CLOSE);
	} else if (f->tmp[0]) {
		f->op.path = f->tmp;
		file_start_op(c, f, F_FAIL_UNLINK, RL_FOP_UNLINK);
	} else {
		put_failed(c, f);
	}
}

void file_put_write(struct rl_conn *c, struct fconn *f)
{
	f->op.buf = f->stage->data;
	f->op.len = f->buf_len;
	f->op.off = f->done;
	file_start_op(c, f, F_PUT_WRITE, RL_FOP_WRITE);
}

/* The body is complete and written: make it durable, then visible. */
static void put_finish(struct rl_conn *c, struct fconn *f)
{
	if (rl_conn_config(c)->fsync)
		file_start_op(c, f, F_PUT_FSYNC, RL_FOP_FSYNC);
	else
		file_start_op(c, f, F_PUT_CLOSE, RL_FOP_CLOSE);
}

void file_put_begin(struct rl_conn *c, struct fconn *f)
{
	snprintf(f->tmp, sizeof(f->tmp), TMP_PREFIX "%d-%" PRIu64, (int)getpid(),
		 (uint64_t)atomic_fetch_add(&tmp_seq, 1));
	if (!f->stage)
		f->stage = rl_conn_file_chunk(c, IO_CHUNK);
	if (!f->stage) {
		file_reply(c, "ERR 500 out of memory\n");
		rl_conn_close(c);
		return;
	}
	f->done = f->received = 0;
	f->buf_len = 0;
	rl_sha256_init(&f->sha);
	rl_conn_pause_input(c, true);
	file_open_file(c, f, F_PUT_OPEN, f->tmp, O_WRONLY | O_CREAT | O_EXCL);
}

static void get_read(struct rl_conn *c, struct fconn *f)
{
	uint64_t left = f->size - f->done;

	f->chunk = rl_conn_file_chunk(c, IO_CHUNK);
	if (!f->chunk) {
		rl_conn_abort(c);
		return;
	}
	f->op.buf = f->chunk->data;
	f->op.len = left < IO_CHUNK ? (size_t)left : IO_CHUNK;
	f->op.off = f->done;
	file_start_op(c, f, F_GET_READ, RL_FOP_READ);
}

void file_list_files(struct rl_conn *c)
{
	/* getdents has no io_uring operation: every engine lists with plain calls. */
	int dfd = dup(root_fd);
	DIR *d = dfd >= 0 ? fdopendir(dfd) : NULL;
	struct dirent *e;
	struct stat st;
	char *out = NULL;
	size_t out_len = 0;
	FILE *mem;
	unsigned count = 0;

	if (!d) {
		if (dfd >= 0)
			close(dfd);
		reply_errno(c, -errno);
		return;
	}
	rewinddir(d); /* a dup shares the directory offset with root_fd */
	mem = open_memstream(&out, &out_len);
	while (mem && (e = readdir(d))) {
		if (e->d_name[0] == '.' || fstatat(root_fd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) ||
		    !S_ISREG(st.st_mode))
			continue;
		fprintf(mem, "%lld %s\n", (long long)st.st_size, e->d_name);
		count++;
	}
	closedir(d);
	if (!mem) {
		file_reply(c, "ERR 500 out of memory\n");
		return;
	}
	fclose(mem);
	file_reply(c, "OK %u\n", count);
	rl_conn_send(c, out, out_len);
	free(out);
}

/* ---- --sink ---- */

/* In --sink mode the upload is whatever arrived before EOF: store it. */
void file_sink_finish(struct rl_conn *c, struct fconn *f)
{
	f->size = f->received;
	rl_conn_pause_input(c, true);
	if (f->buf_len)
		file_put_write(c, f);
	else
		put_finish(c, f);
}

/* Finishes a --sink upload once the client has half-closed and all its bytes are in. */
void file_sink_finish_if_done(struct rl_conn *c, struct fconn *f)
{
	if (f->sink && f->st == F_PUT_RECV && rl_conn_peer_eof(c) && !rl_conn_kept_input(c))
		file_sink_finish(c, f);
}

/* ---- what each state does when its file operation completes (res: op->res) ---- */

/* Any state, the connection closing: note what the operation left; on_close removes it. */
static void gone_mid_op(struct fconn *f, const struct rl_fileop *op)
{
	int res = op->res;

	if (f->st == F_PUT_OPEN || f->st == F_GET_OPEN)
		f->fd = res >= 0 ? res : -1;
	else if (op->kind == RL_FOP_CLOSE)
		f->fd = -1;
	if (op->kind == RL_FOP_RENAME && res == 0)
		f->tmp[0] = '\0';
	f->st = F_IDLE;
}

/* PUT: everything received so far is written: store the file if that was all, else read on. */
static void put_take_more(struct rl_conn *c, struct fconn *f)
{
	f->st = F_PUT_RECV;
	if (f->done == f->size) /* after the open: done is 0, so an empty body */
		put_finish(c, f);
	else
		rl_conn_pause_input(c, false);
	file_sink_finish_if_done(c, f);
}

/* F_PUT_OPEN: the temporary file is open (or could not be created): take the body. */
static void put_opened(struct rl_conn *c, struct fconn *f, int res)
{
	if (res < 0) {
		f->tmp[0] = '\0';
		put_fail(c, f, res);
		return;
	}
	f->fd = res;
	put_take_more(c, f);
}

/* F_PUT_WRITE: staged bytes written: write the rest of a short write, or take more body. */
static void put_written(struct rl_conn *c, struct fconn *f, int res)
{
	if (res <= 0) {
		put_fail(c, f, res ? res : -EIO);
		return;
	}
	f->done += (uint64_t)res;
	if ((size_t)res < f->buf_len) { /* short write: the rest, at the next offset */
		memmove(f->stage->data, f->stage->data + res, f->buf_len - (size_t)res);
		f->buf_len -= (size_t)res;
		file_put_write(c, f);
		return;
	}
	f->buf_len = 0;
	put_take_more(c, f);
}

/* F_PUT_FSYNC: the file is durable: close it. */
static void put_synced(struct rl_conn *c, struct fconn *f, int res)
{
	if (res < 0) {
		put_fail(c, f, res);
		return;
	}
	file_start_op(c, f, F_PUT_CLOSE, RL_FOP_CLOSE);
}

/* F_PUT_CLOSE: the file is closed: rename it over its name (--sink: the next outputN.txt). */
static void put_closed(struct rl_conn *c, struct fconn *f, int res)
{
	f->fd = -1;
	if (res < 0) { /* close can report a deferred write error */
		put_fail(c, f, res);
		return;
	}
	if (f->sink)
		snprintf(f->name, sizeof(f->name), "output%" PRIu64 ".txt",
			 (uint64_t)atomic_fetch_add(&sink_seq, 1));
	f->op.path = f->tmp;
	f->op.path2 = f->name;
	file_start_op(c, f, F_PUT_RENAME, RL_FOP_RENAME);
}

/* F_PUT_RENAME: the upload is visible under its name: reply with its size and sha256. */
static void put_renamed(struct rl_conn *c, struct fconn *f, int res)
{
	char hex[65];

	if (res < 0) {
		put_fail(c, f, res);
		return;
	}
	rl_sha256_final_hex(&f->sha, hex);
	if (f->sink)
		file_reply(c, "OK %" PRIu64 " %s %s\n", f->size, hex, f->name);
	else
		file_reply(c, "OK %" PRIu64 " %s\n", f->size, hex);
	back_to_idle(c, f);
}

/* F_FAIL_UNLINK: the failed upload's temporary file is gone: report the failure. */
static void fail_unlinked(struct rl_conn *c, struct fconn *f, int res)
{
	f->tmp[0] = '\0';
	if (!rl_conn_closing(c))
		put_failed(c, f); /* the client may still be sending the body: skipped */
}

/* F_FAIL_CLOSE: the failed upload's file is closed: unlink it, then report. */
static void fail_closed(struct rl_conn *c, struct fconn *f, int res)
{
	f->fd = -1;
	if (f->tmp[0]) {
		f->op.path = f->tmp;
		file_start_op(c, f, F_FAIL_UNLINK, RL_FOP_UNLINK);
		return;
	}
	fail_unlinked(c, f, res);
}

/* F_GET_OPEN: the file is open (or not found, not allowed): statx it for its size. */
static void get_opened(struct rl_conn *c, struct fconn *f, int res)
{
	if (res < 0) {
		reply_errno(c, res);
		back_to_idle(c, f);
		return;
	}
	f->fd = res;
	f->op.stx = &f->stx;
	file_start_op(c, f, F_GET_STAT, RL_FOP_STATX);
}

/* F_GET_STAT: a regular file gets "OK size" and its first read; anything else an error. */
static void get_statted(struct rl_conn *c, struct fconn *f, int res)
{
	if (res < 0 || !S_ISREG(f->stx.stx_mode)) {
		if (res < 0)
			reply_errno(c, res);
		else
			file_reply(c, "ERR 403 not a regular file\n");
		f->size = f->done = 0;
		file_start_op(c, f, F_GET_CLOSE, RL_FOP_CLOSE);
		return;
	}
	f->size = f->stx.stx_size;
	f->done = 0;
	file_reply(c, "OK %" PRIu64 "\n", f->size);
	if (f->size)
		get_read(c, f);
	else
		file_start_op(c, f, F_GET_CLOSE, RL_FOP_CLOSE);
}

/* F_GET_READ: send the chunk read, then read on, wait for the peer, or close at the end. */
static void get_chunk_read(struct rl_conn *c, struct fconn *f, int res)
{
	if (res <= 0) {
		/* The file shrank under us after "OK size": the stream cannot be repaired, so
		 * the connection is cut rather than send short data. */
		rl_chunk_unref(f->chunk);
		f->chunk = NULL;
		rl_warn("GET %s: read failed at %" PRIu64 ": %s", f->name, f->done,
			res ? strerror(-res) : "file shrank");
		rl_conn_abort(c);
		return;
	}
	f->chunk->len = (uint32_t)res;
	rl_conn_send_chunk(c, f->chunk, 0, (uint32_t)res, 0);
	rl_chunk_unref(f->chunk);
	f->chunk = NULL;
	f->done += (uint64_t)res;
	if (f->done == f->size)
		file_start_op(c, f, F_GET_CLOSE, RL_FOP_CLOSE);
	else if (rl_conn_queued(c) < GET_AHEAD)
		get_read(c, f);
	else
		f->st = F_GET_WAIT; /* on_sent reads on */
}

/* F_GET_CLOSE: the download's file is closed: take the next command. */
static void get_closed(struct rl_conn *c, struct fconn *f, int res)
{
	back_to_idle(c, f);
}

/* F_DEL: the unlink finished: reply OK or why not. */
static void deleted(struct rl_conn *c, struct fconn *f, int res)
{
	if (res < 0)
		reply_errno(c, res);
	else
		file_reply(c, "OK\n");
	back_to_idle(c, f);
}

/* ---- protocol callbacks: file operation done, replies sent, connection gone ---- */

/* Each state's completion handler, by the operation it waits for.  NULL in the states with
 * none in flight: F_IDLE, F_PUT_RECV, F_DISCARD, F_GET_WAIT. */
static void (*const fileop_done[])(struct rl_conn *c, struct fconn *f, int res) = {
    [F_PUT_OPEN] = put_opened,	     /* open the temporary file */
    [F_PUT_WRITE] = put_written,     /* write staged body bytes */
    [F_PUT_FSYNC] = put_synced,	     /* fsync (--fsync) */
    [F_PUT_CLOSE] = put_closed,	     /* close */
    [F_PUT_RENAME] = put_renamed,    /* rename over the name */
    [F_FAIL_CLOSE] = fail_closed,    /* close after a failure */
    [F_FAIL_UNLINK] = fail_unlinked, /* unlink the temporary file */
    [F_GET_OPEN] = get_opened,	     /* open the file */
    [F_GET_STAT] = get_statted,	     /* statx */
    [F_GET_READ] = get_chunk_read,   /* read a chunk */
    [F_GET_CLOSE] = get_closed,	     /* close */
    [F_DEL] = deleted,		     /* unlink */
};

/* Advances the command whose file operation `op` finished: its state's handler above. */
void file_on_fileop(struct rl_conn *c, struct rl_fileop *op)
{
	struct fconn *f = rl_conn_state(c);

	if (rl_conn_closing(c) && f->st != F_FAIL_CLOSE && f->st != F_FAIL_UNLINK)
		gone_mid_op(f, op);
	else if ((size_t)f->st < sizeof(fileop_done) / sizeof(fileop_done[0]) && fileop_done[f->st])
		fileop_done[f->st](c, f, op->res);
}

void file_on_sent(struct rl_conn *c)
{
	struct fconn *f = rl_conn_state(c);

	if (f->st == F_GET_WAIT)
		get_read(c, f);
}

void file_on_close(struct rl_conn *c)
{
	struct fconn *f = rl_conn_state(c);

	/* Every file operation has finished by now: undo what an unfinished one left. */
	if (f->fd >= 0)
		close(f->fd);
	if (f->tmp[0])
		unlinkat(root_fd, f->tmp, 0);
	if (f->chunk)
		rl_chunk_unref(f->chunk);
	put_release(f);
}

/* ---- --root ---- */

/* Opens --root, removes temporary files a killed server left, finds the next sink number. */
int file_setup(const struct rl_server_config *cfg)
{
	struct dirent *e;
	uint64_t next = 0;
	DIR *d;
	int dfd;

	if (!cfg->root) {
		rl_err("file: --root DIR is required");
		return -EINVAL;
	}
	root_fd = open(cfg->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (root_fd < 0) {
		rl_err("file: cannot open --root %s: %s", cfg->root, strerror(errno));
		return -errno;
	}
	dfd = dup(root_fd);
	d = dfd >= 0 ? fdopendir(dfd) : NULL;
	if (d)
		rewinddir(d);
	while (d && (e = readdir(d))) {
		unsigned long long n;

		if (!strncmp(e->d_name, TMP_PREFIX, strlen(TMP_PREFIX))) {
			if (unlinkat(root_fd, e->d_name, 0) == 0)
				rl_info("file: removed %s, left by an interrupted upload",
					e->d_name);
		} else if (sscanf(e->d_name, "output%llu.txt", &n) == 1 && n >= next) {
			next = n + 1;
		}
	}
	if (d)
		closedir(d);
	atomic_store(&sink_seq, next);
	/* A write past RLIMIT_FSIZE must fail with EFBIG, not kill the server. */
	signal(SIGXFSZ, SIG_IGN);
	return 0;
}

void file_teardown(void)
{
	if (root_fd >= 0)
		close(root_fd);
	root_fd = -1;
}
