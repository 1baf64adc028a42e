#!/usr/bin/env python3
"""memory cap: the echo server under RLIMIT_AS 64 MiB (ulimit -v 65536: enough to start
every engine, not enough to hold 5,000 connections; the blocking engine runs out of
thread stacks after ~200 threads) and 5,000 ringlab-load connections sending 16 KiB
echoes (with 64 B ones the uring server, whose replies go out from the receive buffer,
sometimes held all 5,000 within the cap, and then had nothing to refuse).  Correct
behaviour: the server refuses what it cannot hold (drops/refuses connections, counted in
the final counters and logged with --verbose) instead of crashing or stalling; it keeps
serving the connections it holds; its fd count returns to baseline once the clients are
gone; SIGTERM gives exit 0 within the drain timeout."""
import os
import resource
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import rel  # noqa: E402

CAP_MIB = 64
CONNS = 5000
DRAIN = 2.0


def main():
    args = rel.parse_args()
    san = rel.sanitizer()
    if san:
        # The sanitizer runtimes reserve terabytes of shadow address space at start-up,
        # so no RLIMIT_AS that means anything can apply to them.
        return rel.skip_all("RLIMIT_AS cannot cap a %s-sanitized binary" % san)
    tap = rel.Tap()
    try:
        srv = rel.LogServer("echo", engine=args.engine,
                            args=["--verbose", "--drain-timeout", "%gs" % DRAIN],
                            preexec_fn=rel.rlimit(resource.RLIMIT_AS, CAP_MIB << 20))
    except RuntimeError as e:
        tap.ok(False, "server starts under RLIMIT_AS %d MiB" % CAP_MIB, str(e))
        return tap.done()
    tap.ok(True, "server starts under RLIMIT_AS %d MiB" % CAP_MIB)
    try:
        base = rel.fd_count(srv.pid)
        rc, doc, out = rel.run_load("echo", srv.addr, ["-c", CONNS, "-d", "2s", "--warmup", "0",
                                                       "--size", "16KiB", "--timeout", "3s"],
                                    timeout=60)
        tap.ok(srv.alive(), "server alive after %d connections under the cap" % CONNS)
        if doc:
            err = rel.errors_of(doc)
            tap.diag("load: exit %s, %d requests, %d of %d open at the end, errors %s" % (
                rc, doc["totals"]["requests"], doc["connections"]["open_at_end"], CONNS,
                {k: v for k, v in err.items() if v}))
            tap.ok(doc["totals"]["requests"] > 0,
                   "the server keeps serving what it holds (%d requests verified)"
                   % doc["totals"]["requests"], out)
            tap.ok(err.get("mismatch", 0) == 0, "no corrupted echo (mismatch %s)" % err.get("mismatch"))
        else:
            tap.ok(False, "ringlab-load wrote its JSON", out)
        if srv.alive():
            tap.diag("server: rss %s KiB, threads %s, fds %d" % (
                rel.rss_kib(srv.pid), rel.threads_of(srv.pid), rel.fd_count(srv.pid)))
            fds = rel.wait_for(lambda: srv.alive() and rel.fd_count(srv.pid) <= base, 5)
            tap.ok(bool(fds), "fd count back to baseline %d once clients are gone (now %s)"
                   % (base, rel.fd_count(srv.pid) if srv.alive() else "dead"))
        t0 = time.monotonic()
        code, serr = srv.stop(timeout=DRAIN + 8)
        took = time.monotonic() - t0
    finally:
        if srv.rc is None:
            srv.stop(timeout=2)
    tap.ok(code == 0, "exit 0 on SIGTERM (got %s)" % code, rel.counters_diag(serr))
    tap.ok(took <= DRAIN + 3, "exited in %.1f s (drain timeout %gs)" % (took, DRAIN))
    c = rel.parse_counters(serr) or {}
    refusals = c.get("errors", 0) + c.get("refused", 0) + c.get("accept backoffs", 0)
    msgs = [l for l in serr.splitlines() if "memory" in l.lower() or "cannot" in l.lower()]
    tap.ok(refusals > 0, "refusals counted (errors %s, refused %s, accept backoffs %s)"
           % (c.get("errors"), c.get("refused"), c.get("accept backoffs")), rel.counters_diag(serr))
    tap.ok(bool(msgs), "a clear message in the log (%d lines)" % len(msgs))
    if msgs:
        tap.diag("first: %s" % msgs[0])
    tap.diag("counters: %s" % c)
    return tap.done()


if __name__ == "__main__":
    sys.exit(main())
