"""bench/run --curves against a meson build, end to end and tiny: echo-64 at 10
connections, the uring engine only, two steps, one repetition of 1 s windows.  The run
must exit 0 and leave curves.csv (two rows, the documented columns, achieved rates),
capacity.csv, runs.jsonl (a calibration, two timed trials, two counting passes) and a
report; the per-operation counts are numbers when perf can count here and empty with a
note when it cannot -- never made up.  No timing assertion: only that each step was
measured.  Argument: the meson build root."""
import csv
import json
import shutil
import sys
import tempfile
from pathlib import Path

from benchtest import ROOT, Tap, bench, skip_all

import counting  # noqa: E402  (bench/, on the path through benchtest)
import curvereport  # noqa: E402


def main():
    build = Path(sys.argv[1] if len(sys.argv) > 1 else ROOT / "build")
    server = build / "servers" / "ringlab-server"
    load = build / "loadgen" / "ringlab-load"
    if not (server.exists() and load.exists()):
        return skip_all("no ringlab-server/ringlab-load in %s" % build)
    from harness import sanitizer
    if sanitizer(str(server)) in ("thread", "memory"):
        return skip_all("%s sanitizer build: too slow for a load curve" % sanitizer(str(server)))
    t = Tap()
    tmp = Path(tempfile.mkdtemp(prefix="ringlab-curves-smoke-"))
    out = tmp / "result"
    r = bench("run", "--curves", "--only", "echo-64", "--conns", "10", "--engines", "uring",
              "--steps", "2", "--reps", "1", "--duration", "1", "--warmup", "0",
              "--no-build", "--no-install", "--build-dir", build, "--out", out, timeout=55)
    t.ok(r.returncode == 0, "bench/run --curves (2 steps, uring) exits 0",
         r.stdout[-3000:] + r.stderr[-2000:])
    try:
        runs = [json.loads(l) for l in (out / "runs.jsonl").read_text().splitlines()]
    except (OSError, ValueError) as e:
        t.ok(False, "runs.jsonl is there and valid", e)
        return t.done()
    kinds = [(x["kind"], x.get("step")) for x in runs]
    # A loaded machine may end the curve after its first step by the stopping rule
    # (achieved < 95% of offered); then summary.json must say so.
    try:
        stops = json.loads((out / "summary.json").read_text()).get("stops") or []
    except (OSError, ValueError):
        stops = []
    early = any(s.get("why", "").startswith("after ") for s in stops) and \
        len(kinds) == len([k for k in kinds if k[0] == "calibrate"]) + 2
    cal = [k for k in kinds if k[0] == "calibrate"]      # a failed one is tried again
    want = cal[:2] + [("curve", 0), ("count", 0)] + \
        ([] if early else [("curve", 1), ("count", 1)])
    t.ok(kinds == want, "runs.jsonl: calibration, then a timed trial and a counting pass "
         "per step%s" % (" (stopped early: %s)" % stops if early else ""), kinds)
    t.ok(all(x["ok"] for x in runs if x["kind"] != "calibrate") and runs and
         any(x["ok"] for x in runs if x["kind"] == "calibrate"),
         "every trial measured something (a calibration may need a second try)",
         [(x["kind"], x.get("problems")) for x in runs if not x["ok"]])
    with open(out / "curves.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    with open(out / "curves.csv", newline="") as f:
        header = next(csv.reader(f))
    t.ok(tuple(header) == curvereport.CURVE_COLUMNS, "curves.csv: the documented columns")
    steps = len([k for k in want if k[0] == "curve"])
    t.ok(len(rows) == steps and all(x["engine"] == "uring" and float(x["achieved_per_s"]) > 0
                                    and float(x["p99_us"]) > 0 for x in rows),
         "curves.csv: a row per measured step", rows)
    t.ok(len(rows) < 2 or float(rows[0]["offered_per_s"]) < float(rows[1]["offered_per_s"]),
         "curves.csv: the offered rate rises")
    events, notes = counting.probe()
    if events:
        t.ok(all(x["syscalls_per_op"] != "" and float(x["syscalls_per_op"]) > 0 and
                 x["enters_per_op"] != "" for x in rows),
             "perf can count here: syscalls and enters per operation in every row", rows)
    else:
        text = (out / "report.md").read_text()
        t.ok(all(x["syscalls_per_op"] == "" for x in rows) and "perf" in text,
             "perf cannot count here: empty counts and a note in the report", notes)
    with open(out / "capacity.csv", newline="") as f:
        caps = list(csv.reader(f))
    t.ok(caps[0] == list(curvereport.CAPACITY_COLUMNS) and len(caps) == 2 and
         caps[1][:3] == ["echo-64", "uring", "1000"], "capacity.csv: one row, 1 ms target", caps)
    text = (out / "report.md").read_text() if (out / "report.md").exists() else ""
    t.ok("## Capacity at p99" in text and "### echo-64, 10 connections" in text,
         "report.md: the capacity table and the workload's section")
    if shutil.which("gnuplot"):
        t.ok((out / "plots" / "curves-echo-64-p99.png").exists(), "plots drawn (gnuplot found)")
    if not t.failed:
        shutil.rmtree(tmp, ignore_errors=True)
    else:
        t.diag("kept: %s" % tmp)
    return t.done()


if __name__ == "__main__":
    sys.exit(main())
