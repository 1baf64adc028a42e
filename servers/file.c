/*
 * file.c - the file server: uploads and downloads stored safely under --root
 * (the protocol is in docs/protocol.md).
 *
 *   PUT <name> <size>\n<bytes>  ->  OK <size> <sha256>\n     (stored atomically)
 *   GET <name>\n                ->  OK <size>\n<bytes>
 *   LIST\n                      ->  OK <count>\n then "<size> <name>\n" per file
 *   DEL <name>\n                ->  OK\n
 *   errors                      ->  ERR <code> <message>\n
 *
 * What it shows: file I/O driven by the same engine as the sockets.  On the uring engine
 * openat2 (RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS), write, fsync, close, renameat,
 * unlinkat, statx and read all go through the ring (core/conn.h rl_conn_fileop); the
 * epoll and blocking engines run the same steps as plain system calls.  File data moves
 * in chunks from rl_conn_file_chunk(), which on io_uring are the loop's registered
 * buffers: a download is read into one (READ_FIXED) and sent from that same chunk; an
 * upload is staged in one as it arrives and written from it (WRITE_FIXED).
 *
 * Safety: a name is one path component (servers/file_cmd.c); every open is relative to
 * the root directory fd and may not leave it or follow a symlink.  An upload goes to a
 * temporary ".ringlab-tmp-*" file, is fsynced with --fsync, and is renamed over the final
 * name only when complete, so a reader sees the old file or the new one, never half of
 * one.  A failed or abandoned upload removes its temporary file; one left by a killed
 * server is swept at the next start.  --sink stores whatever a connection sends until EOF
 * as output<N>.txt (nc HOST PORT < file).
 *
 * Run:  ringlab-server file --root /srv/files --listen 127.0.0.1:7004 --engine uring
 *       printf 'PUT hello.txt 5\nhello' | nc -q1 127.0.0.1 7004
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
#include "file_cmd.h"
#include "log.h"
#include "protocols.h"
#include "server.h"
#include "sha256.h"

#define TMP_PREFIX ".ringlab-tmp-"
#define IO_CHUNK   (256u * 1024u)
#define GET_AHEAD  (1u << 20) /* bytes queued for sending before reading pauses */
#define MAX_HEADER 1024u

enum fstate {
	F_IDLE,
	F_PUT_OPEN,  /* opening the temporary file */
	F_PUT_RECV,  /* receiving the body, writing IO_CHUNK at a time */
	F_PUT_WRITE, /* a write is in flight */
	F_PUT_FSYNC,
	F_PUT_CLOSE,
	F_PUT_RENAME,
	F_FAIL_CLOSE, /* cleaning up a failed upload */
	F_FAIL_UNLINK,
	F_DISCARD, /* skipping the rest of a failed upload's body */
	F_GET_OPEN,
	F_GET_STAT,
	F_GET_READ, /* a read is in flight */
	F_GET_WAIT, /* waiting for the send queue to drain */
	F_GET_CLOSE,
	F_DEL,
};

struct fconn {
	enum fstate st;
	struct rl_fileop op; /* at most one file operation in flight */
	int fd;
	bool sink;
	char name[RL_FILENAME_MAX + 1];
	char tmp[64];
	uint64_t size;	   /* PUT: announced; GET: file size */
	uint64_t done;	   /* PUT: bytes written; GET: bytes read */
	uint64_t received; /* PUT: body bytes taken from the socket */
	uint64_t discard;  /* F_DISCARD: body bytes still to skip */
	struct rl_sha256 sha;
	struct rl_chunk *stage; /* PUT: bytes waiting to be written, held until the PUT ends */
	size_t buf_len;
	struct rl_chunk *chunk; /* GET: chunk being read into */
	struct statx stx;
	int err; /* the error a failed upload reports once cleaned up */
};

static int root_fd = -1;
static atomic_uint_fast64_t tmp_seq;
static atomic_uint_fast64_t sink_seq;

/* ---- replies ---- */

static void reply(struct rl_conn *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void reply(struct rl_conn *c, const char *fmt, ...)
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
		reply(c, "ERR 404 no such file\n");
		break;
	case -ELOOP:
	case -EXDEV:
	case -EACCES:
	case -EPERM:
	case -EISDIR:
		reply(c, "ERR 403 not allowed: %s\n", strerror(-err));
		break;
	case -ENOSPC:
	case -EDQUOT:
	case -EFBIG:
		reply(c, "ERR 507 cannot store: %s\n", strerror(-err));
		break;
	default:
		reply(c, "ERR 500 %s\n", strerror(-err));
		break;
	}
}

/* ---- file operations ---- */

static void start_op(struct rl_conn *c, struct fconn *f, enum fstate st, enum rl_fileop_kind k)
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

static void open_file(struct rl_conn *c, struct fconn *f, enum fstate st, const char *path,
		      uint64_t flags)
{
	memset(&f->op.how, 0, sizeof(f->op.how));
	f->op.how.flags = flags | O_CLOEXEC;
	f->op.how.mode = (flags & O_CREAT) ? 0644 : 0;
	f->op.how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
	f->op.path = path;
	start_op(c, f, st, RL_FOP_OPEN);
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
		start_op(c, f, F_FAIL_CLOSE, RL_FOP_CLOSE);
	} else if (f->tmp[0]) {
		f->op.path = f->tmp;
		start_op(c, f, F_FAIL_UNLINK, RL_FOP_UNLINK);
	} else {
		put_failed(c, f);
	}
}

static void put_write(struct rl_conn *c, struct fconn *f)
{
	f->op.buf = f->stage->data;
	f->op.len = f->buf_len;
	f->op.off = f->done;
	start_op(c, f, F_PUT_WRITE, RL_FOP_WRITE);
}

/* The body is complete and written: make it durable, then visible. */
static void put_finish(struct rl_conn *c, struct fconn *f)
{
	if (rl_conn_config(c)->fsync)
		start_op(c, f, F_PUT_FSYNC, RL_FOP_FSYNC);
	else
		start_op(c, f, F_PUT_CLOSE, RL_FOP_CLOSE);
}

static void put_begin(struct rl_conn *c, struct fconn *f)
{
	snprintf(f->tmp, sizeof(f->tmp), TMP_PREFIX "%d-%" PRIu64, (int)getpid(),
		 (uint64_t)atomic_fetch_add(&tmp_seq, 1));
	if (!f->stage)
		f->stage = rl_conn_file_chunk(c, IO_CHUNK);
	if (!f->stage) {
		reply(c, "ERR 500 out of memory\n");
		rl_conn_close(c);
		return;
	}
	f->done = f->received = 0;
	f->buf_len = 0;
	rl_sha256_init(&f->sha);
	rl_conn_pause_input(c, true);
	open_file(c, f, F_PUT_OPEN, f->tmp, O_WRONLY | O_CREAT | O_EXCL);
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
	start_op(c, f, F_GET_READ, RL_FOP_READ);
}

static void list_files(struct rl_conn *c)
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
		reply(c, "ERR 500 out of memory\n");
		return;
	}
	fclose(mem);
	reply(c, "OK %u\n", count);
	rl_conn_send(c, out, out_len);
	free(out);
}

/* ---- protocol callbacks ---- */

static int file_on_open(struct rl_conn *c)
{
	struct fconn *f = rl_conn_state(c);

	f->fd = -1;
	f->sink = rl_conn_config(c)->sink;
	if (f->sink) {
		f->size = UINT64_MAX;
		put_begin(c, f);
	}
	return 0;
}

static long handle_command(struct rl_conn *c, struct fconn *f, const uint8_t *p, size_t n)
{
	const struct rl_server_config *cfg = rl_conn_config(c);
	struct rl_filecmd cmd;
	long used = rl_filecmd_parse(p, n, MAX_HEADER, &cmd);

	if (used == -EAGAIN) {
		if (rl_conn_peer_eof(c)) /* a partial command and nothing more coming */
			rl_conn_close(c);
		return 0;
	}
	if (used == -EMSGSIZE) {
		reply(c, "ERR 414 command line longer than %u bytes\n", MAX_HEADER);
		rl_conn_close(c);
		return (long)n;
	}
	if (used < 0) {
		/* The line is complete (the parser found its newline): reject it, go on. */
		if (used == -EINVAL) {
			reply(c, "ERR 403 bad file name: one path component, no '/', no leading "
				 "'.', no control bytes or spaces, at most 255 bytes\n");
			if (cmd.kind == RL_FILECMD_PUT && cmd.size) {
				/* Its body follows: skip it, never read it as commands. */
				f->discard = cmd.size;
				f->st = F_DISCARD;
			}
		} else
			reply(c, "ERR 400 malformed command (PUT name size | GET name | LIST | "
				 "DEL name)\n");
		return (long)((const uint8_t *)memchr(p, '\n', n) - p + 1);
	}
	rl_conn_count_request(c);
	if (cmd.kind == RL_FILECMD_LIST) {
		list_files(c);
		return used;
	}
	memcpy(f->name, cmd.name, cmd.name_len);
	f->name[cmd.name_len] = '\0';
	switch (cmd.kind) {
	case RL_FILECMD_PUT:
		if (cmd.size > cfg->max_size) {
			reply(c, "ERR 413 %" PRIu64 " bytes is more than --max-size %" PRIu64 "\n",
			      cmd.size, (uint64_t)cfg->max_size);
			rl_conn_close(c); /* the body that follows would be taken for commands */
			return (long)n;
		}
		f->size = cmd.size;
		put_begin(c, f);
		break;
	case RL_FILECMD_GET:
		rl_conn_pause_input(c, true);
		open_file(c, f, F_GET_OPEN, f->name, O_RDONLY);
		break;
	case RL_FILECMD_DEL:
		rl_conn_pause_input(c, true);
		f->op.path = f->name;
		start_op(c, f, F_DEL, RL_FOP_UNLINK);
		break;
	case RL_FILECMD_LIST:
		break;
	}
	return used;
}

/* Takes what the current state can of p[0..n): a command, body bytes, skipped bytes. */
static long file_step(struct rl_conn *c, const uint8_t *p, size_t n)
{
	struct fconn *f = rl_conn_state(c);
	size_t take;

	switch (f->st) {
	case F_IDLE:
		return handle_command(c, f, p, n);
	case F_DISCARD:
		take = n < f->discard ? n : (size_t)f->discard;
		f->discard -= take;
		if (!f->discard)
			f->st = F_IDLE;
		return (long)take;
	case F_PUT_RECV:
		take = IO_CHUNK - f->buf_len;
		if (take > f->size - f->received)
			take = (size_t)(f->size - f->received);
		if (take > n)
			take = n;
		memcpy(f->stage->data + f->buf_len, p, take);
		rl_sha256_update(&f->sha, p, take);
		f->buf_len += take;
		f->received += take;
		if (f->buf_len == IO_CHUNK || f->received == f->size) {
			rl_conn_pause_input(c, true);
			put_write(c, f);
		}
		return (long)take;
	default:
		return 0; /* busy with the file: the bytes wait */
	}
}

/* In --sink mode the upload is whatever arrived before EOF: store it. */
static void sink_finish(struct rl_conn *c, struct fconn *f)
{
	f->size = f->received;
	rl_conn_pause_input(c, true);
	if (f->buf_len)
		put_write(c, f);
	else
		put_finish(c, f);
}

/* Finishes a --sink upload once the client has half-closed and all its bytes are in. */
static void sink_finish_if_done(struct rl_conn *c, struct fconn *f)
{
	if (f->sink && f->st == F_PUT_RECV && rl_conn_peer_eof(c) && !rl_conn_kept_input(c))
		sink_finish(c, f);
}

static long file_on_data(struct rl_conn *c, const uint8_t *p, size_t n)
{
	struct fconn *f = rl_conn_state(c);
	size_t off = 0;
	long used;

	/* Several commands may arrive in one read: answer each until one has to wait. */
	while (off < n && !rl_conn_input_paused(c) && !rl_conn_closing(c)) {
		used = file_step(c, p + off, n - off);
		if (used < 0)
			return used;
		if (used == 0)
			break;
		off += (size_t)used;
	}
	if (off == n && rl_conn_peer_eof(c) && !rl_conn_input_paused(c)) {
		if (f->sink && f->st == F_PUT_RECV)
			sink_finish(c, f);
		else if (f->st == F_IDLE)
			rl_conn_close(c); /* every command answered, and no more coming */
	}
	return (long)off;
}

static void file_on_eof(struct rl_conn *c)
{
	struct fconn *f = rl_conn_state(c);

	if (f->sink) {
		sink_finish_if_done(c, f); /* else when the operation in flight completes */
	} else if ((f->st == F_IDLE || f->st == F_DISCARD) && !rl_conn_resumed(c)) {
		/* Nothing in progress and nothing waiting to be re-read: whatever input is left
		 * is a partial command that can never complete. */
		rl_conn_close(c);
	} else if (f->st >= F_PUT_OPEN && f->st <= F_PUT_WRITE &&
		   f->received + rl_conn_kept_input(c) < f->size) {
		/* The client left mid-upload: the file can never be complete.  Dropping the
		 * connection makes on_close remove the temporary file. */
		rl_conn_abort(c);
	}
	/* Otherwise the operation in flight finishes, and back_to_idle() sees the EOF. */
}

static void file_on_fileop(struct rl_conn *c, struct rl_fileop *op)
{
	struct fconn *f = rl_conn_state(c);
	char hex[65];
	int res = op->res;

	if (rl_conn_closing(c) && f->st != F_FAIL_CLOSE && f->st != F_FAIL_UNLINK) {
		/* Gone mid-operation: on_close removes what is left. */
		if (f->st == F_PUT_OPEN || f->st == F_GET_OPEN)
			f->fd = res >= 0 ? res : -1;
		else if (op->kind == RL_FOP_CLOSE)
			f->fd = -1;
		if (op->kind == RL_FOP_RENAME && res == 0)
			f->tmp[0] = '\0';
		f->st = F_IDLE;
		return;
	}
	switch (f->st) {
	case F_PUT_OPEN:
		if (res < 0) {
			f->tmp[0] = '\0';
			put_fail(c, f, res);
			return;
		}
		f->fd = res;
		f->st = F_PUT_RECV;
		if (f->size == 0)
			put_finish(c, f);
		else
			rl_conn_pause_input(c, false);
		sink_finish_if_done(c, f);
		return;
	case F_PUT_WRITE:
		if (res <= 0) {
			put_fail(c, f, res ? res : -EIO);
			return;
		}
		f->done += (uint64_t)res;
		if ((size_t)res < f->buf_len) { /* short write: the rest, at the next offset */
			memmove(f->stage->data, f->stage->data + res, f->buf_len - (size_t)res);
			f->buf_len -= (size_t)res;
			put_write(c, f);
			return;
		}
		f->buf_len = 0;
		f->st = F_PUT_RECV;
		if (f->done == f->size)
			put_finish(c, f);
		else
			rl_conn_pause_input(c, false);
		sink_finish_if_done(c, f);
		return;
	case F_PUT_FSYNC:
		if (res < 0) {
			put_fail(c, f, res);
			return;
		}
		start_op(c, f, F_PUT_CLOSE, RL_FOP_CLOSE);
		return;
	case F_PUT_CLOSE:
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
		start_op(c, f, F_PUT_RENAME, RL_FOP_RENAME);
		return;
	case F_PUT_RENAME:
		if (res < 0) {
			put_fail(c, f, res);
			return;
		}
		rl_sha256_final_hex(&f->sha, hex);
		if (f->sink)
			reply(c, "OK %" PRIu64 " %s %s\n", f->size, hex, f->name);
		else
			reply(c, "OK %" PRIu64 " %s\n", f->size, hex);
		back_to_idle(c, f);
		return;
	case F_FAIL_CLOSE:
		f->fd = -1;
		if (f->tmp[0]) {
			f->op.path = f->tmp;
			start_op(c, f, F_FAIL_UNLINK, RL_FOP_UNLINK);
			return;
		}
	/* fall through */
	case F_FAIL_UNLINK:
		f->tmp[0] = '\0';
		if (!rl_conn_closing(c))
			put_failed(c, f); /* the client may still be sending the body: skipped */
		return;
	case F_GET_OPEN:
		if (res < 0) {
			reply_errno(c, res);
			back_to_idle(c, f);
			return;
		}
		f->fd = res;
		f->op.stx = &f->stx;
		start_op(c, f, F_GET_STAT, RL_FOP_STATX);
		return;
	case F_GET_STAT:
		if (res < 0 || !S_ISREG(f->stx.stx_mode)) {
			if (res < 0)
				reply_errno(c, res);
			else
				reply(c, "ERR 403 not a regular file\n");
			f->size = f->done = 0;
			start_op(c, f, F_GET_CLOSE, RL_FOP_CLOSE);
			return;
		}
		f->size = f->stx.stx_size;
		f->done = 0;
		reply(c, "OK %" PRIu64 "\n", f->size);
		if (f->size)
			get_read(c, f);
		else
			start_op(c, f, F_GET_CLOSE, RL_FOP_CLOSE);
		return;
	case F_GET_READ:
		if (res <= 0) {
			/* The file shrank under us after "OK size": the stream cannot be
			 * repaired, so the connection is cut rather than send short data. */
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
			start_op(c, f, F_GET_CLOSE, RL_FOP_CLOSE);
		else if (rl_conn_queued(c) < GET_AHEAD)
			get_read(c, f);
		else
			f->st = F_GET_WAIT; /* on_sent reads on */
		return;
	case F_GET_CLOSE:
		back_to_idle(c, f);
		return;
	case F_DEL:
		if (res < 0)
			reply_errno(c, res);
		else
			reply(c, "OK\n");
		back_to_idle(c, f);
		return;
	default:
		return;
	}
}

static void file_on_sent(struct rl_conn *c)
{
	struct fconn *f = rl_conn_state(c);

	if (f->st == F_GET_WAIT)
		get_read(c, f);
}

static void file_on_close(struct rl_conn *c)
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

/* Opens --root, removes temporary files a killed server left, finds the next sink number. */
static int file_setup(const struct rl_server_config *cfg)
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

static void file_teardown(void)
{
	if (root_fd >= 0)
		close(root_fd);
	root_fd = -1;
}

const struct rl_proto rl_proto_file = {
    .name = "file",
    .summary = "file transfer under --root: PUT, GET, LIST, DEL (docs/protocol.md)",
    .conn_state_size = sizeof(struct fconn),
    .setup = file_setup,
    .teardown = file_teardown,
    .on_open = file_on_open,
    .line_timeout_reply = "ERR 408 command not complete within --line-timeout\n",
    .on_data = file_on_data,
    .on_eof = file_on_eof,
    .on_close = file_on_close,
    .on_fileop = file_on_fileop,
    .on_sent = file_on_sent,
};
