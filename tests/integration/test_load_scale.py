#!/usr/bin/env python3
"""Scale: 10,000 connections from one ringlab-load process against the uring echo server
(the blocking engine would need 10,000 threads, so this runs on uring only).  Every
connection is reached and carries verified traffic through a 3 s window, without a
single error, and the run ends in bounded time."""
import json
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

N = 10000


def main():
    harness.parse_args()
    tap = harness.Tap()
    fd, path = tempfile.mkstemp(prefix="ringlab-load-", suffix=".json")
    os.close(fd)
    try:
        with harness.Server("echo", engine="uring") as srv:
            t0 = time.monotonic()
            p = subprocess.run([harness.LOAD, "echo", "--target", srv.spec, "-c", str(N), "-t",
                                "2", "-d", "3", "--warmup", "1", "--timeout", "10s", "--json",
                                path], capture_output=True, text=True, timeout=120)
            secs = time.monotonic() - t0
            diag = "status %d after %.1fs\nstdout:\n%s\nstderr:\n%s" % (
                p.returncode, secs, p.stdout, p.stderr[-3000:])
            tap.ok(p.returncode == 0, "%d connections: exit status 0" % N, diag)
            with open(path) as f:
                doc = json.load(f)
            c = doc["connections"]
            tap.ok(c["reached"] == N and c["open_at_end"] == N,
                   "all %d connections reached and open at the end" % N, json.dumps(c))
            tap.ok(doc["errors"]["total"] == 0, "zero errors", json.dumps(doc["errors"]))
            full = [s for s in doc["series"] if s["length_s"] >= 0.999]
            tap.ok(len(full) == 3 and all(s["requests"] > N for s in full),
                   "steady state: every second of the window moved more requests than there "
                   "are connections", json.dumps(doc["series"]))
            tap.ok(secs < 30, "bounded time: %.1fs" % secs)
            rc, err = srv.stop()
            tap.ok(rc == 0, "server exits 0", err[-2000:])
    finally:
        os.unlink(path)
    return tap.done()


if __name__ == "__main__":
    sys.exit(main())
