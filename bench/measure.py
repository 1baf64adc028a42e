"""One measured trial: a server under test, ringlab-load against it, and the numbers.

Server CPU is attributed to the load generator's measurement window:

    server CPU per request = server CPU seconds in the window / requests in the window

The server's utime+stime is sampled every 100 ms and whenever ringlab-load prints a
progress line, and interpolated at the window's bounds.  The bounds come, in order of
preference, from the JSON's CLOCK_MONOTONIC bounds (WINDOW_KEYS, if ringlab-load ever
writes them), from its wall-clock bounds (totals.window_start_unix_s/_end_unix_s, mapped
onto the monotonic clock through the offset between the two clocks measured during the
trial), or from the arrival times of its per-second progress lines (one line the moment
each second ends, the ramp-up and warm-up seconds tagged), which are late by a
scheduling delay -- and by much more when the load generator is starved.

With several load processes (--full) the window is the intersection of theirs, and each
process's requests are counted pro rata over its seconds inside it."""
import json
import math
import os
import re
import subprocess
import threading
import time

from procs import (LOAD_CPU, SERVER_CPU, CpuSampler, children, command_line, pinned, read_line, spawn,
                   stop, tail)
from matrix import split_connections

PROGRESS_RE = re.compile(r"^\s*(\d+)s\s+[\d.]+ req/s")
# Where a future ringlab-load may put the window's CLOCK_MONOTONIC bounds (ns).
WINDOW_KEYS = (("totals", "window_start_monotonic_ns", "window_end_monotonic_ns"),
               ("window", "start_monotonic_ns", "end_monotonic_ns"))
WALL_KEYS = ("totals", "window_start_unix_s", "window_end_unix_s")
PERCENTILES = ("p50", "p90", "p99", "p99.9", "p99.99", "max")
CLIENT_BOUND_PCT = 90.0
FOREIGN_CPU_PCT = 15.0
COUNTERS_RE = re.compile(r"requests (\d+)")


class TrialError(RuntimeError):
    pass


class Server:
    """Something under test that is running: its process, the PIDs whose CPU counts,
    the address clients use, and how it was started."""

    def __init__(self, name, proc, addr, cmd, stderr_path, pids=None, cleanup=None,
                 helpers=()):
        self.name, self.proc, self.addr, self.cmd = name, proc, addr, cmd
        self.stderr_path = stderr_path
        self.pids = pids or [proc.pid]
        self.helpers = list(helpers)  # child processes that are not the server's work
        self.cleanup = cleanup

    def stop(self, timeout=15):
        status = stop(self.proc, timeout=timeout)
        if self.cleanup:
            self.cleanup()
        last = tail(self.stderr_path, 3).splitlines()
        counters = next((l for l in reversed(last) if "stopped:" in l), None)
        return {"exit": status, "counters": counters}


def _drain(stream, path):
    """Copies what is left of a pipe to a file, so the child never blocks on it."""
    def run():
        with open(path, "a") as f:
            for line in stream:
                f.write(line)
    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t


def start_engine(server_bin, engine, workload, conns, rawdir, label, root=None,
                 extra_args=(), wrapper=()):
    """ringlab-server WORKLOAD --engine ENGINE on a free loopback port, pinned to the
    server CPU, with enough descriptors for `conns`; `wrapper`: a command prefix that
    exec()s the server (bench/procs.py steal)."""
    args = [a.replace("{root}", root or "") for a in workload.server_args] + list(extra_args)
    cmd = pinned(SERVER_CPU, list(wrapper) + [server_bin, workload.server_proto, "--engine",
                                              engine, "--listen", "127.0.0.1:0"] + args)
    if engine == "blocking" and conns > 16000:
        cmd += ["--max-conns", str(conns + 1000)]
    err = os.path.join(rawdir, label + ".server.stderr")
    proc = spawn(cmd, stdout=subprocess.PIPE, stderr=open(err, "w"),
                 nofile=max(4096, conns + conns // 10 + 1024))
    line = read_line(proc.stdout, 10.0)
    if not line or not line.startswith("listening on "):
        stop(proc, timeout=2)
        raise TrialError("server did not start: %s" % (line or tail(err) or "no output"))
    _drain(proc.stdout, os.path.join(rawdir, label + ".server.stdout"))
    # The engines run threads, never child processes: any child is a wrapper's helper.
    return Server(engine, proc, line.split(" ", 2)[2].strip(), cmd, err,
                  helpers=children(proc.pid))


def load_command(load_bin, workload, addr, conns, source, duration, warmup, json_path,
                 hgrm_path):
    cmd = [load_bin, workload.load_proto, "--target", addr, "--connections", conns,
           "--duration", "%gs" % duration, "--warmup", "%gs" % warmup,
           "--json", json_path, "--hgrm", hgrm_path]
    if workload.size:
        cmd += ["--size", workload.size]
    if workload.pipeline:
        cmd += ["--pipeline", workload.pipeline]
    if source:
        cmd += ["--source", source]
    return pinned(LOAD_CPU, cmd + list(workload.load_args))


def _read_lines(proc, path, sampler, sink):
    def run():
        with open(path, "w") as f:
            for line in proc.stderr:
                t = time.monotonic()
                if PROGRESS_RE.match(line):
                    sampler.mark(t)
                sink.append((t, line.rstrip("\n")))
                f.write(line)
    th = threading.Thread(target=run, daemon=True)
    th.start()
    return th


def run_load(load_bin, server, workload, conns, duration, warmup, rawdir, label):
    """Runs the load against `server` and returns the trial's record."""
    parts = split_connections(conns)
    sampler = CpuSampler(server.pids, helpers=server.helpers)
    sampler.start()
    procs, files, cmds = [], [], []
    t_start = time.monotonic()
    offsets = [time.time() - time.monotonic()]
    try:
        for i, (n, source) in enumerate(parts):
            base = os.path.join(rawdir, label + ("" if len(parts) == 1 else ".p%d" % i))
            f = {"json": base + ".json", "hgrm": base + ".hgrm", "stderr": base + ".load.stderr",
                 "stdout": base + ".load.stdout"}
            cmd = load_command(load_bin, workload, server.addr, n, source, duration, warmup,
                               f["json"], f["hgrm"])
            p = spawn(cmd, stdout=open(f["stdout"], "w"), stderr=subprocess.PIPE,
                      nofile=n + 1024)
            lines = []
            procs.append((p, lines, _read_lines(p, f["stderr"], sampler, lines)))
            files.append(f)
            cmds.append(cmd)
        deadline = time.monotonic() + warmup + duration + 60 + conns / 500.0
        statuses = [_wait(p, deadline) for p, _, _ in procs]
        for _, _, th in procs:
            th.join(timeout=5)
    finally:
        for p, _, _ in procs:
            if p.poll() is None:
                stop(p, timeout=2)
        sampler.finish()
        offsets.append(time.time() - time.monotonic())
    rec = {"wall_s": round(time.monotonic() - t_start, 2),
           "commands": {"load": [command_line(c_) for c_ in cmds]},
           "files": [{k: os.path.basename(v) for k, v in f.items()} for f in files],
           "load_exit": statuses}
    docs = []
    for f in files:
        try:
            with open(f["json"]) as fh:
                docs.append(json.load(fh))
        except (OSError, ValueError):
            docs.append(None)
    rec.update(analyse(docs, [lines for _, lines, _ in procs], files, sampler, statuses,
                       sum(offsets) / len(offsets)))
    return rec


def _wait(p, deadline):
    try:
        return p.wait(timeout=max(1.0, deadline - time.monotonic()))
    except subprocess.TimeoutExpired:
        p.send_signal(2)  # SIGINT: ringlab-load ends its window and still reports
        try:
            return p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            return stop(p, timeout=1)


def dig(doc, *keys):
    for k in keys:
        if not isinstance(doc, dict):
            return None
        doc = doc.get(k)
    return doc


def intervals(doc, lines, wall_offset):
    """[(start, end, requests)] of the JSON's per-second series on the harness clock
    (time.monotonic, which is CLOCK_MONOTONIC), and the method used."""
    series = doc.get("series") or []
    bounds = [(dig(doc, o, a), 1e-9, 0.0, "monotonic window") for o, a, _ in WINDOW_KEYS]
    bounds.append((dig(doc, WALL_KEYS[0], WALL_KEYS[1]), 1.0, wall_offset, "wall-clock window"))
    for s, scale, offset, method in bounds:
        if isinstance(s, (int, float)) and s > 0:
            s = s * scale - offset
            return [(s + p["t_s"], s + p["t_s"] + p["length_s"], p["requests"])
                    for p in series], method
    ends = [t for t, line in lines if PROGRESS_RE.match(line) and "[" not in line]
    if series and len(ends) == len(series):
        return [(e - p["length_s"], e, p["requests"]) for e, p in zip(ends, series)], \
            "progress-lines"
    return None, "unattributed (%d progress lines for %d series points)" % (len(ends),
                                                                             len(series))


def merge_hgrm(paths):
    """Percentiles (µs) of several .hgrm distributions pooled, from their printed
    (value, cumulative count) rows -- exact to the resolution of those rows."""
    points = []
    for path in paths:
        prev = 0
        try:
            for line in open(path):
                f = line.split()
                if len(f) < 3 or not re.match(r"^[\d.]+$", f[0]):
                    continue
                total = int(f[2])
                if total > prev:
                    points.append((float(f[0]), total - prev))
                prev = total
        except OSError:
            return None
    if not points:
        return None
    points.sort()
    n = sum(c for _, c in points)
    out = {}
    for name in PERCENTILES:
        q = 100.0 if name == "max" else float(name[1:])
        need, acc = math.ceil(n * q / 100.0), 0
        for v, c in points:
            acc += c
            if acc >= need:
                out[name] = v
                break
    return out


def analyse(docs, lines_per_proc, files, sampler, statuses, wall_offset):
    """The trial's numbers from the load processes' JSON, progress lines and the server
    CPU samples."""
    problems = []
    if any(d is None for d in docs):
        return {"ok": False, "problems": ["ringlab-load wrote no JSON (exit %s)" % statuses]}
    started = all(dig(d, "totals", "window_started") for d in docs)
    rps = sum(dig(d, "totals", "requests_per_s") or 0 for d in docs)
    requests = sum(dig(d, "totals", "requests") or 0 for d in docs)
    reached = sum(dig(d, "connections", "reached") or 0 for d in docs)
    target = sum(dig(d, "connections", "target") or 0 for d in docs)
    errors = sum(dig(d, "errors", "total") or 0 for d in docs)
    if len(docs) == 1:
        lat = {k: dig(docs[0], "latency_us", "corrected", k) for k in PERCENTILES}
    else:
        lat = merge_hgrm([f["hgrm"] for f in files]) or {}
    rec = {"throughput": rps, "requests": requests, "errors": errors,
           "connections_reached": reached, "elapsed_s": max(dig(d, "totals", "elapsed_s") or 0
                                                             for d in docs),
           "latency_us": lat}
    # The client: its worker threads' CPU over its own window.
    cli_pct = sum(dig(d, "cpu", "percent_of_core") or 0 for d in docs)
    busiest = max(dig(d, "cpu", "busiest_thread_percent") or 0 for d in docs)
    cli_s = sum((dig(d, "cpu", "user_s") or 0) + (dig(d, "cpu", "sys_s") or 0) for d in docs)
    rec["client_cpu"] = {"percent_of_core": cli_pct, "busiest_thread_percent": busiest,
                         "us_per_request": cli_s * 1e6 / requests if requests else None,
                         "bound": cli_pct > CLIENT_BOUND_PCT or busiest > CLIENT_BOUND_PCT}
    # The server: its CPU over the window.
    ivs, methods = [], []
    for d, lines in zip(docs, lines_per_proc):
        iv, method = intervals(d, lines, wall_offset)
        ivs.append(iv)
        methods.append(method)
    rec["server_cpu"] = _server_cpu(ivs, sampler, cli_pct, methods[0],
                                    requests if len(docs) == 1 else None)
    for d in docs:
        in_series = sum(p.get("requests", 0) for p in d.get("series") or [])
        if in_series != (dig(d, "totals", "requests") or 0):
            problems.append("per-second series add up to %d requests, totals say %d "
                            "(the load generator was starved?)"
                            % (in_series, dig(d, "totals", "requests") or 0))
    if rec["server_cpu"].get("us_per_request") is None:
        problems.append("server CPU not attributed: %s" % methods[0])
    for d, s in zip(docs, statuses):
        if s != 0:
            problems.append("ringlab-load exit %s" % s)
    if not started:
        problems.append("the measurement window never started")
    if errors:
        problems.append("%d client errors" % errors)
    if reached < target:
        problems.append("%d/%d connections reached" % (reached, target))
    if rec["client_cpu"]["bound"]:
        problems.append("client-bound (load generator %.0f%% of its core)" % max(cli_pct, busiest))
    foreign = rec["server_cpu"].get("foreign_percent")
    if foreign is not None and foreign > FOREIGN_CPU_PCT:
        problems.append("other processes used %.0f%% of a core during the window" % foreign)
    rec["ok"] = bool(started and requests > 0)
    rec["problems"] = problems
    return rec


def _server_cpu(ivs, sampler, client_pct, method, requests=None):
    if any(iv is None or not iv for iv in ivs):
        return {"method": method, "us_per_request": None}
    a = max(iv[0][0] for iv in ivs)
    b = min(iv[-1][1] for iv in ivs)
    if b <= a:
        return {"method": "windows do not overlap", "us_per_request": None}
    reqs = 0.0
    for iv in ivs:
        for s, e, n in iv:
            overlap = min(e, b) - max(s, a)
            if overlap > 0 and e > s:
                reqs += n * overlap / (e - s)
    if requests is not None:  # one process: its window is the window
        reqs = requests
    cpu = sampler.at(b) - sampler.at(a)
    busy = sampler.at(b, 2) - sampler.at(a, 2)
    helpers = sampler.at(b, 3) - sampler.at(a, 3)
    span = b - a
    foreign = (busy - cpu - helpers) / span * 100.0 - client_pct
    out = {"method": method, "seconds": cpu, "window_s": span,
           "percent_of_core": cpu / span * 100.0,
           "us_per_request": cpu * 1e6 / reqs if reqs and cpu > 0 else None,
           "requests_in_window": reqs, "foreign_percent": max(0.0, foreign)}
    if sampler.helpers:
        out["helpers_percent"] = helpers / span * 100.0
    return out
