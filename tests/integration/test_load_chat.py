#!/usr/bin/env python3
"""ringlab-load chat against the real chat server on one engine: 50 clients in one room,
every line reaches every other client exactly once and in order (zero errors, deliveries =
49 x lines), --rate kept within a few percent, the outputs carry lines/s, deliveries/s and
the fan-out latency; and against a small Python room that repeats one line, which must be
caught (exit 1)."""
import json
import os
import selectors
import socket
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402


def run_load(args, timeout=60):
    """Runs ringlab-load with --json; returns (status, stdout, stderr, json or None, secs)."""
    fd, path = tempfile.mkstemp(prefix="ringlab-load-", suffix=".json")
    os.close(fd)
    t0 = time.monotonic()
    try:
        p = subprocess.run([harness.LOAD] + list(args) + ["--json", path], capture_output=True,
                           text=True, timeout=timeout)
        try:
            with open(path) as f:
                doc = json.load(f)
        except (OSError, ValueError):
            doc = None
        return p.returncode, p.stdout, p.stderr, doc, time.monotonic() - t0
    finally:
        os.unlink(path)


def diag_of(rc, out, err, secs):
    return "status %d after %.1fs\nstdout:\n%s\nstderr:\n%s" % (rc, secs, out, err[-3000:])


class BadRoom:
    """A chat room in a thread that sends its 200th data line twice."""

    def __init__(self):
        self.ls = socket.socket()
        self.ls.bind(("127.0.0.1", 0))
        self.ls.listen(16)
        self.ls.setblocking(False)
        self.port = self.ls.getsockname()[1]
        self.stop = threading.Event()
        self.t = threading.Thread(target=self.loop, daemon=True)
        self.t.start()

    def loop(self):
        sel = selectors.DefaultSelector()
        sel.register(self.ls, selectors.EVENT_READ)
        members, bufs, ids, n = [], {}, {}, 0
        while not self.stop.is_set():
            for key, _ in sel.select(0.1):
                s = key.fileobj
                if s is self.ls:
                    c, _ = self.ls.accept()
                    members.append(c)
                    bufs[c] = b""
                    ids[c] = len(ids) + 1
                    sel.register(c, selectors.EVENT_READ)
                    continue
                data = s.recv(65536)
                if not data:
                    sel.unregister(s)
                    members.remove(s)
                    continue
                bufs[s] += data
                while b"\n" in bufs[s]:
                    line, bufs[s] = bufs[s].split(b"\n", 1)
                    out = b"%d %s\n" % (ids[s], line)
                    if line != b"S":
                        n += 1
                        if n == 200:
                            out += out
                    for m in members:
                        if m is not s:
                            m.sendall(out)
        for m in members:
            m.close()
        self.ls.close()

    def close(self):
        self.stop.set()
        self.t.join(5)


def main():
    args = harness.parse_args()
    tap = harness.Tap()
    with harness.Server("chat", engine=args.engine) as srv:
        base = ["chat", "--target", srv.spec, "--quiet", "--warmup", "0.5"]
        rc, out, err, doc, secs = run_load(base + ["-c", "50", "-d", "2"])
        diag = diag_of(rc, out, err, secs)
        tap.ok(rc == 0, "50 clients, closed loop: exit status 0", diag)
        if tap.ok(doc is not None and "chat" in doc, "--json has chat", diag):
            ch = doc["chat"]
            tap.ok(doc["errors"]["total"] == 0 and doc["connections"]["reached"] == 50,
                   "zero errors, 50 clients", json.dumps(doc["errors"]))
            tap.ok(ch["lines"] > 100 and ch["lines_per_s"] > 0 and ch["deliveries_per_s"] > 0,
                   "%d lines (%.0f/s), %d deliveries (%.0f/s)" % (
                       ch["lines"], ch["lines_per_s"], ch["deliveries"],
                       ch["deliveries_per_s"]))
            ratio = ch["deliveries"] / (49.0 * ch["lines"]) if ch["lines"] else 0
            tap.ok(0.95 < ratio < 1.05, "deliveries = 49 x lines (ratio %.3f)" % ratio)
            tap.ok(doc["latency_us"]["corrected"]["count"] == ch["deliveries"],
                   "one fan-out latency sample per delivery")
    # A fresh room: lines an earlier run's clients sent just before they left may still be
    # relayed (the blocking engine reads them after the close), and would be foreign lines.
    with harness.Server("chat", engine=args.engine) as srv:
        base = ["chat", "--target", srv.spec, "--quiet", "--warmup", "0.5"]
        rc, out, err, doc, secs = run_load(base + ["-c", "20", "-d", "2", "--rate", "1000"])
        diag = diag_of(rc, out, err, secs)
        tap.ok(rc == 0, "--rate 1000 lines/s: exit status 0", diag)
        if doc:
            lps = doc["chat"]["lines_per_s"]
            tap.ok(abs(lps - 1000) / 1000 < 0.05, "--rate 1000 gives %.1f lines/s" % lps)
            tap.ok(doc["latency_us"]["uncorrected"]["count"] > 0, "open loop: uncorrected kept")
    if args.engine != "uring":
        return tap.done()
    room = BadRoom()
    try:
        rc, out, err, doc, secs = run_load(["chat", "--target", "127.0.0.1:%d" % room.port, "-q",
                                            "-c", "3", "-d", "2", "--warmup", "0.2", "--rate",
                                            "300", "--timeout", "1s"], timeout=30)
    finally:
        room.close()
    diag = diag_of(rc, out, err, secs)
    tap.ok(rc == 1 and doc is not None and doc["errors"]["mismatch"] >= 1 and
           "twice or out of order" in err, "a repeated line is caught: exit 1", diag)
    return tap.done()


if __name__ == "__main__":
    sys.exit(main())
