#!/usr/bin/env python3
"""Echo replies sent straight from the receive buffer (uring: rl_conn_send_input lends the
provided buffer to the send instead of copying it into the send queue), and the copying
fallback.  Each mode runs the same traffic: 100 connections in ping-pong with sizes from
1 B to 16 KiB (a 16 KiB message arrives in several buffers: the first is lent, the rest
queue behind it), then 50 connections writing 20 messages back to back (lent and queued
bytes interleave on one connection), then a slow reader whose replies back up (the lent
buffer waits in a pending send; the connection is paused and resumed).  Every byte must
come back in order.  On uring the counters must show "sent in place N" with N > 0 when
lending is on and N == 0 with RINGLAB_URING_OFF=lend; the other engines always copy."""
import os
import random
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

DEADLINE = 30.0


def pingpong(tap, srv, rng, label):
    socks = [srv.connect(timeout=10) for _ in range(100)]
    try:
        msgs = [[os.urandom(rng.choice((1, 64, 1000, 4096, 16384))) for _ in range(10)]
                for _ in socks]
        res = harness.echo_many(socks, msgs, timeout=DEADLINE)
        bad = [(i, r) for i, r in enumerate(res) if r]
        tap.ok(not bad, "%s: 100 connections x 10 messages of 1 B-16 KiB echoed in order" % label,
               "%d failed, first: %s" % (len(bad), bad[:3]))
        return sum(len(m) for ms in msgs for m in ms)
    finally:
        for s in socks:
            s.close()


def pipelined(tap, srv, rng, label):
    socks = [srv.connect(timeout=10) for _ in range(50)]
    try:
        msgs = [[b"".join(os.urandom(rng.randint(1, 2048)) for _ in range(20))] for _ in socks]
        res = harness.echo_many(socks, msgs, timeout=DEADLINE)
        bad = [(i, r) for i, r in enumerate(res) if r]
        tap.ok(not bad, "%s: 50 connections writing 20 messages back to back, echoed in "
               "order" % label, "%d failed, first: %s" % (len(bad), bad[:3]))
        return sum(len(m[0]) for m in msgs)
    finally:
        for s in socks:
            s.close()


def slow_reader(tap, srv, label):
    """Writes 4 MiB without reading (the server's replies fill both socket buffers and its
    queue), then reads everything back."""
    data = os.urandom(4 << 20)
    with srv.connect(timeout=DEADLINE, rcvbuf=16384) as s:
        got = bytearray()
        s.setblocking(False)
        sent = 0
        deadline = time.monotonic() + DEADLINE
        while len(got) < len(data) and time.monotonic() < deadline:
            if sent < len(data):
                try:
                    sent += s.send(data[sent:sent + 65536])
                except BlockingIOError:
                    pass
            if sent >= len(data) or len(got) < sent // 2:
                # read only once writing is done or far behind: the replies back up first
                try:
                    chunk = s.recv(1 << 20)
                    if not chunk:
                        break
                    got += chunk
                except BlockingIOError:
                    time.sleep(0.001)
        tap.ok(bytes(got) == data, "%s: a slow reader gets its 4 MiB back intact" % label,
               "got %d of %d bytes" % (len(got), len(data)))
        return len(data)


def run(tap, engine, env, label):
    rng = random.Random(13)
    total = 0
    with harness.Server("echo", engine=engine, env=env) as srv:
        total += harness.guard(tap, label + " ping-pong", pingpong, tap, srv, rng, label) or 0
        total += harness.guard(tap, label + " pipelined", pipelined, tap, srv, rng, label) or 0
        total += harness.guard(tap, label + " slow reader", slow_reader, tap, srv, label) or 0
        rc, err = srv.stop()
    c = harness.parse_counters(err) or {}
    tap.ok(rc == 0, "%s: server exits 0 on SIGTERM" % label, err)
    tap.ok(c.get("bytes in") == total and c.get("bytes out") == total,
           "%s: counters: bytes in == bytes out == %d" % (label, total), c)
    return c.get("sent in place")


def main():
    args = harness.parse_args()
    tap = harness.Tap()
    env = dict(os.environ)
    env.pop("RINGLAB_URING_OFF", None)
    lent = run(tap, args.engine, env, "lending on")
    env["RINGLAB_URING_OFF"] = "lend"
    copied = run(tap, args.engine, env, "RINGLAB_URING_OFF=lend")
    if args.engine == "uring":
        tap.ok(lent and lent > 0, "uring: replies were sent in place (%s)" % lent)
    else:
        tap.ok(lent == 0, "%s: no reply sent in place (%s)" % (args.engine, lent))
    tap.ok(copied == 0, "with lending off no reply is sent in place (%s)" % copied)
    return tap.done()


if __name__ == "__main__":
    sys.exit(main())
