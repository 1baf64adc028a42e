#!/usr/bin/env python3
"""A connection flood: 8 sources (127.0.0.2-127.0.0.9) open 8,000 connections that close
at once (half with a FIN, half with a reset), against the echo server with
--max-conns-per-source 16, while a client from 127.0.0.1 keeps echoing.  The server stays
up and serving: every echo of the active client is exact, a new client is served after
the flood, the server exits 0, and its counters add up (every connection accepted or
refused by source is closed)."""
import os
import socket
import struct
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import rel  # noqa: E402

SOURCES = 8
PER_SOURCE = 1000


def flood(addr, src, out):
    done = failed = 0
    for i in range(PER_SOURCE):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            s.bind((src, 0))
            s.settimeout(5)
            s.connect(addr)
            if i % 2:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            done += 1
        except OSError:
            failed += 1
        finally:
            s.close()
    out[src] = (done, failed)


def echoer(srv, stop, out):
    n = 0
    try:
        with srv.connect(timeout=10) as s:
            while not stop.is_set():
                msg = b"still there %d" % n
                s.sendall(msg)
                if rel.recv_exact(s, len(msg)) != msg:
                    out["error"] = "echo %d wrong" % n
                    return
                n += 1
                time.sleep(0.01)
    except OSError as e:
        out["error"] = "after %d echoes: %r" % (n, e)
    out["n"] = n


def main():
    global PER_SOURCE
    args = rel.parse_args()
    if rel.sanitizer():
        PER_SOURCE //= 4  # a sanitized server (TSan: a thread per connection) is slower
    tap = rel.Tap()
    with rel.LogServer("echo", engine=args.engine,
                       args=["--max-conns-per-source", "16"]) as srv:
        stop, eo, fo = threading.Event(), {}, {}
        e = threading.Thread(target=echoer, args=(srv, stop, eo))
        e.start()
        t0 = time.monotonic()
        ts = [threading.Thread(target=flood, args=(srv.addr, "127.0.0.%d" % (2 + i), fo))
              for i in range(SOURCES)]
        for t in ts:
            t.start()
        for t in ts:
            t.join(120)
        took = time.monotonic() - t0
        stop.set()
        e.join(20)
        connected = sum(d for d, _ in fo.values())
        tap.diag("flood: %d connects in %.1f s (%.0f/s), %d failed to connect"
                 % (connected, took, connected / took, sum(f for _, f in fo.values())))
        tap.ok(connected >= SOURCES * PER_SOURCE * 0.9,
               "the flood got through: %d of %d connects" % (connected, SOURCES * PER_SOURCE))
        tap.ok("error" not in eo and eo.get("n", 0) > 0,
               "the active client was served throughout (%s echoes)" % eo.get("n"), eo)
        with srv.connect(timeout=10) as s:
            s.sendall(b"after")
            tap.ok(rel.recv_exact(s, 5) == b"after", "a new client is served after the flood")
        tap.ok(srv.alive(), "server alive")
        code, serr = srv.stop()
    c = rel.parse_counters(serr) or {}
    tap.ok(code == 0, "server exit 0 (got %s)" % code, rel.counters_diag(serr))
    tap.ok(c.get("connections", 0) + c.get("source-refused", 0) >= connected
           and c.get("connections") == c.get("closed"),
           "counters: accepted %s + source-refused %s >= %d connects, all closed (%s)"
           % (c.get("connections"), c.get("source-refused"), connected, c.get("closed")))
    tap.diag("counters: %s" % c)
    return tap.done()


if __name__ == "__main__":
    sys.exit(main())
