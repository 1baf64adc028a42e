/*
 * addr.h - the address forms shared by ringlab-server and ringlab-load.
 *
 *   HOST:PORT        127.0.0.1:7000, localhost:0, example.org:80 (resolved with getaddrinfo)
 *   [V6ADDR]:PORT    [::1]:7000, [::]:0
 *   unix:/PATH       an AF_UNIX stream socket path
 *
 * Port 0 asks the kernel for a free port.  Everything here returns >= 0 or -errno and
 * never prints.
 */
#ifndef RL_ADDR_H
#define RL_ADDR_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

struct rl_addr {
	struct sockaddr_storage ss; /* sockaddr_in, sockaddr_in6 or sockaddr_un */
	socklen_t len;		    /* the length to pass to bind/connect */
};

/* Longest string rl_addr_format() writes, including the NUL. */
#define RL_ADDR_STRLEN 128

/*
 * Parses `spec` into `out`.  `passive` selects AI_PASSIVE resolution (for listeners: an
 * empty host as in ":7000" means all IPv4 addresses).  The first address getaddrinfo
 * returns is used.  Returns 0, -EINVAL for a malformed spec (missing port, port > 65535,
 * unterminated bracket, empty or too long unix path) or -ENOENT when the name does not
 * resolve.
 */
int rl_addr_parse(const char *spec, bool passive, struct rl_addr *out);

/*
 * Writes the address as "1.2.3.4:80", "[::1]:80" or "unix:/path" into buf (len bytes,
 * RL_ADDR_STRLEN is always enough).  Returns the string length or -ENOSPC / -EAFNOSUPPORT.
 */
int rl_addr_format(const struct rl_addr *a, char *buf, unsigned long len);

/* Returns the address family (AF_INET, AF_INET6, AF_UNIX). */
int rl_addr_family(const struct rl_addr *a);

/* Returns the port of an IPv4/IPv6 address, or -EAFNOSUPPORT for unix addresses. */
int rl_addr_port(const struct rl_addr *a);

/*
 * Creates a listening stream socket (SOCK_CLOEXEC, SO_REUSEADDR; SO_REUSEPORT when
 * `reuseport` and the family is IP; IPV6_V6ONLY off for [::]).  For a unix path, a stale
 * socket file left by a dead server is removed first; a path that exists and is not a
 * socket is refused with -EEXIST.  Returns the fd or -errno.
 */
int rl_listen(const struct rl_addr *a, int backlog, bool reuseport);

/*
 * Creates a UDP socket bound to `a` (SOCK_CLOEXEC, SO_REUSEADDR, SO_REUSEPORT when asked,
 * IPV6_V6ONLY off, 4 MiB socket buffers where allowed).  Returns the fd, or -errno
 * (-EAFNOSUPPORT for a unix address).
 */
int rl_bind_udp(const struct rl_addr *a, bool reuseport);

/* Fills `out` with the address `fd` is bound to (getsockname).  Returns 0 or -errno. */
int rl_addr_of_socket(int fd, struct rl_addr *out);

/*
 * A contiguous range of IPv4 or IPv6 source addresses, "127.0.0.2-127.0.0.50" or a single
 * address "127.0.0.2" (then count = 1).  For IPv6 only the last 32 bits may differ between
 * the ends.  Ports are not part of a range.
 */
struct rl_addr_range {
	struct rl_addr first;
	uint32_t count;
};

/* Parses a range.  Returns 0, or -EINVAL (malformed, mixed families, end before start). */
int rl_addr_range_parse(const char *spec, struct rl_addr_range *out);

/* Writes the i-th address (i modulo count) of the range, port 0, into out. */
void rl_addr_range_get(const struct rl_addr_range *r, uint32_t i, struct rl_addr *out);

#endif
