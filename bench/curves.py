"""bench/run --curves: latency and CPU per operation along the load, at equal offered load.

For each workload (default: echo-64 at 1,000 connections, echo-4k at 100, udp-64 at 64
sockets, greeting at 100 connectors) and each engine (and the peers when they are
installed: nginx for greeting, sockperf sr for udp-64, loaded by `ringlab-load udp
--sockperf`):

1. *Calibrate*: one closed-loop trial per target, interleaved: its capacity C.
2. *Plan the steps*: one geometric grid per workload, shared by every target so that
   the engines are compared at the same offered rates: from 5% of the smallest C to
   130% of the largest (past every target's saturation), at least 8 steps, each at
   most 1.6x the one before (plan_steps); while a target has not saturated at the last
   step, up to 4 more steps at the same ratio (extend).
3. *Sweep*: at each step, every target still running gets a timed open-loop trial
   (`ringlab-load --rate R`, a fresh server, a short warm-up and a measured window),
   engines interleaved; then, at the same rate and again interleaved, a counting pass
   (counting.py: perf stat on a fresh server, never in the timed trial) -- in the first
   `count_reps` repetitions only (default 1: the kernel's counts barely vary between
   repetitions, the timing does).  A target's
   curve stops after the step where the achieved rate fell below 95% of the offered one
   or the corrected p99 passed 100x its value at the lowest step (stop_reason).
   Repetitions sweep the whole grid again.
4. *Capacity at a latency target* (`--slo`, default 1 ms): the highest offered rate at
   which the achieved rate was at least 99% of it and the corrected p99 at most the
   target (capacity); per repetition, then median [min-max] over repetitions and the
   per-repetition ratios to blocking and to epoll.

The results (curves.csv, capacity.csv, plots, report.md) are written by curvereport.py."""
import datetime
import math
import time
from dataclasses import dataclass, replace

import counting
import env
import matrix
import measure
from procs import REGISTRY, wait_quiet
from stats import fmt_duration, fmt_rate, fmt_us

# curve name -> (matrix workload, default connections)
CURVE_WORKLOADS = {
    "echo-64": ("echo-64", 1000),
    "echo-4k": ("echo-4k", 100),
    "udp-64": ("udp", 64),
    "greeting": ("greeting", 100),
}
ALIASES = {"udp": "udp-64"}
LO_FRAC, HI_FRAC = 0.05, 1.3       # the grid: 5% of the slowest to 130% of the fastest
MIN_STEPS, MAX_STEP_RATIO, MAX_STEPS = 8, 1.6, 16
STOP_ACHIEVED = 0.95               # stop: achieved < 95% of offered
STOP_P99_FACTOR = 100.0            # stop: corrected p99 > 100x the lowest step's
CAP_ACHIEVED = 0.99                # capacity: achieved >= 99% of offered, p99 <= slo
DEFAULT_SLO_US = 1000.0
DEFAULTS = {"reps": 2, "duration": 1.0, "warmup": 0.3}
MAX_EXTRA_STEPS = 4                # past the grid while a target has not saturated
CAL_DURATION, CAL_WARMUP = 2.0, 1.0  # the calibration's closed-loop window
ASSUMED_STEPS = 9                  # --plan: steps per target before calibration
QUIET_WAIT_S = 0.0                 # no wait for calm between passes: the run holds the machine


@dataclass(frozen=True)
class Curve:
    name: str                      # echo-64, echo-4k, udp-64, greeting
    workload: str                  # key of matrix.WORKLOADS
    conns: int
    targets: tuple


# --- pure rules (tests/bench/test_curves.py) ----------------------------------------

def plan_steps(capacities, steps=None, lo_frac=LO_FRAC, hi_frac=HI_FRAC,
               min_steps=MIN_STEPS, max_ratio=MAX_STEP_RATIO, max_steps=MAX_STEPS):
    """Offered rates (per s, ascending, rounded to integers) of a geometric grid from
    lo_frac x the smallest capacity to hi_frac x the largest.  `steps` given: exactly
    that many steps; else as many as keep each step within max_ratio of the one before,
    at least min_steps and at most max_steps.  Capacities that are None or <= 0 are
    ignored; none left: []."""
    caps = [c for c in capacities if c and c > 0]
    if not caps:
        return []
    lo, hi = lo_frac * min(caps), hi_frac * max(caps)
    lo = max(lo, 1.0)
    if steps is None:
        need = math.ceil(math.log(hi / lo) / math.log(max_ratio)) + 1 if hi > lo else 1
        steps = min(max_steps, max(min_steps, need))
    if steps == 1:
        return [int(round(lo))]
    g = (hi / lo) ** (1.0 / (steps - 1))
    out = []
    for i in range(steps):
        r = int(round(lo * g ** i))
        if out and r <= out[-1]:
            r = out[-1] + 1
        out.append(r)
    return out


def stop_reason(points):
    """Why a curve stops after its last point, or None to go on.  `points`: the dicts
    {offered, achieved, p99, ok} of one target and repetition so far, in step order."""
    if not points:
        return None
    last = points[-1]
    if not last.get("ok") or last.get("achieved") is None:
        return "the trial failed"
    if last["achieved"] < STOP_ACHIEVED * last["offered"]:
        return "achieved %.0f%% of the offered rate (< %.0f%%)" % (
            100.0 * last["achieved"] / last["offered"], 100 * STOP_ACHIEVED)
    base = next((p.get("p99") for p in points if p.get("ok") and p.get("p99")), None)
    if base and last.get("p99") is not None and last["p99"] > STOP_P99_FACTOR * base:
        return "corrected p99 %s > %gx the lowest step's %s" % (
            fmt_us(last["p99"]), STOP_P99_FACTOR, fmt_us(base))
    return None


def meets_slo(p, slo_us):
    return bool(p.get("ok") and p.get("achieved") is not None and p.get("p99") is not None
                and p["achieved"] >= CAP_ACHIEVED * p["offered"] and p["p99"] <= slo_us)


def capacity(points, slo_us):
    """The highest offered rate among `points` at which the achieved rate was >= 99% of
    it and the corrected p99 <= slo_us; None when no point qualifies.  A point that
    misses the target below a higher point that meets it (a disturbed step) does not
    lower the capacity: the definition is the highest qualifying rate."""
    ok = [p["offered"] for p in points if meets_slo(p, slo_us)]
    return max(ok) if ok else None


def capacity_summary(caps_by_target, refs=("blocking", "epoll")):
    """caps_by_target: {target: {rep: capacity or None}} -> {target: {"median", "min",
    "max", "reps", "met", "vs_<ref>": [per-repetition ratios]}}; a repetition whose
    capacity is None (never met) counts in `reps` but not in the statistics."""
    from stats import paired_ratios, spread
    out = {}
    for name, by_rep in caps_by_target.items():
        vals = [v for v in by_rep.values() if v is not None]
        med, lo, hi = spread(vals)
        s = {"median": med, "min": lo, "max": hi, "reps": len(by_rep), "met": len(vals)}
        for ref in refs:
            other = caps_by_target.get(ref)
            if other is None:
                continue
            reps = sorted(set(by_rep) & set(other))
            s["vs_" + ref] = paired_ratios([by_rep[r] for r in reps], [other[r] for r in reps])
        out[name] = s
    return out


# --- planning ------------------------------------------------------------------------

def select(only, conns, engines, peers_ok, no_peers, load_protos, notes):
    """The curves to run."""
    names = list(CURVE_WORKLOADS)
    if only:
        names = [ALIASES.get(n, n) for n in only]
        bad = [n for n in names if n not in CURVE_WORKLOADS]
        if bad:
            raise ValueError("--curves has no workload %s (it has %s)" % (
                ", ".join(bad), ", ".join(CURVE_WORKLOADS)))
    out = []
    for name in names:
        wname, default_conns = CURVE_WORKLOADS[name]
        w = matrix.WORKLOADS[wname]
        if w.load_proto not in load_protos:
            notes.append("%s: skipped, ringlab-load has no '%s' mode" % (name, w.load_proto))
            continue
        targets = list(engines or matrix.ENGINES)
        for peer in w.peers if not engines else ():
            why = matrix.peer_reason(peer, peers_ok, no_peers)
            if why:
                notes.append("%s: peer %s skipped: %s" % (name, peer, why))
            else:
                targets.append(peer)
        for c in (conns or [default_conns]):
            out.append(Curve(name if not conns else "%s" % name, wname, c, tuple(targets)))
    return out


def pass_seconds(curve, duration, warmup):
    """One timed or counting pass, as matrix.estimate counts a trial."""
    return matrix.estimate(matrix.Block("", curve.workload, curve.conns, [], 1, duration,
                                        warmup))


def estimate(curves, reps, duration, warmup, steps=None, count_reps=1):
    """Seconds: the calibration, then per target and step a timed and a counting pass
    (steps unknown before the calibration: ASSUMED_STEPS, an upper bound in practice as
    curves stop past saturation)."""
    total = 0.0
    for c in curves:
        one = pass_seconds(c, duration, warmup)
        n = steps or ASSUMED_STEPS
        cal = pass_seconds(c, max(duration, CAL_DURATION), max(warmup, CAL_WARMUP))
        total += len(c.targets) * (cal + n * (reps + min(reps, count_reps)) * one)
    return total


def show_plan(curves, args, notes, say):
    for n in notes:
        say("note: " + n)
    est = estimate(curves, args.reps, args.duration, args.warmup, args.steps)
    say("plan: load curves, %d workloads, %d repetition%s, %gs windows, %gs warm-up, "
        "p99 target %s, about %s" % (len(curves), args.reps, "" if args.reps == 1 else "s",
                                     args.duration, args.warmup, fmt_us(args.slo_us),
                                     fmt_duration(est)))
    for c in curves:
        say("  %-9s c=%-5d %s: calibrate (closed loop), then %s steps from 5%% of the "
            "slowest capacity to 130%% of the fastest, timed + counting pass each, ~%s" % (
                c.name, c.conns, " ".join(c.targets),
                args.steps or ">= %d" % MIN_STEPS,
                fmt_duration(estimate([c], args.reps, args.duration, args.warmup,
                                      args.steps))))
    say("(the estimate assumes %s steps per target; a curve ends at saturation)"
        % (args.steps or ASSUMED_STEPS))
    return 0


# --- running -------------------------------------------------------------------------

class Sweep:
    """Runs the trials of a curves run and keeps their records."""

    def __init__(self, out, server, load, raw, say, start_target, runs_path, slo_us):
        self.out, self.server, self.load, self.raw = out, server, load, raw
        self.say, self.start_target, self.runs_path = say, start_target, runs_path
        self.slo_us = slo_us
        self.records, self.seq = [], 0
        self.events, self.count_notes = counting.probe()

    def trial(self, curve, target, kind, rep, step=None, offered=None, duration=1.0,
              warmup=0.3):
        self.seq += 1
        w = matrix.for_target(matrix.WORKLOADS[curve.workload], target)
        if offered is not None:
            w = replace(w, load_args=tuple(w.load_args) + ("--rate", "%d" % offered))
        label = "%04d-%s-c%d-%s-%s%s-r%d" % (self.seq, curve.name, curve.conns, target, kind,
                                             "" if step is None else "-s%02d" % step, rep)
        rec = {"schema_version": env.SCHEMA_VERSION, "seq": self.seq,
               "block": "curves/%s/c%d" % (curve.name, curve.conns), "curve": curve.name,
               "workload": curve.workload, "conns": curve.conns, "target": target,
               "rep": rep, "kind": kind, "step": step, "offered": offered, "label": label,
               "duration": duration, "warmup": warmup,
               "started": datetime.datetime.now(datetime.timezone.utc).strftime("%H:%M:%S")}
        try:
            srv = self.start_target(target, w, curve.conns, self.server, self.raw, label,
                                    None, None, "load")
            try:
                if kind == "count":
                    r = counting.counted_pass(self.load, srv, w, curve.conns, duration, warmup,
                                              str(self.raw), label, self.events,
                                              measure.run_load)
                else:
                    r = measure.run_load(self.load, srv, w, curve.conns, duration, warmup,
                                         str(self.raw), label)
            finally:
                stopped = srv.stop()
            r["commands"]["server"] = measure.command_line(srv.cmd)
            rec.update(r)
            rec["server_exit"] = stopped["exit"]
            if stopped["exit"] not in (0, None) and target in matrix.ENGINES:
                rec["problems"].append("server exit %s" % stopped["exit"])
            rec["latency_uncorrected_us"] = _uncorrected(self.raw, rec)
        except measure.TrialError as e:
            rec.update({"ok": False, "problems": [str(e)]})
        self.records.append(rec)
        import json
        with open(self.runs_path, "a") as f:
            f.write(json.dumps(rec) + "\n")
        wait_quiet(QUIET_WAIT_S)
        return rec


def _uncorrected(raw, rec):
    import json
    try:
        doc = json.load(open(raw / rec["files"][0]["json"]))
        return doc["latency_us"].get("uncorrected") or doc["latency_us"].get("corrected")
    except (OSError, ValueError, KeyError, IndexError, TypeError):
        return None


def extend(grid, alive):
    """Yields the grid's rates, then -- while a target in `alive` (a list the caller
    updates) has not stopped, i.e. has not saturated yet -- up to MAX_EXTRA_STEPS more,
    each the grid's ratio above the last, appended to `grid`.  A calibration that came
    out low (one short closed-loop window on a shared machine) thus cannot end a curve
    below its saturation."""
    for r in list(grid):
        yield r
    if len(grid) < 2:
        return
    g = grid[-1] / grid[-2]
    for _ in range(MAX_EXTRA_STEPS):
        if not alive:
            return
        grid.append(int(round(grid[-1] * g)))
        yield grid[-1]


def point(rec):
    """The numbers the rules read from a timed record."""
    lat = rec.get("latency_us") or {}
    return {"offered": rec.get("offered"), "achieved": rec.get("throughput"),
            "p99": lat.get("p99"), "ok": bool(rec.get("ok"))}


def run(sweep, curves, reps, duration, warmup, steps_opt, count_reps=1):
    """Calibrates and sweeps every curve; returns ({curve name: grid}, {(curve, target,
    rep): why it stopped}, interrupted)."""
    grids, stops, interrupted = {}, {}, False
    say = sweep.say
    total_est = estimate(curves, reps, duration, warmup, steps_opt)
    t0 = time.monotonic()
    try:
        for c in curves:
            say("curves: %s at %d connections: calibrating %s (closed loop)" % (
                c.name, c.conns, " ".join(c.targets)))
            caps = {}
            for t in c.targets:
                for attempt in range(2):   # once more if a disturbed machine failed it
                    r = sweep.trial(c, t, "calibrate", 0, duration=max(duration, CAL_DURATION),
                                    warmup=max(warmup, CAL_WARMUP))
                    if r.get("ok") and r.get("throughput"):
                        break
                caps[t] = r.get("throughput") if r.get("ok") else None
                say("  %-8s closed loop %s/s%s" % (t, fmt_rate(caps[t]), "" if r.get("ok")
                                                  else "  FAILED: %s" % "; ".join(
                                                      r.get("problems") or [])))
            grid = plan_steps(list(caps.values()), steps_opt)
            grids[c.name] = grid
            say("  steps: %s" % " ".join(fmt_rate(x) for x in grid))
            for rep in range(1, reps + 1):
                alive = [t for t in c.targets if caps.get(t)]
                pts = {t: [] for t in alive}
                rates = extend(grid, alive) if steps_opt is None else list(grid)
                for i, rate in enumerate(rates):
                    if not alive:
                        break
                    for t in alive:
                        rec = sweep.trial(c, t, "curve", rep, i, rate, duration, warmup)
                        pts[t].append(point(rec))
                    for t in alive if rep <= count_reps else ():
                        sweep.trial(c, t, "count", rep, i, rate, duration, warmup)
                    line = []
                    for t in list(alive):
                        p = pts[t][-1]
                        line.append("%s %s p99 %s" % (t, fmt_rate(p["achieved"]),
                                                      fmt_us(p["p99"])))
                        why = stop_reason(pts[t])
                        if why:
                            stops[(c.name, t, rep)] = "after %s/s: %s" % (fmt_rate(rate), why)
                            alive.remove(t)
                    spent = time.monotonic() - t0
                    say("  rep %d step %2d/%d offered %s/s: %s  [%s elapsed, plan ~%s]" % (
                        rep, i + 1, len(grid), fmt_rate(rate), "; ".join(line),
                        fmt_duration(spent), fmt_duration(total_est)))
                for t in alive:
                    stops[(c.name, t, rep)] = "the last step (%s/s) was reached" % fmt_rate(
                        grid[-1]) if grid else "no steps"
                grids[c.name] = list(grid)
    except KeyboardInterrupt:
        interrupted = True
        say("\ninterrupted: writing what was measured")
    finally:
        REGISTRY.cleanup()
    return grids, stops, interrupted
