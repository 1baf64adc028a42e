/*
 * shard.h - one ringlab-load process as shard I of N of a larger load (docs/multihost.md).
 *
 * The N shards of a run get the same command line; each takes a deterministic share of
 * --connections (contiguous global connection indexes, so payload keys and schedule phases
 * are the ones a single process would have used), of --rate (in proportion to its
 * connections, so every connection keeps the same per-connection rate) and of --source
 * (a contiguous sub-range per shard).  Added up, the N shards are exactly the load that one
 * process with the whole --connections/--rate would have offered.
 */
#ifndef RL_LG_SHARD_H
#define RL_LG_SHARD_H

#include <stddef.h>

#include "load.h"

/*
 * Splits `total` items over `count` shards: shard `index` gets *n items starting at
 * *first; the first total % count shards get one more.  Shards are disjoint and cover
 * 0..total-1 in order.
 */
void lg_shard_split(unsigned total, unsigned index, unsigned count, unsigned *first, unsigned *n);

/* Parses "I/N" (0 <= I < N <= 4096).  Returns 0 or -EINVAL. */
int lg_shard_parse(const char *arg, unsigned *index, unsigned *count);

/*
 * Without --shard: takes the shard from a launcher's environment, JOB_COMPLETION_INDEX
 * (Kubernetes Indexed Job; the count is `shards`, from --shards, which it requires) or
 * SLURM_PROCID/SLURM_NTASKS.  Sets cfg->shard_index/count/from.  Returns 0 (found or none)
 * or -EINVAL with `why` filled (a malformed variable, a missing count).
 */
int lg_shard_from_env(struct lg_config *cfg, unsigned shards, char *why, size_t len);

/*
 * Turns cfg's whole-run --connections, --rate and --source into this shard's share and
 * records the totals and the connection offset.  Returns 0, or -EINVAL with `why` filled
 * (fewer connections than shards, fewer --source addresses than shards, chat).
 */
int lg_shard_apply(struct lg_config *cfg, char *why, size_t len);

#endif
