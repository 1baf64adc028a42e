/*
 * proto_file.c - the file client protocol (docs/protocol.md): uploads and downloads
 * against `ringlab-server file`, every transfer verified.
 *
 *   --mode put    request i: "PUT <name> <size>\n" + --size bytes; the reply must be
 *                 "OK <size> <sha256>\n" with the sha256 of the bytes sent;
 *   --mode get    request 0 uploads one file, every later request is "GET <name>\n"; the
 *                 reply must be "OK <size>\n" followed by exactly the uploaded bytes;
 *   --mode mixed  even requests upload, odd ones download what the previous one uploaded.
 * Names are lg-<pid>-<connection key>-<n>, n = 0..7: unique per connection, and a
 * connection reuses its 8 names (an upload replaces a file atomically), so the disk holds
 * at most connections x 8 x --size bytes.
 *
 * File contents: upload b is request b of payload.h's pseudo-random stream (key drawn
 * per connection), so any byte
 * can be recomputed: downloads are verified in place as they arrive, and an upload's
 * sha256 is computed as its bytes are produced for sending, so the expected reply is ready
 * when the reply starts (a request not produced in order is rehashed from the stream
 * then instead).  The expected reply header is compared byte
 * for byte, so an "ERR ..." reply is a mismatch at byte 0.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "lg_proto.h"
#include "payload.h"
#include "sha256.h"

#define NAMES	       8u
#define REPLY_LINE_MAX 160u
#define CHUNK	       8192u
#define HASHED	       4u /* finished upload hashes kept: covers --pipeline up to 4 */

struct file_state {
	uint64_t key;
	uint64_t size;
	unsigned mode;
	char tag[48];		   /* "lg-<pid>-<key hex>" */
	char line[REPLY_LINE_MAX]; /* expected reply header of request line_for - 1 */
	size_t line_len;
	uint64_t line_for;
	struct rl_sha256 hs;	   /* the upload being produced: request hs_for - 1 ... */
	uint64_t hs_for, hs_off;   /* ... hashed up to body byte hs_off */
	char hex[HASHED][65];	   /* finished: sha256 of request hex_for[k] - 1 */
	uint64_t hex_for[HASHED];
};

static bool is_put(const struct file_state *f, uint64_t i)
{
	return f->mode == LG_FILE_PUT || (f->mode == LG_FILE_GET && i == 0) ||
	       (f->mode == LG_FILE_MIXED && i % 2 == 0);
}

/* The upload whose bytes request i carries or expects. */
static uint64_t body_of(const struct file_state *f, uint64_t i)
{
	if (f->mode == LG_FILE_GET)
		return 0;
	if (f->mode == LG_FILE_MIXED)
		return i - i % 2;
	return i;
}

/* Writes bytes [off, off + len) of upload b: payload.h's stream, request b. */
static void body(const struct file_state *f, uint64_t b, uint64_t off, uint8_t *buf, size_t len)
{
	lg_payload_fill(f->key, b, off, buf, len);
}

static size_t request_header(const struct file_state *f, uint64_t i, char *buf, size_t cap)
{
	unsigned n = (unsigned)(body_of(f, i) % NAMES);
	int len;

	if (is_put(f, i))
		len =
		    snprintf(buf, cap, "PUT %s-%u %llu\n", f->tag, n, (unsigned long long)f->size);
	else
		len = snprintf(buf, cap, "GET %s-%u\n", f->tag, n);
	return (size_t)len;
}

static int file_check(const struct lg_proto_params *p, char *why, size_t len)
{
	if (p->size < 1) {
		snprintf(why, len, "file needs --size of at least 1 byte");
		return -EINVAL;
	}
	return 0;
}

static int file_conn_init(void *st, const struct lg_proto_params *p, uint64_t seed)
{
	struct file_state *f = st;

	memset(f, 0, sizeof(*f));
	f->key = lg_payload_key(seed);
	f->size = p->size;
	f->mode = p->file_mode;
	snprintf(f->tag, sizeof(f->tag), "lg-%ld-%016llx", (long)getpid(),
		 (unsigned long long)f->key);
	return 0;
}

static void file_conn_fini(void *st)
{
	(void)st;
}

static uint64_t file_request_len(const void *st, uint64_t i)
{
	const struct file_state *f = st;
	char hdr[REPLY_LINE_MAX];

	return request_header(f, i, hdr, sizeof(hdr)) + (is_put(f, i) ? f->size : 0);
}

/* Feeds body bytes [boff, boff + n) of upload request i, just produced, to the running
 * hash; a piece out of order drops it (expect_line then recomputes). */
static void hash_piece(struct file_state *f, uint64_t i, uint64_t boff, const uint8_t *p,
		       size_t n)
{
	if (boff == 0) {
		rl_sha256_init(&f->hs);
		f->hs_for = i + 1;
		f->hs_off = 0;
	}
	if (f->hs_for != i + 1 || boff != f->hs_off) {
		f->hs_for = 0;
		return;
	}
	rl_sha256_update(&f->hs, p, n);
	f->hs_off += n;
	if (f->hs_off == f->size) {
		rl_sha256_final_hex(&f->hs, f->hex[i % HASHED]);
		f->hex_for[i % HASHED] = i + 1;
		f->hs_for = 0;
	}
}

static size_t file_request_produce(void *st, uint64_t i, uint64_t off, uint8_t *buf, size_t len)
{
	struct file_state *f = st;
	char hdr[REPLY_LINE_MAX];
	size_t h = request_header(f, i, hdr, sizeof(hdr)), k = 0;

	if (off < h) {
		k = h - (size_t)off < len ? h - (size_t)off : len;
		memcpy(buf, hdr + off, k);
	}
	if (k < len) {
		body(f, body_of(f, i), off + k - h, buf + k, len - k);
		if (is_put(f, i))
			hash_piece(f, i, off + k - h, buf + k, len - k);
	}
	return len;
}

/* Computes the reply header expected for request i. */
static void expect_line(struct file_state *f, uint64_t i)
{
	struct rl_sha256 sha;
	uint8_t chunk[CHUNK];
	char hex[65];
	uint64_t o;
	size_t k;

	if (!is_put(f, i)) {
		f->line_len = (size_t)snprintf(f->line, sizeof(f->line), "OK %llu\n",
					       (unsigned long long)f->size);
	} else if (f->hex_for[i % HASHED] == i + 1) {
		f->line_len = (size_t)snprintf(f->line, sizeof(f->line), "OK %llu %s\n",
					       (unsigned long long)f->size, f->hex[i % HASHED]);
	} else {
		rl_sha256_init(&sha);
		for (o = 0; o < f->size; o += k) {
			k = f->size - o < CHUNK ? (size_t)(f->size - o) : CHUNK;
			body(f, body_of(f, i), o, chunk, k);
			rl_sha256_update(&sha, chunk, k);
		}
		rl_sha256_final_hex(&sha, hex);
		f->line_len = (size_t)snprintf(f->line, sizeof(f->line), "OK %llu %s\n",
					       (unsigned long long)f->size, hex);
	}
	f->line_for = i + 1;
}

static long file_reply_verify(void *st, uint64_t i, uint64_t off, const uint8_t *p, size_t n,
			      bool *done, struct lg_mismatch *mm)
{
	struct file_state *f = st;
	uint64_t total, at = off;
	uint8_t chunk[CHUNK];
	size_t k, used = 0, b;

	if (f->line_for != i + 1)
		expect_line(f, i);
	total = f->line_len + (is_put(f, i) ? 0 : f->size);
	while (used < n && at < total) {
		if (at < f->line_len) {
			k = f->line_len - (size_t)at < n - used ? f->line_len - (size_t)at
								: n - used;
			memcpy(chunk, f->line + at, k);
		} else {
			/* The body is checked in place, word by word, nothing copied. */
			k = total - at < n - used ? (size_t)(total - at) : n - used;
			if (lg_payload_check(f->key, body_of(f, i), at - f->line_len, p + used, k,
					     mm)) {
				mm->offset += f->line_len;
				return -EBADMSG;
			}
			used += k;
			at += k;
			continue;
		}
		if (memcmp(chunk, p + used, k) != 0) {
			for (b = 0; chunk[b] == p[used + b]; b++)
				;
			mm->offset = at + b;
			mm->expected = chunk[b];
			mm->got = p[used + b];
			return -EBADMSG;
		}
		used += k;
		at += k;
	}
	*done = at == total;
	return (long)used;
}

const struct lg_proto lg_proto_file = {
    .name = "file",
    .summary = "PUT/GET --size files (--mode put|get|mixed), every checksum and byte verified",
    .conn_state_size = sizeof(struct file_state),
    .check = file_check,
    .conn_init = file_conn_init,
    .conn_fini = file_conn_fini,
    .request_len = file_request_len,
    .request_produce = file_request_produce,
    .reply_verify = file_reply_verify,
};
