"""bench/run --soak: the reliability soak.

One ringlab-server per protocol (echo, greeting, udp) on one engine, pinned to the
server CPU, under about ten minutes of mixed closed-loop load from several ringlab-load
processes on the load CPU: 64 B, 4 KiB and pipelined echo, greeting connection churn
and UDP echo, holding `--fds` descriptors on the servers in all (default 20000).  The TCP
processes bind round-robin to their own slice of 127.0.0.2-127.0.0.50 (--source), so no
source address runs out of ports.  Every second the harness samples each server's
resident memory (VmRSS), open descriptors, threads and CPU time from /proc.

Pass: every server's RSS stays within RSS_LIMIT_PCT of its level at the end of warm-up
(the median of the window's first REF_S seconds) for the whole measured window -- a
transient peak above that is tolerated only when it is under RSS_TRANSIENT_KIB in absolute
terms and the window ends back within the limit (a 3 MiB greeting server holding a
burst of 1,800 connections for a second is not a leak); after
the load every server is back to the descriptors it had before it; no client errors,
every connection reached, every process exits 0."""
import json
import os
import threading
import time
from dataclasses import dataclass, replace
from pathlib import Path

import csvfiles
import env
import matrix
import measure
import plots
import report
from procs import command_line, cpu_seconds, fd_count, memory_and_threads, spawn, stop
from stats import fmt_duration, fmt_num, fmt_pct, fmt_rate, fmt_us, md_table, median

# workload, share of the sockets (twentieths).  The UDP server answers every socket
# through one descriptor of its own; the TCP servers hold one per connection.
SHARES = (("echo-64", 9), ("echo-4k", 3), ("echo-pipelined", 3), ("greeting", 3), ("udp", 2))
RSS_LIMIT_PCT = 10.0
RSS_TRANSIENT_KIB = 2048   # a peak this small over the reference is a burst, not growth
SAMPLE_S = 1.0
REF_S = 10.0          # RSS reference: median of the window's first REF_S; end: of its last
SETTLE_S = 10.0       # after the load, wait this long at most for descriptors to close
PROGRESS_S = 30.0
SAMPLE_COLUMNS = ("t_s", "phase", "server", "rss_kib", "fds", "threads", "cpu_s")


@dataclass
class Load:
    workload: str
    conns: int
    source: str = None

    @property
    def server(self):
        return matrix.WORKLOADS[self.workload].server_proto


def plan(fds, load_protos):
    """The load processes for `fds` descriptors, and notes on what was left out."""
    notes, use = [], []
    for w, share in SHARES:
        if matrix.WORKLOADS[w].load_proto in load_protos:
            use.append((w, share))
        else:
            notes.append("soak: %s left out: ringlab-load has no '%s' mode" % (
                w, matrix.WORKLOADS[w].load_proto))
    total = sum(s for _, s in use) or 1
    exact = [fds * share / total for _, share in use]
    counts = [int(x) for x in exact]
    # largest remainders first, so that the counts add up to fds exactly
    for i in sorted(range(len(use)), key=lambda i: counts[i] - exact[i])[:fds - sum(counts)]:
        counts[i] += 1
    loads = []
    for (w, _), count in zip(use, counts):
        for n, _ in matrix.split_connections(max(1, count)):
            loads.append(Load(w, n))
    tcp = [l for l in loads if l.server != "udp"]
    lo, hi = matrix.SOURCE_RANGE
    per = max(1, (hi - lo + 1) // max(1, len(tcp)))
    for i, l in enumerate(tcp):
        a = lo + (i * per) % (hi - lo + 1)
        l.source = "127.0.0.%d-127.0.0.%d" % (a, min(hi, a + per - 1))
    return loads, notes


def estimate(preset, fds):
    """Seconds a soak takes: start, ramp-up, warm-up, window, settling, stopping."""
    return 1.0 + fds / 8000.0 / 2 + 1 + preset.warmup + preset.duration + 5.0


class Sampler(threading.Thread):
    """Every SAMPLE_S: RSS, descriptors, threads and CPU seconds of each server."""

    def __init__(self, pids, t0):
        super().__init__(daemon=True)
        self.pids, self.t0 = pids, t0
        self.phase = "idle"
        self.rows = []
        self.lock = threading.Lock()
        self.halt = threading.Event()

    def sample(self):
        t = round(time.monotonic() - self.t0, 3)
        for name, pid in self.pids.items():
            rss, threads = memory_and_threads(pid)
            row = {"t_s": t, "phase": self.phase, "server": name, "rss_kib": rss,
                   "fds": fd_count(pid), "threads": threads, "cpu_s": cpu_seconds(pid)}
            with self.lock:
                self.rows.append(row)

    def run(self):
        while not self.halt.wait(SAMPLE_S):
            self.sample()

    def latest(self, name):
        with self.lock:
            return next((r for r in reversed(self.rows) if r["server"] == name), {})


def _without_source(args):
    out, skip = [], False
    for a in args:
        if skip:
            skip = False
        elif a == "--source":
            skip = True
        else:
            out.append(a)
    return tuple(out)


def _at(rows, t, key):
    """`key` of the samples linearly interpolated at time t."""
    pts = [(r["t_s"], r[key]) for r in rows if r[key] is not None]
    if not pts:
        return None
    if t <= pts[0][0]:
        return pts[0][1]
    for (ta, va), (tb, vb) in zip(pts, pts[1:]):
        if ta <= t <= tb:
            return va if tb == ta else va + (vb - va) * (t - ta) / (tb - ta)
    return pts[-1][1]


def analyse_server(rows, window, own, rate, requests):
    """One server's verdict from its samples.  `window`: (start, end) in t_s, from when
    every load process is past its warm-up to when the last one ends: RSS is judged
    there.  `own`: the overlap of this server's load processes' windows, and `rate`
    their summed requests per second: its CPU is measured there."""
    ws, we = window
    idle = [r for r in rows if r["phase"] == "idle"]
    after = [r for r in rows if r["phase"] == "after"]
    inside = [r for r in rows if ws <= r["t_s"] <= we and r["rss_kib"] is not None]
    ref = median([r["rss_kib"] for r in inside if r["t_s"] <= ws + REF_S]) or \
        (inside[0]["rss_kib"] if inside else None)
    end = median([r["rss_kib"] for r in inside if r["t_s"] >= we - REF_S])
    peak = max((r["rss_kib"] for r in inside), default=None)
    s = {"rss_kib": {"idle": idle[-1]["rss_kib"] if idle else None, "reference": ref,
                     "end": end, "peak": peak, "after": after[-1]["rss_kib"] if after else None},
         "fds": {"idle": idle[-1]["fds"] if idle else None,
                 "peak": max((r["fds"] for r in rows if r["fds"] is not None), default=None),
                 "after": after[-1]["fds"] if after else None},
         "threads": {"idle": idle[-1]["threads"] if idle else None,
                     "peak": max((r["threads"] or 0 for r in rows), default=None),
                     "after": after[-1]["threads"] if after else None},
         "requests": requests}
    pct = lambda v: (v - ref) / ref * 100.0 if v is not None and ref else None  # noqa: E731
    s["rss_drift_pct"], s["rss_growth_pct"] = pct(end), pct(peak)
    s["rss_flat"] = s["rss_growth_pct"] is not None and (
        s["rss_growth_pct"] <= RSS_LIMIT_PCT or
        (peak - ref <= RSS_TRANSIENT_KIB and s["rss_drift_pct"] <= RSS_LIMIT_PCT))
    s["fds_closed"] = None not in (s["fds"]["idle"], s["fds"]["after"]) and \
        s["fds"]["after"] <= s["fds"]["idle"]
    a, b = (_at(rows, t, "cpu_s") for t in own) if own[1] > own[0] else (None, None)
    cpu = b - a if None not in (a, b) else None
    span = own[1] - own[0]
    s["cpu_percent"] = cpu / span * 100.0 if cpu is not None else None
    s["us_per_request"] = cpu * 1e6 / (rate * span) if cpu and rate else None
    return s


def analyse(samples, window, records, servers_meta, config):
    """The soak's result (summary.json "soak") from samples, load records and the
    servers' exit statuses ({name: {"exit", "counters", "connections"}})."""
    result = dict(config, window={"start_s": window[0], "end_s": window[1]},
                  rss_limit_pct=RSS_LIMIT_PCT, servers={}, failures=[])
    fails = result["failures"]
    for name, meta in servers_meta.items():
        rows = [r for r in samples if r["server"] == name]
        mine = [r for r in records if matrix.WORKLOADS[r["workload"]].server_proto == name]
        spans = [r["window_t_s"] for r in mine if r.get("window_t_s")]
        own = (max(a for a, _ in spans), min(b for _, b in spans)) if spans else window
        s = dict(analyse_server(rows, window, own, sum(r.get("throughput") or 0 for r in mine),
                                sum(r.get("requests") or 0 for r in mine)), **meta)
        result["servers"][name] = s
        if s["rss_growth_pct"] is None:
            fails.append("%s: no RSS sample inside the measured window" % name)
        elif not s["rss_flat"]:
            fails.append("%s: RSS grew %.1f%% past its level after warm-up (limit %g%%, "
                         "or a peak under %d KiB that ends within it)" % (
                             name, s["rss_growth_pct"], RSS_LIMIT_PCT, RSS_TRANSIENT_KIB))
        if not s["fds_closed"]:
            fails.append("%s: %s descriptors open after the load, %s before" % (
                name, s["fds"]["after"], s["fds"]["idle"]))
        if s.get("exit") != 0:
            fails.append("%s: server exit %s" % (name, s.get("exit")))
    kinds = {}
    for r in records:
        for k, v in (r.get("error_kinds") or {}).items():
            kinds[k] = kinds.get(k, 0) + v
    result["errors_total"] = sum(r.get("errors") or 0 for r in records)
    result["errors_by_kind"] = kinds
    if result["errors_total"]:
        fails.append("%d client errors (%s)" % (result["errors_total"], ", ".join(
            "%s %d" % kv for kv in sorted(kinds.items())) or "?"))
    for r in records:
        if r.get("load_exit") != [0] or not r.get("ok"):
            fails.append("%s: ringlab-load exit %s%s" % (
                r["label"], r.get("load_exit"), "; ".join([""] + r.get("problems", []))))
        elif (r.get("connections_reached") or 0) < r["conns"]:
            fails.append("%s: %s/%d connections reached" % (
                r["label"], r.get("connections_reached"), r["conns"]))
    result["pass"] = not fails
    return result


def load_record(seq, load, engine, cmd, files, status, doc, config):
    """A runs.jsonl record for one load process (kind "soak")."""
    rec = {"schema_version": env.SCHEMA_VERSION, "seq": seq, "block": "soak/" + load.workload,
           "workload": load.workload, "conns": load.conns, "target": engine, "rep": seq,
           "kind": "soak", "label": os.path.basename(files["json"])[:-5],
           "duration": config["duration_s"], "warmup": config["warmup_s"],
           "source": load.source, "commands": {"load": [command_line(cmd)]},
           "files": [{k: os.path.basename(v) for k, v in files.items()}],
           "load_exit": [status]}
    if doc is None:
        return dict(rec, ok=False, problems=["ringlab-load wrote no JSON (exit %s)" % status])
    dig = lambda *k: measure.dig(doc, *k)  # noqa: E731
    errs = doc.get("errors") or {}
    rec.update({
        "ok": bool(dig("totals", "window_started") and dig("totals", "requests")),
        "throughput": dig("totals", "requests_per_s"), "requests": dig("totals", "requests"),
        "elapsed_s": dig("totals", "elapsed_s"), "errors": errs.get("total") or 0,
        "error_kinds": {k: v for k, v in errs.items()
                        if k != "total" and isinstance(v, int) and v},
        "connections_reached": dig("connections", "reached"),
        "latency_us": {k: dig("latency_us", "corrected", k) for k in measure.PERCENTILES},
        "client_cpu": {"percent_of_core": dig("cpu", "percent_of_core"),
                       "us_per_request": dig("cpu", "us_per_request"),
                       "bound": bool(dig("cpu", "client_bound_warning"))},
        "window_unix_s": [dig("totals", "window_start_unix_s"),
                          dig("totals", "window_end_unix_s")],
        "problems": []})
    return rec


def run(out, server_bin, load_bin, preset, engine, fds, load_protos, say):
    """Runs the soak; returns (result, records, samples, notes, interrupted).  Ctrl-C
    ends the load early (ringlab-load still reports) and the soak is judged as far as
    it went."""
    raw = Path(out) / "raw"
    loads, notes = plan(fds, load_protos)
    config = {"engine": engine, "fds_target": fds, "duration_s": preset.duration,
              "warmup_s": preset.warmup, "sample_period_s": SAMPLE_S,
              "loads": [{"workload": l.workload, "conns": l.conns, "source": l.source}
                        for l in loads]}
    servers, meta = {}, {}
    t0 = time.monotonic()
    offset = time.time() - time.monotonic()
    sampler = procs_started = None
    records, samples, statuses, interrupted = [], [], [], False
    try:
        for l in loads:
            if l.server not in servers:
                conns = sum(x.conns for x in loads if x.server == l.server)
                servers[l.server] = measure.start_engine(
                    server_bin, engine, matrix.WORKLOADS[l.workload], conns, str(raw),
                    "soak-%s-server" % l.server)
                meta[l.server] = {"connections": conns}
        sampler = Sampler({n: s.proc.pid for n, s in servers.items()}, t0)
        sampler.sample()
        sampler.start()
        time.sleep(SAMPLE_S + 0.1)
        sampler.phase = "load"
        procs_started = []
        for i, l in enumerate(loads, 1):
            w = matrix.WORKLOADS[l.workload]
            w = replace(w, load_args=_without_source(w.load_args))
            base = str(raw / ("soak-%02d-%s-c%d" % (i, l.workload, l.conns)))
            files = {"json": base + ".json", "hgrm": base + ".hgrm",
                     "stderr": base + ".load.stderr", "stdout": base + ".load.stdout"}
            cmd = measure.load_command(load_bin, w, servers[l.server].addr, l.conns, l.source,
                                       preset.duration, preset.warmup, files["json"],
                                       files["hgrm"])
            p = spawn(cmd, stdout=open(files["stdout"], "w"), stderr=open(files["stderr"], "w"),
                      nofile=l.conns + 1024)
            procs_started.append((l, cmd, files, p))
        try:
            statuses = _wait_loads(procs_started, sampler, preset, fds, say, t0)
        except KeyboardInterrupt:
            interrupted = True
            say("interrupted: ending the load, judging the soak as far as it went")
            statuses = [stop(p, sig=2, timeout=10) for _, _, _, p in procs_started]
        sampler.phase = "after"
        _settle(sampler, servers)
    finally:
        for l, cmd, files, p in procs_started or []:
            if p.poll() is None:
                stop(p, timeout=2)
        for name, srv in servers.items():
            stopped = srv.stop()
            meta[name].update({"exit": stopped["exit"], "counters": stopped["counters"]})
        if sampler is not None:
            sampler.halt.set()
            sampler.join()
            samples = sampler.rows
    for i, (l, cmd, files, p) in enumerate(procs_started or [], 1):
        try:
            doc = json.loads(Path(files["json"]).read_text())
        except (OSError, ValueError):
            doc = None
        records.append(load_record(i, l, engine, cmd, files, statuses[i - 1], doc, config))
    window = _window(records, offset, t0, preset)
    return (analyse(samples, window, records, meta, config), records, samples, notes,
            interrupted)


def _wait_loads(started, sampler, preset, fds, say, t0):
    deadline = time.monotonic() + preset.warmup + preset.duration + 60 + fds / 500.0
    total = preset.warmup + preset.duration + 2
    next_note = time.monotonic() + PROGRESS_S
    while any(p.poll() is None for _, _, _, p in started) and time.monotonic() < deadline:
        time.sleep(0.5)
        if time.monotonic() >= next_note:
            next_note += PROGRESS_S
            el = time.monotonic() - t0
            say("soak %s/%s  %s" % (fmt_duration(el), fmt_duration(total), "  ".join(
                "%s: RSS %s MiB, %s fds" % (n, fmt_num((sampler.latest(n).get("rss_kib") or 0)
                                                        / 1024.0, 1),
                                            sampler.latest(n).get("fds"))
                for n in sampler.pids)))
    for _, _, _, p in started:
        if p.poll() is None:
            p.send_signal(2)  # SIGINT: ringlab-load ends its window and still reports
    return [stop(p, sig=2, timeout=10) for _, _, _, p in started]


def _settle(sampler, servers):
    """After the load: until every server is back to its idle descriptor count (or
    SETTLE_S passed), then one last sample."""
    idle = {r["server"]: r["fds"] for r in sampler.rows if r["phase"] == "idle"}
    end = time.monotonic() + SETTLE_S
    while time.monotonic() < end:
        if all((fd_count(s.proc.pid) or 0) <= (idle.get(n) or 0) for n, s in servers.items()):
            break
        time.sleep(0.2)
    sampler.sample()


def _window(records, offset, t0, preset):
    """Each record's measured window on the soak's clock (`window_t_s`, from the
    JSON's wall-clock bounds), and the soak's window: from the latest start (every
    process past its warm-up) to the latest end."""
    for r in records:
        w = r.get("window_unix_s") or [None, None]
        if None not in w:
            r["window_t_s"] = [round(x - offset - t0, 3) for x in w]
    spans = [r["window_t_s"] for r in records if r.get("window_t_s")]
    if spans:
        start, end = max(a for a, _ in spans), max(b for _, b in spans)
        if end > start:
            return (start, end)
    start = SAMPLE_S + 1 + preset.warmup
    return (start, start + preset.duration)


# --- the result directory -------------------------------------------------------------

def _mib(kib):
    return "-" if kib is None else "%.1f MiB" % (kib / 1024.0)


def _pct(v):
    return "-" if v is None else "%+.1f%%" % v


def _over_time(samples, names, rows=10):
    """About `rows` evenly spaced samples: RSS and descriptors of each server."""
    times = sorted({r["t_s"] for r in samples})
    if not times:
        return []
    step = max(1, len(times) // rows)
    pick = times[::step] + ([times[-1]] if (len(times) - 1) % step else [])
    by = {(r["t_s"], r["server"]): r for r in samples}
    out = []
    for t in pick:
        phase = next((by[(t, n)]["phase"] for n in names if (t, n) in by), "")
        cells = []
        for n in names:
            r = by.get((t, n), {})
            cells += [_mib(r.get("rss_kib")), "-" if r.get("fds") is None else str(r["fds"])]
        out.append([fmt_duration(t), phase] + cells)
    return out


def section_md(result, records, samples, figures=()):
    """The report's soak section (markdown lines)."""
    names = list(result["servers"])
    verdict = ("**PASS** — RSS flat within %g%% after warm-up on every server, every "
               "descriptor closed after the load, no client errors, clean exits."
               % result["rss_limit_pct"]) if result["pass"] else \
        "**FAIL** — " + "; ".join(result["failures"]) + "."
    md = ["## Soak — %d descriptors of mixed load, %s, %s engine" % (
        result["fds_target"], fmt_duration(result["warmup_s"] + result["duration_s"]),
        result["engine"]), "", verdict, "",
        "%d ringlab-load processes, closed loop: %gs warm-up, then a %gs measured window; "
        "each server's RSS, descriptors, threads and CPU sampled every %gs from /proc. "
        "*Reference* RSS: median of the window's first %gs; *end*: of its last %gs; "
        "*drift*: end vs reference; *peak growth*: the window's largest sample vs "
        "reference (the pass criterion). Descriptors *idle* before the load, *after* it "
        "ended and the server settled." % (
            len(records), result["warmup_s"], result["duration_s"],
            result["sample_period_s"], REF_S, REF_S), ""]
    rows = []
    for n, s in result["servers"].items():
        rss, fds, th = s["rss_kib"], s["fds"], s["threads"]
        ok = s["rss_flat"] and s["fds_closed"] and s.get("exit") == 0
        rows.append([n, s.get("connections", "-"), _mib(rss["idle"]), _mib(rss["reference"]),
                     _mib(rss["end"]), _mib(rss["peak"]), _pct(s["rss_drift_pct"]),
                     _pct(s["rss_growth_pct"]),
                     "%s → %s → %s" % (fds["idle"], fds["peak"], fds["after"]),
                     "%s → %s → %s" % (th["idle"], th["peak"], th["after"]),
                     fmt_pct(s["cpu_percent"]), fmt_num(s["us_per_request"]),
                     s.get("exit"), "ok" if ok else "**FAIL**"])
    md += [md_table(["server", "connections", "RSS idle", "RSS reference", "RSS end",
                     "RSS peak", "drift", "peak growth", "fds idle → peak → after",
                     "threads", "CPU", "µs/req", "exit", "verdict"], rows), ""]
    loads = []
    for r in records:
        lat = r.get("latency_us") or {}
        loads.append([r["workload"], r["conns"], r.get("source") or "-",
                      fmt_rate(r.get("throughput")), fmt_us(lat.get("p50")),
                      fmt_us(lat.get("p99")), fmt_us(lat.get("p99.9")), r.get("errors", "-"),
                      " ".join(str(x) for x in r.get("load_exit") or [])])
    md += [md_table(["load", "connections", "source addresses", "req/s", "p50", "p99",
                     "p99.9", "errors", "exit"], loads), ""]
    over = _over_time(samples, names)
    if over:
        head = ["t", "phase"]
        for n in names:
            head += ["%s RSS" % n, "%s fds" % n]
        md += ["Over time:", "", md_table(head, over), ""]
    for title, png, svg in figures:
        md += ["![%s](%s) ([SVG](%s))" % (title, png, svg), ""]
    return md


def write(out, environment, result, records, samples, notes, interrupted):
    """soak.csv, plots, report.md, summary.json, results.csv and summary.csv."""
    out = Path(out)
    with open(out / "soak.csv", "w") as f:
        f.write(",".join(SAMPLE_COLUMNS) + "\n")
        for r in samples:
            f.write(",".join(str(csvfiles.cell(r[c])) for c in SAMPLE_COLUMNS) + "\n")
    series = {n: [(r["t_s"], r["rss_kib"], r["fds"]) for r in samples if r["server"] == n]
              for n in result["servers"]}
    try:
        figures, plot_notes = plots.soak(out, series, (result["window"]["start_s"],
                                                       result["window"]["end_s"]))
    except Exception as e:  # a view only
        figures, plot_notes = [], ["plots failed: %s" % e]
    md = report.title_lines(environment, out.name, interrupted)
    md += section_md(result, records, samples, figures)
    if notes or plot_notes:
        md += ["## Notes", ""] + ["- " + n for n in list(notes) + plot_notes] + [""]
    md += report.environment_section(environment, records)
    (out / "report.md").write_text("\n".join(md) + "\n")
    g = environment["git"]
    summary = {"schema_version": env.SCHEMA_VERSION, "run": out.name,
               "date": environment["date"], "commit": g["commit"], "short": g["short"],
               "dirty": g["dirty"], "preset": "soak", "interrupted": interrupted,
               "trials": len(records), "failed": sum(1 for r in records if not r.get("ok")),
               "notes": list(notes), "soak": result}
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    blocks = [matrix.Block("soak/" + l["workload"], l["workload"], l["conns"],
                           [result["engine"]], 1, result["duration_s"], result["warmup_s"],
                           "soak") for l in result["loads"]]
    seen = set()
    blocks = [b for b in blocks if not (b.key in seen or seen.add(b.key))]
    csvfiles.write(out, blocks, records)
    return summary


def read_samples(path):
    rows = []
    with open(path) as f:
        head = f.readline().strip().split(",")
        for line in f:
            r = dict(zip(head, line.rstrip("\n").split(",")))
            for k in ("t_s", "cpu_s"):
                r[k] = float(r[k]) if r.get(k) else None
            for k in ("rss_kib", "fds", "threads"):
                r[k] = int(r[k]) if r.get(k) else None
            rows.append(r)
    return rows


def regenerate(d, environment, records, old):
    """Judges a kept soak again from soak.csv and runs.jsonl, and rewrites its views."""
    d = Path(d)
    res = old["soak"]
    config = {k: res[k] for k in ("engine", "fds_target", "duration_s", "warmup_s",
                                  "sample_period_s", "loads")}
    meta = {n: {k: s.get(k) for k in ("connections", "exit", "counters")}
            for n, s in res["servers"].items()}
    samples = read_samples(d / "soak.csv")
    result = analyse(samples, (res["window"]["start_s"], res["window"]["end_s"]), records,
                     meta, config)
    return write(d, environment, result, records, samples, old.get("notes", []),
                 old.get("interrupted", False))
