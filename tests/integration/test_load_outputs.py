#!/usr/bin/env python3
"""ringlab-load's outputs, against the uring echo server: --hgrm (rows and footer, the
.uncorrected twin in open loop), --log (every interval line decodes: base64, zlib, the
HdrHistogram V2 cookies, counts that add up to the JSON series), --json (valid, with every
documented key), progress lines on stderr, and what --quiet leaves out."""
import base64
import json
import os
import re
import struct
import subprocess
import sys
import tempfile
import zlib

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

KEYS = {
    "": {"tool", "version", "exit_status", "parameters", "environment", "connections", "totals",
         "latency_us", "series", "errors", "cpu"},
    "parameters": {"protocol", "target", "mode", "connections", "threads", "duration_s",
                   "warmup_s", "size", "pipeline", "rate", "connect_rate", "source", "timeout_s",
                   "seed"},
    "environment": {"kernel", "cpu_model", "cpus", "hostname", "liburing", "git_commit",
                    "build_type", "version", "date"},
    "connections": {"target", "reached", "open_at_end"},
    "totals": {"window_started", "interrupted", "elapsed_s", "window_start_unix_s",
               "window_end_unix_s", "requests", "requests_per_s", "scheduled", "sent",
               "behind_at_start", "behind_at_end", "send_late_max_s",
               "bytes_sent", "bytes_received", "mb_per_s_sent", "mb_per_s_received"},
    "latency_us": {"corrected", "uncorrected"},
    "errors": {"total", "connect", "connect_timeout", "reset", "eof", "timeout", "mismatch",
               "unexpected_data", "io", "connect_by_errno", "io_by_errno"},
    "cpu": {"user_s", "sys_s", "percent_of_core", "us_per_request", "busiest_thread_percent",
            "per_thread_percent", "client_bound_warning"},
}
HIST_KEYS = {"count", "min", "mean", "stddev", "p50", "p90", "p99", "p99.9", "p99.99", "max"}
SERIES_KEYS = {"t_s", "length_s", "requests", "requests_per_s", "p50_us", "p99_us", "errors"}


def varint(buf, pos):
    """One ZigZag LEB128 value (at most 9 bytes, the ninth carrying 8 bits)."""
    v = shift = 0
    for i in range(9):
        b = buf[pos]
        pos += 1
        if i == 8:
            v |= b << 56
            break
        v |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            break
    return (v >> 1) ^ -(v & 1), pos


def decode_histogram(b64):
    """Decodes a compressed V2 histogram; returns (sigfigs, lowest, highest, total count)."""
    raw = base64.b64decode(b64)
    cookie, length = struct.unpack(">ii", raw[:8])
    if cookie & ~0xF0 != 0x1C849304:
        raise ValueError("compressed cookie %#x" % cookie)
    inner = zlib.decompress(raw[8:8 + length])
    cookie, plen, _, sigfigs, lowest, highest, ratio = struct.unpack(">iiiiqqd", inner[:40])
    if cookie & ~0xF0 != 0x1C849303:
        raise ValueError("encoding cookie %#x" % cookie)
    total, pos, end = 0, 40, 40 + plen
    while pos < end:
        v, pos = varint(inner, pos)
        if v > 0:
            total += v
    return sigfigs, lowest, highest, total


def check_hgrm(tap, path, count, label):
    with open(path) as f:
        lines = f.read().splitlines()
    rows = [l.split() for l in lines if re.match(r"^\s*\d+\.\d+\s+\d\.\d+", l)]
    footer = "\n".join(l for l in lines if l.startswith("#["))
    m = re.search(r"Total count\s*=\s*(\d+)", footer)
    tap.ok(len(rows) > 10 and all(len(r) in (3, 4) for r in rows),
           "%s: %d percentile rows" % (label, len(rows)), "\n".join(lines[:20]))
    tap.ok(m is not None and int(m.group(1)) == count and int(rows[-1][2]) == count,
           "%s: footer and last row count %d requests" % (label, count), footer)
    tap.ok("Mean" in footer and "Buckets" in footer, "%s: full footer" % label, footer)


def check_keys(tap, doc):
    missing = []
    for section, keys in KEYS.items():
        have = doc if not section else doc.get(section, {})
        missing += ["%s.%s" % (section, k) for k in keys - set(have)]
    for h in ("corrected", "uncorrected"):
        missing += ["latency_us.%s.%s" % (h, k) for k in HIST_KEYS - set(doc["latency_us"][h])]
    for p in doc["series"]:
        missing += ["series[].%s" % k for k in SERIES_KEYS - set(p)]
    tap.ok(not missing, "--json has every documented key", ", ".join(missing))


def main():
    harness.parse_args()
    tap = harness.Tap()
    tmp = tempfile.mkdtemp(prefix="ringlab-load-")
    hgrm, log, js = (os.path.join(tmp, n) for n in ("lat.hgrm", "lat.hlog", "run.json"))
    with harness.Server("echo", engine="uring") as srv:
        p = subprocess.run([harness.LOAD, "echo", "--target", srv.spec, "-c", "20", "--rate",
                            "4000", "-d", "3", "--warmup", "0.2", "--hgrm", hgrm, "--log", log,
                            "--json", js], capture_output=True, text=True, timeout=60)
        diag = "status %d\nstdout:\n%s\nstderr:\n%s" % (p.returncode, p.stdout, p.stderr)
        tap.ok(p.returncode == 0, "open-loop run with every output exits 0", diag)
        with open(js) as f:
            doc = json.load(f)
        tap.ok(True, "--json parses as JSON")
        check_keys(tap, doc)
        tap.ok(doc["exit_status"] == 0 and doc["tool"] == "ringlab-load", "exit_status and tool")
        n = doc["latency_us"]["corrected"]["count"]
        check_hgrm(tap, hgrm, n, "--hgrm")
        check_hgrm(tap, os.path.join(tmp, "lat.uncorrected.hgrm"), n, "--hgrm .uncorrected")
        with open(log) as f:
            lines = f.read().splitlines()
        tap.ok(any(l.startswith("#[StartTime: ") for l in lines) and
               any(l.startswith("#[BaseTime: ") for l in lines), "--log header")
        data = [l for l in lines if l and not l.startswith("#") and not l.startswith('"')]
        tap.ok(len(data) == len(doc["series"]) == 3, "--log: one line per second (%d)" % len(data),
               "\n".join(lines))
        sums, ok = [], True
        for line in data:
            start, length, mx, b64 = line.split(",")
            sig, lo, hi, total = decode_histogram(b64)
            sums.append(total)
            ok = ok and sig == 3 and lo == 1 and float(length) > 0
        tap.ok(ok, "--log lines decode (3 significant figures, lowest 1 ns)")
        tap.ok(sums == [s["requests"] for s in doc["series"]],
               "--log interval counts match the JSON series", "%s vs %s" % (
                   sums, [s["requests"] for s in doc["series"]]))
        progress = [l for l in p.stderr.splitlines() if re.match(r"^\s*\d+s\s+\d+ req/s", l)]
        tap.ok(len(progress) >= 3, "one progress line per second on stderr", p.stderr)

        q = subprocess.run([harness.LOAD, "echo", "--target", srv.spec, "-c", "4", "-d", "1",
                            "--warmup", "0", "--quiet"], capture_output=True, text=True,
                           timeout=30)
        tap.ok(q.returncode == 0 and q.stderr == "", "--quiet: no progress on stderr", q.stderr)
        tap.ok("requests" in q.stdout and "latency" in q.stdout and "client CPU" not in q.stdout
               and "transfer" not in q.stdout, "--quiet: summary keeps the essentials", q.stdout)
        tap.ok("client CPU" in p.stdout and "us/request" in p.stdout,
               "summary reports the client's own CPU", p.stdout)
    return tap.done()


if __name__ == "__main__":
    sys.exit(main())
