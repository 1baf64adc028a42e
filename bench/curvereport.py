"""The files of a `bench/run --curves` run, written from its records (runs.jsonl):

  curves.csv    one row per target, repetition and step: the timed trial's rates,
                latencies and server CPU per operation, the counting pass's per-operation
                counts (CURVE_COLUMNS)
  capacity.csv  per workload and target: the capacity at the p99 target, the median over
                repetitions (CAPACITY_COLUMNS)
  plots/        per workload: corrected p99 vs achieved rate (log-log, one line per
                target, the target line), server CPU per operation vs achieved rate,
                syscalls and context switches per operation vs offered rate
  report.md     the capacity table with ratios, per-workload tables, how it was measured
  summary.json  the capacities and stop reasons, machine-readable

`bench/run --report DIR` writes them again (regenerate)."""
import csv
import json
import shutil
from pathlib import Path

import counting
import curves
import env
import report
from plots import NO_GNUPLOT, _gnuplot, _safe, _style
from stats import fmt_num, fmt_rate, fmt_ratio, fmt_us, md_table, median, spread

CURVE_COLUMNS = ("workload", "engine", "offered_per_s", "achieved_per_s", "p50_us", "p99_us",
                 "p999_us", "p99_uncorrected_us", "server_us_per_op", "syscalls_per_op",
                 "ctx_switches_per_op", "enters_per_op", "rep")
CAPACITY_COLUMNS = ("workload", "engine", "slo_us", "capacity_per_s")


def _num(v):
    if v is None:
        return ""
    if isinstance(v, float):
        return ("%.6g" % v)
    return str(v)


def points(records):
    """{curve: {target: {rep: [point dicts in step order]}}} joining each timed record
    with the counting pass of the same curve, target, repetition and step."""
    counts = {(r["curve"], r["target"], r["rep"], r["step"]): r for r in records
              if r.get("kind") == "count"}
    out = {}
    for r in sorted((r for r in records if r.get("kind") == "curve"),
                    key=lambda r: (r["rep"], r["step"], r["seq"])):
        lat = r.get("latency_us") or {}
        unc = r.get("latency_uncorrected_us") or {}
        c = counts.get((r["curve"], r["target"], r["rep"], r["step"])) or {}
        n = c.get("counts") or counting.empty_counts()
        p = {"offered": r.get("offered"), "achieved": r.get("throughput") if r.get("ok") else None,
             "p50": lat.get("p50"), "p99": lat.get("p99"), "p999": lat.get("p99.9"),
             "p99_unc": unc.get("p99"), "ok": bool(r.get("ok")),
             "cpu": (r.get("server_cpu") or {}).get("us_per_request"),
             "counts": n, "count_note": c.get("count_note") if c else None,
             "step": r["step"], "problems": r.get("problems") or [], "conns": r["conns"],
             "workload": r["workload"]}
        out.setdefault(r["curve"], {}).setdefault(r["target"], {}).setdefault(
            r["rep"], []).append(p)
    return out


def capacities(pts, slo_us):
    """{curve: {target: {rep: capacity or None}}}"""
    return {c: {t: {rep: curves.capacity(ps, slo_us) for rep, ps in reps.items()}
                for t, reps in targets.items()} for c, targets in pts.items()}


def stops(pts):
    """{(curve, target, rep): why the curve ended} from the points, by the same rule."""
    out = {}
    for c, targets in pts.items():
        for t, reps in targets.items():
            for rep, ps in reps.items():
                why = None
                for i in range(1, len(ps) + 1):
                    why = curves.stop_reason(ps[:i])
                    if why:
                        break
                out[(c, t, rep)] = ("after %s/s: %s" % (fmt_rate(ps[i - 1]["offered"]), why)
                                    if why else "not stopped: the last step was %s/s"
                                    % fmt_rate(ps[-1]["offered"]))
    return out


def write_csvs(out, pts, caps, slo_us):
    with open(out / "curves.csv", "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(CURVE_COLUMNS)
        for c, targets in pts.items():
            for t, reps in targets.items():
                for rep, ps in sorted(reps.items()):
                    for p in ps:
                        n = p["counts"]
                        w.writerow([c, t, _num(p["offered"]), _num(p["achieved"]),
                                    _num(p["p50"]), _num(p["p99"]), _num(p["p999"]),
                                    _num(p["p99_unc"]), _num(p["cpu"]), _num(n.get("syscalls")),
                                    _num(n.get("ctx_switches")), _num(n.get("enters")), rep])
    with open(out / "capacity.csv", "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(CAPACITY_COLUMNS)
        for c, targets in caps.items():
            for t, by_rep in targets.items():
                w.writerow([c, t, _num(slo_us), _num(median([v for v in by_rep.values()
                                                             if v is not None]))])


def _by_step(reps, key):
    """[(offered, median over reps of key(point))] over the steps any rep reached."""
    steps = {}
    for ps in reps.values():
        for p in ps:
            v = key(p)
            if v is not None:
                steps.setdefault(p["offered"], []).append(v)
    return sorted((o, median(v)) for o, v in steps.items())


def _xy(reps, xkey, ykey):
    """[(median x, median y)] per step over the repetitions (both present)."""
    steps = {}
    for ps in reps.values():
        for p in ps:
            x, y = xkey(p), ykey(p)
            if x is not None and y is not None:
                steps.setdefault(p["offered"], []).append((x, y))
    return [(median([a for a, _ in v]), median([b for _, b in v]))
            for _, v in sorted(steps.items())]


def make_plots(out, pts, slo_us):
    """{curve: [(title, png, svg)]}, notes."""
    if not shutil.which("gnuplot"):
        return {}, [NO_GNUPLOT]
    outdir = out / "plots"
    (outdir / "data").mkdir(parents=True, exist_ok=True)
    figs, notes = {}, []
    specs = (
        ("p99", "corrected p99 latency vs achieved rate", "achieved rate per s (log)",
         "corrected p99 (µs, log)", lambda p: p["achieved"], lambda p: p["p99"], True),
        ("cpu", "server CPU per operation vs achieved rate", "achieved rate per s (log)",
         "server CPU µs per operation", lambda p: p["achieved"], lambda p: p["cpu"], False),
        ("syscalls", "server syscalls per operation vs offered rate (counting pass)",
         "offered rate per s (log)", "syscalls per operation",
         lambda p: p["offered"], lambda p: p["counts"].get("syscalls"), False),
        ("ctx", "server context switches per operation vs offered rate (counting pass)",
         "offered rate per s (log)", "context switches per operation",
         lambda p: p["offered"], lambda p: p["counts"].get("ctx_switches"), False),
    )
    for c, targets in pts.items():
        figs[c] = []
        for metric, title, xl, yl, xk, yk, logy in specs:
            lines = []
            for i, (t, reps) in enumerate(targets.items()):
                rows = _xy(reps, xk, yk)
                if not rows:
                    continue
                data = outdir / "data" / ("curves-%s-%s-%s.dat" % (c, metric, _safe(t)))
                data.write_text("".join("%g %g\n" % r for r in rows))
                lines.append("'%s' using 1:2 with linespoints %s pt 7 ps 0.8 title '%s'"
                             % (data, _style(t, i), t))
            if not lines:
                continue
            if metric == "p99":
                lines.append("%g with lines dt 2 lc rgb '#d62728' title 'target %s'"
                             % (slo_us, fmt_us(slo_us)))
            base = "curves-%s-%s" % (c, metric)
            body = """set title "%s: %s"
set logscale x
%s
set format x "%%.1s%%c"
set xlabel "%s"
set ylabel "%s"
set grid
set key outside right top
plot %s""" % (c, title, "set logscale y" if logy else "set yrange [0:*]", xl, yl,
              ", ".join(lines))
            if _gnuplot(body, base, outdir, notes):
                figs[c].append(("%s: %s" % (c, title), "plots/%s.png" % base,
                                "plots/%s.svg" % base))
    return figs, notes


def capacity_rows(caps, slo_us):
    rows, summ = [], {}
    for c, targets in caps.items():
        s = curves.capacity_summary(targets)
        summ[c] = s
        for t, v in s.items():
            n = v["reps"]
            if not v["met"]:
                cell = "never met"
            elif v["min"] == v["max"]:
                cell = fmt_rate(v["median"])
            else:
                cell = "%s [%s–%s]" % (fmt_rate(v["median"]), fmt_rate(v["min"]),
                                       fmt_rate(v["max"]))
            if v["met"] and v["met"] < n:
                cell += " (met in %d of %d reps)" % (v["met"], n)
            rows.append([c, t, cell, fmt_ratio(v.get("vs_blocking") or []) if t != "blocking"
                         else "1", fmt_ratio(v.get("vs_epoll") or []) if t != "epoll" else "1"])
    return rows, summ


OTHER_SLOS_US = (500.0, 1000.0, 2000.0, 5000.0, 10000.0)


def other_targets(pts, slo_us):
    """report.md lines: the capacity at other p99 targets, from the same points (the
    median over repetitions; '<' when a repetition never met the target)."""
    slos = sorted(set(OTHER_SLOS_US) | {slo_us})
    rows = []
    for c, targets in pts.items():
        for t, reps in targets.items():
            cells = []
            for slo in slos:
                caps = [curves.capacity(ps, slo) for ps in reps.values()]
                met = [v for v in caps if v is not None]
                cell = fmt_rate(median(met)) if met else "never"
                if met and len(met) < len(caps):
                    cell += " (%d/%d)" % (len(met), len(caps))
                cells.append(cell)
            rows.append([c, t] + cells)
    return ["The same points read at other p99 targets (median over repetitions; "
            "(k/n): met in k of n repetitions). Where a low target is met only at "
            "scattered steps, the p99 at that load is the machine's noise floor, not the "
            "engine's.", "",
            md_table(["workload", "target"] + ["p99 ≤ %s" % fmt_us(x) for x in slos], rows),
            ""]


def workload_section(c, targets, stop_map, figures):
    conns = next(iter(next(iter(targets.values())).values()))[0]["conns"]
    md = ["### %s, %d connection%s" % (c, conns, "" if conns == 1 else "s"), ""]
    header = ["target", "offered/s", "achieved/s", "p50", "p99", "p99 uncorr.", "p99.9",
              "CPU µs/op", "syscalls/op", "ctx sw/op (vol+invol)", "enters/op",
              "epoll_wait/op", "SQEs/op", "CQEs/op"]
    rows = []
    for t, reps in targets.items():
        for offered, _ in _by_step(reps, lambda p: p["offered"]):
            ps = [p for ps in reps.values() for p in ps if p["offered"] == offered]

            def m(key, ps=ps):
                return median([key(p) for p in ps])

            def cnt(k, ps=ps):
                return m(lambda p: p["counts"].get(k))
            vol, inv = cnt("voluntary"), cnt("involuntary")
            ctx = cnt("ctx_switches")
            rows.append([t, fmt_rate(offered), fmt_rate(m(lambda p: p["achieved"])),
                         fmt_us(m(lambda p: p["p50"])), fmt_us(m(lambda p: p["p99"])),
                         fmt_us(m(lambda p: p["p99_unc"])), fmt_us(m(lambda p: p["p999"])),
                         fmt_num(m(lambda p: p["cpu"])), fmt_num(cnt("syscalls"), 3),
                         "-" if ctx is None else "%s (%s+%s)" % (
                             fmt_num(ctx, 3), fmt_num(vol, 3), fmt_num(inv, 3)),
                         fmt_num(cnt("enters"), 3), fmt_num(cnt("epoll_waits"), 3),
                         fmt_num(cnt("sqes"), 2), fmt_num(cnt("cqes"), 2)])
    md += ["Medians over the repetitions that reached each step (a target's curve ends at "
           "its stopping step).", "", md_table(header, rows), ""]
    md += ["Where each curve stopped:", ""]
    for (cc, t, rep), why in sorted(stop_map.items()):
        if cc == c:
            md.append("- %s rep %d: %s" % (t, rep, why))
    md.append("")
    for title, png, svg in figures.get(c, []):
        md += ["![%s](%s) ([SVG](%s))" % (title, png, svg), ""]
    return md


def write(out, environment, records, notes, slo_us, interrupted=False):
    """Writes every derived file of a curves run; returns the summary."""
    out = Path(out)
    pts = points(records)
    caps = capacities(pts, slo_us)
    stop_map = stops(pts)
    write_csvs(out, pts, caps, slo_us)
    try:
        figures, fig_notes = make_plots(out, pts, slo_us)
    except Exception as e:        # plots are a view of numbers written anyway
        figures, fig_notes = {}, ["plots failed: %s" % e]
    rows, summ = capacity_rows(caps, slo_us)
    count_notes = sorted({p["count_note"] for t in pts.values() for r in t.values()
                          for ps in r.values() for p in ps if p.get("count_note")})
    events, probe_notes = counting.probe() if not environment.get("count_events") else \
        ([tuple(e) for e in environment["count_events"]], [])
    failed = sum(1 for r in records if not r.get("ok"))
    md = report.title_lines(environment, out.name, interrupted)
    md += ["## Capacity at p99 ≤ %s" % fmt_us(slo_us), "",
           "The highest offered rate at which the achieved rate was at least %d%% of it and "
           "the corrected p99 at most %s: median [min–max] over the repetitions, and the "
           "median [min–max] of per-repetition ratios. Capacity is a step of the grid: the "
           "true value lies between it and the next step." % (100 * curves.CAP_ACHIEVED,
                                                              fmt_us(slo_us)), "",
           md_table(["workload", "target", "capacity/s", "vs blocking", "vs epoll"], rows), ""]
    md += other_targets(pts, slo_us)
    md += ["## How it was measured", "",
           "- Per workload, each target first runs closed loop (2 s; its capacity C); the offered "
           "rates are one geometric grid shared by every target, from %d%% of the smallest C "
           "to %d%% of the largest, at least %d steps, each at most %.1f× the one before "
           "(and up to 4 more at the same ratio while a target has not saturated). "
           "At each step every target still running gets a timed open-loop trial "
           "(`ringlab-load --rate R`, a fresh server pinned to CPU 0, the load on CPU 1), "
           "engines interleaved, then (in the first repetition) a counting pass at the same "
           "rate, interleaved again." %
           (100 * curves.LO_FRAC, 100 * curves.HI_FRAC, curves.MIN_STEPS,
            curves.MAX_STEP_RATIO),
           "- A curve stops after a step where the achieved rate was below %d%% of the "
           "offered rate or the corrected p99 above %d× its value at the lowest step." %
           (100 * curves.STOP_ACHIEVED, curves.STOP_P99_FACTOR),
           "- Latency is corrected for coordinated omission (from the intended send time); "
           "the uncorrected p99 (from the actual send) is shown beside it. Server CPU per "
           "operation is utime+stime of the server over ringlab-load's window divided by "
           "the operations completed in it (timed trial).",
           "- Per-operation counts: " + counting.describe(events or counting.EVENTS) + ".",
           ""]
    for c, targets in pts.items():
        md += workload_section(c, targets, stop_map, figures)
    allnotes = list(notes) + probe_notes + count_notes + fig_notes
    if failed:
        allnotes.append("%d of %d trials failed (see runs.jsonl `problems`)" % (
            failed, len(records)))
    if allnotes:
        md += ["## Notes", ""] + ["- " + n for n in allnotes] + [""]
    md += report.environment_section(environment, [r for r in records
                                                   if r.get("kind") == "curve"])
    (out / "report.md").write_text("\n".join(md) + "\n")
    g = environment["git"]
    summary = {"schema_version": env.SCHEMA_VERSION, "run": out.name,
               "date": environment["date"], "commit": g["commit"], "short": g["short"],
               "dirty": g["dirty"], "preset": "curves", "interrupted": interrupted,
               "trials": len(records), "failed": failed, "notes": list(notes),
               "slo_us": slo_us, "capacity": summ,
               "stops": [{"curve": c, "target": t, "rep": rep, "why": w}
                         for (c, t, rep), w in sorted(stop_map.items())],
               "headline_text": capacity_text(rows, slo_us)}
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    return summary


def capacity_text(rows, slo_us):
    from stats import text_table
    return "Capacity at p99 <= %s\n" % fmt_us(slo_us) + text_table(
        ["workload", "target", "capacity/s", "vs blocking", "vs epoll"], rows)


def regenerate(d, environment, records, old):
    return write(Path(d), environment, records, old.get("notes", []),
                 old.get("slo_us") or environment.get("slo_us") or curves.DEFAULT_SLO_US,
                 old.get("interrupted", False))
