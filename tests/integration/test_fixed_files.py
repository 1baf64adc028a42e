#!/usr/bin/env python3
"""Registered files (uring): at a connection's second send its socket goes into the ring's
file table, slot = descriptor number, and the slot is closed before the descriptor.  The
traffic: 40 connections that echo one message each (one send: never registered), 40 that
echo five in ping-pong (registered at their second send), then 300 connections one after
another, three messages each, so descriptor numbers and their slots are reused.  Every
byte must come back, and each of the 300 must read EOF after its half-close: the server
closes its side then, and a slot left filled would hold that socket open.  Counters: on uring
"files registered" is exactly the number of connections that had a second send; with
RINGLAB_URING_OFF=fixedfiles, and on the other engines, it is 0."""
import os
import socket
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

DEADLINE = 30.0


def echo_round(tap, srv, label, count, per_conn):
    socks = [srv.connect(timeout=10) for _ in range(count)]
    try:
        msgs = [[os.urandom(64) for _ in range(per_conn)] for _ in socks]
        res = harness.echo_many(socks, msgs, timeout=DEADLINE)
        bad = [(i, r) for i, r in enumerate(res) if r]
        tap.ok(not bad, "%s: %d connections x %d messages echoed" % (label, count, per_conn),
               "%d failed, first: %s" % (len(bad), bad[:3]))
    finally:
        for s in socks:
            s.close()


def reuse_round(tap, srv, label):
    """300 connections in turn; each half-closes and must then read the server's EOF."""
    bad = []
    for i in range(300):
        with srv.connect(timeout=10) as s:
            for _ in range(3):
                m = os.urandom(64)
                s.sendall(m)
                got = b""
                while len(got) < len(m):
                    chunk = s.recv(len(m) - len(got))
                    if not chunk:
                        break
                    got += chunk
                if got != m:
                    bad.append(i)
                    break
            s.shutdown(socket.SHUT_WR)
            if s.recv(1) != b"":
                bad.append(i)
    tap.ok(not bad, "%s: 300 connections in turn, 3 messages each, then EOF from the "
           "server" % label, "failed: %s" % bad[:5])


def run(tap, engine, env, label):
    with harness.Server("echo", engine=engine, env=env) as srv:
        harness.guard(tap, label + " one message", echo_round, tap, srv, label, 40, 1)
        harness.guard(tap, label + " five messages", echo_round, tap, srv, label, 40, 5)
        harness.guard(tap, label + " reuse", reuse_round, tap, srv, label)
        rc, err = srv.stop()
    c = harness.parse_counters(err) or {}
    tap.ok(rc == 0, "%s: server exits 0 on SIGTERM" % label, err)
    return c.get("files registered")


def main():
    args = harness.parse_args()
    tap = harness.Tap()
    env = dict(os.environ)
    env.pop("RINGLAB_URING_OFF", None)
    on = run(tap, args.engine, env, "default")
    env["RINGLAB_URING_OFF"] = "fixedfiles"
    off = run(tap, args.engine, env, "RINGLAB_URING_OFF=fixedfiles")
    if args.engine == "uring":
        tap.ok(on == 40 + 300, "uring: files registered = 340, the connections with a "
               "second send (%s)" % on)
    else:
        tap.ok(on == 0, "%s: no file registered (%s)" % (args.engine, on))
    tap.ok(off == 0, "with fixedfiles off no file is registered (%s)" % off)
    return tap.done()


if __name__ == "__main__":
    sys.exit(main())
