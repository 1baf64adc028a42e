/*
 * addr.c - parsing, formatting and listening on the address forms shared by the servers
 * and the load generator (HOST:PORT, [V6]:PORT, unix:/path), plus source-address ranges.
 * See addr.h for the contract.  Everything returns >= 0 or -errno and never prints.
 */
#include "addr.h"

#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define UNIX_PREFIX	"unix:"
#define UNIX_PREFIX_LEN (sizeof(UNIX_PREFIX) - 1)

/* Longest host part accepted in HOST:PORT (a DNS name is at most 253 characters). */
#define HOST_MAX 256

/* Returns errno as a negative value, never 0 (guards against a call that forgot to set it). */
static int neg_errno(void)
{
	return errno ? -errno : -EIO;
}

/* Parses a decimal port 0..65535 (1 to 5 digits, nothing else).  Returns 0 or -EINVAL. */
static int parse_port(const char *s, unsigned *port)
{
	unsigned v = 0;
	size_t n = 0;

	for (; s[n]; n++) {
		if (s[n] < '0' || s[n] > '9' || n >= 5)
			return -EINVAL;
		v = v * 10 + (unsigned)(s[n] - '0');
	}
	if (n == 0 || v > 65535)
		return -EINVAL;
	*port = v;
	return 0;
}

static int map_gai_error(int rc, int saved_errno)
{
	switch (rc) {
	case EAI_NONAME:
#ifdef EAI_NODATA
	case EAI_NODATA:
#endif
#ifdef EAI_ADDRFAMILY
	case EAI_ADDRFAMILY:
#endif
	case EAI_FAIL:
	case EAI_AGAIN:
		return -ENOENT;
	case EAI_MEMORY:
		return -ENOMEM;
	case EAI_SYSTEM:
		return saved_errno ? -saved_errno : -EIO;
	default:
		return -EINVAL;
	}
}

/*
 * Resolves host (NULL for the wildcard/loopback) and a checked numeric port into out.
 * `family` narrows the lookup; `numeric` forbids name lookups.
 */
static int resolve(const char *host, unsigned port, int family, bool numeric, bool passive,
		   struct rl_addr *out)
{
	struct addrinfo hints, *res = NULL;
	char portstr[8];
	int saved = errno;
	int rc;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = family;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags =
	    AI_NUMERICSERV | (passive ? AI_PASSIVE : 0) | (numeric ? AI_NUMERICHOST : 0);
	snprintf(portstr, sizeof(portstr), "%u", port);

	errno = 0;
	rc = getaddrinfo(host, portstr, &hints, &res);
	if (rc != 0) {
		rc = map_gai_error(rc, errno);
		errno = saved;
		return numeric && rc == -ENOENT ? -EINVAL : rc;
	}
	errno = saved;
	if (!res || res->ai_addrlen > sizeof(out->ss)) {
		freeaddrinfo(res);
		return -ENOENT;
	}
	memset(out, 0, sizeof(*out));
	memcpy(&out->ss, res->ai_addr, res->ai_addrlen);
	out->len = res->ai_addrlen;
	freeaddrinfo(res);
	return 0;
}

static int parse_unix(const char *path, struct rl_addr *out)
{
	struct sockaddr_un *un = (struct sockaddr_un *)&out->ss;
	size_t n = strlen(path);

	if (n == 0 || n >= sizeof(un->sun_path))
		return -EINVAL;
	memset(out, 0, sizeof(*out));
	un->sun_family = AF_UNIX;
	memcpy(un->sun_path, path, n + 1);
	out->len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + 1);
	return 0;
}

/* "[V6ADDR]:PORT" with spec pointing at the '['. */
static int parse_bracketed(const char *spec, bool passive, struct rl_addr *out)
{
	char host[INET6_ADDRSTRLEN + IF_NAMESIZE + 2];
	const char *rb = strchr(spec, ']');
	size_t hlen;
	unsigned port;

	if (!rb || rb[1] != ':')
		return -EINVAL;
	hlen = (size_t)(rb - spec - 1);
	if (hlen == 0 || hlen >= sizeof(host))
		return -EINVAL;
	memcpy(host, spec + 1, hlen);
	host[hlen] = '\0';
	if (parse_port(rb + 2, &port) < 0)
		return -EINVAL;
	return resolve(host, port, AF_INET6, true, passive, out);
}

/* "HOST:PORT" split at the last colon; an empty HOST means all IPv4 addresses. */
static int parse_hostport(const char *spec, bool passive, struct rl_addr *out)
{
	char host[HOST_MAX];
	const char *colon = strrchr(spec, ':');
	size_t hlen;
	unsigned port;

	if (!colon)
		return -EINVAL;
	hlen = (size_t)(colon - spec);
	if (hlen >= sizeof(host) || memchr(spec, ':', hlen))
		return -EINVAL;
	if (parse_port(colon + 1, &port) < 0)
		return -EINVAL;
	if (hlen == 0)
		return resolve(NULL, port, AF_INET, false, passive, out);
	memcpy(host, spec, hlen);
	host[hlen] = '\0';
	return resolve(host, port, AF_UNSPEC, false, passive, out);
}

int rl_addr_parse(const char *spec, bool passive, struct rl_addr *out)
{
	if (!spec || !out)
		return -EINVAL;
	if (strncmp(spec, UNIX_PREFIX, UNIX_PREFIX_LEN) == 0)
		return parse_unix(spec + UNIX_PREFIX_LEN, out);
	if (spec[0] == '[')
		return parse_bracketed(spec, passive, out);
	return parse_hostport(spec, passive, out);
}

/* Finishes an snprintf into buf: the length or -ENOSPC when it did not fit. */
static int fmt_result(int n, unsigned long len)
{
	if (n < 0)
		return -EINVAL;
	if ((unsigned long)n >= len)
		return -ENOSPC;
	return n;
}

int rl_addr_format(const struct rl_addr *a, char *buf, unsigned long len)
{
	char ip[INET6_ADDRSTRLEN];
	int n;

	if (!a || !buf || len == 0)
		return -ENOSPC;
	switch (a->ss.ss_family) {
	case AF_INET: {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)&a->ss;

		if (!inet_ntop(AF_INET, &sin->sin_addr, ip, sizeof(ip)))
			return -EAFNOSUPPORT;
		n = snprintf(buf, len, "%s:%u", ip, (unsigned)ntohs(sin->sin_port));
		return fmt_result(n, len);
	}
	case AF_INET6: {
		const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)&a->ss;
		char scope[IF_NAMESIZE + 2] = "";

		if (!inet_ntop(AF_INET6, &sin6->sin6_addr, ip, sizeof(ip)))
			return -EAFNOSUPPORT;
		if (sin6->sin6_scope_id) {
			char ifname[IF_NAMESIZE];
			/* getaddrinfo takes an interface name only where the scope is a link. */
			bool link = IN6_IS_ADDR_LINKLOCAL(&sin6->sin6_addr) ||
				    IN6_IS_ADDR_MC_LINKLOCAL(&sin6->sin6_addr) ||
				    IN6_IS_ADDR_MC_NODELOCAL(&sin6->sin6_addr);

			if (link && if_indextoname(sin6->sin6_scope_id, ifname))
				snprintf(scope, sizeof(scope), "%%%s", ifname);
			else
				snprintf(scope, sizeof(scope), "%%%u",
					 (unsigned)sin6->sin6_scope_id);
		}
		n = snprintf(buf, len, "[%s%s]:%u", ip, scope, (unsigned)ntohs(sin6->sin6_port));
		return fmt_result(n, len);
	}
	case AF_UNIX: {
		const struct sockaddr_un *un = (const struct sockaddr_un *)&a->ss;
		size_t off = offsetof(struct sockaddr_un, sun_path);
		size_t max = a->len > off ? a->len - off : 0;

		if (max > sizeof(un->sun_path))
			max = sizeof(un->sun_path);
		n = snprintf(buf, len, "unix:%.*s", (int)strnlen(un->sun_path, max), un->sun_path);
		return fmt_result(n, len);
	}
	default:
		return -EAFNOSUPPORT;
	}
}

int rl_addr_family(const struct rl_addr *a)
{
	return a->ss.ss_family;
}

int rl_addr_port(const struct rl_addr *a)
{
	switch (a->ss.ss_family) {
	case AF_INET:
		return ntohs(((const struct sockaddr_in *)&a->ss)->sin_port);
	case AF_INET6:
		return ntohs(((const struct sockaddr_in6 *)&a->ss)->sin6_port);
	default:
		return -EAFNOSUPPORT;
	}
}

/*
 * Prepares a unix socket path for bind: a stale socket (connect refused) is unlinked, a
 * live one is -EADDRINUSE, anything else at the path is -EEXIST.  Returns 0 or -errno.
 */
static int clear_stale_unix(const struct rl_addr *a)
{
	const struct sockaddr_un *un = (const struct sockaddr_un *)&a->ss;
	struct stat st;
	int fd, rc;

	if (un->sun_path[0] == '\0')
		return 0; /* abstract namespace: nothing on disk */
	if (lstat(un->sun_path, &st) < 0)
		return errno == ENOENT ? 0 : neg_errno();
	if (!S_ISSOCK(st.st_mode))
		return -EEXIST;

	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return neg_errno();
	rc = connect(fd, (const struct sockaddr *)&a->ss, a->len);
	if (rc == 0) {
		close(fd);
		return -EADDRINUSE;
	}
	rc = errno;
	close(fd);
	if (rc == ECONNREFUSED) {
		if (unlink(un->sun_path) < 0 && errno != ENOENT)
			return neg_errno();
		return 0;
	}
	if (rc == ENOENT)
		return 0; /* vanished between lstat and connect */
	if (rc == EAGAIN || rc == EPROTOTYPE)
		return -EADDRINUSE; /* a live listener (full backlog, or not a stream socket) */
	return -rc;
}

static int set_int_opt(int fd, int level, int name, int value)
{
	if (setsockopt(fd, level, name, &value, sizeof(value)) < 0)
		return neg_errno();
	return 0;
}

/* Creates a socket of `type` bound to `a` with the options both kinds share.  Returns
 * the fd or -errno; errno is left as it was. */
static int bound_socket(const struct rl_addr *a, int type, bool reuseport)
{
	int family, fd, rc, saved = errno;

	if (!a)
		return -EINVAL;
	family = a->ss.ss_family;
	if (family != AF_INET && family != AF_INET6 && family != AF_UNIX)
		return -EAFNOSUPPORT;
	if (family == AF_UNIX && type == SOCK_STREAM) {
		rc = clear_stale_unix(a);
		if (rc < 0)
			goto out_errno;
	}

	fd = socket(family, type | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		rc = neg_errno();
		goto out_errno;
	}
	rc = set_int_opt(fd, SOL_SOCKET, SO_REUSEADDR, 1);
	if (rc == 0 && reuseport && family != AF_UNIX)
		rc = set_int_opt(fd, SOL_SOCKET, SO_REUSEPORT, 1);
	if (rc == 0 && family == AF_INET6)
		rc = set_int_opt(fd, IPPROTO_IPV6, IPV6_V6ONLY, 0);
	if (rc == 0 && bind(fd, (const struct sockaddr *)&a->ss, a->len) < 0)
		rc = neg_errno();
	if (rc < 0) {
		close(fd);
		goto out_errno;
	}
	errno = saved;
	return fd;

out_errno:
	errno = saved;
	return rc;
}

int rl_listen(const struct rl_addr *a, int backlog, bool reuseport)
{
	int fd = bound_socket(a, SOCK_STREAM, reuseport), saved = errno, rc;

	if (fd < 0)
		return fd;
	if (listen(fd, backlog) < 0) {
		rc = neg_errno();
		close(fd);
		errno = saved;
		return rc;
	}
	return fd;
}

int rl_bind_udp(const struct rl_addr *a, bool reuseport)
{
	int fd;

	if (a && a->ss.ss_family == AF_UNIX)
		return -EAFNOSUPPORT;
	fd = bound_socket(a, SOCK_DGRAM, reuseport);
	if (fd < 0)
		return fd;
	/* Room for bursts: the default ~200 KiB drops datagrams under load on any engine. */
	set_int_opt(fd, SOL_SOCKET, SO_RCVBUF, 4 << 20);
	set_int_opt(fd, SOL_SOCKET, SO_SNDBUF, 4 << 20);
	return fd;
}

int rl_addr_of_socket(int fd, struct rl_addr *out)
{
	socklen_t len = sizeof(out->ss);

	memset(out, 0, sizeof(*out));
	if (getsockname(fd, (struct sockaddr *)&out->ss, &len) < 0)
		return neg_errno();
	out->len = len;
	return 0;
}

/* Parses one numeric address of either family into a port-0 rl_addr. */
static int parse_numeric(const char *s, size_t n, struct rl_addr *out)
{
	char buf[INET6_ADDRSTRLEN];
	struct sockaddr_in *sin = (struct sockaddr_in *)&out->ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&out->ss;

	if (n == 0 || n >= sizeof(buf))
		return -EINVAL;
	memcpy(buf, s, n);
	buf[n] = '\0';
	memset(out, 0, sizeof(*out));
	if (inet_pton(AF_INET, buf, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		out->len = sizeof(*sin);
		return 0;
	}
	if (inet_pton(AF_INET6, buf, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		out->len = sizeof(*sin6);
		return 0;
	}
	return -EINVAL;
}

/* The 32 bits of an address that a range may vary: all of IPv4, the low word of IPv6. */
static uint32_t low32(const struct rl_addr *a)
{
	uint32_t v;

	if (a->ss.ss_family == AF_INET)
		return ntohl(((const struct sockaddr_in *)&a->ss)->sin_addr.s_addr);
	memcpy(&v, &((const struct sockaddr_in6 *)&a->ss)->sin6_addr.s6_addr[12], 4);
	return ntohl(v);
}

static void set_low32(struct rl_addr *a, uint32_t host_order)
{
	uint32_t v = htonl(host_order);

	if (a->ss.ss_family == AF_INET)
		((struct sockaddr_in *)&a->ss)->sin_addr.s_addr = v;
	else
		memcpy(&((struct sockaddr_in6 *)&a->ss)->sin6_addr.s6_addr[12], &v, 4);
}

int rl_addr_range_parse(const char *spec, struct rl_addr_range *out)
{
	struct rl_addr first, last;
	const char *dash;
	uint32_t lo, hi;

	if (!spec || !out)
		return -EINVAL;
	dash = strchr(spec, '-');
	if (!dash) {
		if (parse_numeric(spec, strlen(spec), &first) < 0)
			return -EINVAL;
		out->first = first;
		out->count = 1;
		return 0;
	}
	if (parse_numeric(spec, (size_t)(dash - spec), &first) < 0 ||
	    parse_numeric(dash + 1, strlen(dash + 1), &last) < 0)
		return -EINVAL;
	if (first.ss.ss_family != last.ss.ss_family)
		return -EINVAL;
	if (first.ss.ss_family == AF_INET6 &&
	    memcmp(((const struct sockaddr_in6 *)&first.ss)->sin6_addr.s6_addr,
		   ((const struct sockaddr_in6 *)&last.ss)->sin6_addr.s6_addr, 12) != 0)
		return -EINVAL;
	lo = low32(&first);
	hi = low32(&last);
	if (hi < lo || (lo == 0 && hi == UINT32_MAX))
		return -EINVAL; /* backwards, or 2^32 addresses which count cannot hold */
	out->first = first;
	out->count = hi - lo + 1;
	return 0;
}

void rl_addr_range_get(const struct rl_addr_range *r, uint32_t i, struct rl_addr *out)
{
	uint32_t count = r->count ? r->count : 1;

	*out = r->first;
	set_low32(out, low32(&r->first) + i % count);
	if (out->ss.ss_family == AF_INET)
		((struct sockaddr_in *)&out->ss)->sin_port = 0;
	else if (out->ss.ss_family == AF_INET6)
		((struct sockaddr_in6 *)&out->ss)->sin6_port = 0;
}
