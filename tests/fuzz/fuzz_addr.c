/*
 * fuzz_addr.c - libFuzzer target for the address forms (core/addr.c): rl_addr_parse with
 * passive true and false, rl_addr_format, rl_addr_port, rl_addr_range_parse and
 * rl_addr_range_get.
 *
 * No DNS: rl_addr_parse resolves a HOST:PORT host with getaddrinfo, so the input is only
 * given to it when that cannot leave the machine: "unix:" paths, bracketed IPv6 (parsed
 * with AI_NUMERICHOST), an empty host, "localhost" (/etc/hosts), a host that is a numeric
 * address (checked with getaddrinfo(AI_NUMERICHOST) first, the same test glibc makes before
 * it asks NSS), or a spec that is refused before any lookup (no colon, bad port, a colon in
 * the host, too long).  Anything else is skipped for rl_addr_parse (ranges never resolve).
 *
 * Checked on every parse: the return value is 0, -EINVAL or -ENOENT; passive and active
 * parsing agree except for the empty host (0.0.0.0 vs 127.0.0.1) and "*" (which glibc
 * treats as no host); the port is the one
 * written; rl_addr_format writes what fits (-ENOSPC otherwise, never past len), and its
 * output parses back to the same address and formats to the same string.
 * Ranges: count >= 1, the i-th address is first + i % count in the low 32 bits with the
 * rest and the port 0 unchanged, and "first-last" written back parses to the same range.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "addr.h"

#define CHECK(cond, ...)                                                                   \
	do {                                                                               \
		if (!(cond)) {                                                             \
			fprintf(stderr, "fuzz_addr: check failed at line %d: %s: ", __LINE__,  \
				#cond);                                                    \
			fprintf(stderr, __VA_ARGS__);                                      \
			fputc('\n', stderr);                                               \
			abort();                                                           \
		}                                                                          \
	} while (0)

#define FUZZ_MAX_INPUT 400

/* addr.c's port rule: 1..5 decimal digits, at most 65535.  Returns the port or -1. */
static long port_of(const char *s)
{
	long v = 0;
	size_t n = strlen(s);

	if (n == 0 || n > 5)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v <= 65535 ? v : -1;
}

static bool numeric_host(const char *host)
{
	struct addrinfo hints, *res = NULL;
	int rc;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICHOST;
	rc = getaddrinfo(host, NULL, &hints, &res);
	if (rc == 0)
		freeaddrinfo(res);
	return rc == 0;
}

/*
 * Whether rl_addr_parse(spec) stays off the network.  Sets *port (-1: none), *empty_host
 * (a HOST:PORT form with an empty host) and *star_host (the host is "*", which glibc's
 * getaddrinfo takes as no host at all: the wildcard when passive, loopback otherwise).
 */
static bool safe_to_parse(const char *spec, long *port, bool *empty_host, bool *star_host)
{
	char host[300];
	const char *colon;
	size_t hlen;

	*port = -1;
	*empty_host = false;
	*star_host = false;
	if (strncmp(spec, "unix:", 5) == 0)
		return true;
	if (spec[0] == '[') {
		const char *rb = strchr(spec, ']');

		if (rb && rb[1] == ':')
			*port = port_of(rb + 2);
		*star_host = strncmp(spec, "[*]", 3) == 0;
		return true; /* AF_INET6 + AI_NUMERICHOST: never a lookup */
	}
	colon = strrchr(spec, ':');
	if (!colon)
		return true; /* -EINVAL before any lookup */
	hlen = (size_t)(colon - spec);
	*port = port_of(colon + 1);
	if (hlen >= 256 || memchr(spec, ':', hlen) || *port < 0)
		return true; /* refused before any lookup */
	if (hlen == 0) {
		*empty_host = true;
		return true;
	}
	memcpy(host, spec, hlen);
	host[hlen] = '\0';
	*star_host = strcmp(host, "*") == 0;
	if (strcmp(host, "localhost") == 0)
		return true;
	return numeric_host(host);
}

static bool same_addr(const struct rl_addr *a, const struct rl_addr *b)
{
	if (a->ss.ss_family != b->ss.ss_family)
		return false;
	switch (a->ss.ss_family) {
	case AF_INET: {
		const struct sockaddr_in *x = (const void *)&a->ss, *y = (const void *)&b->ss;

		return x->sin_port == y->sin_port && x->sin_addr.s_addr == y->sin_addr.s_addr;
	}
	case AF_INET6: {
		const struct sockaddr_in6 *x = (const void *)&a->ss, *y = (const void *)&b->ss;

		return x->sin6_port == y->sin6_port && x->sin6_scope_id == y->sin6_scope_id &&
		       memcmp(&x->sin6_addr, &y->sin6_addr, 16) == 0;
	}
	case AF_UNIX:
		return a->len == b->len && memcmp(&a->ss, &b->ss, a->len) == 0;
	default:
		return false;
	}
}

static void check_format(const struct rl_addr *a, const char *spec, bool passive)
{
	char buf[RL_ADDR_STRLEN + 8], small[RL_ADDR_STRLEN];
	struct rl_addr b;
	int n, m, rc;

	memset(buf, 'X', sizeof(buf));
	n = rl_addr_format(a, buf, RL_ADDR_STRLEN);
	CHECK(n > 0 && n < RL_ADDR_STRLEN, "rl_addr_format of \"%s\" = %d", spec, n);
	CHECK(strlen(buf) == (size_t)n, "length %d but strlen %zu", n, strlen(buf));
	CHECK(buf[RL_ADDR_STRLEN] == 'X', "rl_addr_format wrote past len");

	/* Short buffers: -ENOSPC, and nothing written past len. */
	size_t lens[3] = {0, (size_t)n / 2, (size_t)n};
	for (int i = 0; i < 3; i++) {
		memset(small, 'Y', sizeof(small));
		m = rl_addr_format(a, small, lens[i]);
		CHECK(m == -ENOSPC, "rl_addr_format into %zu bytes for %d chars = %d", lens[i], n,
		      m);
		CHECK(lens[i] + 1 >= sizeof(small) || small[lens[i]] == 'Y',
		      "rl_addr_format wrote past %zu bytes", lens[i]);
	}
	m = rl_addr_format(a, small, (size_t)n + 1);
	CHECK(m == n && strcmp(small, buf) == 0, "exact-size buffer gives %d", m);

	/* What rl_addr_format writes, rl_addr_parse reads back to the same address. */
	rc = rl_addr_parse(buf, passive, &b);
	CHECK(rc == 0, "\"%s\" -> \"%s\" does not parse back (%d)", spec, buf, rc);
	CHECK(same_addr(a, &b), "\"%s\" -> \"%s\" parses back to another address", spec, buf);
	m = rl_addr_format(&b, small, sizeof(small));
	CHECK(m == n && strcmp(small, buf) == 0, "\"%s\" formats as \"%s\", then as \"%s\"", spec,
	      buf, small);
}

static void check_parse(const char *spec)
{
	struct rl_addr a, p;
	long port;
	bool empty_host, star_host;
	int ra, rp;

	if (!safe_to_parse(spec, &port, &empty_host, &star_host))
		return;
	memset(&a, 0, sizeof(a));
	memset(&p, 0, sizeof(p));
	ra = rl_addr_parse(spec, false, &a);
	rp = rl_addr_parse(spec, true, &p);
	CHECK(ra == 0 || ra == -EINVAL || ra == -ENOENT, "rl_addr_parse(\"%s\") = %d", spec, ra);
	CHECK(rp == ra, "passive %d, active %d for \"%s\"", rp, ra, spec);
	if (ra != 0)
		return;

	for (int k = 0; k < 2; k++) {
		const struct rl_addr *x = k ? &p : &a;
		int fam = rl_addr_family(x);

		CHECK(fam == AF_INET || fam == AF_INET6 || fam == AF_UNIX, "family %d", fam);
		CHECK(x->len > 0 && x->len <= sizeof(x->ss), "len %u", (unsigned)x->len);
		if (strncmp(spec, "unix:", 5) == 0) {
			const struct sockaddr_un *un = (const void *)&x->ss;

			CHECK(fam == AF_UNIX && strcmp(un->sun_path, spec + 5) == 0 &&
				  x->len == offsetof(struct sockaddr_un, sun_path) +
						strlen(spec + 5) + 1,
			      "unix path of \"%s\"", spec);
			CHECK(rl_addr_port(x) == -EAFNOSUPPORT, "port of a unix address");
		} else {
			CHECK(fam != AF_UNIX, "\"%s\" became a unix address", spec);
			CHECK(spec[0] != '[' || fam == AF_INET6, "\"%s\" is not IPv6", spec);
			CHECK(rl_addr_port(x) == port, "port %d, written %ld in \"%s\"",
			      rl_addr_port(x), port, spec);
		}
		check_format(x, spec, k);
	}
	if (empty_host) {
		const struct sockaddr_in *sa = (const void *)&a.ss, *sp = (const void *)&p.ss;

		CHECK(rl_addr_family(&a) == AF_INET && rl_addr_family(&p) == AF_INET,
		      "empty host is not IPv4");
		CHECK(sp->sin_addr.s_addr == htonl(INADDR_ANY), "passive empty host not 0.0.0.0");
		CHECK(sa->sin_addr.s_addr == htonl(INADDR_LOOPBACK),
		      "active empty host not 127.0.0.1");
	} else if (!star_host) {
		CHECK(same_addr(&a, &p), "passive and active parse of \"%s\" differ", spec);
	}
}

static uint32_t low32(const struct rl_addr *a)
{
	uint32_t v;

	if (a->ss.ss_family == AF_INET)
		return ntohl(((const struct sockaddr_in *)&a->ss)->sin_addr.s_addr);
	memcpy(&v, &((const struct sockaddr_in6 *)&a->ss)->sin6_addr.s6_addr[12], 4);
	return ntohl(v);
}

static int port_raw(const struct rl_addr *a)
{
	if (a->ss.ss_family == AF_INET)
		return ((const struct sockaddr_in *)&a->ss)->sin_port;
	return ((const struct sockaddr_in6 *)&a->ss)->sin6_port;
}

static void ip_text(const struct rl_addr *a, char *buf)
{
	const void *src = a->ss.ss_family == AF_INET
			      ? (const void *)&((const struct sockaddr_in *)&a->ss)->sin_addr
			      : (const void *)&((const struct sockaddr_in6 *)&a->ss)->sin6_addr;

	CHECK(inet_ntop(a->ss.ss_family, src, buf, INET6_ADDRSTRLEN), "inet_ntop failed");
}

static void check_range(const char *spec, const uint8_t *data, size_t size)
{
	struct rl_addr_range r, r2;
	struct rl_addr x, y, last;
	char t1[INET6_ADDRSTRLEN], t2[INET6_ADDRSTRLEN], both[2 * INET6_ADDRSTRLEN + 2];
	int rc = rl_addr_range_parse(spec, &r);

	CHECK(rc == 0 || rc == -EINVAL, "rl_addr_range_parse(\"%s\") = %d", spec, rc);
	if (rc)
		return;
	CHECK(r.count >= 1, "count 0 for \"%s\"", spec);
	CHECK(r.first.ss.ss_family == AF_INET || r.first.ss.ss_family == AF_INET6,
	      "range family %d", r.first.ss.ss_family);
	CHECK(strchr(spec, '-') || r.count == 1, "a single address with count %u", r.count);

	uint32_t idx[6] = {0, 1, r.count - 1, r.count, UINT32_MAX, 0};
	if (size >= 4)
		memcpy(&idx[5], data + size - 4, 4);
	for (int i = 0; i < 6; i++) {
		rl_addr_range_get(&r, idx[i], &x);
		rl_addr_range_get(&r, idx[i] % r.count, &y);
		CHECK(same_addr(&x, &y), "get(%u) != get(%u %% count)", idx[i], idx[i]);
		CHECK(x.ss.ss_family == r.first.ss.ss_family && x.len == r.first.len,
		      "get(%u) changed the family or length", idx[i]);
		CHECK(port_raw(&x) == 0, "get(%u) has a port", idx[i]);
		CHECK(low32(&x) == low32(&r.first) + idx[i] % r.count, "get(%u) is not first + %u",
		      idx[i], idx[i] % r.count);
		if (x.ss.ss_family == AF_INET6)
			CHECK(memcmp(&((struct sockaddr_in6 *)&x.ss)->sin6_addr,
				     &((struct sockaddr_in6 *)&r.first.ss)->sin6_addr, 12) == 0,
			      "get(%u) changed the upper 96 bits", idx[i]);
	}
	/* "first-last" written back gives the same range. */
	rl_addr_range_get(&r, 0, &x);
	rl_addr_range_get(&r, r.count - 1, &last);
	ip_text(&x, t1);
	ip_text(&last, t2);
	snprintf(both, sizeof(both), "%s-%s", t1, t2);
	rc = rl_addr_range_parse(both, &r2);
	CHECK(rc == 0 && r2.count == r.count && same_addr(&r2.first, &r.first),
	      "\"%s\" -> \"%s\" parses to %d, count %u (was %u)", spec, both, rc, r2.count,
	      r.count);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char spec[FUZZ_MAX_INPUT + 1];

	if (size > FUZZ_MAX_INPUT)
		return -1;
	memcpy(spec, data, size);
	spec[size] = '\0';
	check_parse(spec);
	check_range(spec, data, size);
	return 0;
}
