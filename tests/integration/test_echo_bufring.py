#!/usr/bin/env python3
"""A tiny provided-buffer ring (--buf-count 8 --buf-size 64) under 200 busy connections,
each sending 20 messages of random size up to 4 KiB: every byte comes back in order and
nothing stalls.  On uring the final counters must show the ring ran empty ("buffer-ring
empty N", N > 0), proving the starvation/re-arm path was exercised.  The options only
matter to uring; the other engines run the same load as a cross-check."""
import os
import random
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

CONNS = 200
MSGS = 20
MAX_SIZE = 4096
DEADLINE = 30.0


def busy(tap, srv, rng, label):
    socks = [srv.connect(timeout=10) for _ in range(CONNS)]
    try:
        msgs = [[os.urandom(rng.randint(1, MAX_SIZE)) for _ in range(MSGS)] for _ in range(CONNS)]
        t0 = time.monotonic()
        res = harness.echo_many(socks, msgs, timeout=DEADLINE)
        took = time.monotonic() - t0
        bad = [(i, r) for i, r in enumerate(res) if r]
        tap.ok(not bad, "%s: %d connections x %d messages (<= %d B) all echoed in order, "
               "within %.0fs (took %.2fs)" % (label, CONNS, MSGS, MAX_SIZE, DEADLINE, took),
               "%d failed, first: %s" % (len(bad), bad[:5]))
        return sum(len(m) for ms in msgs for m in ms)
    finally:
        for s in socks:
            s.close()


def pipelined(tap, srv, rng):
    """Every connection writes all its messages at once (no waiting for echoes), so many
    connections compete for the 8 buffers at the same instant."""
    socks = [srv.connect(timeout=10) for _ in range(CONNS)]
    try:
        msgs = [[b"".join(os.urandom(rng.randint(1, MAX_SIZE)) for _ in range(MSGS))]
                for _ in range(CONNS)]
        res = harness.echo_many(socks, msgs, timeout=DEADLINE)
        bad = [(i, r) for i, r in enumerate(res) if r]
        tap.ok(not bad, "pipelined: %d connections each writing %d messages back to back, "
               "all echoed in order" % (CONNS, MSGS), "%d failed, first: %s" % (len(bad), bad[:5]))
        return sum(len(m[0]) for m in msgs)
    finally:
        for s in socks:
            s.close()


def main():
    args = harness.parse_args()
    tap = harness.Tap()
    rng = random.Random(7)
    total = 0
    with harness.Server("echo", engine=args.engine,
                        args=["--buf-count", "8", "--buf-size", "64"]) as srv:
        total += harness.guard(tap, "busy", busy, tap, srv, rng, "ping-pong") or 0
        total += harness.guard(tap, "pipelined", pipelined, tap, srv, rng) or 0
        tap.ok(srv.alive(), "server still running after the load")
        with srv.connect() as s:
            s.sendall(b"after")
            tap.ok(harness.recv_exact(s, 5) == b"after", "a new connection echoes after the load")
        rc, err = srv.stop()
    c = harness.parse_counters(err) or {}
    tap.diag("counters: %r" % (c,))
    tap.ok(rc == 0, "server exits 0 on SIGTERM", err)
    tap.ok(c.get("bytes in") == total + 5 and c.get("bytes out") == total + 5,
           "counters: bytes in == bytes out == %d" % (total + 5), c)
    if args.engine == "uring":
        tap.ok(c.get("buffer-ring empty", 0) > 0,
               "uring: 'buffer-ring empty N' with N > 0 (the starvation path ran)", err)
    return tap.done()


if __name__ == "__main__":
    sys.exit(main())
