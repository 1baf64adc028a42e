#!/usr/bin/env python3
"""connection churn: the greeting server under 20 s of connect/read/close at the maximum
rate (ringlab-load greeting, closed loop; 20 s rather than 60 s to keep the suite
bounded; RINGLAB_CHURN_SECONDS=60 for the full-length run): no crash, every greeting verified, no fd leak (fd count back to baseline), RSS
at the end at most 10% above its value after the first 3 s (warm-up)."""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import rel  # noqa: E402

SECONDS = int(os.environ.get("RINGLAB_CHURN_SECONDS", "20"))


def main():
    args = rel.parse_args()
    tap = rel.Tap()
    with rel.Server("greeting", engine=args.engine) as srv:
        base = rel.fd_count(srv.pid)
        t0 = time.monotonic()
        # several source addresses so that TIME_WAIT does not run out the port range
        load = rel.Load("greeting", srv.addr, ["-c", 32, "-d", "%ds" % SECONDS, "--warmup", "0",
                                               "--source", "127.0.0.2-127.0.0.9"])
        time.sleep(3.0)
        rss_warm = rel.rss_kib(srv.pid)
        samples = []
        while load.proc.poll() is None and time.monotonic() - t0 < SECONDS + 15:
            time.sleep(1.0)
            if srv.alive():
                samples.append(rel.rss_kib(srv.pid))
        rc, doc, out = load.wait(timeout=30)
        err = rel.errors_of(doc)
        tap.ok(srv.alive(), "server alive after %d s of churn" % SECONDS)
        tap.ok(rc == 0 and err.get("total") == 0,
               "ringlab-load: exit %s, errors %s (want 0, 0)" % (rc, err.get("total")), out)
        if doc:
            t = doc["totals"]
            tap.diag("%d connections in %.1f s = %.0f/s" % (t["requests"], t["elapsed_s"],
                                                              t["requests_per_s"]))
        fds = rel.wait_for(lambda: rel.fd_count(srv.pid) == base, 5)
        tap.ok(bool(fds), "fd count back to baseline %d (now %d)" % (base, rel.fd_count(srv.pid)))
        rss_end = rel.rss_kib(srv.pid)
        # growth is what a leak looks like; a smaller RSS at the end (the allocator giving
        # pages back) is fine
        what = ("RSS %d KiB at the end vs %d KiB after 3 s warm-up (%+.1f%%, at most +10%%; "
                "max seen %d)" % (rss_end, rss_warm, 100.0 * (rss_end - rss_warm) / rss_warm,
                                  max(samples or [0])))
        san = rel.sanitizer()
        if san:
            # A sanitizer's runtime keeps growing its own state (TSan's history, ASan's
            # quarantine): RSS says nothing about the server's memory there.
            tap.ok(True, "%s # SKIP %s-sanitized build" % (what, san))
        else:
            tap.ok(rss_end <= 1.10 * rss_warm, what)
        code, serr = srv.stop()
    tap.ok(code == 0, "server exit 0 (got %s)" % code, rel.counters_diag(serr))
    tap.diag("counters: %s" % rel.parse_counters(serr))
    return tap.done()


if __name__ == "__main__":
    sys.exit(main())
