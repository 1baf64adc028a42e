/*
 * sha256.h - SHA-256 (FIPS 180-4), incremental, allocation-free.
 *
 * The file server hashes uploads as the bytes arrive, and the load generator hashes what
 * it sends and receives, so both sides can compare a checksum without a second pass.
 */
#ifndef RL_SHA256_H
#define RL_SHA256_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct rl_sha256 {
	uint32_t h[8];
	uint64_t len; /* bytes hashed so far */
	uint8_t buf[64];
	size_t buf_len;
};

/* Starts a new hash. */
void rl_sha256_init(struct rl_sha256 *s);

/* Hashes `n` more bytes. */
void rl_sha256_update(struct rl_sha256 *s, const void *p, size_t n);

/* Finishes the hash into out (32 bytes); `s` must be re-initialised before reuse. */
void rl_sha256_final(struct rl_sha256 *s, uint8_t out[32]);

/* Finishes the hash and writes it as 64 lowercase hex digits plus a NUL into hex. */
void rl_sha256_final_hex(struct rl_sha256 *s, char hex[65]);

/* Whether hashing uses the CPU's SHA instructions (x86-64 SHA-NI) rather than portable C. */
bool rl_sha256_accelerated(void);

/*
 * Test aid: while `on`, every thread hashes with the portable C code even on a CPU with SHA
 * instructions, so a test can compare the two.  Both keep the same state, so flipping it
 * mid-hash is harmless.
 */
void rl_sha256_force_portable(bool on);

#endif
