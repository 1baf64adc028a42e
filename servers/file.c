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
 * The server is two files around a private header (file.h: struct fconn, its states):
 *   file.c        this file: commands in -- parsing (file_cmd.c) and dispatch, upload body
 *                 bytes and skipped bytes taken from the input, EOF; the rl_proto table
 *   file_store.c  what each command does to the files, as a state machine driven by the
 *                 completions of rl_conn_fileop (PUT: open a temporary file, write, fsync,
 *                 close, rename, or clean up after a failure; GET: open, statx, read and
 *                 send; DEL; LIST), the replies, and --root set-up
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
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <string.h>

#include "conn.h"
#include "file.h"
#include "file_cmd.h"
#include "protocols.h"
#include "server.h"

#define MAX_HEADER 1024u

/* ---- protocol callbacks ---- */

static int file_on_open(struct rl_conn *c)
{
	struct fconn *f = rl_conn_state(c);

	f->fd = -1;
	f->sink = rl_conn_config(c)->sink;
	if (f->sink) {
		f->size = UINT64_MAX;
		file_put_begin(c, f);
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
		file_reply(c, "ERR 414 command line longer than %u bytes\n", MAX_HEADER);
		rl_conn_close(c);
		return (long)n;
	}
	if (used < 0) {
		/* The line is complete (the parser found its newline): reject it, go on. */
		if (used == -EINVAL) {
			file_reply(c,
				   "ERR 403 bad file name: one path component, no '/', no leading "
				   "'.', no control bytes or spaces, at most 255 bytes\n");
			if (cmd.kind == RL_FILECMD_PUT && cmd.size) {
				/* Its body follows: skip it, never read it as commands. */
				f->discard = cmd.size;
				f->st = F_DISCARD;
			}
		} else
			file_reply(c,
				   "ERR 400 malformed command (PUT name size | GET name | LIST | "
				   "DEL name)\n");
		return (long)((const uint8_t *)memchr(p, '\n', n) - p + 1);
	}
	rl_conn_count_request(c);
	if (cmd.kind == RL_FILECMD_LIST) {
		file_list_files(c);
		return used;
	}
	memcpy(f->name, cmd.name, cmd.name_len);
	f->name[cmd.name_len] = '\0';
	switch (cmd.kind) {
	case RL_FILECMD_PUT:
		if (cmd.size > cfg->max_size) {
			file_reply(
			    c, "ERR 413 %" PRIu64 " bytes is more than --max-size %" PRIu64 "\n",
			    cmd.size, (uint64_t)cfg->max_size);
			rl_conn_close(c); /* the body that follows would be taken for commands */
			return (long)n;
		}
		f->size = cmd.size;
		file_put_begin(c, f);
		break;
	case RL_FILECMD_GET:
		rl_conn_pause_input(c, true);
		file_open_file(c, f, F_GET_OPEN, f->name, O_RDONLY);
		break;
	case RL_FILECMD_DEL:
		rl_conn_pause_input(c, true);
		f->op.path = f->name;
		file_start_op(c, f, F_DEL, RL_FOP_UNLINK);
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
			file_put_write(c, f);
		}
		return (long)take;
	default:
		return 0; /* busy with the file: the bytes wait */
	}
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
			file_sink_finish(c, f);
		else if (f->st == F_IDLE)
			rl_conn_close(c); /* every command answered, and no more coming */
	}
	return (long)off;
}

static void file_on_eof(struct rl_conn *c)
{
	struct fconn *f = rl_conn_state(c);

	if (f->sink) {
		file_sink_finish_if_done(c, f); /* else when the operation in flight completes */
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
