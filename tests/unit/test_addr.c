/*
 * test_addr.c - TAP tests for core/addr.c: parsing the HOST:PORT, [V6]:PORT and unix:PATH
 * forms, formatting round trips, rl_listen on IP and unix sockets, and source ranges.
 */
#include "addr.h"
#include "tap.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

static char tmpdir[64];

static const char *fmt(const struct rl_addr *a, char *buf)
{
	if (rl_addr_format(a, buf, RL_ADDR_STRLEN) < 0)
		snprintf(buf, RL_ADDR_STRLEN, "(unformattable)");
	return buf;
}

/* Parses `spec` and checks family and port; returns the parse status. */
static int check_parse(const char *spec, bool passive, int family, int port, const char *want)
{
	struct rl_addr a;
	char buf[RL_ADDR_STRLEN];
	int rc = rl_addr_parse(spec, passive, &a);
	int ok = rc == 0 && rl_addr_family(&a) == family;

	if (ok && family != AF_UNIX)
		ok = rl_addr_port(&a) == port;
	if (ok && want)
		ok = strcmp(fmt(&a, buf), want) == 0;
	if (!tap_ok(ok, "parse \"%s\"%s gives family %d port %d%s%s", spec,
		    passive ? " (passive)" : "", family, port, want ? " = " : "", want ? want : ""))
		tap_diag("rc=%d family=%d formatted=%s", rc, rc == 0 ? rl_addr_family(&a) : -1,
			 rc == 0 ? fmt(&a, buf) : "-");
	return rc;
}

static void check_reject(const char *spec, int want_rc, const char *why)
{
	struct rl_addr a;
	int rc = rl_addr_parse(spec, false, &a);

	if (!tap_ok(rc == want_rc, "parse rejects \"%s\" (%s) with %d", spec, why, want_rc))
		tap_diag("rc=%d", rc);
}

static void test_parse(void)
{
	struct rl_addr a;
	char path[200];

	check_parse("127.0.0.1:7000", false, AF_INET, 7000, "127.0.0.1:7000");
	check_parse("[::1]:9", false, AF_INET6, 9, "[::1]:9");
	check_parse("[::]:0", true, AF_INET6, 0, "[::]:0");
	check_parse(":8080", true, AF_INET, 8080, "0.0.0.0:8080");
	check_parse("0.0.0.0:65535", true, AF_INET, 65535, "0.0.0.0:65535");
	check_parse("unix:/tmp/x.sock", false, AF_UNIX, 0, "unix:/tmp/x.sock");
	check_parse("unix:rel.sock", false, AF_UNIX, 0, "unix:rel.sock");

	check_reject("127.0.0.1", -EINVAL, "no port");
	check_reject("127.0.0.1:", -EINVAL, "empty port");
	check_reject("127.0.0.1:65536", -EINVAL, "port too large");
	check_reject("127.0.0.1:-1", -EINVAL, "negative port");
	check_reject("127.0.0.1:80x", -EINVAL, "junk after port");
	check_reject("127.0.0.1:000080", -EINVAL, "port of six digits");
	check_reject("[::1:80", -EINVAL, "unterminated bracket");
	check_reject("[::1]", -EINVAL, "bracket without port");
	check_reject("[::1]80", -EINVAL, "bracket without colon");
	check_reject("[]:80", -EINVAL, "empty brackets");
	check_reject("[localhost]:80", -EINVAL, "name inside brackets");
	check_reject("::1:80", -EINVAL, "unbracketed IPv6");
	check_reject("unix:", -EINVAL, "empty unix path");
	check_reject("", -EINVAL, "empty spec");
	check_reject("nosuchhost.invalid:80", -ENOENT, "unresolvable name");

	memset(path, 0, sizeof(path));
	memcpy(path, "unix:/", 6);
	memset(path + 6, 'a', sizeof(path) - 7);
	check_reject(path, -EINVAL, "200-byte unix path");

	/* The longest path that fits sun_path (107 chars + NUL) is accepted. */
	memset(path, 0, sizeof(path));
	memcpy(path, "unix:/", 6);
	memset(path + 6, 'b', sizeof(((struct sockaddr_un *)0)->sun_path) - 2);
	tap_ok(rl_addr_parse(path, false, &a) == 0, "parse accepts a unix path of %zu bytes",
	       strlen(path) - 5);
	path[strlen(path)] = 'c';
	tap_ok(rl_addr_parse(path, false, &a) == -EINVAL,
	       "parse rejects a unix path one byte too long");

	/* localhost resolves to a loopback address of either family, port 0. */
	if (rl_addr_parse("localhost:0", false, &a) == 0) {
		int fam = rl_addr_family(&a);
		int loop =
		    fam == AF_INET
			? ((struct sockaddr_in *)&a.ss)->sin_addr.s_addr == htonl(INADDR_LOOPBACK)
			: IN6_IS_ADDR_LOOPBACK(&((struct sockaddr_in6 *)&a.ss)->sin6_addr);
		tap_ok(loop && rl_addr_port(&a) == 0, "localhost:0 is a loopback address, port 0");
	} else {
		tap_ok(0, "localhost:0 is a loopback address, port 0");
	}
	tap_ok(rl_addr_parse("unix:/x", false, &a) == 0 && rl_addr_port(&a) == -EAFNOSUPPORT,
	       "rl_addr_port of a unix address is -EAFNOSUPPORT");
}

static void test_format(void)
{
	static const char *const specs[] = {"127.0.0.1:7000", "[::1]:9", "[fe80::1:2]:65535",
					    "10.1.2.3:0", "unix:/tmp/rl.sock"};
	struct rl_addr a, b;
	char buf[RL_ADDR_STRLEN], buf2[RL_ADDR_STRLEN], small[8];
	size_t i;

	for (i = 0; i < sizeof(specs) / sizeof(specs[0]); i++) {
		int ok = rl_addr_parse(specs[i], false, &a) == 0 &&
			 rl_addr_format(&a, buf, sizeof(buf)) == (int)strlen(specs[i]) &&
			 strcmp(buf, specs[i]) == 0 && rl_addr_parse(buf, false, &b) == 0 &&
			 a.len == b.len && memcmp(&a.ss, &b.ss, a.len) == 0;
		if (!tap_ok(ok, "format round trip of \"%s\"", specs[i]))
			tap_diag("formatted \"%s\"", buf);
	}
	rl_addr_parse("127.0.0.1:7000", false, &a);
	tap_ok(rl_addr_format(&a, small, sizeof(small)) == -ENOSPC,
	       "format into a too-small buffer is -ENOSPC");
	memset(&a, 0, sizeof(a));
	tap_ok(rl_addr_format(&a, buf2, sizeof(buf2)) == -EAFNOSUPPORT,
	       "format of an AF_UNSPEC address is -EAFNOSUPPORT");
}

static void test_listen_ip(void)
{
	struct rl_addr a, bound, again;
	char spec[64];
	int fd, fd2, c, port;

	rl_addr_parse("127.0.0.1:0", true, &a);
	fd = rl_listen(&a, 16, false);
	tap_ok(fd >= 0, "rl_listen on 127.0.0.1:0 succeeds");
	if (fd < 0)
		return;
	tap_ok((fcntl(fd, F_GETFD) & FD_CLOEXEC) != 0, "the listening fd is close-on-exec");
	port = rl_addr_of_socket(fd, &bound) == 0 ? rl_addr_port(&bound) : -1;
	tap_ok(port > 0, "rl_addr_of_socket reports the kernel-chosen port (%d)", port);
	c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	tap_ok(c >= 0 && connect(c, (struct sockaddr *)&bound.ss, bound.len) == 0,
	       "the listener accepts a connection");
	if (c >= 0)
		close(c);
	close(fd);

	fd = rl_listen(&a, 16, true);
	port = fd >= 0 && rl_addr_of_socket(fd, &bound) == 0 ? rl_addr_port(&bound) : -1;
	snprintf(spec, sizeof(spec), "127.0.0.1:%d", port);
	rl_addr_parse(spec, true, &again);
	fd2 = rl_listen(&again, 16, true);
	tap_ok(fd >= 0 && fd2 >= 0, "two reuseport listeners share port %d", port);
	if (fd2 >= 0)
		close(fd2);
	fd2 = rl_listen(&again, 16, false);
	tap_ok(fd2 == -EADDRINUSE, "a listener without reuseport on that port gets -EADDRINUSE");
	if (fd2 >= 0)
		close(fd2);
	if (fd >= 0)
		close(fd);

	rl_addr_parse("[::]:0", true, &a);
	fd = rl_listen(&a, 16, false);
	if (fd == -EAFNOSUPPORT || fd == -EADDRNOTAVAIL) {
		tap_ok(1, "# SKIP no IPv6 on this machine");
		return;
	}
	tap_ok(fd >= 0, "rl_listen on [::]:0 succeeds");
	if (fd < 0)
		return;
	/* IPV6_V6ONLY is off: an IPv4 client reaches the [::] listener. */
	port = rl_addr_of_socket(fd, &bound) == 0 ? rl_addr_port(&bound) : -1;
	snprintf(spec, sizeof(spec), "127.0.0.1:%d", port);
	rl_addr_parse(spec, false, &again);
	c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	tap_ok(c >= 0 && connect(c, (struct sockaddr *)&again.ss, again.len) == 0,
	       "an IPv4 client reaches the dual-stack [::] listener");
	if (c >= 0)
		close(c);
	close(fd);
}

static void test_listen_unix(void)
{
	char spec[128], path[96];
	struct rl_addr a;
	struct stat st;
	int fd, fd2, s;

	snprintf(path, sizeof(path), "%s/stale.sock", tmpdir);
	snprintf(spec, sizeof(spec), "unix:%s", path);
	rl_addr_parse(spec, true, &a);

	/* A socket file left behind by a dead process: bound, then closed without unlink. */
	s = socket(AF_UNIX, SOCK_STREAM, 0);
	tap_ok(s >= 0 && bind(s, (struct sockaddr *)&a.ss, a.len) == 0 && stat(path, &st) == 0 &&
		   S_ISSOCK(st.st_mode),
	       "test setup: a stale socket file exists");
	if (s >= 0)
		close(s);
	fd = rl_listen(&a, 16, false);
	tap_ok(fd >= 0, "rl_listen removes a stale unix socket file and listens");

	fd2 = rl_listen(&a, 16, false);
	tap_ok(fd2 == -EADDRINUSE, "rl_listen on a live unix socket is -EADDRINUSE");
	if (fd2 >= 0)
		close(fd2);
	tap_ok(stat(path, &st) == 0, "the live socket file was not removed");
	s = socket(AF_UNIX, SOCK_STREAM, 0);
	tap_ok(s >= 0 && connect(s, (struct sockaddr *)&a.ss, a.len) == 0,
	       "the unix listener accepts a connection");
	if (s >= 0)
		close(s);
	if (fd >= 0)
		close(fd);
	unlink(path);

	snprintf(path, sizeof(path), "%s/regular", tmpdir);
	snprintf(spec, sizeof(spec), "unix:%s", path);
	s = open(path, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
	if (s >= 0)
		close(s);
	rl_addr_parse(spec, true, &a);
	fd = rl_listen(&a, 16, false);
	tap_ok(fd == -EEXIST, "rl_listen refuses a regular file at the path with -EEXIST");
	if (fd >= 0)
		close(fd);
	tap_ok(stat(path, &st) == 0 && S_ISREG(st.st_mode), "the regular file is left alone");
	unlink(path);
}

static uint32_t v4_of(const struct rl_addr *a)
{
	return ntohl(((const struct sockaddr_in *)&a->ss)->sin_addr.s_addr);
}

static void test_ranges(void)
{
	struct rl_addr_range r;
	struct rl_addr a;
	char buf[RL_ADDR_STRLEN];
	int rc;

	rc = rl_addr_range_parse("127.0.0.2-127.0.0.50", &r);
	tap_ok(rc == 0 && r.count == 49, "range 127.0.0.2-127.0.0.50 has 49 addresses");
	rl_addr_range_get(&r, 0, &a);
	tap_ok(strcmp(fmt(&a, buf), "127.0.0.2:0") == 0, "range get(0) is 127.0.0.2 port 0");
	rl_addr_range_get(&r, 48, &a);
	tap_ok(v4_of(&a) == 0x7f000032, "range get(48) is 127.0.0.50");
	rl_addr_range_get(&r, 49, &a);
	tap_ok(v4_of(&a) == 0x7f000002, "range get(49) wraps to 127.0.0.2");
	rl_addr_range_get(&r, 50, &a);
	tap_ok(v4_of(&a) == 0x7f000003, "range get(50) wraps to 127.0.0.3");

	rc = rl_addr_range_parse("10.0.0.255-10.0.1.1", &r);
	rl_addr_range_get(&r, 1, &a);
	tap_ok(rc == 0 && r.count == 3 && v4_of(&a) == 0x0a000100,
	       "an IPv4 range carries across an octet boundary");

	rc = rl_addr_range_parse("::1", &r);
	rl_addr_range_get(&r, 5, &a);
	tap_ok(rc == 0 && r.count == 1 && strcmp(fmt(&a, buf), "[::1]:0") == 0,
	       "single address ::1 is a range of 1");
	rc = rl_addr_range_parse("fd00::1-fd00::3", &r);
	rl_addr_range_get(&r, 2, &a);
	tap_ok(rc == 0 && r.count == 3 && strcmp(fmt(&a, buf), "[fd00::3]:0") == 0,
	       "IPv6 range fd00::1-fd00::3 has 3 addresses, get(2) = fd00::3");

	tap_ok(rl_addr_range_parse("127.0.0.5-127.0.0.2", &r) == -EINVAL,
	       "range with end before start is rejected");
	tap_ok(rl_addr_range_parse("127.0.0.1-::1", &r) == -EINVAL,
	       "range with mixed families is rejected");
	tap_ok(rl_addr_range_parse("fd00::1-fd01::1", &r) == -EINVAL,
	       "IPv6 range differing above the low 32 bits is rejected");
	tap_ok(rl_addr_range_parse("localhost", &r) == -EINVAL, "range refuses host names");
	tap_ok(rl_addr_range_parse("127.0.0.1-", &r) == -EINVAL, "range with empty end rejected");
	tap_ok(rl_addr_range_parse("", &r) == -EINVAL, "empty range rejected");
}

int main(void)
{
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/rl-test-addr-XXXXXX");
	if (!mkdtemp(tmpdir)) {
		tap_ok(0, "mkdtemp for unix socket paths");
		return tap_done();
	}
	test_parse();
	test_format();
	test_listen_ip();
	test_listen_unix();
	test_ranges();
	rmdir(tmpdir);
	return tap_done();
}
