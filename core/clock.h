/*
 * clock.h - the one clock every part of ringlab uses: CLOCK_MONOTONIC in nanoseconds.
 *
 * Monotonic time never jumps with NTP or settimeofday, so intervals and latencies are
 * honest.  Wall-clock time (for reports and log headers) comes from rl_wall_s().
 */
#ifndef RL_CLOCK_H
#define RL_CLOCK_H

#include <stdint.h>
#include <time.h>

#define RL_NSEC_PER_SEC	 1000000000ULL
#define RL_NSEC_PER_MSEC 1000000ULL
#define RL_NSEC_PER_USEC 1000ULL

/* Returns CLOCK_MONOTONIC now, in nanoseconds. */
static inline uint64_t rl_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * RL_NSEC_PER_SEC + (uint64_t)ts.tv_nsec;
}

/* Returns the wall clock (CLOCK_REALTIME) in seconds since the epoch, with fraction. */
static inline double rl_wall_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Converts nanoseconds to a struct timespec (for timers and io_uring timeouts). */
static inline struct timespec rl_ns_to_timespec(uint64_t ns)
{
	struct timespec ts = {.tv_sec = (time_t)(ns / RL_NSEC_PER_SEC),
			      .tv_nsec = (long)(ns % RL_NSEC_PER_SEC)};
	return ts;
}

#endif
