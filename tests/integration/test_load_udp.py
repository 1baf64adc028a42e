#!/usr/bin/env python3
"""ringlab-load udp against the real udp server on one engine (zero loss at moderate load,
every reply verified, --rate kept: the schedule exactly, the rate within 5% when the run
kept up; a fixed --reply checked with --expect, a wrong --expect fails the run) and against
small Python peers: one that drops every 10th datagram (~10% loss, no hang), one that
answers twice (duplicates counted) and one that corrupts a byte (mismatch, exit 1)."""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402


def Peer(mode):
    """A UDP echo peer in a thread (harness.UdpPeer); mode 'drop10', 'dup' or 'corrupt'."""
    def answer(data, n):
        if mode == "drop10" and n % 10 == 0:
            return []
        if mode == "corrupt" and n % 5 == 0:
            data = data[:20] + bytes([data[20] ^ 1]) + data[21:]
        return [data, data] if mode == "dup" else [data]
    return harness.UdpPeer(answer)


def main():
    args = harness.parse_args()
    tap = harness.Tap()
    with harness.Server("udp", engine=args.engine) as srv:
        base = ["udp", "--target", srv.spec, "--quiet", "--warmup", "0.3"]
        rc, out, err, doc, secs = harness.run_load(base + ["-c", "50", "-p", "4", "-d", "1.5"])
        diag = harness.load_diag(rc, out, err, secs)
        tap.ok(rc == 0, "50 sockets, pipeline 4: exit status 0", diag)
        if tap.ok(doc is not None and "datagrams" in doc, "--json has datagrams", diag):
            d = doc["datagrams"]
            tap.ok(d["answered"] > 1000 and d["lost"] == 0, "%d answered, zero loss" % (
                d["answered"]), json.dumps(d))
            tap.ok(d["duplicates"] == 0 and d["late"] == 0, "no duplicates, no late replies",
                   json.dumps(d))
            tap.ok(doc["errors"]["total"] == 0 and doc["connections"]["reached"] == 50,
                   "zero errors, 50 sockets", json.dumps(doc["errors"]))
            tap.ok(doc["latency_us"]["corrected"]["count"] == doc["totals"]["requests"],
                   "one RTT sample per answered datagram")
        rc, out, err, doc, secs = harness.run_load(base + ["-c", "20", "--rate", "5000", "-d", "2",
                                                   "-s", "200"])
        diag = harness.load_diag(rc, out, err, secs)
        tap.ok(rc == 0, "--rate 5000: exit status 0", diag)
        if doc:
            # Zero loss, then the schedule: every datagram accounted for, and the rate when
            # the run kept up at the window's edges.
            tap.ok(doc["datagrams"]["lost"] == 0, "--rate 5000: zero loss")
            harness.check_schedule(tap, "--rate 5000", doc, 5000, 20)
    with harness.Server("udp", engine=args.engine, args=["--reply", "Hello UDP Client"]) as srv:
        base = ["udp", "--target", srv.spec, "--quiet", "--warmup", "0.3", "-c", "8", "-d", "1"]
        rc, out, err, doc, secs = harness.run_load(base + ["--expect", "Hello UDP Client"])
        tap.ok(rc == 0 and doc and doc["datagrams"]["answered"] > 0 and
               doc["datagrams"]["lost"] == 0, "fixed reply verified with --expect",
               harness.load_diag(rc, out, err, secs))
        rc, out, err, doc, secs = harness.run_load(base + ["--expect", "Hello UDP Clienx"])
        tap.ok(rc == 1 and doc and doc["errors"]["mismatch"] == 8,
               "wrong --expect: exit 1, 8 mismatches", harness.load_diag(rc, out, err, secs))
        rc, out, err, doc, secs = harness.run_load(base)
        tap.ok(rc == 1 and doc and doc["errors"]["mismatch"] == 8,
               "fixed reply without --expect/--reply-any: mismatches, exit 1",
               harness.load_diag(rc, out, err, secs))
        rc, out, err, doc, secs = harness.run_load(base + ["--reply-any"])
        tap.ok(rc == 0, "--reply-any accepts the fixed reply", harness.load_diag(rc, out, err, secs))
    if args.engine != "uring":
        return tap.done()  # the peers below do not depend on the server engine
    peer = Peer("drop10")
    try:
        rc, out, err, doc, secs = harness.run_load(["udp", "--target", "127.0.0.1:%d" % peer.port, "-q",
                                            "-c", "4", "-p", "4", "-d", "2", "--warmup", "0.3",
                                            "--timeout", "100ms"], timeout=30)
    finally:
        peer.close()
    diag = harness.load_diag(rc, out, err, secs)
    tap.ok(rc == 0 and secs < 10, "drop-every-10th peer: exit 0, no hang (%.1fs)" % secs, diag)
    if doc:
        loss = doc["datagrams"]["loss_percent"]
        tap.ok(8.0 <= loss <= 12.0, "drop-every-10th peer: %.2f%% loss" % loss,
               json.dumps(doc["datagrams"]))
    peer = Peer("dup")
    try:
        rc, out, err, doc, secs = harness.run_load(["udp", "--target", "127.0.0.1:%d" % peer.port, "-q",
                                            "-c", "4", "-p", "2", "-d", "1", "--warmup", "0.3"],
                                           timeout=30)
    finally:
        peer.close()
    diag = harness.load_diag(rc, out, err, secs)
    if tap.ok(rc == 0 and doc is not None, "duplicating peer: exit 0", diag):
        d = doc["datagrams"]
        tap.ok(d["duplicates"] >= 0.9 * d["answered"] and d["lost"] == 0,
               "duplicating peer: %d duplicates for %d answered" % (d["duplicates"],
                                                                  d["answered"]), json.dumps(d))
    peer = Peer("corrupt")
    try:
        rc, out, err, doc, secs = harness.run_load(["udp", "--target", "127.0.0.1:%d" % peer.port, "-q",
                                            "-c", "2", "-d", "1", "--warmup", "0"], timeout=30)
    finally:
        peer.close()
    diag = harness.load_diag(rc, out, err, secs)
    tap.ok(rc == 1 and doc is not None and doc["errors"]["mismatch"] >= 1 and
           "reply byte 20" in err, "corrupting peer: mismatch at byte 20, exit 1", diag)
    return tap.done()


if __name__ == "__main__":
    sys.exit(main())
