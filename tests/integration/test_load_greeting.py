#!/usr/bin/env python3
"""ringlab-load greeting against the real greeting server on one engine: every greeting is
verified byte for byte (default text, --expect, --expect-file), a wrong --expect fails the
run, connections/s and the three latency histograms (connect, first byte, total) are
reported, --rate is kept (the schedule exactly, connections/s within 5% when the run kept
up), a peer that never closes is a timeout (no hang), and ephemeral-port exhaustion
(EADDRNOTAVAIL, provoked in a private network namespace with a 10-port range) is
explained, counted and ends the run."""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import socket
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402


def clean_run(tap, name, args, conns):
    rc, out, err, doc, secs = harness.run_load(args)
    diag = harness.load_diag(rc, out, err, secs)
    tap.ok(rc == 0, "%s: exit status 0" % name, diag)
    if not tap.ok(doc is not None, "%s: --json written" % name, diag):
        return None
    tap.ok(doc["connections"]["reached"] == conns, "%s: %d/%d connectors reached" % (
        name, doc["connections"]["reached"], conns), diag)
    tap.ok(doc["errors"]["total"] == 0, "%s: zero errors" % name, json.dumps(doc["errors"]))
    tot = doc["totals"]
    tap.ok(tot["requests"] > 0 and tot["connections_per_s"] > 0,
           "%s: %d greetings verified (%.0f connections/s)" % (name, tot["requests"],
                                                              tot.get("connections_per_s", 0)))
    lat = doc["latency_us"]
    have = all(k in lat for k in ("connect", "first_byte", "total"))
    if tap.ok(have, "%s: connect, first_byte and total histograms in --json" % name,
              json.dumps(lat)):
        tap.ok(lat["total"]["count"] == tot["requests"] and lat["connect"]["count"] > 0 and
               lat["first_byte"]["count"] > 0,
               "%s: histogram counts (total %d = requests, connect %d, first byte %d)" % (
                   name, lat["total"]["count"], lat["connect"]["count"],
                   lat["first_byte"]["count"]))
        tap.ok(lat["connect"]["p50"] <= lat["first_byte"]["p50"] <= lat["total"]["p50"] + 1e-9,
               "%s: p50 connect <= first byte <= total" % name, json.dumps(lat))
    return doc


def silent_peer(stop):
    """A greeting peer that sends the greeting and never closes."""
    ls = socket.socket()
    ls.bind(("127.0.0.1", 0))
    ls.listen(64)
    ls.settimeout(0.2)
    held = []

    def loop():
        while not stop.is_set():
            try:
                s, _ = ls.accept()
            except socket.timeout:
                continue
            s.sendall(b"Hello from ringlab\n")
            held.append(s)
        for s in held:
            s.close()
        ls.close()

    t = threading.Thread(target=loop, daemon=True)
    t.start()
    return ls.getsockname()[1], t


def port_exhaustion(tap):
    if not shutil.which("unshare") or not shutil.which("ip"):
        tap.ok(True, "# SKIP port exhaustion: no unshare/ip")
        return
    script = ("ip link set lo up && echo '40000 40009' > /proc/sys/net/ipv4/ip_local_port_range"
              " || exit 77; %s greeting --listen 127.0.0.1:7001 >/dev/null 2>&1 & srv=$!; "
              "sleep 0.3; %s greeting --target 127.0.0.1:7001 -c 20 -d 1 --warmup 0.2 -q; "
              "rc=$?; kill $srv; exit $rc") % (harness.SERVER, harness.LOAD)
    t0 = time.monotonic()
    try:
        p = subprocess.run(["unshare", "-rn", "sh", "-c", script], capture_output=True,
                           text=True, timeout=30)
    except subprocess.TimeoutExpired:
        tap.ok(False, "port exhaustion: the run ended (it hung)")
        return
    secs = time.monotonic() - t0
    if p.returncode == 77 or "unshare" in p.stderr and "Operation not permitted" in p.stderr:
        tap.ok(True, "# SKIP port exhaustion: no private network namespace here")
        return
    diag = harness.load_diag(p.returncode, p.stdout, p.stderr, secs)
    tap.ok(p.returncode == 1, "port exhaustion: exit status 1", diag)
    tap.ok("EADDRNOTAVAIL" in p.stderr and "--source" in p.stderr and "TIME_WAIT" in p.stderr,
           "port exhaustion: the error names the cause and the remedy", diag)
    tap.ok("connect EADDRNOTAVAIL" in p.stdout, "port exhaustion: counted by errno", diag)
    tap.ok(secs < 15, "port exhaustion: no hang (%.1fs)" % secs)


def main():
    args = harness.parse_args()
    tap = harness.Tap()
    with harness.Server("greeting", engine=args.engine) as srv:
        base = ["greeting", "--target", srv.spec, "--quiet", "--warmup", "0.3"]
        closed = clean_run(tap, "closed loop, 16 connectors", base + ["-c", "16", "-d", "1.5"],
                           16)
        clean_run(tap, "2 threads, 64 connectors", base + ["-c", "64", "-t", "2", "-d", "1"], 64)
        # This checks the load generator's rate keeping, so the server must have headroom:
        # a quarter of the capacity just measured, at most 1,000/s.  A sanitized
        # thread-per-connection server tops out near 1,000/s (945/s seen under ASan at
        # --rate 1000, 300-1,100/s under TSan), which would test the server, not the rate.
        cap = closed["totals"]["connections_per_s"] if closed else 400.0
        rate = int(max(50, min(1000, cap / 4)) // 10 * 10)
        doc = clean_run(tap, "open loop %d/s" % rate,
                        base + ["-c", "8", "-d", "2", "--rate", str(rate)], 8)
        if doc:
            # The schedule, every connection accounted for, and the rate when the run kept
            # up at the window's edges (a busy machine makes a connector late).
            harness.check_schedule(tap, "open loop %d/s" % rate, doc, rate, 8)
            tap.ok("uncorrected" in doc["latency_us"], "open loop: uncorrected total kept")
        rc, out, err, doc, secs = harness.run_load(base + ["-c", "4", "-d", "1", "--expect",
                                                   "Hello from ringlaX\\n"])
        diag = harness.load_diag(rc, out, err, secs)
        tap.ok(rc == 1, "wrong --expect: exit status 1", diag)
        tap.ok(doc is not None and doc["errors"]["mismatch"] > 0, "wrong --expect: mismatch "
               "counted", diag)
        tap.ok("reply byte 17" in err, "wrong --expect: first differing byte reported", diag)
        rc, out, err, doc, secs = harness.run_load(base + ["-c", "4", "-d", "1", "--expect",
                                                   "Hello from ringlab\\n!"])
        tap.ok(rc == 1 and "cut short" in err, "--expect longer than the greeting: exit 1, "
               "cut short reported", harness.load_diag(rc, out, err, secs))
        rc, out, err, doc, secs = harness.run_load(base + ["-c", "4", "-d", "1", "--expect",
                                                   "Hello from ringlab"])
        tap.ok(rc == 1 and doc is not None and doc["errors"]["unexpected_data"] > 0,
               "--expect shorter than the greeting: exit 1, unexpected data",
               harness.load_diag(rc, out, err, secs))
    with tempfile.TemporaryDirectory() as d:
        msg = bytes(range(256)) * 9 + b"end\r\n"
        path = os.path.join(d, "greeting.bin")
        with open(path, "wb") as f:
            f.write(msg)
        with harness.Server("greeting", engine=args.engine,
                            args=["--message-file", path]) as srv:
            clean_run(tap, "--expect-file, 2309-byte binary greeting",
                      ["greeting", "--target", srv.spec, "-q", "--warmup", "0.3", "-c", "8",
                       "-d", "1", "--expect-file", path], 8)
    if args.engine == "uring":
        stop = threading.Event()
        port, t = silent_peer(stop)
        rc, out, err, doc, secs = harness.run_load(["greeting", "--target", "127.0.0.1:%d" % port, "-q",
                                            "-c", "4", "-d", "2", "--warmup", "0",
                                            "--timeout", "0.5"], timeout=30)
        stop.set()
        t.join(5)
        tap.ok(rc == 1 and doc is not None and doc["errors"]["timeout"] == 4 and secs < 10,
               "peer that never closes: 4 timeouts, exit 1, no hang (%.1fs)" % secs,
               harness.load_diag(rc, out, err, secs))
        port_exhaustion(tap)
    return tap.done()


if __name__ == "__main__":
    sys.exit(main())
