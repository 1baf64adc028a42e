#!/usr/bin/env python3
"""ringlab-load's open loop against the real echo server on one engine: --rate 5000 for
3 s from 50 connections holds its schedule exactly (rate x window intended times, every
request accounted for), delivers the rate within 2% overall and each whole second within
10% when the run kept up (the checks a busy machine cannot fail are made either way), with
both the corrected and the uncorrected latency reported, and zero errors."""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

RATE = 5000
CONNS = 50
TOL = 0.02
MOVED_S = 0.04  # completions moved this far from their intended time: each second +-4%


def calm(doc):
    """The run kept up at the window's edges (harness.kept_up) and no request took longer
    than MOVED_S from its intended time to its reply, so no second lost or gained more
    than MOVED_S x rate (+ one per connection) to its neighbours."""
    return (harness.kept_up(doc, RATE, TOL) and
            doc["latency_us"]["corrected"]["max"] <= MOVED_S * 1e6)


def main():
    args = harness.parse_args()
    tap = harness.Tap()
    with harness.Server("echo", engine=args.engine) as srv:
        # A machine busy with other tests can starve client or server for a while; such a
        # run cannot hold the rate in every second, so up to three attempts are made for a
        # calm one.  The last is checked in any case.
        for attempt in range(3):
            rc, out, err, doc, secs = harness.run_load(["echo", "--target", srv.spec, "-c",
                                                        str(CONNS), "--rate", str(RATE), "-d",
                                                        "3", "--warmup", "0.5"])
            if rc != 0 or doc is None or calm(doc):
                break
            tap.diag("attempt %d was not calm (busy machine?): %s" % (
                attempt + 1, json.dumps([doc["totals"], doc["latency_us"]["corrected"]])))
        diag = "status %d after %.1fs\nstdout:\n%s\nstderr:\n%s" % (rc, secs, out, err[-3000:])
        tap.ok(rc == 0, "open loop run exits 0", diag)
        if not tap.ok(doc is not None, "--json written", diag):
            return tap.done()
        tap.ok(doc["parameters"]["mode"] == "open" and doc["parameters"]["rate"] == RATE,
               "JSON records open loop at %d req/s" % RATE)
        tap.ok(doc["parameters"]["pipeline"] == 64, "open loop pipeline defaults to 64")
        harness.check_schedule(tap, "--rate %d" % RATE, doc, RATE, CONNS, tol=TOL)
        full = [p for p in doc["series"] if p["length_s"] >= 0.999]
        tap.ok(len(full) == 3, "3 whole seconds in the per-second series",
               json.dumps(doc["series"]))
        if calm(doc):
            # Second by second the schedule holds too (looser: a late wake-up near a
            # boundary moves requests into the next second).
            off = [p for p in full if abs(p["requests_per_s"] - RATE) > 0.10 * RATE]
            tap.ok(not off, "every second within 10% of the rate", json.dumps(off))
        else:
            # Not calm: a second's count moves by what the slowest reply took; the window's
            # totals above were checked against what the run reported instead.
            tap.diag("per-second rates not bounded: corrected max %.1f ms" % (
                doc["latency_us"]["corrected"]["max"] / 1000.0))
        tap.ok(doc["errors"]["total"] == 0, "zero errors", json.dumps(doc["errors"]))
        lat = doc["latency_us"]
        tap.ok(lat["corrected"]["count"] == lat["uncorrected"]["count"] == doc["totals"]["requests"],
               "both histograms hold every request of the window")
        tap.ok(lat["corrected"]["p50"] >= lat["uncorrected"]["p50"] > 0,
               "corrected latency (from the intended time) >= uncorrected (from the send)",
               json.dumps(lat))
        tap.ok("corrected" in out and "uncorrected" in out,
               "summary shows both corrected and uncorrected latency", out)
        tap.ok("due in the window" in out, "summary shows the schedule", out)
    return tap.done()


if __name__ == "__main__":
    sys.exit(main())
