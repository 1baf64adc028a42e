"""bench/run --smoke against a meson build, end to end: one short echo-64 trial per
engine, no root, no network, nothing installed or built.  The result directory must be
complete -- report.md with the echo-64 table holding a row per engine, results.csv and
summary.csv whose rows parse, valid JSON in runs.jsonl, summary.json and
environment.json, raw/ files, plots when gnuplot exists -- and the run must take well
under a minute.  Argument: the meson build root."""
import csv
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

from benchtest import ROOT, Tap, bench, skip_all, table_after

import csvfiles  # noqa: E402  (bench/, on the path through benchtest)

ENGINES = ("uring", "epoll", "blocking")
BUDGET_S = 55


def trap_installers(tmp):
    """A PATH whose apt-get, sudo and .ci/deps-style installers only leave a mark."""
    bindir = tmp / "trap-bin"
    bindir.mkdir()
    mark = tmp / "installer-called"
    for name in ("apt-get", "apt", "sudo", "meson", "ninja"):
        p = bindir / name
        p.write_text("#!/bin/sh\necho \"$0 $*\" >> '%s'\nexit 1\n" % mark)
        p.chmod(0o755)
    env = dict(os.environ, PATH="%s:%s" % (bindir, os.environ.get("PATH", "")))
    return env, mark


def check_csv(t, path, columns, rows_wanted):
    with open(path, newline="") as f:
        reader = csv.DictReader(f)
        header = reader.fieldnames
        rows = list(reader)
    t.ok(header == [c[0] for c in columns], "%s: documented header" % path.name)
    t.ok(len(rows) == rows_wanted, "%s: %d rows" % (path.name, rows_wanted), len(rows))
    return rows


def main():
    build = Path(sys.argv[1] if len(sys.argv) > 1 else ROOT / "build")
    server = build / "servers" / "ringlab-server"
    load = build / "loadgen" / "ringlab-load"
    if not (server.exists() and load.exists()):
        return skip_all("no ringlab-server/ringlab-load in %s" % build)
    from harness import sanitizer
    if sanitizer(str(server)) in ("thread", "memory"):
        return skip_all("%s sanitizer build: too slow for a timed smoke run"
                        % sanitizer(str(server)))
    t = Tap()
    tmp = Path(tempfile.mkdtemp(prefix="ringlab-smoke-"))
    out = tmp / "result"
    env, mark = trap_installers(tmp)
    t0 = time.monotonic()
    r = bench("run", "--smoke", "--no-build", "--build-dir", build, "--out", out, env=env,
              timeout=BUDGET_S + 5)
    took = time.monotonic() - t0
    t.ok(r.returncode == 0, "bench/run --smoke exits 0", r.stdout[-3000:] + r.stderr[-2000:])
    t.ok(took < BUDGET_S, "the smoke run took %.1f s (< %d s)" % (took, BUDGET_S))
    t.ok(not mark.exists(), "nothing was installed or built",
         mark.read_text() if mark.exists() else "")
    for name in ("report.md", "summary.json", "runs.jsonl", "environment.json",
                 "results.csv", "summary.csv", "setup.log"):
        t.ok((out / name).is_file(), "result directory has %s" % name)
    everything = sorted(p.name for p in (out / "raw").glob("*")) if (out / "raw").is_dir() else []
    raw = [n for n in everything if not n.startswith("count-")]   # counting passes apart
    t.ok(sum(n.endswith(".json") for n in raw) == 3 and sum(n.endswith(".hgrm") for n in raw) == 3,
         "raw/ has each trial's JSON and .hgrm", raw)
    t.ok(sum(n.startswith("count-") and n.endswith(".json") for n in everything) == 3,
         "raw/ has each counting pass's JSON", everything)
    try:
        runs = [json.loads(l) for l in (out / "runs.jsonl").read_text().splitlines()]
        summary = json.loads((out / "summary.json").read_text())
        environment = json.loads((out / "environment.json").read_text())
        t.ok(True, "runs.jsonl, summary.json and environment.json are valid JSON")
    except (OSError, ValueError) as e:
        t.ok(False, "runs.jsonl, summary.json and environment.json are valid JSON", e)
        return t.done()
    t.ok([x["target"] for x in runs] == list(ENGINES) and all(x["ok"] for x in runs),
         "runs.jsonl: one successful trial per engine", [(x["target"], x.get("problems"))
                                                         for x in runs])
    t.ok(all(x.get("schema_version") == 1 for x in runs) and
         summary.get("schema_version") == 1 and environment.get("schema_version") == 1,
         "every JSON file carries schema_version 1")
    t.ok(environment.get("preset") == "smoke" and summary.get("failed") == 0,
         "environment.json: preset smoke; summary.json: no failed trial")
    try:
        counts = [json.loads(l) for l in (out / "counts.jsonl").read_text().splitlines()]
    except (OSError, ValueError) as e:
        counts = []
        t.diag("counts.jsonl: %s" % e)
    t.ok([c.get("target") for c in counts] == list(ENGINES) and
         all(c.get("kind") == "count" for c in counts),
         "counts.jsonl: a counting pass per engine after the block", counts)
    t.ok(all((c.get("counts") or {}).get("syscalls") is not None or c.get("count_note")
             for c in counts), "each pass has syscalls per operation, or a note saying why not")
    text = (out / "report.md").read_text() if (out / "report.md").exists() else ""
    t.ok("## What each engine asks of the kernel, per operation" in text,
         "report.md: the per-operation counts section")
    table = table_after(text, "**10 connections**") or {}
    t.ok(set(table) == set(ENGINES), "report.md: the echo-64 table has a row per engine",
         sorted(table))
    t.ok(all(table[e].get("req/s", "-") not in ("-", "") for e in table),
         "report.md: every engine row has a throughput")
    t.ok("## Headline" in text and "## Environment" in text, "report.md: headline, environment")
    rows = check_csv(t, out / "results.csv", csvfiles.RESULT_COLUMNS, 3)
    t.ok(all(float(x["throughput"]) > 0 and x["ok"] == "1" for x in rows),
         "results.csv: throughput > 0 in each row")
    check_csv(t, out / "summary.csv", csvfiles.SUMMARY_COLUMNS, 3)
    if shutil.which("gnuplot"):
        t.ok((out / "plots" / "echo-64-throughput.png").exists(), "plots drawn (gnuplot found)")
    else:
        t.ok("gnuplot is not installed" in text, "no gnuplot: the report says so")
    if not t.failed:
        shutil.rmtree(tmp, ignore_errors=True)
    else:
        t.diag("kept: %s" % tmp)
    return t.done()


if __name__ == "__main__":
    sys.exit(main())
