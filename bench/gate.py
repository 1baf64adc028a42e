"""bench/compare: the performance regression gate.

    bench/compare BASE NEW [--pairs N] [--conns 100,1000] [--cflags-new FLAGS] ...

BASE and NEW are git revisions (or `worktree`, the checkout as it is), or two result
directories written by bench/run.

Revisions: each side's ringlab-server is built in release mode from a detached git
worktree (extra C flags with --cflags-base/--cflags-new) and cached in
build-compare/<commit>[-<flags hash>]/.  The load generator is the current checkout's
(build-bench/) for both sides: one instrument, so only the server differs.  The sides
then run interleaved in one job -- pair i is A B for even i and B A for odd i, which
cancels a linear drift -- on echo-64 at each --conns, server on CPU 0, load on CPU 1.

Per metric (throughput: higher is better; server CPU µs/request and p99: lower is
better) the change is the median of the per-pair ratios NEW/BASE, with a 95% bootstrap
interval of that median and the min-max of the pair ratios.  A metric is *worse* when
even the interval's end nearest to no change is past the threshold in the bad direction;
*better* symmetrically; *worse?*/*better?* when only the median is; otherwise *same*.
The default thresholds sit above the noise floor measured with A/A runs
(bench/README.md).

Exit status: 0 no metric worse; 1 a metric is worse, or too few pairs succeeded to
tell; 2 bad usage or a failed build; 3 inconclusive: fewer than 3 quiet pairs, the
machine was too busy (a gate fails closed: treat 3 as "not passed, run again")."""
import argparse
import datetime
import hashlib
import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import env
import matrix
import measure
from procs import REGISTRY, command_line, install_signal_handlers, wait_quiet
from stats import (bootstrap_median, fmt_change, fmt_duration, fmt_num, fmt_rate, fmt_us,
                   median, spread, text_table)

# Thresholds (fraction) per metric, above the A/A noise floor (see bench/README.md).
THRESHOLDS = {"throughput": 0.10, "cpu": 0.08, "p99": 0.25}
METRICS = (  # key, label, higher is better, value of a trial record
    ("throughput", "throughput (req/s)", True, lambda r: r.get("throughput")),
    ("cpu", "server CPU µs/request", False,
     lambda r: (r.get("server_cpu") or {}).get("us_per_request")),
    ("p99", "p99 latency", False, lambda r: (r.get("latency_us") or {}).get("p99")),
)
MIN_PAIRS = 3
BUSY_PCT = 25.0      # a pair during which other processes took more of a core is re-run
QUIET_WAIT_S = 5.0   # before a trial, wait up to this long for the machine to be quiet
CACHE = env.ROOT / "build-compare"
STEAL = Path(__file__).resolve().parent / "procs.py"   # procs.py steal PCT -- CMD


def parse_args(argv):
    p = argparse.ArgumentParser(prog="bench/compare", description=(
        "Regression gate: interleaved A/B runs of two builds (or two result directories)."),
        epilog="exit 0: no metric worse; 1: a metric worse or too few pairs; 2: usage/build; "
               "3: inconclusive, the machine was too busy")
    p.add_argument("base", nargs="?",
                   help="git revision, 'worktree', or a bench/run result directory")
    p.add_argument("new", nargs="?",
                   help="git revision, 'worktree', or a bench/run result directory")
    p.add_argument("--judge", metavar="DIR",
                   help="instead of running: judge a comparison kept in DIR again (e.g. "
                        "with other thresholds)")
    p.add_argument("--noise-floor", nargs="+", metavar="DIR",
                   help="instead of comparing: read these A/A comparisons (directories "
                        "under build-compare/runs/) and print the noise floor per metric")
    p.add_argument("--pairs", type=int, default=5, help="A/B pairs per connection count (default 5)")
    p.add_argument("--conns", default="100,1000", help="connection counts (default 100,1000)")
    p.add_argument("--engine", default="uring", choices=matrix.ENGINES)
    p.add_argument("--duration", type=float, default=3.0, help="window per trial, s")
    p.add_argument("--warmup", type=float, default=1.0)
    p.add_argument("--cflags-base", default="", help="extra C flags for BASE's build")
    p.add_argument("--cflags-new", default="", help="extra C flags for NEW's build")
    p.add_argument("--steal-base", type=float, metavar="PCT",
                   help="run BASE's server beside a hog taking PCT%% of its CPU "
                        "(bench/procs.py steal)")
    p.add_argument("--steal-new", type=float, metavar="PCT",
                   help="the same for NEW: the honest 'slowed NEW' of the gate's proof")
    p.add_argument("--server-args-base", default="", metavar="ARGS",
                   help="extra ringlab-server options for BASE (shell words)")
    p.add_argument("--server-args-new", default="", metavar="ARGS",
                   help="the same for NEW, e.g. '--debug-spin-ns 1500': the gate's "
                        "deliberate-slowdown proof")
    for key, _, _, _ in METRICS:
        p.add_argument("--threshold-" + key, type=float, default=THRESHOLDS[key] * 100,
                       metavar="PCT", help="default %g%%%%" % (THRESHOLDS[key] * 100))
    p.add_argument("--max-pairs", type=int,
                   help="pairs taken while other processes used more than %d%%%% of a core "
                        "are re-run, up to this many pairs per connection count (default "
                        "2 x --pairs)" % BUSY_PCT)
    p.add_argument("--target", default="uring",
                   help="directories mode: which server's runs to compare (default uring)")
    p.add_argument("--out", help="where to keep this comparison (default "
                                 "build-compare/runs/<time>)")
    p.add_argument("--no-build", action="store_true",
                   help="do not rebuild build-bench/ (the load generator)")
    a = p.parse_args(argv)
    if not a.noise_floor and not a.judge and not (a.base and a.new):
        p.error("BASE and NEW are required")
    a.conns = [int(c) for c in a.conns.split(",") if c.strip()]
    a.max_pairs = max(a.max_pairs or 2 * a.pairs, a.pairs)
    if a.pairs < 1:
        p.error("--pairs must be >= 1")
    return a


def say(msg=""):
    print(msg, flush=True)


# --- building the two sides -----------------------------------------------------------

def build_side(rev, cflags, log):
    """Path of a release ringlab-server built from `rev` (with extra `cflags`)."""
    if rev == "worktree":
        if not cflags:
            env.build(env.ROOT / "build-bench", log)
            return env.binaries(env.ROOT / "build-bench")[0], "worktree"
        key = "worktree-" + hashlib.sha1(cflags.encode()).hexdigest()[:8]
        d = env.build(CACHE / key, log, cflags=cflags, targets=["ringlab-server"])
        return env.binaries(d)[0], "worktree + %s" % cflags
    sha = env.git("rev-parse", "--verify", "--quiet", rev + "^{commit}")
    if not sha:
        raise env.SetupError("not a commit: %s" % rev)
    key = sha[:12] + ("-" + hashlib.sha1(cflags.encode()).hexdigest()[:8] if cflags else "")
    dest = CACHE / key
    binary = dest / "ringlab-server"
    desc = sha[:12] + (" + %s" % cflags if cflags else "")
    if binary.exists():
        return binary, desc
    tmp = Path(tempfile.mkdtemp(prefix="ringlab-compare-"))
    src = tmp / "src"
    try:
        if subprocess.run(["git", "-C", str(env.ROOT), "worktree", "add", "--detach", "-q",
                           str(src), sha], stdout=log, stderr=subprocess.STDOUT).returncode:
            raise env.SetupError("git worktree add failed for %s" % rev)
        build = env.build(tmp / "build", log, srcdir=src, cflags=cflags or None,
                          targets=["ringlab-server"])
        dest.mkdir(parents=True, exist_ok=True)
        shutil.copy2(env.binaries(build)[0], binary)
        (dest / "build.json").write_text(json.dumps({"commit": sha, "cflags": cflags}) + "\n")
    finally:
        subprocess.run(["git", "-C", str(env.ROOT), "worktree", "remove", "--force", str(src)],
                       stdout=log, stderr=subprocess.STDOUT)
        shutil.rmtree(tmp, ignore_errors=True)
    return binary, desc


# --- running the pairs ----------------------------------------------------------------

def run_pairs(args, sides, load_bin, out):
    """Interleaved pairs until each connection count has --pairs clean ones (both trials
    taken while other processes used at most BUSY_PCT of a core), or --max-pairs were
    run.  Returns every record (side: 'base' or 'new'; busy pairs marked 'busy')."""
    w = matrix.WORKLOADS["echo-64"]
    raw = out / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    est = matrix.estimate(matrix.Block("", "echo-64", max(args.conns), [], 1, args.duration,
                                       args.warmup))
    planned = 2 * args.pairs * len(args.conns)
    say("running %d pairs x %s connections (%d trials, about %s; busy pairs are re-run, at "
        "most %d pairs per count)" % (args.pairs, "/".join(map(str, args.conns)), planned,
                                      fmt_duration(est * planned), args.max_pairs))
    records, t0, n = [], time.monotonic(), 0
    clean = {c: 0 for c in args.conns}
    done = {c: 0 for c in args.conns}
    i = 0
    with open(out / "runs.jsonl", "w") as f:
        while any(clean[c] < args.pairs and done[c] < args.max_pairs for c in args.conns):
            for conns in args.conns:
                if clean[conns] >= args.pairs or done[conns] >= args.max_pairs:
                    continue
                done[conns] += 1
                pair = done[conns]
                recs = []
                for side in (("base", "new") if i % 2 == 0 else ("new", "base")):
                    n += 1
                    label = "%03d-c%d-%s-p%d" % (n, conns, side, pair)
                    steal = args.steal_new if side == "new" else args.steal_base
                    extra = shlex.split(getattr(args, "server_args_" + side))
                    wside = replace(w, server_args=tuple(w.server_args) + tuple(extra))
                    rec = trial(args, sides[side], load_bin, wside, conns, raw, label,
                                [sys.executable, str(STEAL), "steal", "%g" % steal, "--"]
                                if steal else [])
                    rec.update({"schema_version": env.SCHEMA_VERSION, "pair": pair,
                                "conns": conns, "side": side})
                    recs.append(rec)
                    cpu = (rec.get("server_cpu") or {}).get("us_per_request")
                    say("[%3d] c=%-5d %-4s pair %-2d %s  %s/req  p99 %s  other CPU %.0f%%" % (
                        n, conns, side, pair,
                        fmt_rate(rec.get("throughput")) + " req/s" if rec.get("ok") else
                        "FAILED " + "; ".join(rec.get("problems", [])),
                        fmt_us(cpu), fmt_us((rec.get("latency_us") or {}).get("p99")),
                        _busy(rec)))
                busy = any(_busy(r) > BUSY_PCT or not r.get("ok") for r in recs)
                for r in recs:
                    r["busy"] = busy
                    records.append(r)
                    f.write(json.dumps(r) + "\n")
                if busy:
                    say("      pair %d at %d connections was disturbed: it does not count "
                        "unless too few quiet pairs are found" % (pair, conns))
                else:
                    clean[conns] += 1
            i += 1
    say("%d trials in %s" % (n, fmt_duration(time.monotonic() - t0)))
    return records


def _busy(rec):
    return (rec.get("server_cpu") or {}).get("foreign_percent") or 0.0


def trial(args, server_bin, load_bin, w, conns, raw, label, wrapper):
    rec = {"label": label, "waited_for_quiet_s": round(wait_quiet(QUIET_WAIT_S), 2)}
    try:
        srv = measure.start_engine(server_bin, args.engine, w, conns, str(raw), label,
                                   wrapper=wrapper)
        try:
            rec.update(measure.run_load(load_bin, srv, w, conns, args.duration, args.warmup,
                                        str(raw), label))
            rec["commands"]["server"] = command_line(srv.cmd)
        finally:
            rec["server_exit"] = srv.stop()["exit"]
    except measure.TrialError as e:
        rec.update({"ok": False, "problems": [str(e)]})
    return rec


# --- judging --------------------------------------------------------------------------

def verdict(ratios, higher_better, threshold):
    """'worse' when even the bound of the 95% interval nearest to "no change" is past
    the threshold in the bad direction (we are confident the regression is at least the
    threshold); 'better' likewise; 'worse?'/'better?' when only the median is past it;
    'same' otherwise; 'n/a' with too few pairs.  Returns (verdict, median, interval)."""
    if len(ratios) < MIN_PAIRS:
        return "n/a", None, (None, None)
    med = median(ratios)
    lo, hi = bootstrap_median(ratios)
    up, down = lo > 1 + threshold, hi < 1 - threshold   # the whole interval past it
    if up or down:
        return ("better" if up == higher_better else "worse"), med, (lo, hi)
    if abs(med - 1) > threshold:
        return ("better?" if (med > 1) == higher_better else "worse?"), med, (lo, hi)
    return "same", med, (lo, hi)


def select(records, conns):
    """The records of `conns` to judge, a note, and why they fall short (None, "busy" or
    "failed").  The quiet pairs (both trials ok, other processes at most BUSY_PCT of a
    core) when there are at least MIN_PAIRS of them; else all pairs, and either "busy"
    -- disturbed pairs would have made up the number: run again on a quieter machine --
    or "failed": too few pairs succeeded at all (trials failed or too few were run)."""
    mine = [r for r in records if r["conns"] == conns and not r.get("discarded")]
    pairs = {r["pair"] for r in mine if r["side"] == "base"} & \
        {r["pair"] for r in mine if r["side"] == "new"}
    failed = {r["pair"] for r in mine if not r.get("ok")}
    disturbed = {r["pair"] for r in mine if r.get("busy") or _busy(r) > BUSY_PCT} - failed
    quiet = pairs - failed - disturbed
    if len(quiet) >= MIN_PAIRS:
        return [r for r in mine if r["pair"] in quiet], None, None
    if len(quiet) + len(pairs & disturbed) >= MIN_PAIRS:
        return mine, ("%d connections: only %d quiet pairs of %d: the machine was too busy "
                      "to judge (the numbers shown include the disturbed pairs)"
                      % (conns, len(quiet), len(pairs))), "busy"
    return mine, ("%d connections: only %d of %d pairs succeeded (%d with a failed trial): "
                  "too few to judge" % (conns, len(pairs - failed), len(pairs),
                                        len(pairs & failed))), "failed"


def judge(records, args, paired=True):
    """Rows of (conns, metric label, base median, new median, change, interval, min-max,
    n, verdict) and whether the gate fails."""
    rows, failed, busy = [], False, False
    notes = []
    for conns in args.conns:
        use, note, short = select(records, conns)
        if note and paired:
            notes.append(note)
            busy = busy or short == "busy"
        for key, label, higher, value in METRICS:
            base = {r["pair"]: value(r) for r in use
                    if r["side"] == "base" and r["conns"] == conns and r.get("ok")}
            new = {r["pair"]: value(r) for r in use
                   if r["side"] == "new" and r["conns"] == conns and r.get("ok")}
            if paired:
                ratios = [new[p] / base[p] for p in sorted(set(base) & set(new))
                          if base[p] and new[p] is not None]
            else:  # unpaired runs: every cross ratio, judged like pairs but weaker
                ratios = [n / b for n in new.values() for b in base.values()
                          if b and n is not None]
            thr = getattr(args, "threshold_" + key) / 100.0
            word, med, (lo, hi) = verdict(ratios, higher, thr)
            if note and paired:
                word = "busy" if short == "busy" else "n/a"
            _, rmin, rmax = spread(ratios)
            fmt = fmt_rate if key == "throughput" else (fmt_us if key == "p99" else fmt_num)
            rows.append([conns, label, fmt(median(list(base.values()))),
                         fmt(median(list(new.values()))), fmt_change(med),
                         "%s .. %s" % (fmt_change(lo), fmt_change(hi)) if lo is not None else "-",
                         "%s .. %s" % (fmt_change(rmin), fmt_change(rmax))
                         if rmin is not None else "-",
                         "%d" % len(ratios), "±%g%%" % (thr * 100), word])
            if word in ("worse", "n/a"):
                failed = True
    return rows, ("busy" if busy and not failed else failed), notes


HEADER = ["conns", "metric", "BASE", "NEW", "change", "95% interval", "pair min..max", "n",
          "threshold", "verdict"]


def load_dir(path, target):
    """Records of a bench/run result directory, as base/new-less trials of `target`."""
    recs = []
    for line in open(Path(path) / "runs.jsonl"):
        r = json.loads(line)
        if r.get("workload") == "echo-64" and r.get("target") == target:
            r["pair"] = r["rep"]
            recs.append(r)
    return recs


def main(argv):
    args = parse_args(argv[1:])
    install_signal_handlers()
    if args.noise_floor:
        return noise_floor(args)
    if args.judge:
        recs = [json.loads(l) for l in open(Path(args.judge) / "runs.jsonl")]
        recs = [r for r in recs if not r.get("discarded")]
        args.conns = sorted({r["conns"] for r in recs})
        rows, failed, notes = judge(recs, args)
        return finish(None, "judged again: %s" % args.judge, rows, failed, recs, notes)
    dirs = [Path(x).is_dir() and (Path(x) / "runs.jsonl").exists() for x in (args.base, args.new)]
    if any(dirs):
        if not all(dirs):
            say("bench/compare: give two result directories or two revisions, not one of each")
            return 2
        return compare_dirs(args)
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    out = Path(args.out).resolve() if args.out else CACHE / "runs" / stamp
    out.mkdir(parents=True, exist_ok=True)
    os.chdir(env.ROOT)
    sides, desc = {}, {}
    with open(out / "build.log", "a") as log:
        try:
            env.install_base(log)
            if not args.no_build:
                env.build(env.ROOT / "build-bench", log)
            for side, rev, cflags in (("base", args.base, args.cflags_base),
                                      ("new", args.new, args.cflags_new)):
                say("building %s: %s%s" % (side, rev, " with %s" % cflags if cflags else ""))
                sides[side], desc[side] = build_side(rev, cflags, log)
        except env.SetupError as e:
            say("bench/compare: %s (see %s)" % (e, out / "build.log"))
            return 2
    load_bin = env.binaries(env.ROOT / "build-bench")[1]
    try:
        records = run_pairs(args, sides, os.path.relpath(load_bin, env.ROOT), out)
    except KeyboardInterrupt:
        say("interrupted")
        return 130
    finally:
        REGISTRY.cleanup()
    rows, failed, notes = judge(records, args)
    for side in ("base", "new"):
        steal = getattr(args, "steal_" + side)
        if steal:
            desc[side] += ", beside a %g%% CPU hog" % steal
        if getattr(args, "server_args_" + side):
            desc[side] += ", server %s" % getattr(args, "server_args_" + side)
    title = ("BASE %s (%s)  vs  NEW %s (%s): %s engine, echo-64, %d pairs, %gs windows"
             % (args.base, desc["base"], args.new, desc["new"], args.engine, args.pairs,
                args.duration))
    return finish(out, title, rows, failed, records, notes)


def compare_dirs(args):
    base, new = load_dir(args.base, args.target), load_dir(args.new, args.target)
    for r in base:
        r["side"] = "base"
    for r in new:
        r["side"] = "new"
    have = sorted({r["conns"] for r in base} & {r["conns"] for r in new})
    args.conns = [c for c in args.conns if c in have] or have
    say("note: two separate runs cannot be paired; every NEW/BASE cross ratio is used. "
        "Absolute levels drift by up to 1.5x between runs on a shared machine: prefer "
        "comparing revisions, which interleaves them in one job.")
    rows, failed, notes = judge(base + new, args, paired=False)
    title = "BASE %s  vs  NEW %s: %s, echo-64 (result directories)" % (
        args.base, args.new, args.target)
    return finish(None, title, rows, failed, base + new, notes)


def noise_floor(args):
    """The largest |median pair-ratio change| per metric over A/A comparisons, and the
    widest single pair ratio: what a threshold must stay above."""
    worst = {k: [0.0, 0.0, 0, 0.0] for k, _, _, _ in METRICS}
    for d in args.noise_floor:
        recs = [json.loads(l) for l in open(Path(d) / "runs.jsonl")]
        recs = [r for r in recs if not r.get("discarded")]
        for conns in sorted({r["conns"] for r in recs}):
            use, _, _ = select(recs, conns)
            for key, _, _, value in METRICS:
                base = {r["pair"]: value(r) for r in use if r["side"] == "base" and r.get("ok")}
                new = {r["pair"]: value(r) for r in use if r["side"] == "new" and r.get("ok")}
                ratios = [new[p] / base[p] for p in set(base) & set(new) if base[p] and new[p]]
                if not ratios:
                    continue
                w = worst[key]
                w[0] = max(w[0], abs(median(ratios) - 1))
                w[1] = max(w[1], max(abs(r - 1) for r in ratios))
                w[2] += 1
                lo, hi = bootstrap_median(ratios)  # how far a confident change reached
                w[3] = max(w[3], lo - 1 if lo > 1 else (1 - hi if hi < 1 else 0.0))
    rows = [[label, "%.1f%%" % (worst[k][3] * 100), "%.1f%%" % (worst[k][0] * 100),
             "%.1f%%" % (worst[k][1] * 100), "%d" % worst[k][2],
             "%g%%" % (THRESHOLDS[k] * 100)] for k, label, _, _ in METRICS]
    say(text_table(["metric", "noise floor (max confident change)", "max |median change|",
                    "max |single pair|", "samples", "default threshold"], rows))
    return 0


def finish(out, title, rows, failed, records, notes):
    table = text_table(HEADER, rows)
    fails = sum(1 for r in records if not r.get("ok"))
    busy = len({(r["conns"], r["pair"]) for r in records
                if r.get("busy") or not r.get("ok") or _busy(r) > BUSY_PCT})
    lines = [title, "", table, ""] + ["note: " + n for n in notes] + [
             "%d trials, %d failed, %d pairs disturbed by other processes. Verdict: %s" % (
                 len(records), fails, busy,
                 "INCONCLUSIVE (too few quiet pairs: the machine was busy)" if failed == "busy"
                 else "FAIL (a metric is worse, or too few pairs)" if failed else "PASS")]
    text = "\n".join(lines)
    say()
    say(text)
    if out:
        (out / "compare.txt").write_text(text + "\n")
        say("kept in %s" % os.path.relpath(out, env.ROOT))
    return 3 if failed == "busy" else 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
