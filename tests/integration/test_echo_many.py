#!/usr/bin/env python3
"""1,000 connections open at once, each with its own random payload (1..2000 bytes),
every reply verified byte-exact; the server holds them all at the same time and lets
go of every one afterwards."""
import os
import random
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

N = 1000


def many(tap, srv):
    rng = random.Random(0x5EED)
    base = harness.fd_count(srv.pid)
    socks = []
    try:
        for _ in range(N):
            socks.append(srv.connect(timeout=10))
        # Each connection's payload is distinct (random bytes, random size 1..2000), so a
        # reply delivered to the wrong connection is caught too.
        msgs = [[os.urandom(rng.randint(1, 2000))] for _ in range(N)]
        t0 = time.monotonic()
        res = harness.echo_many(socks, msgs, timeout=30)
        bad = [(i, r) for i, r in enumerate(res) if r]
        tap.ok(not bad, "all %d replies byte-exact (%.2fs)" % (N, time.monotonic() - t0),
               "%d failed, first: %s" % (len(bad), bad[:5]))
        # All echoes came back, so every connection has been accepted and is still open.
        held = harness.wait_for(lambda: harness.fd_count(srv.pid) - base >= N, 5)
        tap.ok(held, "server holds all %d connections at the same time" % N,
               "server fds: %d, baseline %d" % (harness.fd_count(srv.pid), base))
        # A second round on the same connections, all still open: nothing was dropped.
        msgs2 = [[os.urandom(rng.randint(1, 2000))] for _ in range(N)]
        res = harness.echo_many(socks, msgs2, timeout=30)
        bad = [(i, r) for i, r in enumerate(res) if r]
        tap.ok(not bad, "second round on the same %d connections byte-exact" % N,
               "%d failed, first: %s" % (len(bad), bad[:5]))
    finally:
        for s in socks:
            s.close()
    back = harness.wait_for(lambda: harness.fd_count(srv.pid) <= base + 3, 10)
    tap.ok(back, "server fd count returns to its baseline after the clients close",
           "server fds: %d, baseline %d" % (harness.fd_count(srv.pid), base))


def main():
    args = harness.parse_args()
    tap = harness.Tap()
    with harness.Server("echo", engine=args.engine) as srv:
        harness.guard(tap, "1000 concurrent connections", many, tap, srv)
        tap.ok(srv.alive(), "server still running")
        rc, err = srv.stop()
    c = harness.parse_counters(err) or {}
    tap.ok(rc == 0, "server exits 0 on SIGTERM", err)
    tap.ok(c.get("connections") == N, "counters report %d connections" % N, err)
    return tap.done()


if __name__ == "__main__":
    sys.exit(main())
