#!/usr/bin/env python3
"""signals: SIGTERM while ringlab-load runs → the server exits 0 within --drain-timeout,
and replies in flight are delivered intact: ringlab-load sees no mismatch and no
unexpected data (eof/reset/io at the end are the expected way the connections end).
The same for the greeting server under ringlab-load greeting."""
import os
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import rel  # noqa: E402

DRAIN = 2.0


def case(tap, engine, protocol, load_args):
    srv = rel.Server(protocol, engine=engine, args=["--drain-timeout", "%gs" % DRAIN])
    load = None
    try:
        load = rel.Load(protocol, srv.addr, load_args + ["-d", "10s", "--warmup", "0"])
        run(tap, protocol, srv, load)
    finally:
        if srv.rc is None:
            srv.stop(timeout=5)
        if load is not None and load.proc.poll() is None:
            load.proc.kill()
            load.wait(timeout=5)


def run(tap, protocol, srv, load):
    time.sleep(2.0)
    tap.ok(srv.alive() and load.proc.poll() is None, "%s: load running before SIGTERM" % protocol)
    t0 = time.monotonic()
    srv.proc.send_signal(signal.SIGTERM)
    try:
        srv.proc.wait(timeout=DRAIN + 10)
    except Exception:
        pass
    took = time.monotonic() - t0
    code, serr = srv.stop()
    tap.ok(code == 0, "%s: exit 0 after SIGTERM under load (got %s)" % (protocol, code),
           rel.counters_diag(serr))
    tap.ok(took <= DRAIN + 1.0, "%s: exited in %.2f s (drain timeout %gs + 1 s slack)"
           % (protocol, took, DRAIN))
    rc, doc, out = load.wait(timeout=30)
    err = rel.errors_of(doc)
    tap.ok(doc is not None, "%s: ringlab-load wrote its JSON" % protocol, out)
    tap.ok(err.get("mismatch") == 0 and err.get("unexpected_data") == 0,
           "%s: no verification errors (mismatch %s, unexpected_data %s)"
           % (protocol, err.get("mismatch"), err.get("unexpected_data")), out)
    if doc:
        tap.diag("%s: %d requests before the stop; end-of-run errors: %s" % (
            protocol, doc["totals"]["requests"],
            {k: v for k, v in err.items() if v and k != "total"}))
    c = rel.parse_counters(serr) or {}
    tap.ok(bool(c), "%s: final counters printed" % protocol, serr)
    tap.diag("%s counters: %s" % (protocol, c))
    if protocol == "echo" and c:
        # every byte the server read is a request whose reply was in flight at SIGTERM:
        # it must be echoed before the connection is closed
        tap.ok(c.get("bytes in") == c.get("bytes out"),
               "echo: every byte read was echoed before close (bytes in %s, bytes out %s, "
               "%s lost)" % (c.get("bytes in"), c.get("bytes out"),
                             (c.get("bytes in") or 0) - (c.get("bytes out") or 0)))


def main():
    args = rel.parse_args()
    tap = rel.Tap()
    rel.guard(tap, "echo", case, tap, args.engine, "echo", ["-c", 50, "-p", 4, "-s", "1KiB"])
    rel.guard(tap, "greeting", case, tap, args.engine, "greeting", ["-c", 16])
    return tap.done()


if __name__ == "__main__":
    sys.exit(main())
