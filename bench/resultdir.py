"""A result directory's views -- report.md, summary.json, results.csv, summary.csv and
plots/ -- written from its trial records, and read back.

bench/run writes them at the end of a run; `bench/run --report DIR` writes them again
from DIR's runs.jsonl and environment.json (after a change to the report, or for the
fixtures of tests/bench).  runs.jsonl, environment.json and raw/ are the data; every
other file is derived and can be regenerated."""
import json
from pathlib import Path

import csvfiles
import matrix
import plots
import report


def read_jsonl(path):
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def blocks_from(records, summary=None):
    """The blocks of a run: from summary.json when it lists them (with the windows and
    repetitions actually planned), else rebuilt from the records (targets in run order,
    repetitions = the largest rep seen)."""
    if summary and summary.get("blocks"):
        return [matrix.Block(b["key"], b["workload"], b["conns"], list(b["targets"]), b["reps"],
                             b["duration"], b["warmup"], b.get("kind", "load"))
                for b in summary["blocks"]]
    blocks = {}
    for r in records:
        b = blocks.get(r["block"])
        if b is None:
            b = blocks[r["block"]] = matrix.Block(
                r["block"], r["workload"], r.get("conns", 1), [], 0, r.get("duration", 0),
                r.get("warmup", 0), r.get("kind", "load"))
        if r["target"] not in b.targets:
            b.targets.append(r["target"])
        b.reps = max(b.reps, r.get("rep", 1))
    return list(blocks.values())


def write_views(out, environment, blocks, records, notes, interrupted=False):
    """Plots (when gnuplot is there), report.md, summary.json and the CSV files.
    Returns the summary."""
    try:
        figures, plot_notes = plots.make(out, blocks, records)
    except Exception as e:  # plots are a view of numbers that are written anyway
        figures, plot_notes = {}, ["plots failed: %s" % e]
    counts_path = Path(out) / "counts.jsonl"
    counts = read_jsonl(counts_path) if counts_path.exists() else []
    summary = report.write(out, environment, blocks, records, notes, figures, interrupted,
                           view_notes=plot_notes, counts=counts)
    csvfiles.write(out, blocks, records)
    return summary


def regenerate(d):
    """Writes every view of result directory `d` again from its data.  Returns the
    summary."""
    d = Path(d)
    environment = json.loads((d / "environment.json").read_text())
    records = read_jsonl(d / "runs.jsonl")
    try:
        old = json.loads((d / "summary.json").read_text())
    except (OSError, ValueError):
        old = {}
    if environment.get("preset") == "curves":
        import curvereport  # bench/run --curves: its own files
        return curvereport.regenerate(d, environment, records, old)
    if environment.get("preset") == "soak":
        import soak  # the soak's report is its own
        return soak.regenerate(d, environment, records, old)
    return write_views(d, environment, blocks_from(records, old), records,
                       old.get("notes", []), old.get("interrupted", False))
