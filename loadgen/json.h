/*
 * json.h - a small streaming JSON writer: objects, arrays, strings with proper escaping,
 * integers, doubles (non-finite ones become null), booleans, null; indented output.
 *
 * Values are written as they come; `key` is the member name inside an object and must be
 * NULL inside an array.  The writer remembers the first write error and reports it from
 * lg_json_finish().  Nothing allocates.
 */
#ifndef RL_LG_JSON_H
#define RL_LG_JSON_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#define LG_JSON_MAX_DEPTH 32

struct lg_json {
	FILE *f;
	int depth;
	bool has_items[LG_JSON_MAX_DEPTH]; /* a value was written at this depth */
	int err;			   /* first error, -errno */
};

/* Starts a document on f (the caller owns f). */
void lg_json_init(struct lg_json *j, FILE *f);

/* Opens an object / array (as member `key`, or as an array element when key is NULL). */
void lg_json_object(struct lg_json *j, const char *key);
void lg_json_array(struct lg_json *j, const char *key);

/* Closes the innermost object / array. */
void lg_json_end_object(struct lg_json *j);
void lg_json_end_array(struct lg_json *j);

/* Writes one value; a NULL string writes null. */
void lg_json_str(struct lg_json *j, const char *key, const char *v);
void lg_json_uint(struct lg_json *j, const char *key, uint64_t v);
void lg_json_int(struct lg_json *j, const char *key, int64_t v);
void lg_json_double(struct lg_json *j, const char *key, double v);
void lg_json_bool(struct lg_json *j, const char *key, bool v);
void lg_json_null(struct lg_json *j, const char *key);

/* Ends the document (newline).  Returns 0, or -EIO / -EINVAL (unbalanced nesting). */
int lg_json_finish(struct lg_json *j);

/* Writes s as a JSON string literal (quotes included) to f; invalid UTF-8 becomes U+FFFD.
 * Returns 0 or -EIO. */
int lg_json_write_string(FILE *f, const char *s);

#endif
