/*
 * merge.h - `ringlab-load merge`: adds the results of N shards of one run (their --json
 * documents or --log interval logs) into one result, exactly (histograms are added, never
 * percentiles), and reports it like a single run.  docs/multihost.md.
 */
#ifndef RL_LG_MERGE_H
#define RL_LG_MERGE_H

/*
 * Runs the merge command; argv[0] is "merge".  Prints a per-shard table and the merged
 * summary on stdout and writes --json/--hgrm/--log.  Returns the exit status: 0 clean, 1
 * when a shard failed, the windows do not overlap or an output failed, 2 on bad usage or
 * an input that cannot be read (one clear line on stderr).
 */
int lg_merge_main(int argc, char **argv);

#endif
