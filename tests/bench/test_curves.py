"""bench/run --curves without running anything: the step planner, the stopping rule,
the capacity at a latency target and its summary over repetitions, on fixed numbers;
sockperf sr as a udp peer (a target of the udp-64 curve and of the matrix's udp blocks
when sockperf is there, loaded by `ringlab-load udp --sockperf`, in the timed trials and
the counting passes alike; the engines' load unchanged); then the files of a curves run
written by `bench/run --report` from the hand-made fixture fixtures/curves/ (a curve that
never meets the target, a noisy one).  The expected values are worked out by hand in
fixtures/README.md."""
import csv
import re
import shutil
import sys

from benchtest import Tap, bench, copy_fixture, scratch

import counting  # noqa: E402  (bench/, on the path through benchtest)
import curvereport  # noqa: E402
import curves  # noqa: E402
import matrix  # noqa: E402
import measure  # noqa: E402
import runner  # noqa: E402


def pts(*rows):
    """(offered, achieved, p99[, ok]) -> point dicts."""
    out = []
    for r in rows:
        out.append({"offered": r[0], "achieved": r[1], "p99": r[2],
                    "ok": r[3] if len(r) > 3 else True})
    return out


def planner(t):
    g = curves.plan_steps([40000, 150000])
    ratios = [b / a for a, b in zip(g, g[1:])]
    t.ok(g[0] == 2000 and g[-1] == 195000, "grid: 5% of the slowest to 130% of the fastest",
         g)
    t.ok(len(g) >= curves.MIN_STEPS and max(ratios) <= curves.MAX_STEP_RATIO + 1e-3,
         "grid: >= %d steps, each <= %.1fx the one before" % (curves.MIN_STEPS,
                                                               curves.MAX_STEP_RATIO), g)
    # ln(195000/2000)/ln(1.6) = 9.75 -> 10 intervals -> 11 steps
    t.ok(len(g) == 11, "grid: 11 steps for a 97.5x span", len(g))
    t.ok(all(abs(r - ratios[0]) < 0.01 for r in ratios), "grid: geometric", ratios)
    g = curves.plan_steps([10000, 10000])
    t.ok(len(g) == 8 and g[0] == 500 and g[-1] == 13000,
         "grid: one capacity still gets the minimum of 8 steps", g)
    t.ok(curves.plan_steps([None, 0, 20000], steps=2) == [1000, 26000],
         "grid: --steps 2 gives exactly two steps; failed calibrations are ignored")
    t.ok(curves.plan_steps([None, None]) == [], "grid: no capacity, no steps")
    g = curves.plan_steps([10, 10], steps=8)
    t.ok(g == sorted(set(g)) and g[0] >= 1, "grid: tiny capacities still ascend strictly", g)
    g = curves.plan_steps([1000, 10 ** 9])
    t.ok(len(g) == curves.MAX_STEPS, "grid: a huge span is capped at %d steps"
         % curves.MAX_STEPS, len(g))


def stopping(t):
    sr = curves.stop_reason
    t.ok(sr([]) is None, "stop: no points, go on")
    t.ok(sr(pts((1000, 1000, 100), (2000, 1960, 150))) is None,
         "stop: achieved 98% of offered, go on")
    why = sr(pts((1000, 1000, 100), (2000, 1890, 150)))
    t.ok(why and "achieved 94%" in why, "stop: achieved 94.5% < 95% of offered", why)
    t.ok(sr(pts((1000, 1000, 100), (2000, 2000, 10000))) is None,
         "stop: p99 exactly 100x the lowest step's, go on")
    why = sr(pts((1000, 1000, 100), (2000, 2000, 10001)))
    t.ok(why and "p99" in why, "stop: p99 past 100x the lowest step's", why)
    why = sr(pts((1000, 1000, 100), (2000, 2000, 150), (4000, 4000, 30000)))
    t.ok(why and "p99" in why, "stop: measured against the lowest step, not the previous")
    why = sr(pts((1000, 1000, 100), (2000, None, None, False)))
    t.ok(why == "the trial failed", "stop: a failed trial ends the curve", why)
    t.ok(sr(pts((1000, 1000, None, True), (2000, 2000, 5000))) is None,
         "stop: no p99 at the lowest step: only the achieved-rate rule applies")


def capacity(t):
    cap = curves.capacity
    clean = pts((1000, 1000, 100), (2000, 2000, 300), (4000, 3980, 900), (8000, 7000, 5000))
    t.ok(cap(clean, 1000) == 4000, "capacity: the last step with p99 <= target and >= 99%")
    t.ok(cap(clean, 250) == 1000, "capacity: a tighter target, a lower capacity")
    never = pts((1000, 1000, 1500), (2000, 2000, 1800), (4000, 3000, 90000))
    t.ok(cap(never, 1000) is None, "capacity: a curve that never meets the target: None")
    noisy = pts((1000, 1000, 120), (2000, 2000, 2000), (4000, 3980, 500), (8000, 7800, 800))
    t.ok(cap(noisy, 1000) == 4000, "capacity: a noisy step below does not lower it; 97.5% "
         "achieved at 8000 does not count")
    t.ok(cap(pts((1000, 990, 100)), 1000) == 1000 and cap(pts((1000, 989, 100)), 1000) is None,
         "capacity: achieved exactly 99% counts, 98.9% does not")
    t.ok(cap(pts((1000, 1000, 100, False)), 1000) is None, "capacity: failed trials never count")
    s = curves.capacity_summary({"uring": {1: 8000, 2: 4000}, "epoll": {1: 4000, 2: 4000},
                                 "blocking": {1: None, 2: None}})
    u = s["uring"]
    t.ok((u["median"], u["min"], u["max"], u["met"]) == (6000, 4000, 8000, 2),
         "summary: median [min-max] over repetitions", u)
    t.ok(sorted(u["vs_epoll"]) == [1.0, 2.0] and u["vs_blocking"] == [],
         "summary: per-repetition ratios; none against a target never met", u)
    t.ok(s["blocking"]["met"] == 0 and s["blocking"]["median"] is None,
         "summary: never met in any repetition", s["blocking"])


def report_files(t):
    d = copy_fixture("curves")
    r = bench("run", "--report", d)
    t.ok(r.returncode == 0, "bench/run --report rewrites a curves run", r.stdout + r.stderr)
    with open(d / "curves.csv", newline="") as f:
        rows = list(csv.reader(f))
    t.ok(rows and tuple(rows[0]) == curvereport.CURVE_COLUMNS,
         "curves.csv: the documented columns, in order", rows[:1])
    body = [dict(zip(rows[0], x)) for x in rows[1:]]
    t.ok(len(body) == 24, "curves.csv: one row per target, repetition and step", len(body))
    u1 = [x for x in body if x["engine"] == "uring" and x["rep"] == "1"]
    t.ok([x["offered_per_s"] for x in u1] == ["1000", "2000", "4000", "8000", "16000"] and
         u1[3]["syscalls_per_op"] == "0.1" and u1[3]["p99_uncorrected_us"] == "450",
         "curves.csv: uring rep 1 joins the counting pass of each step", u1[3] if u1 else u1)
    u2 = [x for x in body if x["engine"] == "uring" and x["rep"] == "2"]
    t.ok(u2 and all(x["syscalls_per_op"] == "" for x in u2),
         "curves.csv: no counting pass in rep 2: empty counts, never invented")
    with open(d / "capacity.csv", newline="") as f:
        caps = list(csv.reader(f))
    want = [list(curvereport.CAPACITY_COLUMNS), ["echo-64", "uring", "1000", "6000"],
            ["echo-64", "epoll", "1000", "4000"], ["echo-64", "blocking", "1000", ""]]
    t.ok(caps == want, "capacity.csv: medians over repetitions; never met is empty", caps)
    text = (d / "report.md").read_text()
    t.ok("never met" in text and "1.50× [1.00–2.00]" in text,
         "report.md: never met, and uring/epoll 1.50x [1.00-2.00]")
    t.ok("achieved 56% of the offered rate" in text and "achieved 75%" in text,
         "report.md: where each curve stopped, and why")


def plan(t):
    r = bench("run", "--plan", "--curves", "--no-peers")
    m = re.search(r"^plan: load curves, (\d+) workloads, 2 repetitions, .* about "
                  r"(?:(\d+)m)?(\d+)s$", r.stdout, re.M)
    t.ok(r.returncode == 0 and m and m.group(1) == "4",
         "--plan --curves: the four workloads, two repetitions", r.stdout + r.stderr)
    secs = int(m.group(2) or 0) * 60 + int(m.group(3)) if m else -1
    t.ok(10 * 60 <= secs <= 22 * 60, "--plan --curves: about 20 minutes (%d s)" % secs)
    t.ok(all(w in r.stdout for w in ("echo-64   c=1000", "echo-4k   c=100", "udp-64    c=64",
                                     "greeting  c=100")), "--plan --curves: the default "
         "connection counts")
    r = bench("run", "--plan", "--curves", "--only", "udp")
    line = [x for x in r.stdout.splitlines() if x.startswith("  udp-64")]
    if shutil.which("sockperf"):
        t.ok(r.returncode == 0 and line and "uring epoll blocking sockperf-sr:" in line[0],
             "--plan --curves with sockperf installed: udp-64 has a sockperf-sr curve",
             r.stdout + r.stderr)
    else:
        t.ok(r.returncode == 0 and "udp-64: peer sockperf-sr skipped" in r.stdout,
             "--plan --curves without sockperf: udp-64 says sockperf-sr is skipped", r.stdout)
    t.ok("no sockperf sr curve" not in r.stdout, "--plan --curves: no 'no sockperf sr curve' "
         "note")
    r = bench("run", "--plan", "--curves", "--only", "chat")
    t.ok(r.returncode == 2 and "no workload chat" in r.stdout,
         "--curves --only with a workload it has no curve for: usage error", r.stdout)


class FakeServer:
    """What start_target returns, without starting anything."""

    def __init__(self, target):
        self.name, self.cmd, self.pids, self.addr = target, [target], [1], "127.0.0.1:9"

    def stop(self):
        return {"exit": 0, "counters": None}


def loads_of(fn):
    """Runs fn() with the load (measure.run_load, counting.counted_pass) and the servers
    (runner.start_target) faked; returns {target: [ringlab-load command, ...]}."""
    seen = {}

    def fake_load(load_bin, srv, w, conns, *rest):
        cmd = measure.load_command("ringlab-load", w, srv.addr, conns, None, 1, 0, "x.json",
                                   "x.hgrm")
        seen.setdefault(srv.name, []).append([str(c) for c in cmd])
        return {"commands": {}, "problems": [], "ok": True, "files": []}

    def fake_count(load_bin, srv, w, conns, duration, warmup, rawdir, label, events, run_load):
        return fake_load(load_bin, srv, w, conns)

    saved = (measure.run_load, counting.counted_pass, runner.start_target)
    measure.run_load, counting.counted_pass = fake_load, fake_count
    runner.start_target = lambda target, *a: FakeServer(target)
    try:
        fn()
    finally:
        measure.run_load, counting.counted_pass, runner.start_target = saved
    return seen


def sockperf_peer(t):
    ok = {"nginx": None, "sockperf": None, "iperf3": None}
    protos = {"echo", "greeting", "udp"}
    notes = []
    sel = {c.name: c for c in curves.select(None, None, None, ok, False, protos, notes)}
    t.ok(sel["udp-64"].targets == ("uring", "epoll", "blocking", "sockperf-sr") and
         not [n for n in notes if "sockperf" in n],
         "curves: sockperf installed: sockperf-sr is a target of udp-64, no note",
         (sel["udp-64"].targets, notes))
    notes = []
    sel = {c.name: c for c in curves.select(None, None, None, dict(
        ok, sockperf="sockperf not found"), False, protos, notes)}
    t.ok(sel["udp-64"].targets == matrix.ENGINES and
         "udp-64: peer sockperf-sr skipped: sockperf not found" in notes,
         "curves: sockperf missing: engines only, and a note says why", notes)
    blocks, _ = matrix.plan(matrix.PRESETS["default"], protos, ok)
    udp = [b for b in blocks if b.workload == "udp"]
    t.ok(udp and all(b.targets == list(matrix.ENGINES) + ["sockperf-sr"] for b in udp),
         "matrix: every udp block measures sockperf-sr next to the engines",
         [(b.key, b.targets) for b in udp])
    blocks, _ = matrix.plan(matrix.PRESETS["default"], protos, ok, no_peers=True)
    t.ok(all("sockperf-sr" not in b.targets for b in blocks if b.workload == "udp"),
         "matrix: --no-peers: no sockperf-sr")

    w = matrix.WORKLOADS["udp"]
    t.ok(matrix.for_target(w, "uring") is w and matrix.for_target(
        matrix.WORKLOADS["greeting"], "nginx") is matrix.WORKLOADS["greeting"],
        "for_target: engines and nginx get the workload as it is")
    tmp = scratch()
    sweep = curves.Sweep(tmp, "srv", "load", tmp, lambda *a: None, lambda target, *a:
                         FakeServer(target), tmp / "runs.jsonl", 1000.0)
    curve = curves.Curve("udp-64", "udp", 64, ("uring", "sockperf-sr"))
    seen = loads_of(lambda: [sweep.trial(curve, tg, kind, 1, 0, 5000)
                             for tg in curve.targets for kind in ("curve", "count")])
    sp, ur = seen.get("sockperf-sr", []), seen.get("uring", [])
    t.ok(len(sp) == 2 and all(c.count("--sockperf") == 1 for c in sp) and
         not any("--sockperf" in c for c in ur),
         "curves: the timed trial and the counting pass of sockperf-sr run ringlab-load udp "
         "--sockperf, the engines' do not", seen)
    t.ok(len(ur) == 2 and [c for c in sp[0] if c != "--sockperf"] == ur[0] and
         "--rate" in ur[0] and ur[0][ur[0].index("--size") + 1] == "64",
         "curves: otherwise the same load (sockets, --size 64, --rate)", (sp[:1], ur[:1]))
    block = matrix.Block("udp/c64", "udp", 64, ["uring", "sockperf-sr"], 1, 1.0, 0.0)
    seen = loads_of(lambda: [(runner.run_trial(1, matrix.Trial(block, tg, 1, 1.0), "srv",
                                               "load", tmp, None),
                              runner.run_count(block, tg, "srv", "load", tmp))
                             for tg in block.targets])
    t.ok([c.count("--sockperf") for c in seen.get("sockperf-sr", [])] == [1, 1] and
         not any("--sockperf" in c for c in seen.get("uring", [])),
         "matrix: the trial and the counting pass of sockperf-sr run ringlab-load udp "
         "--sockperf, the engines' do not", seen)


def main():
    t = Tap()
    plan(t)
    sockperf_peer(t)
    planner(t)
    stopping(t)
    capacity(t)
    report_files(t)
    return t.done()


if __name__ == "__main__":
    sys.exit(main())
