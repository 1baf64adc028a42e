#!/usr/bin/env python3
"""Other listeners: IPv6 ([::1]:0) and a unix socket (unix:/PATH) echo correctly, the
printed address is the one to connect to, and the unix socket file is removed at
shutdown."""
import os
import shutil
import socket
import stat
import sys
import tempfile
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402


def exchange(srv):
    """1 B, 'Hello, world', 64 KiB and 1 MiB (with a concurrent reader); returns the first
    mismatch as text, or None."""
    for size in (1, 12, 65536, 1 << 20):
        payload = b"Hello, world" if size == 12 else os.urandom(size)
        with srv.connect(timeout=20) as s:
            t = threading.Thread(target=s.sendall, args=(payload,))
            t.start()
            got = harness.recv_exact(s, size)
            t.join(20)
        if got != payload:
            return "%d B: got %d bytes back%s" % (size, len(got), "" if len(got) != size else " (differs)")
    return None


def ipv6_available():
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


def ipv6(tap, engine):
    if not ipv6_available():
        tap.ok(True, "IPv6 listener # SKIP no ::1 on this host")
        return
    with harness.Server("echo", engine=engine, listen="[::1]:0") as srv:
        tap.ok(srv.family == socket.AF_INET6 and srv.addr[0] == "::1" and srv.addr[1] > 0,
               "IPv6: prints 'listening on [::1]:PORT' with the picked port", srv.spec)
        bad = exchange(srv)
        tap.ok(bad is None, "IPv6: echoes 1 B, 12 B, 64 KiB, 1 MiB byte-exact", bad)
        rc, err = srv.stop()
    tap.ok(rc == 0, "IPv6: server exits 0 on SIGTERM", err)


def unix(tap, engine):
    d = tempfile.mkdtemp(prefix="ringlab-")
    path = os.path.join(d, "s.sock")
    try:
        with harness.Server("echo", engine=engine, listen="unix:" + path) as srv:
            tap.ok(srv.family == socket.AF_UNIX and srv.addr == path,
                   "unix: prints 'listening on unix:PATH'", srv.spec)
            tap.ok(os.path.exists(path) and stat.S_ISSOCK(os.stat(path).st_mode),
                   "unix: the socket file exists while serving")
            bad = exchange(srv)
            tap.ok(bad is None, "unix: echoes 1 B, 12 B, 64 KiB, 1 MiB byte-exact", bad)
            # A few at once: a unix listener is shared, not reuseport.
            socks = [srv.connect() for _ in range(50)]
            res = harness.echo_many(socks, [[os.urandom(100 + i)] for i in range(50)], 15)
            for s in socks:
                s.close()
            tap.ok(not any(res), "unix: 50 concurrent connections echo byte-exact",
                   [r for r in res if r][:5])
            rc, err = srv.stop()
        tap.ok(rc == 0, "unix: server exits 0 on SIGTERM", err)
        tap.ok(not os.path.lexists(path), "unix: socket file removed after shutdown",
               os.listdir(d))
    finally:
        shutil.rmtree(d, ignore_errors=True)


def unix_threads(tap, engine):
    """Two loops sharing one unix listener (it cannot be reuseport-split)."""
    d = tempfile.mkdtemp(prefix="ringlab-")
    path = os.path.join(d, "s.sock")
    try:
        with harness.Server("echo", engine=engine, listen="unix:" + path,
                            args=["--threads", "2"]) as srv:
            socks = [srv.connect() for _ in range(40)]
            res = harness.echo_many(socks, [[os.urandom(1000 + i)] * 3 for i in range(40)], 15)
            for s in socks:
                s.close()
            tap.ok(not any(res), "unix, --threads 2: 40 concurrent connections echo byte-exact",
                   [r for r in res if r][:5])
            rc, err = srv.stop()
        tap.ok(rc == 0 and not os.path.lexists(path),
               "unix, --threads 2: exits 0 and removes the socket file", err)
    finally:
        shutil.rmtree(d, ignore_errors=True)


def main():
    args = harness.parse_args()
    tap = harness.Tap()
    harness.guard(tap, "IPv6 listener", ipv6, tap, args.engine)
    harness.guard(tap, "unix listener", unix, tap, args.engine)
    harness.guard(tap, "unix listener, 2 threads", unix_threads, tap, args.engine)
    return tap.done()


if __name__ == "__main__":
    sys.exit(main())
