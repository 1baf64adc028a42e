#!/usr/bin/env python3
"""Clients that reset abruptly (SO_LINGER {1,0} then close: RST) in the middle of sending
or receiving, while other clients carry on: the survivors get exact echoes, the server
stays up, and its fd count returns to its baseline."""
import os
import random
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

SURVIVORS = 8
RESETTERS = 4
ROUNDS = 50  # per resetter thread, cycling through the kinds below


def survivor(srv, stop, out, idx):
    """Ping-pong of random sizes up to 64 KiB on one connection until told to stop, plus a
    1 MiB message (written and read concurrently) every few turns."""
    rng = random.Random(idx)
    turns = 0
    try:
        with srv.connect(timeout=15) as s:
            while not stop.is_set():
                if turns % 10 == 5:
                    msg = os.urandom(1 << 20)
                    t = threading.Thread(target=s.sendall, args=(msg,))
                    t.start()
                    got = harness.recv_exact(s, len(msg))
                    t.join()
                else:
                    msg = os.urandom(rng.randint(1, 65536))
                    s.sendall(msg)
                    got = harness.recv_exact(s, len(msg))
                if got != msg:
                    out[idx] = "turn %d: %d bytes sent, %d back, equal prefix: %s" % (
                        turns, len(msg), len(got), msg.startswith(got))
                    return
                turns += 1
        out[idx] = turns
    except Exception as e:  # noqa: BLE001 - reported as a failure
        out[idx] = "turn %d: %r" % (turns, e)


def reset_mid_send(srv, rng):
    """Writes part of a large message (nonblocking, as much as fits), then resets."""
    s = srv.connect(timeout=5)
    s.setblocking(False)
    data = os.urandom(rng.randint(100000, 400000))
    try:
        s.send(data)
    except BlockingIOError:
        pass
    harness.reset_close(s)


def reset_mid_receive(srv, rng):
    """Sends, reads part of the echo, resets while the rest is on its way."""
    s = srv.connect(timeout=5)
    data = os.urandom(rng.randint(20000, 60000))
    s.sendall(data)
    harness.recv_exact(s, rng.randint(1, 1000))
    harness.reset_close(s)


def reset_blocked_reply(srv, rng):
    """Fills every buffer without reading (the server's reply to it is stuck), then
    resets."""
    s = srv.connect(timeout=5)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
    s.setblocking(False)
    chunk = os.urandom(65536)
    sent, deadline = 0, time.monotonic() + 0.3
    while sent < (6 << 20) and time.monotonic() < deadline:
        try:
            sent += s.send(chunk)
        except BlockingIOError:
            time.sleep(0.01)
    harness.reset_close(s)


def reset_at_once(srv, rng):
    """Connects and resets without a byte exchanged."""
    harness.reset_close(srv.connect(timeout=5))


def reset_after_echo(srv, rng):
    """A full exchange, then a reset instead of a FIN."""
    s = srv.connect(timeout=5)
    s.sendall(b"x" * 100)
    harness.recv_exact(s, 100)
    harness.reset_close(s)


KINDS = [reset_mid_send, reset_mid_receive, reset_blocked_reply, reset_at_once, reset_after_echo]


def resetter(srv, out, idx):
    rng = random.Random(1000 + idx)
    done = 0
    try:
        for i in range(ROUNDS):
            KINDS[(i + idx) % len(KINDS)](srv, rng)
            done += 1
        out[idx] = done
    except Exception as e:  # noqa: BLE001 - reported as a failure
        out[idx] = "round %d: %r" % (done, e)


def resets(tap, srv):
    base = harness.fd_count(srv.pid)
    stop = threading.Event()
    surv, rst = [None] * SURVIVORS, [None] * RESETTERS
    st = [threading.Thread(target=survivor, args=(srv, stop, surv, i)) for i in range(SURVIVORS)]
    rt = [threading.Thread(target=resetter, args=(srv, rst, i)) for i in range(RESETTERS)]
    for t in st + rt:
        t.start()
    for t in rt:
        t.join(40)
    stop.set()
    for t in st:
        t.join(30)
    tap.diag("survivor turns: %r" % (surv,))
    tap.ok(all(isinstance(r, int) for r in rst),
           "%d resetting clients ran %d rounds each (mid-send, mid-receive, blocked reply, "
           "at once, after echo)" % (RESETTERS, ROUNDS), rst)
    tap.ok(all(isinstance(r, int) and r > 0 for r in surv),
           "%d clients running alongside the resets got exact echoes" % SURVIVORS, surv)
    tap.ok(srv.alive(), "server alive after the resets")
    with srv.connect() as s:
        s.sendall(b"still here")
        got = harness.recv_exact(s, 10)
    tap.ok(got == b"still here", "a new connection echoes after the resets", repr(got))
    back = harness.wait_for(lambda: harness.fd_count(srv.pid) <= base + 2, 5)
    tap.ok(back, "server fd count returns to within 2 of its baseline",
           "server fds: %d, baseline %d" % (harness.fd_count(srv.pid), base))
    return sum(r for r in rst if isinstance(r, int))


def main():
    args = harness.parse_args()
    tap = harness.Tap()
    with harness.Server("echo", engine=args.engine) as srv:
        harness.guard(tap, "resets", resets, tap, srv)
        rc, err = srv.stop()
    c = harness.parse_counters(err) or {}
    tap.diag("counters: %r" % (c,))
    tap.ok(rc == 0, "server exits 0 on SIGTERM after the resets", err)
    tap.ok(c.get("connections") is not None and c.get("connections") == c.get("closed"),
           "counters: every connection accepted was closed", err)
    return tap.done()


if __name__ == "__main__":
    sys.exit(main())
