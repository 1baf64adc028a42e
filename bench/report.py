"""The result directory's report.md and summary.json, the headline table, and the index
of runs in results/README.md.

Every number in a table is the median over the repetitions with [min–max]; a ratio
("vs blocking", "vs epoll") is the median of per-repetition ratios between runs taken
back to back in the same block (bench.md: absolute levels drift, ratios hold)."""
import json
import os
from pathlib import Path

import counting
import env
import matrix
from stats import (fmt_num, fmt_pct, fmt_range, fmt_rate, fmt_ratio, fmt_us,
                   md_table, median, paired_ratios, spread, text_table)

LIMITS = """\
- **2 vCPUs in a KVM virtual machine.** The server is pinned to CPU 0 and the load
  generator to CPU 1, so each side has exactly one core; nothing here says how an engine
  scales with cores.
- **Loopback only.** No NIC, no interrupts from a wire, no real RTT: the kernel's TCP/UDP
  stack and the scheduler dominate. Latency numbers are service times of this machine.
- **The load generator is a ceiling.** When ringlab-load's thread is above 90% of its
  core the run is marked *client-bound*: throughput then measures the client as much as
  the server, and **server CPU µs/request** is the number to compare.
- **Shared machine.** Other processes may run during a trial; the harness measures the
  CPU they took on the two cores during each window ("other CPU" below) and flags runs
  where it exceeded 15% of a core. Absolute req/s drift by up to 1.5× between runs here;
  the per-pair ratios are the numbers that hold.
- **Closed loop.** These workloads send the next request when a reply arrives, so their
  latency is service time under full load (not what a user at a fixed rate would see).
"""


def group_records(records):
    """{block key: {target: [records sorted by rep]}}, in first-seen order."""
    out = {}
    for r in records:
        out.setdefault(r["block"], {}).setdefault(r["target"], []).append(r)
    for targets in out.values():
        for recs in targets.values():
            recs.sort(key=lambda r: r["rep"])
    return out


def _ok(recs):
    return [r for r in recs if r.get("ok")]


def _by_rep(recs, key):
    return {r["rep"]: key(r) for r in recs if r.get("ok")}


def _tput(r):
    return r.get("throughput")


def _cpu(r):
    return (r.get("server_cpu") or {}).get("us_per_request")


def _lat(name):
    return lambda r: (r.get("latency_us") or {}).get(name)


def _pair(recs, ref, key):
    a, b = _by_rep(recs, key), _by_rep(ref, key)
    reps = sorted(set(a) & set(b))
    return paired_ratios([a[i] for i in reps], [b[i] for i in reps])


def summarize(recs, ref_recs):
    """The numbers of one target in one block; ref_recs: {name: records} to pair with."""
    ok = _ok(recs)
    s = {"n": len(recs), "n_ok": len(ok),
         "throughput": spread([_tput(r) for r in ok]),
         "server_us_per_request": spread([_cpu(r) for r in ok]),
         "server_cpu_percent": median([(r.get("server_cpu") or {}).get("percent_of_core")
                                       for r in ok]),
         "client_cpu_percent": median([(r.get("client_cpu") or {}).get("percent_of_core")
                                       for r in ok]),
         "client_bound": sum(1 for r in ok if (r.get("client_cpu") or {}).get("bound")),
         "foreign_cpu_percent": median([(r.get("server_cpu") or {}).get("foreign_percent")
                                        for r in ok]),
         "gbit_s": spread([r.get("gbit_s") for r in ok])}
    for p in ("p50", "p90", "p99", "p99.9", "max"):
        s[p] = median([_lat(p)(r) for r in ok])
    s["ratios"] = {}
    for name, ref in ref_recs.items():
        if ref is recs:
            continue
        s["ratios"][name] = {"throughput": spread(_pair(recs, ref, _tput)),
                             "server_us_per_request": spread(_pair(recs, ref, _cpu)),
                             "raw_throughput": _pair(recs, ref, _tput),
                             "raw_cpu": _pair(recs, ref, _cpu)}
    problems = {}
    for r in recs:
        for p in r.get("problems") or []:
            key = p
            for prefix in ("client-bound", "other processes", "ringlab-load exit"):
                if p.startswith(prefix):
                    key = prefix
            problems[key] = problems.get(key, 0) + 1
    s["problems"] = problems
    return s


def _notes(s):
    out = []
    if s["n_ok"] < s["n"]:
        out.append("%d/%d failed" % (s["n"] - s["n_ok"], s["n"]))
    for p, k in s["problems"].items():
        if p.startswith("client-bound"):
            out.append("client-bound %d/%d" % (k, s["n"]))
        elif p.startswith("other processes"):
            out.append("busy machine %d/%d" % (k, s["n"]))
        elif not p.startswith("ringlab-load exit"):
            out.append("%s (%d×)" % (p, k))
    return "; ".join(out)


def _ratio_cell(s, ref, key):
    r = s["ratios"].get(ref)
    return fmt_ratio(r["raw_" + key]).replace("-", "–") if r else "–"


def load_rows(targets):
    """Markdown rows for one block of load trials."""
    refs = {n: targets[n] for n in ("blocking", "epoll") if n in targets}
    rows = []
    for name, recs in targets.items():
        s = summarize(recs, refs)
        rows.append((name, s, [
            name, fmt_range([_tput(r) for r in _ok(recs)]),
            _ratio_cell(s, "blocking", "throughput"), _ratio_cell(s, "epoll", "throughput"),
            fmt_range([_cpu(r) for r in _ok(recs)], lambda v: fmt_num(v, 2)),
            _ratio_cell(s, "blocking", "cpu"), _ratio_cell(s, "epoll", "cpu"),
            fmt_pct(s["server_cpu_percent"]), fmt_us(s["p50"]), fmt_us(s["p99"]),
            fmt_us(s["p99.9"]), fmt_pct(s["client_cpu_percent"]),
            fmt_pct(s["foreign_cpu_percent"]), "%d" % s["n_ok"], _notes(s)]))
    return rows


def load_header(unit):
    return ["server", unit, "%s vs blocking" % unit, "%s vs epoll" % unit, "server µs/req",
            "µs/req vs blocking", "µs/req vs epoll", "server CPU", "p50", "p99", "p99.9",
            "client CPU", "other CPU", "n", "notes"]


def headline_text(block, targets, unit="req/s"):
    rows = []
    for name, s, _ in load_rows(targets):
        rows.append([name, fmt_range(_list(targets[name], _tput)),
                     _ratio_cell(s, "blocking", "throughput"),
                     _ratio_cell(s, "epoll", "throughput"),
                     fmt_range(_list(targets[name], _cpu), lambda v: fmt_num(v, 2)),
                     fmt_pct(s["server_cpu_percent"]), fmt_us(s["p50"]), fmt_us(s["p99"]),
                     fmt_us(s["p99.9"]),
                     "%s%s" % (fmt_pct(s["client_cpu_percent"]),
                               " (bound %d/%d)" % (s["client_bound"], s["n"])
                               if s["client_bound"] else "")])
    w = matrix.WORKLOADS[block.workload]
    head = ("Headline: %s (%s), %d connection%s\n"
            "%d interleaved repetition%s of %gs windows; server on CPU 0, ringlab-load "
            "on CPU 1.\nmedian [min–max]; 'vs' columns: median [min–max] of per-repetition "
            "ratios\n" % (block.workload, w.summary, block.conns,
                           "" if block.conns == 1 else "s", block.reps,
                           "" if block.reps == 1 else "s", block.duration))
    return head + "\n" + text_table(
        ["engine", unit, "vs blocking", "vs epoll", "server µs/req", "server CPU", "p50",
         "p99", "p99.9", "client CPU"], rows)


def _list(recs, key):
    return [key(r) for r in _ok(recs)]


def pingpong_section(targets):
    rows, p50 = [], {}
    for name, recs in targets.items():
        client, _, server = name.rpartition(":")
        client = {"load": "ringlab-load udp -c 1", "pp": "sockperf pp"}.get(client, "sockperf pp")
        server = "ringlab udp (%s)" % server if server in matrix.ENGINES else server
        ok = _ok(recs)
        p50[name] = median([_lat("p50")(r) for r in ok])
        rows.append([client, server, fmt_range([_lat("p50")(r) for r in ok], fmt_us),
                     fmt_us(median([_lat("p99")(r) for r in ok])),
                     fmt_us(median([_lat("p99.9")(r) for r in ok])),
                     fmt_range([_tput(r) for r in ok]),
                     fmt_range([_cpu(r) for r in ok], lambda v: fmt_num(v, 2)),
                     "%d/%d" % (len(ok), len(recs)),
                     "; ".join(sorted({p for r in recs for p in r.get("problems") or []}))])
    out = [md_table(["client", "server", "RTT p50", "RTT p99", "RTT p99.9", "round trips/s",
                     "server µs/round trip", "n", "notes"], rows)]
    checks = []
    for e in matrix.ENGINES:
        ours, theirs = targets.get("load:" + e), targets.get("pp:" + e)
        if ours and theirs:
            ratios = _pair(ours, theirs, _lat("p50"))
            med, lo, hi = spread(ratios)
            verdict = "-" if med is None else ("PASS" if abs(med - 1) <= 0.15 else "FAIL")
            checks.append([e, fmt_us(p50.get("load:" + e)), fmt_us(p50.get("pp:" + e)),
                           fmt_ratio(ratios), verdict])
    if checks:
        out.append("\nCross-check (requirement: ringlab-load's UDP p50 within 15% of "
                   "sockperf pp's against the same server):\n")
        out.append(md_table(["server engine", "ringlab-load p50", "sockperf pp p50",
                             "ratio (per pair)", "within 15%"], checks))
    return "\n".join(out), checks


def file_rates(blocks, groups):
    """Files/s as Gbit/s, to set beside iperf3's ceiling."""
    size = 1 << 20
    parts = []
    for b in blocks:
        for name, recs in groups[b.key].items():
            med = median([_tput(r) for r in _ok(recs)])
            if med is not None:
                parts.append("%s at %d: %.2f" % (name, b.conns, med * size * 8 / 1e9))
    ceiling = median([r.get("gbit_s") for r in _ok(groups.get("bulk-tcp", {}).get("iperf3", []))])
    return ("As Gbit/s (1 MiB files, medians): %s.%s" % (
        "; ".join(parts), " iperf3's single-stream ceiling: %.2f Gbit/s (bulk-tcp below)." % ceiling
        if ceiling else ""))


def iperf_section(targets):
    recs = targets.get("iperf3", [])
    ok = _ok(recs)
    row = [fmt_range([r.get("gbit_s") for r in ok], lambda v: "%.2f" % v),
           fmt_pct(median([(r.get("server_cpu") or {}).get("percent_of_core") for r in ok])),
           fmt_pct(median([(r.get("client_cpu") or {}).get("percent_of_core") for r in ok])),
           "%d/%d" % (len(ok), len(recs))]
    return md_table(["iperf3 Gbit/s", "receiver CPU", "sender CPU", "n"], [row])


def write(out, environment, blocks, records, notes, figures, interrupted, view_notes=(),
          counts=()):
    """Writes report.md and summary.json; returns the summary (with headline_text).
    `notes` are the run's (kept in summary.json), `view_notes` the drawing's (plots)."""
    out = Path(out)
    groups = group_records(records)
    g = environment["git"]
    run = out.name
    headline = next((b for b in blocks if (b.workload, b.conns) == matrix.HEADLINE
                     and b.key in groups), None) or \
        next((b for b in blocks if b.kind == "load" and b.key in groups), None)
    summary = {"schema_version": env.SCHEMA_VERSION, "run": run, "date": environment["date"],
               "commit": g["commit"], "short": g["short"], "dirty": g["dirty"],
               "preset": environment["preset"], "interrupted": interrupted,
               "trials": len(records), "failed": sum(1 for r in records if not r.get("ok")),
               "notes": list(notes), "blocks": [block_json(b) for b in blocks], "groups": []}
    md = title_lines(environment, run, interrupted)
    if headline:
        text = headline_text(headline, groups[headline.key],
                             matrix.WORKLOADS[headline.workload].unit)
        summary["headline_text"] = text
        md += ["## Headline", "", "```", text, "```", ""]
        summary["headline"] = {"block": headline.key, "targets": {
            n: _jsonable(summarize(rs, {k: groups[headline.key][k] for k in ("blocking", "epoll")
                                        if k in groups[headline.key]}))
            for n, rs in groups[headline.key].items()}}
    else:
        summary["headline_text"] = "No headline: no load trial completed."
    md += ["## Limits — read before quoting a number", "", LIMITS]
    md += ["## Method", "",
           "Each trial starts a fresh server pinned to CPU 0 (`taskset -c 0`) and runs "
           "`ringlab-load` pinned to CPU 1 against it, then stops the server with SIGTERM "
           "(it must exit 0). Trials of one block (a workload at one connection count) run "
           "interleaved: uring, epoll, blocking, peers, then again (%s repetitions). Server "
           "CPU is utime+stime from `/proc/PID/stat` over the load generator's measurement window "
           "(found from its per-second progress lines), divided by the requests it "
           "completed in that window. Latency is ringlab-load's HDR histogram (closed loop: "
           "corrected = uncorrected), the median over repetitions of each percentile. Raw "
           "JSON, `.hgrm` files and stderr of every trial are in `raw/`, one line per trial "
           "in `runs.jsonl`." % (blocks[0].reps if blocks else "N"), ""]
    by_workload = {}
    for b in blocks:
        by_workload.setdefault(b.workload, []).append(b)
    for wname, wblocks in by_workload.items():
        present = [b for b in wblocks if b.key in groups]
        if not present:
            continue
        if wname == "udp-pingpong":
            text, checks = pingpong_section(groups["udp-pingpong"])
            md += ["## UDP ping-pong, one socket (sockperf cross-check)", "",
                   matrix.EXTRA_BLOCKS[wname] + ".", "", text, ""]
            summary["udp_crosscheck"] = checks
            continue
        if wname == "bulk-tcp":
            md += ["## Bulk TCP ceiling (iperf3)", "", matrix.EXTRA_BLOCKS[wname] +
                   " (%gs streams, first second omitted)." % present[0].duration, "",
                   iperf_section(groups["bulk-tcp"]), ""]
            continue
        w = matrix.WORKLOADS[wname]
        md += ["## %s — %s" % (wname, w.summary), ""]
        for b in present:
            rows = load_rows(groups[b.key])
            md += ["**%d connection%s** (%d reps, %gs windows)" % (
                b.conns, "" if b.conns == 1 else "s", b.reps, b.duration), "",
                md_table(load_header(w.unit), [r[2] for r in rows]), ""]
            for name, s, _ in rows:
                summary["groups"].append(dict(_jsonable(s), block=b.key, workload=wname,
                                              conns=b.conns, target=name))
        if wname.startswith("file-"):
            md += [file_rates(present, groups), ""]
        for title, png, svg in figures.get(wname, []):
            md += ["![%s](%s) ([SVG](%s))" % (title, png, svg), ""]
    md += counting.section(list(counts))
    if counts:
        summary["counts"] = [{k: r.get(k) for k in ("block", "target", "throughput", "counts",
                                                    "count_info", "count_note")}
                             for r in counts]
    if notes or view_notes:
        md += ["## Not measured, and other notes", ""] + \
            ["- " + n for n in list(notes) + list(view_notes)] + [""]
    md += environment_section(environment, records)
    (out / "report.md").write_text("\n".join(md) + "\n")
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    return summary


def title_lines(environment, run, interrupted):
    """The report's first lines: run, date, commit, preset, the command."""
    g = environment["git"]
    return ["# ringlab benchmark %s" % run, "",
            "%s, commit `%s`%s (%s), preset **%s**%s." % (
                environment["date"], g["short"], " + uncommitted changes" if g["dirty"] else "",
                g.get("subject") or "", environment["preset"],
                " — **interrupted**, partial" if interrupted else ""),
            "", "Command: `%s`" % environment["harness_command"], ""]


def block_json(b):
    return {"key": b.key, "workload": b.workload, "conns": b.conns, "kind": b.kind,
            "targets": list(b.targets), "reps": b.reps, "duration": b.duration,
            "warmup": b.warmup}


def _jsonable(s):
    return {k: v for k, v in s.items() if k != "ratios"} | {
        "ratios": {n: {"throughput": r["throughput"],
                       "server_us_per_request": r["server_us_per_request"]}
                   for n, r in s["ratios"].items()}}


def _pinning(p):
    if p.get("server_cpu") is None:
        return "none: %s" % (p.get("unpinned_because") or "unknown")
    return "server CPU %d, load CPU %d" % (p["server_cpu"], p["load_cpu"])


def environment_section(e, records):
    rows = [["kernel", e["kernel"]], ["CPU", "%s × %d (%s)" % (e["cpu_model"], e["cpus"],
                                                             e.get("virtualization") or "?")],
            ["memory", "%s GiB" % e["memory_gib"]], ["liburing", e["liburing"]],
            ["compiler", e["compiler"]],
            ["build", "%s (%s), -O%s, c_args %s" % (e["build_type"], e["build_dir"],
                                                     e["optimization"], e["c_args"] or "none")],
            ["server", e["server_version"]], ["load generator", e["load_version"]],
            ["git", "%s%s" % (e["git"]["commit"], " (dirty)" if e["git"]["dirty"] else "")],
            ["date", e["date"]], ["pinning", _pinning(e.get("pinning") or {})],
            ["load average", "%s at start, %s at end" % (
                " ".join("%.2f" % x for x in e["loadavg_at_start"]),
                " ".join("%.2f" % x for x in e.get("loadavg_at_end", [])))],
            ["sysctl", ", ".join("%s=%s" % kv for kv in e["sysctl"].items())],
            ["peers", ", ".join("%s" % v for v in e["tools"].values() if v) or "none"],
            ["ringlab-load modes", ", ".join(e["load_protocols"])]]
    md = ["## Environment", "", md_table(["", ""], rows), "",
          "Exact commands (one trial of each kind; every command is in `runs.jsonl`):", "",
          "```"]
    seen = set()
    for r in records:
        key = (r["workload"], r["target"])
        if key in seen or not r.get("commands"):
            continue
        seen.add(key)
        c = r["commands"]
        if c.get("server"):
            md.append(c["server"])
        md += c.get("load", [])
        md.append("")
    return md + ["```", ""]


INDEX_HEAD = """# Benchmark results

Each run of `bench/run` writes one directory here, named `<YYYY-MM-DD>-<commit>`:

| file | what |
|---|---|
| `report.md` | tables per workload (engines and peers side by side), plots, limits, environment |
| `summary.json` | the same numbers, machine-readable (`bench/compare` reads `runs.jsonl`) |
| `runs.jsonl` | one line per trial: parameters, exact commands, every derived number |
| `results.csv`, `summary.csv` | one row per trial; one row per block and server (medians, min–max, ratios) |
| `soak.csv` | `--soak` only: server RSS, descriptors, threads and CPU, one row per server per second |
| `counts.jsonl` | per block and server, a counting pass: syscalls, context switches, `io_uring_enter` per request (`perf stat`) |
| `curves.csv`, `capacity.csv` | `--curves` runs (`<date>-<commit>-curves`): latency, CPU and counts per request along the offered load; capacity at p99 ≤ 1 ms |
| `environment.json` | kernel, CPU, liburing, compiler, build type, git commit, date, sysctls |
| `raw/` | each trial's ringlab-load JSON and `.hgrm`, and the stderr of both sides |
| `plots/` | PNG and SVG: latency percentiles, throughput and CPU/request vs connections |
| `setup.log` | what installing and building printed |

`latest` points at the newest whole-matrix run (one limited with `--only` is listed, not linked). How to run and read them: [bench/README.md](../bench/README.md);
every file's fields: [docs/results.md](../docs/results.md).

## Runs (newest first)

"""


def update_index(results_dir, latest=None):
    """Rewrites results/README.md from the runs present, and points `latest` at `latest`."""
    results_dir = Path(results_dir)
    rows = []
    for d in sorted(results_dir.iterdir()):
        f = d / "summary.json"
        if d.is_symlink() or not f.exists():
            continue
        try:
            s = json.loads(f.read_text())
        except ValueError:
            continue
        h = (s.get("headline") or {}).get("targets", {}).get("uring", {})
        rat = h.get("ratios", {})

        def r(name, key="throughput"):
            v = (rat.get(name) or {}).get(key)
            return "%.2f×" % v[0] if v and v[0] is not None else "-"
        tput = h.get("throughput") or [None]
        cpu = h.get("server_us_per_request") or [None]
        rows.append((s.get("date", ""), [
            "[%s](%s/report.md)" % (d.name, d.name), s.get("date", "")[:16].replace("T", " "),
            "`%s`%s" % (s.get("short", "?"), "+" if s.get("dirty") else ""), s.get("preset", ""),
            fmt_rate(tput[0]), r("epoll"), r("blocking"), fmt_num(cpu[0]),
            r("epoll", "server_us_per_request"), r("blocking", "server_us_per_request"),
            ("interrupted; " if s.get("interrupted") else "") +
            ("%d failed trials" % s["failed"] if s.get("failed") else "")]))
    rows.sort(key=lambda x: x[0], reverse=True)
    body = md_table(["run", "date (UTC)", "commit", "preset", "uring req/s", "vs epoll",
                     "vs blocking", "uring µs/req", "vs epoll", "vs blocking", "notes"],
                    [r for _, r in rows]) if rows else "No runs yet: `bench/run --quick`."
    # reports written by hand, and scripted runs (bench/opcount, bench/multihost: a
    # README.md or report.md of their own, no summary.json)
    others = sorted([f.name for f in results_dir.glob("*.md") if f.name != "README.md"] +
                    ["%s/%s" % (d.name, doc) for d in results_dir.iterdir()
                     if d.is_dir() and not d.is_symlink() and not (d / "summary.json").exists()
                     for doc in ("README.md", "report.md")[:1 + (not (d / "README.md").exists())]
                     if (d / doc).exists()])
    (results_dir / "README.md").write_text(
        INDEX_HEAD + body + "\n\nThe headline columns are echo-64 at 1000 connections "
        "(uring; `vs`: median per-repetition ratio; `+`: uncommitted changes).\n" +
        ("\nOther reports in this folder: %s.\n" % ", ".join(
            "[%s](%s)" % (o, o) for o in others) if others else ""))
    if latest:
        link = results_dir / "latest"
        if link.is_symlink() or link.exists():
            link.unlink()
        os.symlink(latest, link)
    elif (results_dir / "latest").is_symlink() and not (results_dir / "latest").exists():
        (results_dir / "latest").unlink()
