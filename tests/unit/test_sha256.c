/*
 * test_sha256.c - SHA-256 against the FIPS 180-4 example vectors, fed in every split, on
 * both the portable code and the CPU's SHA instructions, which must also agree with each
 * other on thousands of random messages cut into random update() calls.
 */
#include <stdbool.h>
#include <string.h>

#include "sha256.h"
#include "tap.h"

static void hash(const void *p, size_t n, size_t step, char hex[65])
{
	struct rl_sha256 s;
	size_t off;

	rl_sha256_init(&s);
	for (off = 0; off < n; off += step)
		rl_sha256_update(&s, (const char *)p + off, n - off < step ? n - off : step);
	rl_sha256_final_hex(&s, hex);
}

/* Whether msg hashes to want when fed 1, 2, .. max_step bytes at a time. */
static int every_split_matches(const char *msg, size_t max_step, const char *want)
{
	char hex[65];
	size_t step;
	int all = 1;

	for (step = 1; step <= max_step; step++) {
		hash(msg, strlen(msg), step, hex);
		all &= !strcmp(hex, want);
	}
	return all;
}

static void check_vectors(const char *impl)
{
	static const char two_block[] = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
	static const char four_block[] =
	    "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmno"
	    "ijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu";
	static const char two_block_digest[] =
	    "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1";
	static const char four_block_digest[] =
	    "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1";
	static char million[1000000];
	char hex[65];

	hash("", 0, 1, hex);
	tap_ok(!strcmp(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
	       "%s: the empty message", impl);
	hash("abc", 3, 3, hex);
	tap_ok(!strcmp(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
	       "%s: 'abc' (one block)", impl);
	tap_ok(every_split_matches(two_block, 64, two_block_digest),
	       "%s: the 448-bit message, fed 1..64 bytes at a time", impl);
	tap_ok(every_split_matches(four_block, 128, four_block_digest),
	       "%s: the 896-bit message, fed 1..128 bytes at a time", impl);
	memset(million, 'a', sizeof(million));
	hash(million, sizeof(million), 4099, hex);
	tap_ok(!strcmp(hex, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"),
	       "%s: one million 'a's", impl);
	hash(million, sizeof(million), sizeof(million), hex);
	tap_ok(!strcmp(hex, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"),
	       "%s: one million 'a's in one update", impl);
}

static uint64_t rng_state = 0x9e3779b97f4a7c15;

/* xorshift64*: a fixed seed, so a failure names a case that reproduces. */
static uint64_t rng(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545f4914f6cdd1d;
}

/* Hashes p[0..n) in update() calls of random sizes, small ones (inside a block) often. */
static void hash_in_random_pieces(const uint8_t *p, size_t n, uint8_t out[32])
{
	struct rl_sha256 s;
	size_t off = 0;

	rl_sha256_init(&s);
	while (off < n) {
		size_t left = n - off;
		size_t take = rng() % 4 ? rng() % 130 : rng() % (left + 1);

		if (take > left)
			take = left;
		rl_sha256_update(&s, p + off, take);
		off += take;
	}
	rl_sha256_final(&s, out);
}

/*
 * Every case hashes the same random bytes three ways: portable C in one update() (the
 * reference), portable C in random pieces, and the accelerated code in other random
 * pieces.  Messages start at a random offset so the vector loads see every misalignment.
 */
static void check_random_messages(bool accelerated)
{
	enum { CASES = 3000, MAX_LEN = 10000 };
	static uint8_t data[MAX_LEN + 64];
	uint8_t want[32], got[32];
	int split_bad = -1, accel_bad = -1;
	size_t i;

	for (i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)rng();
	for (i = 0; i < CASES; i++) {
		size_t len = rng() % (MAX_LEN + 1);
		const uint8_t *p = data + rng() % 64;
		struct rl_sha256 s;

		rl_sha256_force_portable(true);
		rl_sha256_init(&s);
		rl_sha256_update(&s, p, len);
		rl_sha256_final(&s, want);
		hash_in_random_pieces(p, len, got);
		if (memcmp(want, got, 32) && split_bad < 0)
			split_bad = (int)i;
		if (!accelerated)
			continue;
		rl_sha256_force_portable(false);
		hash_in_random_pieces(p, len, got);
		if (memcmp(want, got, 32) && accel_bad < 0)
			accel_bad = (int)i;
	}
	rl_sha256_force_portable(false);
	if (!tap_ok(split_bad < 0, "portable: %d random messages in random pieces match one update",
		    CASES))
		tap_diag("first mismatch: case %d", split_bad);
	if (!accelerated)
		return;
	if (!tap_ok(accel_bad < 0, "sha-ni: %d random messages in random pieces match portable",
		    CASES))
		tap_diag("first mismatch: case %d", accel_bad);
}

int main(void)
{
	bool accelerated;

	rl_sha256_force_portable(true);
	tap_ok(!rl_sha256_accelerated(), "forcing the portable path turns acceleration off");
	check_vectors("portable");
	rl_sha256_force_portable(false);
	accelerated = rl_sha256_accelerated();
	if (accelerated)
		check_vectors("sha-ni");
	else
		tap_diag("no SHA-NI on this CPU: testing the portable path only");
	check_random_messages(accelerated);
	return tap_done();
}
