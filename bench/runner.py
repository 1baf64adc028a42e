"""bench/run: set up, build, run the interleaved matrix, write the result directory.

    bench/run [--smoke | --quick | --ci | --full | --soak] [--reps N] [--duration S]
              [--only W[,W]] [--out DIR] [--no-peers] [--no-build] [--build-dir DIR]
              [--no-install] [--plan] [--report DIR]

Every trial starts a fresh server (so no state and no CPU carries over between trials),
runs the load generator against it, stops it with SIGTERM and checks it exits 0.
Results land in results/<YYYY-MM-DD>-<shortcommit>/ (see results/README.md and
docs/results.md).  Exit status: 0 done; 1 setup failed, or (--smoke, --ci, --soak) a
trial failed or the soak did not pass; 2 bad usage; 130 interrupted."""
import argparse
import datetime
import re
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import counting
import curvereport
import curves
import env
import matrix
import measure
import peers
import report
import resultdir
import soak
from procs import REGISTRY, command_line, install_signal_handlers, pinning, wait_quiet
from stats import fmt_duration, fmt_rate, fmt_us

STRICT_PRESETS = ("smoke", "ci", "soak")   # a failed trial fails the run


def parse_args(argv):
    p = argparse.ArgumentParser(
        prog="bench/run", description=__doc__.split("\n\n")[0],
        epilog="exit status: 0 done; 1 setup or build failed, or (--smoke, --ci, --soak) a "
               "trial failed or the soak did not pass; 2 bad usage; 130 interrupted.  "
               "Every preset's estimated time: bench/run --plan.  Files: docs/results.md")
    g = p.add_mutually_exclusive_group()
    for name, preset in matrix.PRESETS.items():
        if name != "default":
            g.add_argument("--" + name, action="store_const", dest="preset", const=name,
                           help=preset.summary)
    p.set_defaults(preset="default")
    p.add_argument("--reps", type=int, help="repetitions of every configuration (>= 1)")
    p.add_argument("--duration", type=float, help="measured window per trial, seconds")
    p.add_argument("--warmup", type=float, help="warm-up before the window, seconds")
    p.add_argument("--only", help="comma-separated workloads (%s, %s)" % (
        ", ".join(matrix.WORKLOADS), ", ".join(matrix.EXTRA_BLOCKS)))
    p.add_argument("--conns", metavar="N[,N]",
                   help="connection counts for every selected workload instead of the "
                        "preset's (e.g. --only udp --conns 64)")
    p.add_argument("--size", metavar="SIZE",
                   help="request size for every selected workload that has one instead of "
                        "its own (e.g. --only file-get --conns 1 --size 1GiB)")
    p.add_argument("--out", help="result directory (default results/<date>-<commit>)")
    p.add_argument("--no-peers", action="store_true", help="no nginx/sockperf/iperf3")
    p.add_argument("--no-build", action="store_true",
                   help="use the binaries already in the build directory as they are")
    p.add_argument("--build-dir", metavar="DIR",
                   help="use this existing meson build as it is (implies --no-build; "
                        "default build-bench/, built in release mode)")
    p.add_argument("--no-install", action="store_true",
                   help="install nothing (--smoke and --plan never install): peers, "
                        "gnuplot and taskset are used when present")
    p.add_argument("--engine", default="uring", choices=matrix.ENGINES,
                   help="--soak: the engine under test (default uring)")
    p.add_argument("--fds", type=int, default=20000,
                   help="--soak: sockets the load processes hold in all (default 20000)")
    p.add_argument("--curves", action="store_true",
                   help="load curves: open-loop steps from 5%% of each workload's capacity "
                        "to past saturation, every engine interleaved, a counting pass per "
                        "step, capacity at the p99 target (--slo); see bench/README.md")
    p.add_argument("--slo", default="1ms", metavar="DUR",
                   help="--curves: the p99 target of the capacity (default 1ms; us, ms, s)")
    p.add_argument("--steps", type=int, metavar="N",
                   help="--curves: exactly N steps per workload (default: at least 8, each "
                        "at most 1.4x the one before)")
    p.add_argument("--engines", metavar="E[,E]",
                   help="--curves: only these targets (default every engine and peer)")
    p.add_argument("--plan", action="store_true",
                   help="print the trials, their estimated time and every preset's, run "
                        "nothing (installs and builds nothing)")
    p.add_argument("--report", metavar="DIR",
                   help="write report.md, summary.json, the CSV files and plots of result "
                        "directory DIR again from its runs.jsonl, run nothing")
    a = p.parse_args(argv)
    if a.only:
        a.only = [w.strip() for w in a.only.split(",") if w.strip()]
        unknown = [w for w in a.only if w not in matrix.WORKLOADS and w not in matrix.EXTRA_BLOCKS]
        if unknown:
            p.error("unknown workload(s): %s" % ", ".join(unknown))
    if a.conns:
        try:
            a.conns = [int(c) for c in a.conns.split(",") if c.strip()]
        except ValueError:
            p.error("--conns takes comma-separated integers")
        if not a.conns or min(a.conns) < 1:
            p.error("--conns must be at least 1")
    try:
        a.slo_us = parse_us(a.slo)
    except ValueError:
        p.error("--slo takes a duration such as 1ms, 500us, 0.002s")
    if a.steps is not None and a.steps < 1:
        p.error("--steps must be at least 1")
    if a.engines:
        a.engines = [e.strip() for e in a.engines.split(",") if e.strip()]
        bad = [e for e in a.engines if e not in matrix.ENGINES + ("nginx",)]
        if bad:
            p.error("unknown engine(s): %s" % ", ".join(bad))
    if a.curves:
        if a.preset not in ("default",):
            p.error("--curves is a run of its own: no preset with it")
        a.reps = a.reps or curves.DEFAULTS["reps"]
        a.duration = a.duration or curves.DEFAULTS["duration"]
        a.warmup = curves.DEFAULTS["warmup"] if a.warmup is None else a.warmup
    if a.reps is not None and a.reps < 1:
        p.error("--reps must be at least 1")
    if a.fds < 1:
        p.error("--fds must be at least 1")
    a.build = not (a.no_build or a.build_dir or a.plan)
    a.build_dir = Path(a.build_dir or env.ROOT / "build-bench").resolve()
    a.install = not (a.no_install or a.preset == "smoke" or a.plan)
    a.peers_off = a.no_peers          # as asked; a preset may add its own
    a.no_peers = a.no_peers or not matrix.PRESETS[a.preset].peers
    return a


def parse_us(text):
    """A duration ("1ms", "500us", "0.002s", bare: µs) in microseconds."""
    m = re.match(r"^\s*([\d.]+)\s*(us|µs|ms|s)?\s*$", text)
    if not m:
        raise ValueError(text)
    v = float(m.group(1)) * {"us": 1, "µs": 1, None: 1, "ms": 1e3, "s": 1e6}[m.group(2)]
    if v <= 0:
        raise ValueError(text)
    return v


def start_run(args, what, server, load, **name):
    """Makes the result directory (result_dir's naming), installs and builds into its
    setup.log, checks that both binaries exist and moves to the repository root, so the
    commands recorded in the results use relative paths and can be re-run from a checkout
    anywhere.  Returns (out, raw, server, load, peers_ok) with the paths made relative,
    or the exit status of a failed set-up."""
    out = result_dir(args.out, env.git_info()["short"], **name)
    raw = out / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    say("ringlab bench: %s -> %s" % (what, os.path.relpath(out)))
    with open(out / "setup.log", "a") as log:
        try:
            peers_ok = setup(args, log)
        except env.SetupError as e:
            say("bench/run: %s" % e)
            return 1
    for b in (server, load):
        if not b.exists():
            say("bench/run: %s is missing (build first, or drop --no-build)" % b)
            return 1
    os.chdir(env.ROOT)
    return out, Path(rel(raw)), rel(server), rel(load), peers_ok


def result_dir(out, short, preset="default", suffix=""):
    """--out, else for --smoke a fresh temporary directory (a smoke run is a check of
    the set-up, not a result: it never lands in results/), else
    results/<date>-<commit><suffix>[-N]."""
    if out:
        return Path(out).resolve()
    if preset == "smoke":
        return Path(tempfile.mkdtemp(prefix="ringlab-smoke-")).resolve()
    base = env.ROOT / "results" / ("%s-%s%s" % (datetime.date.today().isoformat(), short,
                                               suffix))
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


def setup(args, log):
    """Installs (unless told not to) and builds (unless given a build); returns
    {peer: None or why it cannot run}.  Raises env.SetupError."""
    if args.install:
        say("setup: packages (.ci/deps --bench%s)" % ("" if args.no_peers else " + peers"))
        env.install_base(log)
    if args.no_peers:
        peers_ok = {p: "--no-peers" for p in env.PEER_PACKAGES}
    elif args.install:
        peers_ok = env.install_peers(log)
        for peer, why in peers_ok.items():
            if why:
                say("  peer %s unavailable: %s" % (peer, why))
    else:
        peers_ok = env.peer_status()
    if args.build:
        say("setup: release build in %s" % os.path.relpath(args.build_dir, env.ROOT))
        env.build(args.build_dir, log)
    return peers_ok


def probe(server, load):
    """What the binaries can do: (load protocols, server's sockperf option, notes).
    Without binaries (a plan before the first build) every mode is assumed."""
    try:
        load_protos, _ = matrix.load_protocols(load)
        srv_help = subprocess.run([str(server), "--help"], capture_output=True, text=True,
                                  timeout=10).stdout
    except (OSError, subprocess.TimeoutExpired):
        return ({w.load_proto for w in matrix.WORKLOADS.values()}, None,
                ["binaries not built yet: the plan assumes every ringlab-load mode"])
    return load_protos, peers.server_sockperf_option(srv_help), []


def plan_blocks(preset, args, load_protos, peers_ok, sockperf_opt, notes):
    blocks, more = matrix.plan(preset, load_protos, peers_ok, args.only, args.no_peers,
                               sockperf_client_ok=bool(sockperf_opt))
    notes += more
    return matrix.fit_budget(blocks, preset, notes)


def preset_estimate(name, args, load_protos, peers_ok, sockperf_opt):
    """Seconds the preset `name` takes as given (no overrides but --only/--no-peers)."""
    preset = matrix.PRESETS[name]
    if name == "soak":
        return soak.estimate(preset, args.fds)
    no_peers = args.peers_off or not preset.peers
    a = argparse.Namespace(only=args.only, no_peers=no_peers)
    ok = peers_ok if not no_peers else {p: "--no-peers" for p in env.PEER_PACKAGES}
    return matrix.total_estimate(plan_blocks(preset, a, load_protos, ok, sockperf_opt, []))


def show_plan(args, preset, blocks, notes, load_protos, peers_ok, sockperf_opt):
    for n in notes:
        say("note: " + n)
    if preset.name == "soak":
        loads, more = soak.plan(args.fds, load_protos)
        for n in more:
            say("note: " + n)
        say("plan: soak on the %s engine, %d descriptors, %gs warm-up + %gs window, "
            "about %s" % (args.engine, args.fds, preset.warmup, preset.duration,
                          fmt_duration(soak.estimate(preset, args.fds))))
        for l in loads:
            say("  %-16s %6d connections  %s" % (l.workload, l.conns, l.source or ""))
    else:
        say("plan: %d blocks, %d trials, about %s" % (
            len(blocks), len(matrix.trials(blocks)), fmt_duration(matrix.total_estimate(blocks))))
        for b in blocks:
            say("  %-22s %s x %d reps, %gs windows, %gs warm-up, ~%s" % (
                b.key, " ".join(b.targets), b.reps, b.duration, b.warmup,
                fmt_duration(matrix.estimate(b) * b.reps * len(b.targets))))
    say("every preset (trials only; setup and build come on top):")
    for name, p in matrix.PRESETS.items():
        est = preset_estimate(name, args, load_protos, peers_ok, sockperf_opt)
        say("  %-4s %-8s ~%-7s %s" % ("*" if name == preset.name else "", name,
                                      fmt_duration(est), p.summary))
    return 0


def main(argv):
    args = parse_args(argv[1:])
    install_signal_handlers()
    if args.report:
        resultdir.regenerate(args.report)
        say("rewrote %s" % os.path.join(args.report, "report.md"))
        return 0
    preset = matrix.with_overrides(matrix.PRESETS[args.preset], args.duration, args.warmup,
                                   args.reps, args.conns, args.size)
    server, load = env.binaries(args.build_dir)
    if args.curves:
        return run_curves(args, argv, server, load)
    if args.plan:
        load_protos, sockperf_opt, notes = probe(server, load)
        peers_ok = ({p: "--no-peers" for p in env.PEER_PACKAGES} if args.peers_off
                    else {p: None for p in env.PEER_PACKAGES})  # a run installs them
        blocks = [] if preset.name == "soak" else \
            plan_blocks(preset, args, load_protos, peers_ok, sockperf_opt, notes)
        say("ringlab bench: preset %s (plan only)" % preset.name)
        return show_plan(args, preset, blocks, notes, load_protos, peers_ok, sockperf_opt)
    started = start_run(args, "preset %s" % preset.name, server, load, preset=preset.name)
    if isinstance(started, int):
        return started
    out, raw, server, load, peers_ok = started
    load_protos, sockperf_opt, notes = probe(server, load)
    environment = env.describe(args.build_dir, server, load, argv)
    environment.update({"preset": preset.name, "pinning": pinning(),
                        "load_protocols": sorted(load_protos),
                        "server_sockperf_option": sockperf_opt, "peers": peers_ok})
    if environment["pinning"]["server_cpu"] is None:
        notes.append("not pinned: %s" % environment["pinning"]["unpinned_because"])
    (out / "environment.json").write_text(json.dumps(environment, indent=2) + "\n")
    if preset.name == "soak":
        return run_soak(args, preset, out, server, load, load_protos, environment, notes)
    blocks = plan_blocks(preset, args, load_protos, peers_ok, sockperf_opt, notes)
    for n in notes:
        say("note: " + n)
    todo = matrix.trials(blocks)
    pin = environment["pinning"]
    say("plan: %d blocks, %d trials, about %s (%s)" % (
        len(blocks), len(todo), fmt_duration(matrix.total_estimate(blocks)),
        "server on CPU %d, load on CPU %d" % (pin["server_cpu"], pin["load_cpu"])
        if pin["server_cpu"] is not None else "not pinned"))
    records, interrupted = run_trials(todo, out / "runs.jsonl", server, load, raw,
                                      sockperf_opt, preset.quiet_wait_s)
    environment["loadavg_at_end"] = list(os.getloadavg())
    (out / "environment.json").write_text(json.dumps(environment, indent=2) + "\n")
    summary = resultdir.write_views(out, environment, blocks, records, notes, interrupted)
    if out.parent == env.ROOT / "results":
        # `latest` is the newest whole-matrix run: one limited by --only is indexed, not linked
        report.update_index(env.ROOT / "results", latest=None if args.only else out.name)
    say()
    say(summary["headline_text"])
    say()
    say("report: %s" % os.path.relpath(out / "report.md"))
    if interrupted:
        return 130
    if summary["failed"] and preset.name in STRICT_PRESETS:
        say("bench/run: %d of %d trials failed" % (summary["failed"], len(records)))
        return 1
    return 0


def run_trials(todo, runs_path, server, load, raw, sockperf_opt, quiet_wait_s):
    """Runs the trials in order, appending each record to runs.jsonl; returns (records,
    interrupted)."""
    records, interrupted = [], False
    spent = est_done = 0.0
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
            cb = matrix.count_block(trial.block)
            if cb and (i == len(todo) or todo[i].block is not trial.block):
                # the block's timed trials are done: its counting passes, interleaved
                for target in cb.targets:
                    t1 = time.monotonic()
                    crec = run_count(cb, target, server, load, raw)
                    with open(runs_path.parent / "counts.jsonl", "a") as f:
                        f.write(json.dumps(crec) + "\n")
                    spent += time.monotonic() - t1
                    say(count_line(crec))
                est_done += matrix.count_estimate(trial.block)
            if i < len(todo):
                wait_quiet(quiet_wait_s)
    except KeyboardInterrupt:
        interrupted = True
        say("\ninterrupted: writing the report for the %d trials done" % len(records))
    finally:
        REGISTRY.cleanup()
    return records, interrupted


def run_curves(args, argv, server, load):
    """bench/run --curves (and --plan --curves): see curves.py."""
    if args.plan:
        load_protos, _, notes = probe(server, load)
        peers_ok = ({p: "--no-peers" for p in env.PEER_PACKAGES} if args.peers_off
                    else env.peer_status(when="(not installed yet)"))
        try:
            sel = curves.select(args.only, args.conns, args.engines, peers_ok, args.peers_off,
                                load_protos, notes)
        except ValueError as e:
            say("bench/run: %s" % e)
            return 2
        say("ringlab bench: load curves (plan only)")
        return curves.show_plan(sel, args, notes, say)
    args.no_peers = args.peers_off
    started = start_run(args, "load curves", server, load, suffix="-curves")
    if isinstance(started, int):
        return started
    out, raw, server, load, peers_ok = started
    load_protos, _, notes = probe(server, load)
    try:
        sel = curves.select(args.only, args.conns, args.engines, peers_ok, args.no_peers,
                            load_protos, notes)
    except ValueError as e:
        say("bench/run: %s" % e)
        return 2
    events, count_notes = counting.probe()
    notes += count_notes
    environment = env.describe(args.build_dir, server, load, argv)
    environment.update({"preset": "curves", "pinning": pinning(),
                        "load_protocols": sorted(load_protos), "peers": peers_ok,
                        "server_sockperf_option": None, "slo_us": args.slo_us,
                        "count_events": [list(e) for e in events],
                        "perf": counting.env_note(),
                        "curves": {"reps": args.reps, "duration": args.duration,
                                   "warmup": args.warmup, "steps": args.steps}})
    if environment["pinning"]["server_cpu"] is None:
        notes.append("not pinned: %s" % environment["pinning"]["unpinned_because"])
    (out / "environment.json").write_text(json.dumps(environment, indent=2) + "\n")
    for n in notes:
        say("note: " + n)
    sweep = curves.Sweep(out, server, load, raw, say, start_target, out / "runs.jsonl",
                         args.slo_us)
    _, _, interrupted = curves.run(sweep, sel, args.reps, args.duration, args.warmup,
                                   args.steps)
    environment["loadavg_at_end"] = list(os.getloadavg())
    (out / "environment.json").write_text(json.dumps(environment, indent=2) + "\n")
    summary = curvereport.write(out, environment, sweep.records, notes, args.slo_us,
                                interrupted)
    if out.parent == env.ROOT / "results":
        report.update_index(env.ROOT / "results", latest=None)
    say()
    say(summary["headline_text"])
    say()
    say("report: %s" % os.path.relpath(out / "report.md"))
    if interrupted:
        return 130
    return 1 if summary["failed"] and not any(r.get("ok") for r in sweep.records) else 0


def run_soak(args, preset, out, server, load, load_protos, environment, notes):
    say("soak: %s engine, %d descriptors, %gs warm-up + %gs window (about %s)" % (
        args.engine, args.fds, preset.warmup, preset.duration,
        fmt_duration(soak.estimate(preset, args.fds))))
    try:
        result, records, samples, more, interrupted = soak.run(
            out, server, load, preset, args.engine, args.fds, load_protos, say)
    except measure.TrialError as e:
        say("bench/run: soak could not start: %s" % e)
        return 1
    finally:
        REGISTRY.cleanup()
    with open(out / "runs.jsonl", "w") as f:
        for r in records:
            f.write(json.dumps(r) + "\n")
    environment["loadavg_at_end"] = list(os.getloadavg())
    (out / "environment.json").write_text(json.dumps(environment, indent=2) + "\n")
    soak.write(out, environment, result, records, samples, notes + more, interrupted)
    say("soak: %s" % ("PASS" if result["pass"] else "FAIL: " + "; ".join(result["failures"])))
    say("report: %s" % os.path.relpath(out / "report.md"))
    return 130 if interrupted else 0 if result["pass"] else 1


def _label(seq, trial):
    t = trial.target.replace(":", "-")
    b = trial.block
    return "%03d-%s-c%d-%s-r%d" % (seq, b.workload, b.conns, t, trial.rep)


def upload_root(w):
    """A fresh directory for a workload whose server takes one ("{root}"), under
    w.root_parent (file-put-tmpfs: /dev/shm) or $TMPDIR; None when it takes none.  The
    caller removes it."""
    if "{root}" not in " ".join(w.server_args):
        return None
    if w.root_parent and not os.path.isdir(w.root_parent):
        raise measure.TrialError("%s needs %s for its uploads, and this machine has none"
                                 % (w.name, w.root_parent))
    return tempfile.mkdtemp(prefix="ringlab-bench-root-", dir=w.root_parent)


def run_trial(seq, trial, server_bin, load_bin, raw, sockperf_opt):
    b = trial.block
    label = _label(seq, trial)
    rec = {"schema_version": env.SCHEMA_VERSION, "seq": seq, "block": b.key,
           "workload": b.workload, "conns": b.conns, "target": trial.target,
           "rep": trial.rep, "kind": b.kind, "label": label, "duration": b.duration,
           "warmup": b.warmup,
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
            w = matrix.for_target(matrix.WORKLOADS[b.workload], target)
            client = "load"
        root = upload_root(w)
        srv = start_target(target, w, b.conns, server_bin, raw, label, root, sockperf_opt,
                           client)
        rec["commands"] = {"server": command_line(srv.cmd)}
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


def run_count(block, target, server_bin, load_bin, raw):
    """The counting pass of one target of a block (counting.py): a fresh server, the
    block's load in a short window, perf stat on the server.  Returns its record."""
    w = matrix.for_target(matrix.WORKLOADS[block.workload], target)
    label = "count-%s-c%d-%s" % (block.workload, block.conns, target)
    rec = {"schema_version": env.SCHEMA_VERSION, "block": block.key,
           "workload": block.workload, "conns": block.conns, "target": target,
           "kind": "count", "label": label, "duration": block.duration,
           "warmup": block.warmup}
    root = None
    events, notes = counting.probe()
    try:
        root = upload_root(w)
        srv = start_target(target, w, block.conns, server_bin, raw, label, root, None, "load")
        try:
            r = counting.counted_pass(load_bin, srv, w, block.conns, block.duration,
                                      block.warmup, str(raw), label, events, measure.run_load)
        finally:
            stopped = srv.stop()
        r["commands"]["server"] = command_line(srv.cmd)
        rec.update(r)
        rec["server_exit"] = stopped["exit"]
        if notes and not rec.get("count_note"):
            rec["count_note"] = "; ".join(notes)
    except measure.TrialError as e:
        rec.update({"ok": False, "problems": [str(e)], "counts": counting.empty_counts(),
                    "count_note": str(e)})
    finally:
        if root:
            shutil.rmtree(root, ignore_errors=True)
    return rec


def count_line(rec):
    c = rec.get("counts") or {}

    def f(k):
        return "-" if c.get(k) is None else "%.3g" % c[k]
    return "    counted %-14s %-8s syscalls/op %s  ctx/op %s  enters/op %s%s" % (
        rec["block"], rec["target"], f("syscalls"), f("ctx_switches"), f("enters"),
        "  (%s)" % rec["count_note"] if rec.get("count_note") else "")


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
