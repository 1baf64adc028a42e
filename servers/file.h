/*
 * file.h - the file server's private header, shared by its two files: file.c (commands
 * in: parsing, dispatch, upload bodies, EOF; the rl_proto table) and file_store.c (the
 * file operations each command runs and their replies, --root set-up).  Protocols
 * include core headers only (conn.h, proto.h): no file here sees a socket or io_uring.
 */
#ifndef RL_SERVERS_FILE_H
#define RL_SERVERS_FILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#include "conn.h"
#include "file_cmd.h"
#include "server.h"
#include "sha256.h"

#define IO_CHUNK (256u * 1024u)

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

/* file_store.c: replies and the file operations a command starts. */
void file_reply(struct rl_conn *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void file_start_op(struct rl_conn *c, struct fconn *f, enum fstate st, enum rl_fileop_kind k);
void file_open_file(struct rl_conn *c, struct fconn *f, enum fstate st, const char *path,
		    uint64_t flags);
void file_put_begin(struct rl_conn *c, struct fconn *f);
void file_put_write(struct rl_conn *c, struct fconn *f);
void file_list_files(struct rl_conn *c);
void file_sink_finish(struct rl_conn *c, struct fconn *f);
void file_sink_finish_if_done(struct rl_conn *c, struct fconn *f);

/* file_store.c: the protocol callbacks about files (rl_proto_file, file.c). */
void file_on_fileop(struct rl_conn *c, struct rl_fileop *op);
void file_on_sent(struct rl_conn *c);
void file_on_close(struct rl_conn *c);
int file_setup(const struct rl_server_config *cfg);
void file_teardown(void);

#endif
