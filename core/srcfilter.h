/*
 * srcfilter.h - a classic BPF socket filter on the TCP listeners that drops the SYNs of
 * blocked IPv4 sources in the kernel, before accept: the cheap half of
 * --max-conns-per-source (guard.c decides who is blocked; this file builds and attaches
 * the program).
 */
#ifndef RL_SRCFILTER_H
#define RL_SRCFILTER_H

#include <stdint.h>

/* The most addresses one program blocks: 2 instructions each, far below the 4,096 a
 * classic program may hold and small enough that each accepted connection (which inherits
 * the listener's filter until rl_srcfilter_detach()) can be charged for it under the
 * default net.core.optmem_max.  Past it, sources fall back to accept-and-reset. */
#define RL_SRCFILTER_MAX 256u

/*
 * Attaches to each of the `n` listeners in `fds` a program dropping every IPv4 packet
 * whose source is one of the `naddr` addresses in `addrs` (network byte order); IPv6
 * packets pass.  naddr 0 detaches instead.  SO_ATTACH_FILTER replaces a listener's
 * program atomically.  Returns 0 or the first -errno.
 */
int rl_srcfilter_apply(const int *fds, unsigned n, const uint32_t *addrs, unsigned naddr);

/* Removes the program an accepted connection inherited from its listener, so that its
 * packets are not filtered.  Returns 0 or -errno. */
int rl_srcfilter_detach(int fd);

#endif
