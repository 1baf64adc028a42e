#!/usr/bin/env python3
"""Echo, byte-exact: 1 B, 64 B and 1 MiB messages, the classic one-shot client, and a
message written one byte at a time arriving intact and in order."""
import os
import socket
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402


def echo_once(tap, srv, size):
    payload = os.urandom(size)
    with srv.connect() as s:
        s.sendall(payload)
        got = harness.recv_exact(s, size)
    tap.ok(got == payload, "%d B echoed byte-exact" % size,
           "sent %d bytes, got %d back%s" % (size, len(got), "" if len(got) != size else " (content differs)"))


def echo_1mib(tap, srv):
    """1 MiB: the server cannot hold all of it in its socket buffers, so a reader runs
    concurrently with the writer."""
    size = 1 << 20
    payload = os.urandom(size)
    got = {}
    with srv.connect(timeout=20) as s:
        def reader():
            try:
                got["data"] = harness.recv_exact(s, size)
            except OSError as e:
                got["error"] = e
        t = threading.Thread(target=reader)
        t.start()
        s.sendall(payload)
        t.join(30)
        data = got.get("data", b"")
        tap.ok(not t.is_alive() and data == payload, "1 MiB echoed byte-exact (concurrent reader)",
               "got %d of %d bytes, error %r, reader still running: %s" %
               (len(data), size, got.get("error"), t.is_alive()))
        # The same connection carries on afterwards.
        s.sendall(b"after")
        tap.ok(harness.recv_exact(s, 5) == b"after", "connection still echoes after 1 MiB")


def hello_world(tap, srv):
    with srv.connect() as s:
        s.sendall(b"Hello, world")
        got = s.recv(1024)
    tap.ok(got == b"Hello, world", "one-shot client: sendall('Hello, world'), recv(1024) returns exactly it",
           "got %r" % got)


def tiny_writes(tap, srv):
    """200 single-byte writes (TCP_NODELAY, so they leave as separate segments)."""
    payload = os.urandom(200)
    with srv.connect() as s:
        if srv.family != socket.AF_UNIX:
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for i in range(len(payload)):
            s.sendall(payload[i:i + 1])
        got = harness.recv_exact(s, len(payload))
    tap.ok(got == payload, "200 one-byte writes arrive intact and in order",
           "got %d bytes: %r" % (len(got), got[:40]))


def interleaved(tap, srv):
    """Many request/reply turns on one connection: each reply is exactly its request."""
    bad = []
    with srv.connect() as s:
        for i in range(1, 301):
            msg = os.urandom(1 + (i * 37) % 3000)
            s.sendall(msg)
            got = harness.recv_exact(s, len(msg))
            if got != msg:
                bad.append((i, len(msg), len(got)))
                break
    tap.ok(not bad, "300 request/reply turns on one connection, each byte-exact", bad)


def main():
    args = harness.parse_args()
    tap = harness.Tap()
    with harness.Server("echo", engine=args.engine) as srv:
        harness.guard(tap, "1 B echo", echo_once, tap, srv, 1)
        harness.guard(tap, "64 B echo", echo_once, tap, srv, 64)
        harness.guard(tap, "1 MiB echo", echo_1mib, tap, srv)
        harness.guard(tap, "one-shot client", hello_world, tap, srv)
        harness.guard(tap, "tiny writes", tiny_writes, tap, srv)
        harness.guard(tap, "request/reply turns", interleaved, tap, srv)
        rc, err = srv.stop()
    tap.ok(rc == 0, "server exits 0 on SIGTERM", err)
    return tap.done()


if __name__ == "__main__":
    sys.exit(main())
