#!/usr/bin/env python3
"""ringlab-load against the real echo server on one engine: 1,000 connections all reached
with zero errors, pipelining, large requests (short sends and split replies), several
threads, and a unix socket target.  Every run must exit 0 with every reply verified."""
import json
import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402


def clean_run(tap, name, args, conns):
    rc, out, err, doc, secs = harness.run_load(args)
    diag = "status %d after %.1fs\nstdout:\n%s\nstderr:\n%s" % (rc, secs, out, err[-3000:])
    tap.ok(rc == 0, "%s: exit status 0" % name, diag)
    if not tap.ok(doc is not None, "%s: --json written" % name, diag):
        return None
    tap.ok(doc["connections"]["reached"] == conns and doc["connections"]["open_at_end"] == conns,
           "%s: %d/%d connections reached and still open" % (name, doc["connections"]["reached"],
                                                             conns), diag)
    tap.ok(doc["errors"]["total"] == 0, "%s: zero errors" % name, json.dumps(doc["errors"]))
    tap.ok(doc["totals"]["requests"] > 0 and doc["totals"]["requests_per_s"] > 0,
           "%s: %d requests verified (%.0f/s)" % (name, doc["totals"]["requests"],
                                                  doc["totals"]["requests_per_s"]))
    return doc


def main():
    args = harness.parse_args()
    tap = harness.Tap()
    with harness.Server("echo", engine=args.engine) as srv:
        target = ["echo", "--target", srv.spec, "--quiet"]
        doc = clean_run(tap, "1000 connections", target + ["-c", "1000", "-d", "2", "--warmup",
                                                           "0.5"], 1000)
        if doc:
            el = doc["totals"]["elapsed_s"]
            tap.ok(abs(el - 2.0) < 0.05, "window measured as %.3fs for --duration 2" % el)
            rps = doc["totals"]["requests"] / el
            tap.ok(abs(rps - doc["totals"]["requests_per_s"]) < 1e-6 * rps + 1,
                   "requests/s = requests / measured window")
        clean_run(tap, "pipeline 8", target + ["-c", "50", "-p", "8", "-d", "1.5", "--warmup",
                                               "0.2"], 50)
        doc = clean_run(tap, "256 KiB requests", target + ["-c", "8", "-p", "2", "-s", "256KiB",
                                                           "-d", "1.5", "--warmup", "0.2"], 8)
        if doc:
            # Replies straddling the window edges are counted by bytes on one side and as
            # requests on the other: at most 8 connections x pipeline 2 of them.
            n = doc["totals"]["requests"] - 16
            tap.ok(doc["totals"]["bytes_received"] >= 256 * 1024 * n,
                   "every large reply arrived in full",
                   "%d bytes for %d requests" % (doc["totals"]["bytes_received"], n + 16))
        clean_run(tap, "3 threads", target + ["-c", "90", "-t", "3", "-p", "4", "-d", "1.5",
                                              "--warmup", "0.2"], 90)
        rc, err = srv.stop()
        tap.ok(rc == 0, "server exits 0 after all that", err[-2000:])
    sock = os.path.join(tempfile.mkdtemp(prefix="ringlab-load-"), "echo.sock")
    with harness.Server("echo", engine=args.engine, listen="unix:" + sock) as srv:
        clean_run(tap, "unix socket", ["echo", "--target", "unix:" + sock, "--quiet", "-c", "20",
                                       "-p", "4", "-d", "1", "--warmup", "0.2"], 20)
    return tap.done()


if __name__ == "__main__":
    sys.exit(main())
