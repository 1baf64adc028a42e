/*
 * shard.c - splitting one run's load over N ringlab-load processes (see shard.h).
 */
#include "shard.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_SHARDS 4096u

void lg_shard_split(unsigned total, unsigned index, unsigned count, unsigned *first, unsigned *n)
{
	unsigned base = total / count, extra = total % count;

	*n = base + (index < extra ? 1 : 0);
	*first = index * base + (index < extra ? index : extra);
}

/* Parses a whole decimal number in [min, max]; returns 0 or -EINVAL. */
static int parse_uint(const char *s, const char *end, unsigned min, unsigned max, unsigned *out)
{
	unsigned long v = 0;
	const char *p;

	if (s == end)
		return -EINVAL;
	for (p = s; p < end; p++) {
		if (*p < '0' || *p > '9')
			return -EINVAL;
		v = v * 10 + (unsigned long)(*p - '0');
		if (v > max)
			return -EINVAL;
	}
	if (v < min)
		return -EINVAL;
	*out = (unsigned)v;
	return 0;
}

int lg_shard_parse(const char *arg, unsigned *index, unsigned *count)
{
	const char *slash = strchr(arg, '/');
	unsigned i, n;

	if (!slash || parse_uint(arg, slash, 0, MAX_SHARDS, &i) ||
	    parse_uint(slash + 1, slash + strlen(slash), 1, MAX_SHARDS, &n) || i >= n)
		return -EINVAL;
	*index = i;
	*count = n;
	return 0;
}

static int env_uint(const char *name, unsigned min, unsigned max, unsigned *out, char *why,
		    size_t len)
{
	const char *v = getenv(name);

	if (!v)
		return 1;
	if (parse_uint(v, v + strlen(v), min, max, out)) {
		snprintf(why, len, "invalid %s='%s' in the environment", name, v);
		return -EINVAL;
	}
	return 0;
}

int lg_shard_from_env(struct lg_config *cfg, unsigned shards, char *why, size_t len)
{
	unsigned i, n;
	int rc;

	rc = env_uint("JOB_COMPLETION_INDEX", 0, MAX_SHARDS - 1, &i, why, len);
	if (rc < 0)
		return rc;
	if (rc == 0) {
		if (!shards) {
			snprintf(why, len,
				 "JOB_COMPLETION_INDEX is set: give the shard count "
				 "with --shards N (the Job's completions)");
			return -EINVAL;
		}
		if (i >= shards) {
			snprintf(why, len, "JOB_COMPLETION_INDEX=%u is not below --shards %u", i,
				 shards);
			return -EINVAL;
		}
		cfg->shard_index = i;
		cfg->shard_count = shards;
		cfg->shard_from = "JOB_COMPLETION_INDEX";
		return 0;
	}
	rc = env_uint("SLURM_PROCID", 0, MAX_SHARDS - 1, &i, why, len);
	if (rc < 0)
		return rc;
	if (rc == 0) {
		rc = env_uint("SLURM_NTASKS", 1, MAX_SHARDS, &n, why, len);
		if (rc < 0)
			return rc;
		if (rc == 1 || i >= n) {
			snprintf(why, len, "SLURM_PROCID is set without a SLURM_NTASKS above it");
			return -EINVAL;
		}
		cfg->shard_index = i;
		cfg->shard_count = n;
		cfg->shard_from = "SLURM_PROCID/SLURM_NTASKS";
		return 0;
	}
	if (shards) {
		snprintf(why, len,
			 "--shards needs JOB_COMPLETION_INDEX in the environment "
			 "(or give --shard I/N)");
		return -EINVAL;
	}
	return 0;
}

int lg_shard_apply(struct lg_config *cfg, char *why, size_t len)
{
	unsigned first, n, sfirst, sn;

	cfg->total_connections = cfg->connections;
	cfg->total_rate = cfg->rate;
	if (cfg->shard_count <= 1)
		return 0;
	if (cfg->proto->broadcast) {
		snprintf(why, len,
			 "chat cannot be sharded: every member of the room must be in "
			 "one process");
		return -EINVAL;
	}
	if (cfg->connections < cfg->shard_count) {
		snprintf(why, len, "--connections %u is fewer than the %u shards", cfg->connections,
			 cfg->shard_count);
		return -EINVAL;
	}
	lg_shard_split(cfg->connections, cfg->shard_index, cfg->shard_count, &first, &n);
	cfg->conn_offset = first;
	cfg->connections = n;
	/* The same rate per connection as the whole run: the shares add up to --rate. */
	cfg->rate = cfg->total_rate * n / cfg->total_connections;
	if (cfg->have_source) {
		struct rl_addr_range sub;

		if (cfg->source.count < cfg->shard_count) {
			snprintf(why, len, "--source has %u addresses, fewer than the %u shards",
				 cfg->source.count, cfg->shard_count);
			return -EINVAL;
		}
		lg_shard_split(cfg->source.count, cfg->shard_index, cfg->shard_count, &sfirst, &sn);
		rl_addr_range_get(&cfg->source, sfirst, &sub.first);
		sub.count = sn;
		cfg->source = sub;
		cfg->source_offset = sfirst;
	}
	return 0;
}
