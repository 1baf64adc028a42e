"""bench/run: set up, build, run the interleaved matrix, write the result directory.

    bench/run [--quick | --full] [--reps N] [--duration S] [--only W[,W]] [--out DIR]
              [--no-peers] [--no-build]

Every trial starts a fresh server (so no state and no CPU carries over between trials),
runs the load generator against it, stops it with SIGTERM and checks it exits 0.
Results land in results/<YYYY-MM-DD>-<shortcommit>/ (see results/README.md)."""
import argparse
import datetime
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import env
import matrix
import measure
import peers
import plots
import report
from procs import REGISTRY, install_signal_handlers, wait_quiet
from stats import fmt_duration, fmt_rate, fmt_us

QUIET_WAIT_S = 2.0  # between trials: wait up to this long for other processes to calm down


def parse_args(argv):
    p = argparse.ArgumentParser(prog="bench/run", description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    g = p.add_mutually_exclusive_group()
    g.add_argument("--quick", action="store_const", dest="preset", const="quick",
                   help="the headline only: echo-64, 1000 connections, 5 reps (~2.5 min)")
    g.add_argument("--full", action="store_const", dest="preset", const="full",
                   help="the matrix plus 20k and 30k connections over several load "
                        "processes with --source rotation (~55 min)")
    p.set_defaults(preset="default")
    p.add_argument("--reps", type=int, help="repetitions of every configuration (>= 1)")
    p.add_argument("--duration", type=float, help="measured window per trial, seconds")
    p.add_argument("--warmup", type=float, help="warm-up before the window, seconds")
    p.add_argument("--only", help="comma-separated workloads (%s, %s)" % (
        ", ".join(matrix.WORKLOADS), ", ".join(matrix.EXTRA_BLOCKS)))
    p.add_argument("--out", help="result directory (default results/<date>-<commit>)")
    p.add_argument("--no-peers", action="store_true", help="no nginx/sockperf/iperf3")
    p.add_argument("--no-build", action="store_true",
                   help="use the binaries already in build-bench/ as they are")
    p.add_argument("--plan", action="store_true",
                   help="print the trials and the time they take, run nothing")
    p.add_argument("--build-dir", default=str(env.ROOT / "build-bench"), help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    if a.only:
        a.only = [w.strip() for w in a.only.split(",") if w.strip()]
        unknown = [w for w in a.only if w not in matrix.WORKLOADS and w not in matrix.EXTRA_BLOCKS]
        if unknown:
            p.error("unknown workload(s): %s" % ", ".join(unknown))
    if a.reps is not None and a.reps < 1:
        p.error("--reps must be at least 1")
    return a


def result_dir(out, short):
    if out:
        return Path(out).resolve()
    base = env.ROOT / "results" / ("%s-%s" % (datetime.date.today().isoformat(), short))
    d, n = base, 2
    while d.exists():
        d = Path("%s-%d" % (base, n))
        n += 1
    return d


def rel(path):
    p = Path(path).resolve()
    return str(p.relative_to(env.ROOT)) if p.is_relative_to(env.ROOT) else str(p)


def say(msg=""):
    print(msg, flush=True)


def main(argv):
    args = parse_args(argv[1:])
    install_signal_handlers()
    preset = matrix.with_overrides(matrix.PRESETS[args.preset], args.duration, args.warmup,
                                   args.reps)
    git = env.git_info()
    out = Path(tempfile.mkdtemp(prefix="ringlab-plan-")) if args.plan else \
        result_dir(args.out, git["short"])
    raw = out / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    say("ringlab bench: preset %s -> %s" % (preset.name, os.path.relpath(out)))
    with open(out / "setup.log", "a") as log:
        try:
            say("setup: packages (.ci/deps --bench%s)" % ("" if args.no_peers else " + peers"))
            env.install_base(log)
            peers_ok = ({p: "--no-peers" for p in env.PEER_PACKAGES} if args.no_peers
                        else env.install_peers(log))
            for peer, why in peers_ok.items():
                if why and not args.no_peers:
                    say("  peer %s unavailable: %s" % (peer, why))
            builddir = Path(args.build_dir)
            if not args.no_build:
                say("setup: release build in %s" % os.path.relpath(builddir, env.ROOT))
                env.build(builddir, log)
        except env.SetupError as e:
            say("bench/run: %s" % e)
            return 1
    server, load = env.binaries(builddir)
    for b in (server, load):
        if not b.exists():
            say("bench/run: %s is missing (build first, or drop --no-build)" % b)
            return 1
    # Commands run from the repository root with relative paths, so the ones recorded
    # in the results can be re-run from a checkout anywhere.
    os.chdir(env.ROOT)
    server, load, raw = rel(server), rel(load), Path(rel(raw))
    load_protos, _ = matrix.load_protocols(load)
    srv_help = subprocess.run([str(server), "--help"], capture_output=True, text=True).stdout
    sockperf_opt = peers.server_sockperf_option(srv_help)
    blocks, notes = matrix.plan(preset, load_protos, peers_ok, args.only, args.no_peers,
                                sockperf_client_ok=bool(sockperf_opt))
    blocks = matrix.fit_budget(blocks, preset, notes)
    todo = matrix.trials(blocks)
    environment = env.describe(builddir, server, load, argv)
    environment.update({"preset": preset.name, "pinning": {"server_cpu": 0, "load_cpu": 1},
                        "load_protocols": sorted(load_protos),
                        "server_sockperf_option": sockperf_opt, "peers": peers_ok})
    (out / "environment.json").write_text(json.dumps(environment, indent=2) + "\n")
    for n in notes:
        say("note: " + n)
    est_total = sum(t.est_s for t in todo)
    say("plan: %d blocks, %d trials, about %s (server on CPU 0, load on CPU 1)"
        % (len(blocks), len(todo), fmt_duration(est_total)))
    if args.plan:
        for b in blocks:
            say("  %-22s %s x %d reps, %gs windows, ~%s" % (
                b.key, " ".join(b.targets), b.reps, b.duration,
                fmt_duration(matrix.estimate(b) * b.reps * len(b.targets))))
        shutil.rmtree(out, ignore_errors=True)
        return 0
    records, interrupted = [], False
    spent = est_done = 0.0
    runs_path = out / "runs.jsonl"
    try:
        for i, trial in enumerate(todo, 1):
            t0 = time.monotonic()
            rec = run_trial(i, trial, server, load, raw, sockperf_opt)
            records.append(rec)
            with open(runs_path, "a") as f:
                f.write(json.dumps(rec) + "\n")
            spent += time.monotonic() - t0
            est_done += trial.est_s
            left = sum(t.est_s for t in todo[i:]) * (spent / est_done if est_done else 1)
            say(progress_line(i, len(todo), trial, rec, left))
            wait_quiet(QUIET_WAIT_S)
    except KeyboardInterrupt:
        interrupted = True
        say("\ninterrupted: writing the report for the %d trials done" % len(records))
    finally:
        REGISTRY.cleanup()
    environment["loadavg_at_end"] = list(os.getloadavg())
    (out / "environment.json").write_text(json.dumps(environment, indent=2) + "\n")
    try:
        figures, plot_notes = plots.make(out, blocks, records)
    except Exception as e:  # plots are a view of numbers that are written anyway
        figures, plot_notes = {}, ["plots failed: %s" % e]
    summary = report.write(out, environment, blocks, records, notes + plot_notes, figures,
                           interrupted)
    if out.parent == env.ROOT / "results":
        report.update_index(env.ROOT / "results", latest=out.name)
    say()
    say(summary["headline_text"])
    say()
    say("report: %s" % os.path.relpath(out / "report.md"))
    return 130 if interrupted else 0


def _label(seq, trial):
    t = trial.target.replace(":", "-")
    b = trial.block
    return "%03d-%s-c%d-%s-r%d" % (seq, b.workload, b.conns, t, trial.rep)


def run_trial(seq, trial, server_bin, load_bin, raw, sockperf_opt):
    b = trial.block
    label = _label(seq, trial)
    rec = {"seq": seq, "block": b.key, "workload": b.workload, "conns": b.conns,
           "target": trial.target, "rep": trial.rep, "kind": b.kind, "label": label,
           "duration": b.duration, "warmup": b.warmup,
           "started": datetime.datetime.now(datetime.timezone.utc).strftime("%H:%M:%S")}
    root = None
    try:
        if b.kind == "iperf3":
            rec.update(peers.iperf3(b.duration, str(raw), label))
            return rec
        target = trial.target
        if b.kind == "pingpong":
            client, _, target = target.rpartition(":")
            client = client or "pp"
            w = matrix.WORKLOADS["udp"]
        else:
            w = matrix.WORKLOADS[b.workload]
            client = "load"
        if "{root}" in " ".join(w.server_args):
            root = tempfile.mkdtemp(prefix="ringlab-bench-root-")
        srv = start_target(target, w, b.conns, server_bin, raw, label, root, sockperf_opt,
                           client)
        rec["commands"] = {"server": " ".join(str(c) for c in srv.cmd)}
        try:
            if client == "pp":
                r = peers.sockperf_pp(srv, b.duration, "64", str(raw), label)
            else:
                r = measure.run_load(load_bin, srv, w, b.conns, b.duration, b.warmup,
                                     str(raw), label)
        finally:
            stopped = srv.stop()
        r["commands"]["server"] = rec["commands"]["server"]
        rec.update(r)
        rec["server_exit"] = stopped["exit"]
        rec["server_counters"] = stopped["counters"]
        if stopped["exit"] not in (0, None) and srv.name in matrix.ENGINES:
            rec["problems"].append("server exit %s" % stopped["exit"])
    except measure.TrialError as e:
        rec.update({"ok": False, "problems": [str(e)]})
    finally:
        if root:
            shutil.rmtree(root, ignore_errors=True)
    return rec


def start_target(target, w, conns, server_bin, raw, label, root, sockperf_opt, client):
    if target in matrix.ENGINES:
        extra = (sockperf_opt,) if client == "pp" and sockperf_opt else ()
        return measure.start_engine(server_bin, target, w, conns, str(raw), label, root, extra)
    if target == "nginx":
        return peers.start_nginx(str(raw), label, conns)
    if target == "sockperf-sr":
        return peers.start_sockperf_sr(str(raw), label)
    raise measure.TrialError("unknown target %s" % target)


def progress_line(i, n, trial, rec, left):
    b = trial.block
    head = "[%*d/%d] %-14s %-7s %-14s rep %d/%d" % (
        len(str(n)), i, n, b.workload, "c=%d" % b.conns if b.kind == "load" else "",
        trial.target, trial.rep, b.reps)
    if not rec.get("ok"):
        body = "FAILED: " + "; ".join(rec.get("problems") or ["?"])
    elif b.kind == "iperf3":
        body = "%.2f Gbit/s" % rec["gbit_s"]
    else:
        cpu = (rec.get("server_cpu") or {}).get("us_per_request")
        lat = rec.get("latency_us") or {}
        body = "%9s %s  srv %s/req  p50 %s  p99 %s" % (
            fmt_rate(rec.get("throughput")), "msg/s" if b.kind == "pingpong" else "req/s",
            fmt_us(cpu), fmt_us(lat.get("p50")), fmt_us(lat.get("p99")))
        flags = [p for p in rec.get("problems", []) if p.startswith(("client-bound", "other"))]
        if flags:
            body += "  (" + "; ".join(flags) + ")"
    return "%s  %s  ETA %s" % (head, body, fmt_duration(left))


if __name__ == "__main__":
    sys.exit(main(sys.argv))
