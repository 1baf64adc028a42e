#!/usr/bin/env python3
"""A client that sends and then half-closes (shutdown(SHUT_WR)) still gets every byte
back, followed by a clean EOF (FIN, not a reset)."""
import os
import socket
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402


def half_close(tap, srv, size, chunk=None):
    payload = os.urandom(size)
    err = {}
    with srv.connect(timeout=20) as s:
        def writer():
            try:
                if chunk:
                    for off in range(0, size, chunk):
                        s.sendall(payload[off:off + chunk])
                else:
                    s.sendall(payload)
                s.shutdown(socket.SHUT_WR)
            except OSError as e:
                err["writer"] = e
        t = threading.Thread(target=writer)
        t.start()
        try:
            got = harness.recv_all(s)  # until EOF; a reset or a hang raises
        except OSError as e:
            got, err["reader"] = None, e
        t.join(20)
    what = "%s B%s" % (size, " in %d-byte writes" % chunk if chunk else "")
    tap.ok(got == payload, "half-close after %s: every byte echoed, then EOF" % what,
           "errors %r; got %s bytes of %d" % (err, None if got is None else len(got), size))


def half_close_before_reading(tap, srv):
    """Send, half-close, and only then start reading: the reply waits for the reader."""
    payload = os.urandom(100000)
    with srv.connect(timeout=10) as s:
        s.sendall(payload)
        s.shutdown(socket.SHUT_WR)
        got = harness.recv_all(s)
    tap.ok(got == payload, "send 100000 B, half-close, then read: all bytes then EOF",
           "got %d bytes" % len(got))


def half_close_nothing_sent(tap, srv):
    with srv.connect(timeout=10) as s:
        s.shutdown(socket.SHUT_WR)
        got = harness.recv_all(s)
    tap.ok(got == b"", "half-close without sending anything: immediate clean EOF", repr(got[:40]))


def main():
    args = harness.parse_args()
    tap = harness.Tap()
    with harness.Server("echo", engine=args.engine) as srv:
        harness.guard(tap, "half-close 12 B", half_close, tap, srv, 12)
        harness.guard(tap, "half-close 64 KiB", half_close, tap, srv, 65536)
        harness.guard(tap, "half-close 3 MiB", half_close, tap, srv, 3 << 20)
        harness.guard(tap, "half-close 500 KB in small writes", half_close, tap, srv, 500000, 1000)
        harness.guard(tap, "half-close before reading", half_close_before_reading, tap, srv)
        harness.guard(tap, "half-close with nothing sent", half_close_nothing_sent, tap, srv)
        tap.ok(srv.alive(), "server still running")
        rc, err = srv.stop()
    c = harness.parse_counters(err) or {}
    tap.ok(rc == 0, "server exits 0 on SIGTERM", err)
    tap.ok(c.get("errors") == 0, "no connection counted as an error", err)
    return tap.done()


if __name__ == "__main__":
    sys.exit(main())
