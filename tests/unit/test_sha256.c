/*
 * test_sha256.c - SHA-256 against the FIPS 180-4 example vectors, fed in every split.
 */
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

int main(void)
{
	static const char two_block[] = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
	static char million[1000000];
	char hex[65];
	size_t step;
	int all = 1;

	hash("", 0, 1, hex);
	tap_ok(!strcmp(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
	       "the empty message");
	hash("abc", 3, 3, hex);
	tap_ok(!strcmp(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
	       "'abc' (one block)");
	for (step = 1; step <= 64; step++) {
		hash(two_block, strlen(two_block), step, hex);
		all &= !strcmp(hex,
			       "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
	}
	tap_ok(all, "the 448-bit message, fed 1..64 bytes at a time");
	memset(million, 'a', sizeof(million));
	hash(million, sizeof(million), 4099, hex);
	tap_ok(!strcmp(hex, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"),
	       "one million 'a's");
	return tap_done();
}
