"""Plots of a result directory, drawn by gnuplot as PNG and SVG into plots/.

Per workload:
  <w>-latency     latency by percentile at one connection count (1000 when measured),
                  HdrHistogram style: x = 1/(1-percentile) on a log axis labelled 90%,
                  99%, 99.9%...; one curve per server, from the repetition whose p99 is
                  the median of that server's repetitions (its .hgrm file)
  <w>-throughput  median throughput vs connections, min-max bars, one line per server
  <w>-cpu         median server CPU µs/request vs connections, min-max bars
The data files gnuplot reads are kept in plots/data/."""
import math
import re
import shutil
import subprocess
from pathlib import Path

import matrix
from stats import spread

COLORS = {"uring": "#1f77b4", "epoll": "#ff7f0e", "blocking": "#7f7f7f", "nginx": "#2ca02c",
          "sockperf-sr": "#9467bd"}
SIZE = (960, 600)
NO_GNUPLOT = "no plots: gnuplot is not installed (package gnuplot-nox)"
FONT = "DejaVu Sans,11"


def _safe(s):
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", s)


def read_hgrm(path):
    """[(1/(1-p), value µs)] rows of an .hgrm file (the p = 1 row has no x and is left out)."""
    rows = []
    try:
        for line in open(path):
            f = line.split()
            if len(f) == 4 and re.match(r"^[\d.]+$", f[0]) and re.match(r"^[\d.]+$", f[3]):
                rows.append((float(f[3]), float(f[0])))
    except OSError:
        pass
    return rows


def _median_run(recs):
    """The successful repetition whose p99 is the median one (lower middle if even)."""
    ok = [r for r in recs if r.get("ok") and (r.get("latency_us") or {}).get("p99") is not None]
    if not ok:
        return None
    ok.sort(key=lambda r: r["latency_us"]["p99"])
    return ok[(len(ok) - 1) // 2]


def _gnuplot(script_body, base, outdir, notes):
    """Renders the same plot as PNG and SVG.  Returns True when both exist."""
    ok = True
    for term, ext in (("pngcairo size %d,%d enhanced font '%s'" % (SIZE + (FONT,)), "png"),
                      ("svg size %d,%d dynamic enhanced font '%s'" % (SIZE + (FONT,)), "svg")):
        target = outdir / ("%s.%s" % (base, ext))
        script = "set terminal %s\nset output '%s'\n%s\n" % (term, target.name, script_body)
        # Paths relative to plots/ (gnuplot runs there): the scripts stay valid in a clone.
        script = script.replace(str(outdir) + "/", "")
        spath = outdir / "data" / ("%s.%s.gp" % (base, ext))
        spath.write_text(script)
        r = subprocess.run(["gnuplot", str(spath.relative_to(outdir))], cwd=outdir,
                           capture_output=True, text=True)
        if r.returncode != 0 or not target.exists():
            notes.append("gnuplot failed for %s.%s: %s" % (base, ext, r.stderr.strip()[:300]))
            ok = False
    return ok


def _style(name, i):
    color = COLORS.get(name) or ["#d62728", "#8c564b", "#e377c2", "#17becf"][i % 4]
    return "lc rgb '%s' lw 2" % color


def latency_plot(wname, block, targets, raw, outdir, notes):
    curves, ymax, ymin = [], 0.0, float("inf")
    for name, recs in targets.items():
        r = _median_run(recs)
        if not r or not r.get("files") or "hgrm" not in r["files"][0]:
            continue
        rows = read_hgrm(raw / r["files"][0]["hgrm"])
        if not rows:
            continue
        data = outdir / "data" / ("%s-c%d-%s.hgrm.dat" % (wname, block.conns, _safe(name)))
        data.write_text("".join("%g %g\n" % row for row in rows))
        curves.append((name, data))
        ymax = max(ymax, max(v for _, v in rows))
        # the lowest decile says little and would stretch the log axis down to the min
        ymin = min(ymin, min((v for x, v in rows if x >= 1.1), default=ymax))
    if not curves:
        return None
    unit, div = ("ms", 1000.0) if ymax >= 2000 else ("µs", 1.0)
    xmax = 10 ** math.ceil(math.log10(max(10.0, max(
        max(x for x, _ in read_rows(d)) for _, d in curves))))
    tics = ", ".join('"%s" %g' % (lab.replace("%", "%%"), x) for lab, x in (
        ("0%", 1), ("90%", 10), ("99%", 100), ("99.9%", 1e3), ("99.99%", 1e4),
        ("99.999%", 1e5), ("99.9999%", 1e6)) if x <= xmax)
    plot = ", ".join("'%s' using 1:($2/%g) with lines %s title '%s'" % (
        d, div, _style(n, i), n) for i, (n, d) in enumerate(curves))
    body = """set title "%s, %d connections: latency by percentile (median run by p99)"
set logscale x
set logscale y
set xrange [1:%g]
set yrange [%g:%g]
set xtics (%s)
set xlabel "percentile"
set ylabel "latency (%s, log scale)"
set grid xtics ytics mytics
set key top left
plot %s""" % (wname, block.conns, xmax, ymin / div / 1.5, ymax / div * 1.5, tics, unit, plot)
    base = "%s-latency" % wname
    if _gnuplot(body, base, outdir, notes):
        return ("%s: latency by percentile at %d connections" % (wname, block.conns),
                "plots/%s.png" % base, "plots/%s.svg" % base)
    return None


def read_rows(path):
    return [tuple(float(x) for x in l.split()) for l in open(path) if l.strip()]


def _vs_conns(wname, blocks, groups, metric, ylabel, base, title, outdir, notes, key):
    names = []
    for b in blocks:
        for t in groups.get(b.key, {}):
            if t not in names:
                names.append(t)
    curves = []
    conns = sorted({b.conns for b in blocks if b.key in groups})
    for name in names:
        rows = []
        for b in sorted(blocks, key=lambda b: b.conns):
            recs = groups.get(b.key, {}).get(name, [])
            med, lo, hi = spread([key(r) for r in recs if r.get("ok")])
            if med is not None:
                rows.append((b.conns, med, lo, hi))
        if rows:
            data = outdir / "data" / ("%s-%s-%s.dat" % (wname, metric, _safe(name)))
            data.write_text("".join("%d %g %g %g\n" % r for r in rows))
            curves.append((name, data))
    if not curves:
        return None
    lo_x, hi_x = conns[0] / 2.5, conns[-1] * 2.5
    # Each server's points are nudged sideways a little so that bars do not overlap.
    plot = ", ".join("'%s' using ($1*%.4f):2:3:4 with yerrorlines %s pt 7 ps 0.8 title '%s'" % (
        d, 1.07 ** (i - (len(curves) - 1) / 2.0), _style(n, i), n)
        for i, (n, d) in enumerate(curves))
    body = """set title "%s: %s"
set logscale x
set xrange [%g:%g]
set xtics (%s)
set yrange [0:*]
%s
set xlabel "connections (log scale)"
set ylabel "%s"
set grid
set key outside right top
plot %s""" % (wname, title, lo_x, hi_x, ", ".join('"%d" %d' % (c, c) for c in conns),
              # 3.5M rather than 3.5x10^6 for rates; CPU µs stay plain numbers
              'set format y "%.1s%c"' if metric == "throughput" else "", ylabel, plot)
    if _gnuplot(body, base, outdir, notes):
        return ("%s: %s" % (wname, title), "plots/%s.png" % base, "plots/%s.svg" % base)
    return None


def make(out, blocks, records):
    """Draws every plot; returns ({workload: [(title, png, svg)]}, notes)."""
    if not shutil.which("gnuplot"):
        return {}, [NO_GNUPLOT]
    out = Path(out)
    outdir = out / "plots"
    (outdir / "data").mkdir(parents=True, exist_ok=True)
    groups = {}
    for r in records:
        groups.setdefault(r["block"], {}).setdefault(r["target"], []).append(r)
    figures, notes = {}, []
    by_w = {}
    for b in blocks:
        if b.kind == "load":
            by_w.setdefault(b.workload, []).append(b)
    for wname, wblocks in by_w.items():
        present = [b for b in wblocks if b.key in groups]
        if not present:
            continue
        figs = []
        pick = next((b for b in present if b.conns == 1000), max(present, key=lambda b: b.conns))
        f = latency_plot(wname, pick, groups[pick.key], out / "raw", outdir, notes)
        figs.append(f)
        unit = matrix.WORKLOADS[wname].unit
        figs.append(_vs_conns(wname, present, groups, "throughput", "%s (median, min-max "
                              "bars)" % unit, "%s-throughput" % wname,
                              "throughput vs connections", outdir, notes,
                              lambda r: r.get("throughput")))
        figs.append(_vs_conns(wname, present, groups, "cpu", "server CPU µs per request "
                              "(median, min-max bars)", "%s-cpu" % wname,
                              "server CPU per request vs connections", outdir, notes,
                              lambda r: (r.get("server_cpu") or {}).get("us_per_request")))
        figures[wname] = [f for f in figs if f]
    return figures, notes


def soak(out, series, window):
    """RSS and open descriptors of each server over the soak, minutes on x; the measured
    window's start (the end of warm-up) as a vertical line.  `series`: {server: [(t_s,
    rss_kib, fds)]}.  Returns ([(title, png, svg)], notes)."""
    if not shutil.which("gnuplot"):
        return [], [NO_GNUPLOT]
    outdir = Path(out) / "plots"
    (outdir / "data").mkdir(parents=True, exist_ok=True)
    notes, figs = [], []
    for metric, col, ylabel, div in (("rss", 1, "resident memory (MiB)", 1024.0),
                                     ("fds", 2, "open descriptors", 1.0)):
        curves = []
        for name, rows in series.items():
            data = outdir / "data" / ("soak-%s-%s.dat" % (metric, _safe(name)))
            data.write_text("".join("%g %g\n" % (row[0] / 60.0, row[col] / div)
                                    for row in rows if row[col] is not None))
            curves.append((name, data))
        plot = ", ".join("'%s' using 1:2 with lines %s title '%s'" % (d, _style(n, i), n)
                         for i, (n, d) in enumerate(curves))
        body = """set title "soak: %s of each server (warm-up ends at the dashed line)"
set xlabel "minutes since the servers started"
set ylabel "%s"
set yrange [0:*]
set grid
set key outside right top
set arrow from %g, graph 0 to %g, graph 1 nohead dt 2 lc rgb '#444444'
plot %s""" % (ylabel, ylabel, window[0] / 60.0, window[0] / 60.0, plot)
        base = "soak-%s" % metric
        if curves and _gnuplot(body, base, outdir, notes):
            figs.append(("soak: %s over time" % ylabel, "plots/%s.png" % base,
                         "plots/%s.svg" % base))
    return figs, notes
