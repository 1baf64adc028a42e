/*
 * merge_input.h - the inputs of `ringlab-load merge` (merge.c): one shard's --json
 * document or --log interval log, read, decoded and checked against the other shards.
 */
#ifndef RL_LG_MERGE_INPUT_H
#define RL_LG_MERGE_INPUT_H

#include <stdbool.h>
#include <stddef.h>

#include "hist.h"
#include "json_read.h"

/* One input file, reduced to what the merge needs. */
struct lg_shard_in {
	const char *path;
	char host[96];
	unsigned index, count; /* 0 of 1 when unsharded */
	bool is_log;
	struct lg_jval *doc; /* JSON input */
	int exit_status;
	double start, end; /* window, Unix seconds */
	struct rl_hist hc, hu, hconn, httfb;
	bool have_u, have_conn;
	/* per-second intervals: absolute start and histogram */
	size_t niv;
	double *iv_start, *iv_len;
	struct rl_hist *iv_hist;
};

/* Prints "ringlab-load merge: PATH: <message>" on stderr.  Returns -EINVAL. */
__attribute__((format(printf, 2, 3))) int lg_merge_input_error(const char *path, const char *fmt,
							       ...);

/*
 * Reads and decodes the file s->path (JSON or interval log, told apart by its first
 * byte) into s, whose other fields start zeroed.  Returns 0, -ENOMEM, or -EINVAL after
 * printing why the file cannot be used.  lg_merge_free frees what s holds, either way.
 */
int lg_merge_load(struct lg_shard_in *s);

/* Frees what lg_merge_load put in s (not s itself, nor s->path). */
void lg_merge_free(struct lg_shard_in *s);

/*
 * Checks that the n inputs are distinct shards of the same run (kind of file, shard count,
 * shard indexes, and for JSON the run parameters).  Returns 0, or -EINVAL after printing
 * the first difference.
 */
int lg_merge_check_same(struct lg_shard_in *in, size_t n);

#endif
