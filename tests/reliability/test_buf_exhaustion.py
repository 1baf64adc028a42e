#!/usr/bin/env python3
"""buffer exhaustion: uring with --buf-count 8 --buf-size 64 under heavy ringlab-load
(200 connections, 4 KiB messages, pipeline 4, 3 s): every echoed byte verified (zero
errors), ringlab-load exits 0, the counters show buffer-ring empty > 0.  Other engines
take the same load without the buffer options and assertions."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import rel  # noqa: E402


def main():
    args = rel.parse_args()
    tap = rel.Tap()
    uring = args.engine == "uring"
    opts = ["--buf-count", "8", "--buf-size", "64"] if uring else []
    with rel.Server("echo", engine=args.engine, args=opts) as srv:
        rc, doc, out = rel.run_load("echo", srv.addr, ["-c", 200, "-s", "4KiB", "-p", 4,
                                                       "-d", "3s", "--warmup", "0"], timeout=60)
        err = rel.errors_of(doc)
        tap.ok(rc == 0, "ringlab-load exits 0 (got %s)" % rc, out)
        tap.ok(doc is not None and err.get("total") == 0,
               "zero errors, every byte verified (errors %s)" % err.get("total"), err)
        if doc:
            t = doc["totals"]
            tap.ok(t["requests"] > 0, "requests echoed: %d (%.0f/s, %.1f MB/s)"
                   % (t["requests"], t["requests_per_s"], t["mb_per_s_received"]))
            tap.diag("p99 %.0f us" % rel.p99_of(doc))
        tap.ok(srv.alive(), "server alive after the load")
        code, serr = srv.stop()
    tap.ok(code == 0, "server exit 0 (got %s)" % code, rel.counters_diag(serr))
    c = rel.parse_counters(serr) or {}
    tap.diag("counters: %s" % c)
    if uring:
        tap.ok(c.get("buffer-ring empty", 0) > 0,
               "counters: buffer-ring empty %s > 0" % c.get("buffer-ring empty"))
    return tap.done()


if __name__ == "__main__":
    sys.exit(main())
