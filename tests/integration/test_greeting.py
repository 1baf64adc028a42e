#!/usr/bin/env python3
"""greeting: on accept the server sends --message (or --message-file's bytes) and closes.

Checks, per engine: the default message then EOF; --message TEXT; a 100 KiB binary
--message-file (NUL bytes included) delivered byte-exact; a client reading 6 bytes at a
time gets all of it; 200 concurrent connectors all get the exact greeting; the final
counters after SIGTERM (exit 0) count every connection; and, on the blocking engine,
--blocking-mode iterative."""
import os
import socket
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

DEFAULT = b"Hello from ringlab\n"


def skip(tap, name, reason):
    """A TAP line that counts as a test but is skipped (keeps the plan stable)."""
    tap.n += 1
    print("ok %d - %s # SKIP %s" % (tap.n, name, reason), flush=True)


def greet(srv, timeout=10.0):
    """Connects and reads until EOF; returns the bytes (never sends anything)."""
    with srv.connect(timeout) as s:
        return harness.recv_all(s)


def check_stop(tap, srv, what, conns):
    rc, err = srv.stop()
    tap.ok(rc == 0, "%s: SIGTERM -> exit status 0" % what, "rc %r, stderr:\n%s" % (rc, err))
    c = harness.parse_counters(err)
    tap.ok(c is not None and c.get("connections") == conns and c.get("closed") == conns
           and c.get("requests") == conns and c.get("errors") == 0,
           "%s: final counters: connections %d, closed %d, requests %d, errors 0"
           % (what, conns, conns, conns), "counters %r, stderr:\n%s" % (c, err))


def default_message(tap, engine):
    """Default message, a 6-byte-chunk reader, 200 concurrent connectors, counters."""
    conns = 0
    with harness.Server("greeting", engine) as srv:
        got = greet(srv)
        conns += 1
        tap.ok(got == DEFAULT, "default greeting is exactly 'Hello from ringlab\\n' then EOF",
               "got %r" % got)

        # A client that reads 6 bytes at a time until EOF.
        chunks = []
        with srv.connect() as s:
            while True:
                b = s.recv(6)
                if not b:
                    break
                chunks.append(b)
        conns += 1
        data = b"".join(chunks)
        tap.ok(data == DEFAULT and all(len(c) <= 6 for c in chunks),
               "a client reading 6-byte chunks until EOF gets the whole greeting",
               "chunks %r" % chunks)

        # The client sends something first: the greeting ignores it and still arrives.
        with srv.connect() as s:
            s.sendall(b"ignored\n")
            data = harness.recv_exact(s, len(DEFAULT))
        conns += 1
        tap.ok(data == DEFAULT, "what a client sends is ignored; the greeting still arrives",
               "got %r" % data)

        # 200 concurrent connectors: all connected before any of them reads.
        n = 200
        socks = []
        bad = []
        try:
            for _ in range(n):
                socks.append(srv.connect(15))
            conns += len(socks)
            for i, s in enumerate(socks):
                try:
                    got = harness.recv_all(s)
                except OSError as e:
                    got = repr(e)
                if got != DEFAULT:
                    bad.append((i, got))
        finally:
            for s in socks:
                s.close()
        tap.ok(len(socks) == n and not bad,
               "%d concurrent connectors all get the exact greeting then EOF" % n,
               "%d connected; bad: %r" % (len(socks), bad[:5]))

        # Again from 200 threads connecting at the same moment.
        results = [None] * n
        barrier = threading.Barrier(n)

        def worker(i):
            try:
                barrier.wait(10)
                results[i] = greet(srv, 15)
            except Exception as e:  # noqa: BLE001 - reported below
                results[i] = repr(e)
        threads = [threading.Thread(target=worker, args=(i,)) for i in range(n)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        conns += n
        bad = [(i, r) for i, r in enumerate(results) if r != DEFAULT]
        tap.ok(not bad, "%d threads connecting at once all get the exact greeting" % n,
               "bad: %r" % bad[:5])
        tap.ok(srv.alive(), "server still running after %d connections" % conns)
        check_stop(tap, srv, "default message", conns)


def custom_message(tap, engine):
    text = "Hello, client -- ringlab greeting test \u00e9"
    with harness.Server("greeting", engine, args=["--message", text]) as srv:
        got = greet(srv)
        got2 = greet(srv)
        tap.ok(got == text.encode() and got2 == text.encode(),
               "--message TEXT is sent exactly (no newline added), to every client",
               "got %r and %r" % (got, got2))
        check_stop(tap, srv, "--message", 2)


def message_file(tap, engine):
    size = 100 * 1024
    # Binary content with NULs, \r, \n and every byte value.
    body = bytes(range(256)) * 16 + b"\0\0\r\n\0" + os.urandom(size - 4096 - 5)
    assert len(body) == size and b"\0" in body
    with tempfile.NamedTemporaryFile(prefix="ringlab-greeting-", delete=False) as f:
        f.write(body)
        path = f.name
    try:
        with harness.Server("greeting", engine, args=["--message-file", path]) as srv:
            got = greet(srv, 15)
            tap.ok(got == body, "--message-file: 100 KiB of binary (NULs included) byte-exact, then EOF",
                   "got %d of %d bytes; first difference at %s" % (
                       len(got), size,
                       next((i for i in range(min(len(got), size)) if got[i] != body[i]), "end")))

            # A slow reader: 6 bytes at a time, with pauses, still gets all of it.
            buf = bytearray()
            with srv.connect(15) as s:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
                time.sleep(0.2)
                while True:
                    b = s.recv(6)
                    if not b:
                        break
                    buf += b
                    if len(buf) % 6000 == 0:
                        time.sleep(0.01)
            tap.ok(bytes(buf) == body, "--message-file: a 6-byte-chunk reader gets all 100 KiB exactly",
                   "got %d of %d bytes" % (len(buf), size))

            # Several at once.
            socks = [srv.connect(15) for _ in range(20)]
            outs = []
            for s in socks:
                outs.append(harness.recv_all(s))
                s.close()
            tap.ok(all(o == body for o in outs), "--message-file: 20 concurrent clients each get all 100 KiB",
                   "lengths %r" % [len(o) for o in outs])
            check_stop(tap, srv, "--message-file", 22)
    finally:
        os.unlink(path)


def resetting_clients(tap, engine):
    """Clients that reset their connection at once (SO_LINGER 0) do not hurt the server."""
    with harness.Server("greeting", engine) as srv:
        for _ in range(100):
            s = socket.socket(srv.family, socket.SOCK_STREAM)
            s.connect(srv.addr)
            harness.reset_close(s)
        time.sleep(0.2)
        got = greet(srv)
        tap.ok(srv.alive() and got == DEFAULT,
               "after 100 clients that reset at once, the next client still gets the greeting",
               "alive %s, got %r" % (srv.alive(), got))
        rc, err = srv.stop()
        c = harness.parse_counters(err)
        tap.ok(rc == 0 and c is not None and c.get("connections") == 101 and c.get("closed") == 101,
               "after resetting clients: exit 0, counters: connections 101, closed 101",
               "rc %r, counters %r" % (rc, c))


def iterative(tap, engine):
    names = ["--blocking-mode iterative: sequential clients each get the greeting",
             "--blocking-mode iterative: 50 queued connectors all get the greeting",
             "--blocking-mode iterative: SIGTERM -> exit 0",
             "--blocking-mode iterative: final counters count the 55 connections"]
    if engine != "blocking":
        for n in names:
            skip(tap, n, "blocking engine only")
        return
    with harness.Server("greeting", engine, args=["--blocking-mode", "iterative"]) as srv:
        outs = [greet(srv) for _ in range(5)]
        tap.ok(all(o == DEFAULT for o in outs), names[0], "got %r" % outs)
        socks = [srv.connect(15) for _ in range(50)]
        outs = []
        for s in socks:
            try:
                outs.append(harness.recv_all(s))
            except OSError as e:
                outs.append(repr(e))
            s.close()
        bad = [(i, o) for i, o in enumerate(outs) if o != DEFAULT]
        tap.ok(not bad, names[1], "bad %r" % bad[:5])
        rc, err = srv.stop()
        tap.ok(rc == 0, names[2], "rc %r stderr:\n%s" % (rc, err))
        c = harness.parse_counters(err)
        tap.ok(c is not None and c.get("connections") == 55 and c.get("closed") == 55
               and c.get("errors") == 0, names[3], "counters %r" % c)


def main():
    args = harness.parse_args()
    tap = harness.Tap()
    for fn in (default_message, custom_message, message_file, resetting_clients, iterative):
        harness.guard(tap, fn.__name__, fn, tap, args.engine)
    return tap.done()


if __name__ == "__main__":
    sys.exit(main())
