/*
 * json_read.h - a small JSON reader for ringlab-load's own documents (merge_input.c
 * reads the --json files of shards back).
 *
 * The whole text is parsed into a tree; every node and string is malloc'ed and freed with
 * lg_jval_free().  Numbers keep their double value and, when written as a non-negative
 * integer that fits, the exact uint64 too.  Depth is limited to 64.
 */
#ifndef RL_LG_JSON_READ_H
#define RL_LG_JSON_READ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum lg_jtype { LG_J_NULL, LG_J_BOOL, LG_J_NUM, LG_J_STR, LG_J_ARR, LG_J_OBJ };

struct lg_jval {
	enum lg_jtype type;
	bool b;
	double num;
	uint64_t u; /* exact value of a non-negative integer number */
	bool is_uint;
	char *str;		/* LG_J_STR */
	size_t n;		/* elements or members */
	struct lg_jval **items; /* LG_J_ARR, LG_J_OBJ */
	char **keys;		/* LG_J_OBJ */
};

/*
 * Parses `len` bytes of `text` into *out (the caller frees it with lg_jval_free).
 * Returns 0, -EBADMSG with `why` describing the first error and its byte offset, or
 * -ENOMEM.
 */
int lg_json_parse(const char *text, size_t len, struct lg_jval **out, char *why, size_t wlen);

/* Frees a tree (NULL is fine). */
void lg_jval_free(struct lg_jval *v);

/* The member at a dotted path ("totals.requests") of nested objects, or NULL. */
const struct lg_jval *lg_jget(const struct lg_jval *v, const char *path);

/* Value at `path` as a number / uint64 / string / bool; `dflt` when absent or of another
 * type. */
double lg_jnum(const struct lg_jval *v, const char *path, double dflt);
uint64_t lg_juint(const struct lg_jval *v, const char *path, uint64_t dflt);
const char *lg_jstr(const struct lg_jval *v, const char *path, const char *dflt);
bool lg_jbool(const struct lg_jval *v, const char *path, bool dflt);

#endif
