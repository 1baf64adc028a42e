/*
 * test_guard.c - the per-source connection table (core/guard.c): counts per source hold
 * the cap exactly, sources never disturb each other, and the table stays right through
 * growth and many deletions (linear probing with backward-shift deletion), checked
 * against a plain array of counts.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/socket.h>

#include "guard.h"
#include "tap.h"

#define SOURCES 3000
#define CAP	3

static struct rl_guard_key key(unsigned i)
{
	/* Close addresses and a few /64s: many share hash neighbourhoods. */
	struct rl_guard_key k = {i % 7 ? AF_INET : AF_INET6, 0x7f000000u + i};

	return k;
}

int main(void)
{
	static unsigned open[SOURCES];
	struct rl_guard g;
	struct rl_guard_key k;
	unsigned i, step, bad = 0, refused = 0, expected_refused = 0;
	uint64_t seed = 42;

	tap_ok(rl_guard_init(&g, NULL) == 0, "init");
	k = key(1);
	for (i = 0; i < CAP; i++)
		rl_guard_admit_key(&g, &k, CAP);
	tap_ok(rl_guard_admit_key(&g, &k, CAP) == -EDQUOT, "the %dth from one source is refused",
	       CAP + 1);
	k = key(2);
	tap_ok(rl_guard_admit_key(&g, &k, CAP) == 0, "another source is not");
	rl_guard_release_key(&g, &k);
	k = key(1);
	rl_guard_release_key(&g, &k);
	tap_ok(rl_guard_admit_key(&g, &k, CAP) == 0, "a release gives the slot back");
	for (i = 0; i < CAP; i++)
		rl_guard_release_key(&g, &k);
	tap_ok(g.used == 0, "a source with nothing open leaves the table (used %u)", g.used);

	/* Random admits and releases over many sources, against an array of counts. */
	for (step = 0; step < 200000; step++) {
		seed = seed * 6364136223846793005ull + 1442695040888963407ull;
		i = (unsigned)(seed >> 33) % SOURCES;
		k = key(i);
		if ((seed >> 20) & 1 && open[i]) {
			rl_guard_release_key(&g, &k);
			open[i]--;
			continue;
		}
		if (open[i] == CAP)
			expected_refused++;
		if (rl_guard_admit_key(&g, &k, CAP) == 0) {
			if (open[i] == CAP)
				bad++;
			open[i]++;
		} else {
			refused++;
			if (open[i] < CAP)
				bad++;
		}
	}
	tap_ok(!bad,
	       "200,000 random admits and releases: every answer matches the counts (%u "
	       "wrong)",
	       bad);
	tap_ok(refused == expected_refused && refused > 0, "refused %u times, as expected (%u)",
	       refused, expected_refused);
	for (i = 0, step = 0; i < SOURCES; i++)
		step += open[i] != 0;
	tap_ok(g.used == step,
	       "the table holds exactly the sources with a connection open (%u, "
	       "expected %u)",
	       g.used, step);
	for (i = 0; i < SOURCES; i++) {
		k = key(i);
		while (open[i]) {
			rl_guard_release_key(&g, &k);
			open[i]--;
		}
	}
	tap_ok(g.used == 0, "empty after releasing everything (used %u, %u slots)", g.used, g.cap);
	rl_guard_destroy(&g);
	return tap_done();
}
