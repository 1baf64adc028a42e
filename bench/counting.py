"""What the server asks of the kernel per operation, counted by the kernel itself.

A *counting pass* is a trial of its own, never the timed one: a fresh server, the same
load as the timed trial (same rate, or closed loop), and `perf stat` attached to the
server's processes (all their threads, and the threads they start later: perf's counters
are inherited) for the whole run, printing its counts every 100 ms:

    perf stat -x, -I 100 -p PID[,PID] -e raw_syscalls:sys_enter
        -e syscalls:sys_enter_io_uring_enter -e syscalls:sys_enter_epoll_wait
        -e context-switches -e sched:sched_switch --filter 'prev_state == 0'
        -e io_uring:io_uring_submit_req -e io_uring:io_uring_complete

Only the 100 ms intervals that lie inside ringlab-load's measurement window are summed
(ramp-up, thread creation and the warm-up stay out), and they are divided by the
requests ringlab-load completed over the same span (its per-second series, pro rata).
The intervals are placed on the harness's clock from the arrival of perf's lines: the
offset is the smallest (arrival - perf timestamp) seen, i.e. the line that was read
with the least delay.  perf runs pinned to the load CPU, so it does not take the
server's core.

Context switches: `context-switches` counts every switch away from a server thread;
`sched:sched_switch` filtered on `prev_state == 0` counts those where the thread was
still runnable, i.e. preempted (involuntary); the rest are voluntary (the thread went
to sleep: a blocking recv, epoll_wait, io_uring_enter waiting for completions).

When perf is missing or an event cannot be counted (no tracefs, perf_event_paranoid),
the counts are None and the note says why: nothing is estimated."""
import os
import re
import shutil
import subprocess
import threading
import time

from procs import LOAD_CPU, pinned, spawn, stop

# (key, perf event, filter) in the order given to perf
EVENTS = (
    ("syscalls", "raw_syscalls:sys_enter", None),
    ("enters", "syscalls:sys_enter_io_uring_enter", None),
    ("epoll_waits", "syscalls:sys_enter_epoll_wait", None),
    ("ctx_switches", "context-switches", None),
    ("involuntary", "sched:sched_switch", "prev_state == 0"),
    ("sqes", "io_uring:io_uring_submit_req", None),
    ("cqes", "io_uring:io_uring_complete", None),
)
INTERVAL_MS = 100
MIN_INTERVALS = 3             # fewer than this inside the window: no counts
_PROBE = {}


def perf_binary():
    return shutil.which("perf")


def probe():
    """(events that can be counted [(key, event, filter)], notes).  Each event is tried
    once per process with `perf stat -e EVENT -- true`."""
    if "result" in _PROBE:
        return _PROBE["result"]
    perf = perf_binary()
    if not perf:
        res = ([], ["per-operation counts not taken: perf is not installed (Debian package "
                    "linux-perf; .ci/deps --bench installs it)"])
        _PROBE["result"] = res
        return res
    ok, missing = [], []
    for key, ev, flt in EVENTS:
        cmd = [perf, "stat", "-x,", "-e", ev] + (["--filter", flt] if flt else []) + ["--", "true"]
        try:
            r = subprocess.run(cmd, capture_output=True, text=True, timeout=20)
            good = r.returncode == 0 and "not supported" not in r.stderr and \
                "<not counted>" not in r.stderr
        except (OSError, subprocess.TimeoutExpired):
            good = False
        (ok if good else missing).append((key, ev, flt))
    notes = []
    if missing:
        notes.append("perf cannot count %s here (tracefs, perf_event_paranoid or kernel "
                     "config): those per-operation counts are left empty"
                     % ", ".join(ev for _, ev, _ in missing))
    _PROBE["result"] = (ok, notes)
    return ok, notes


def perf_command(pids, events):
    cmd = [perf_binary() or "perf", "stat", "-x,", "-I", str(INTERVAL_MS),
           "-p", ",".join(str(p) for p in pids)]
    for _, ev, flt in events:
        cmd += ["-e", ev] + (["--filter", flt] if flt else [])
    return pinned(LOAD_CPU, cmd)


class PerfCounter:
    """perf stat -I attached to `pids`; start() returns once perf printed its first
    interval (so it counts before the load starts), finish() stops it."""

    def __init__(self, pids, events, path):
        self.events = list(events)
        self.cmd = perf_command(pids, self.events)
        self.path = path
        self.lines = []               # (arrival monotonic s, text)
        self.first = threading.Event()
        self.proc = None

    def start(self, timeout=10.0):
        self.proc = spawn(self.cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

        def read():
            with open(self.path, "w") as f:
                for line in self.proc.stderr:
                    self.lines.append((time.monotonic(), line.rstrip("\n")))
                    f.write(line)
                    if re.match(r"^\s*[\d.]+,", line):
                        self.first.set()
        self.reader = threading.Thread(target=read, daemon=True)
        self.reader.start()
        return self.first.wait(timeout)

    def finish(self):
        if self.proc:
            stop(self.proc, sig=2, timeout=5)   # SIGINT: perf prints its last interval
            self.reader.join(timeout=5)

    def intervals(self):
        """[(end on the harness clock, {key: count or None})] in time order."""
        return parse_intervals(self.lines, self.events)


def parse_intervals(lines, events):
    """perf stat -x, -I lines -> [(end time on the arrival clock, {key: count})].
    Fields: time,value,unit,event,...; the lines of one interval share the time and come
    in the order of `events` (the filtered sched_switch has the plain event's name)."""
    groups = {}
    order = []
    for arrival, text in lines:
        f = text.split(",")
        if len(f) < 4 or not re.match(r"^\s*[\d.]+$", f[0]):
            continue
        ts = float(f[0])
        if ts not in groups:
            groups[ts] = {"arrival": arrival, "values": []}
            order.append(ts)
        g = groups[ts]
        g["arrival"] = min(g["arrival"], arrival)
        try:
            g["values"].append(float(f[1]))
        except ValueError:
            # "<not counted>" with a run time of 0: no counted thread ran in the
            # interval, so no event happened; "<not supported>" and the rest: unknown.
            idle = f[1].strip() == "<not counted>" and len(f) > 4 and f[4].strip() in ("0", "")
            g["values"].append(0.0 if idle else None)
    if not order:
        return []
    offset = min(groups[ts]["arrival"] - ts for ts in order)
    out = []
    for ts in order:
        vals = groups[ts]["values"]
        counts = {key: (vals[i] if i < len(vals) else None)
                  for i, (key, _, _) in enumerate(events)}
        out.append((ts + offset, counts))
    return out


def per_op(intervals, series, window, interval_s=INTERVAL_MS / 1000.0, keys=None):
    """Sums the intervals (end, counts) that lie inside `window` (start, end) and divides
    by the requests of `series` [(start, end, requests)] over the same span, pro rata.
    Returns ({key: per op or None}, {"span_s", "requests", "intervals"}) or (None, why)."""
    keys = keys or [k for k, _, _ in EVENTS]
    a, b = window
    inside = [(e, c) for e, c in intervals if e - interval_s >= a - 0.02 and e <= b + 0.02]
    if len(inside) < MIN_INTERVALS:
        return None, "%d perf intervals inside the window (need %d)" % (len(inside),
                                                                         MIN_INTERVALS)
    s0, s1 = inside[0][0] - interval_s, inside[-1][0]
    reqs = 0.0
    for s, e, n in series:
        overlap = min(e, s1) - max(s, s0)
        if overlap > 0 and e > s:
            reqs += n * overlap / (e - s)
    if reqs <= 0:
        return None, "no requests completed while perf counted"
    out = {}
    for k in keys:
        vals = [c.get(k) for _, c in inside]
        out[k] = None if any(v is None for v in vals) else sum(vals) / reqs
    if out.get("ctx_switches") is not None and out.get("involuntary") is not None:
        out["voluntary"] = max(0.0, out["ctx_switches"] - out["involuntary"])
    else:
        out["voluntary"] = None
    return out, {"span_s": round(s1 - s0, 3), "requests": round(reqs), "intervals": len(inside)}


def empty_counts():
    d = {k: None for k, _, _ in EVENTS}
    d["voluntary"] = None
    return d


def describe(events):
    """One line for a report: how the counts were taken."""
    evs = " ".join("-e %s%s" % (ev, " --filter '%s'" % flt if flt else "")
                   for _, ev, flt in events)
    return ("counted in a separate pass (a fresh server, the same load) with `perf stat "
            "-x, -I %d -p SERVER_PIDS %s`, only the 100 ms intervals inside ringlab-load's "
            "measurement window, divided by the requests of that span; involuntary context "
            "switches = sched_switch with the thread still runnable (prev_state 0), "
            "voluntary = the rest" % (INTERVAL_MS, evs))


def env_note():
    """Why counting may be impossible: perf_event_paranoid and who we are."""
    try:
        paranoid = open("/proc/sys/kernel/perf_event_paranoid").read().strip()
    except OSError:
        paranoid = "?"
    return "perf_event_paranoid %s, uid %d" % (paranoid, os.getuid())


def counted_pass(load_bin, srv, workload, conns, duration, warmup, rawdir, label, events,
                 run_load):
    """Runs the load (`run_load`: measure.run_load) against the started server `srv`
    with perf attached; returns the load's record with `counts` ({key: per op or None}),
    `count_info` and, when nothing could be counted, `count_note`."""
    import json
    perf_path = os.path.join(rawdir, label + ".perf.csv")
    if not events:
        rec = run_load(load_bin, srv, workload, conns, duration, warmup, rawdir, label)
        rec.update(counts=empty_counts(), count_note="perf or its events are not available")
        return rec
    pc = PerfCounter(srv.pids, events, perf_path)
    started = pc.start()
    try:
        offsets = [time.time() - time.monotonic()]
        rec = run_load(load_bin, srv, workload, conns, duration, warmup, rawdir, label)
        offsets.append(time.time() - time.monotonic())
    finally:
        pc.finish()
    rec["commands"]["perf"] = " ".join(str(c) for c in pc.cmd)
    rec["counts"] = empty_counts()
    if not started:
        rec["count_note"] = "perf stat printed nothing within 10 s"
        return rec
    # Several load processes (--full): their series together, inside the window
    # they all shared.
    series, windows = [], []
    try:
        for files in rec["files"]:
            with open(os.path.join(rawdir, files["json"])) as f:
                doc = json.load(f)
            start = doc["totals"]["window_start_unix_s"] - sum(offsets) / len(offsets)
            one = [(start + p["t_s"], start + p["t_s"] + p["length_s"], p["requests"])
                   for p in doc.get("series") or []]
            if one:
                series += one
                windows.append((one[0][0], one[-1][1]))
    except (OSError, ValueError, KeyError, TypeError, IndexError) as e:
        rec["count_note"] = "no measurement window to count in (%s)" % e
        return rec
    if not windows or len(windows) < len(rec["files"]):
        rec["count_note"] = "ringlab-load measured no window"
        return rec
    window = (max(w[0] for w in windows), min(w[1] for w in windows))
    counts, info = per_op(pc.intervals(), series, window)
    if counts is None:
        rec["count_note"] = info
        return rec
    rec["counts"].update(counts)
    rec["count_info"] = info
    return rec


def section(records):
    """report.md lines: the per-operation counts of a run's counting passes
    (counts.jsonl), one row per block and target; [] when there are none."""
    from stats import fmt_num, fmt_rate, md_table
    if not records:
        return []
    rows, notes = [], []
    for r in records:
        c = r.get("counts") or {}

        def f(k, d=3):
            return fmt_num(c.get(k), d)
        ctx = c.get("ctx_switches")
        rows.append([r["block"], r["target"], fmt_rate(r.get("throughput")), f("syscalls"),
                     "-" if ctx is None else "%s (%s + %s)" % (f("ctx_switches"),
                                                              f("voluntary"), f("involuntary")),
                     f("enters"), f("epoll_waits"), f("sqes", 2), f("cqes", 2)])
        if r.get("count_note"):
            notes.append("%s %s: %s" % (r["block"], r["target"], r["count_note"]))
    events = [e for e in EVENTS]
    md = ["## What each engine asks of the kernel, per operation", "",
          "Not from the timed trials: " + describe(events) + ". The load of a counting "
          "pass is the block's own (closed loop), so its rate is close to, not equal to, "
          "the timed trials'. `-` = not counted (see the notes).", "",
          md_table(["block", "target", "ops/s in the pass", "syscalls/op",
                    "ctx switches/op (voluntary + involuntary)", "io_uring_enter/op",
                    "epoll_wait/op", "SQEs/op", "CQEs/op"], rows), ""]
    if notes:
        md += ["Counting notes:", ""] + ["- " + n for n in _dedupe(notes)] + [""]
    return md


def _dedupe(items):
    out = []
    for i in items:
        if i not in out:
            out.append(i)
    return out
