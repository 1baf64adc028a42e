"""The report generator on a hand-made result directory (fixtures/run-a, see
fixtures/README.md): `bench/run --report DIR` rewrites report.md, summary.json,
results.csv and summary.csv from runs.jsonl, and every number in them is checked
against values worked out by hand -- medians with min–max, and ratios that are medians
of per-repetition ratios (not ratios of medians)."""
import csv
import json
import sys

from benchtest import Tap, bench, copy_fixture, no_gnuplot_env, table_after

import csvfiles  # noqa: E402  (bench/, on the path through benchtest)
import env as bench_env  # noqa: E402


def check_report_md(t, text):
    head = table_after(text, "**1000 connections**")
    t.ok(head is not None, "report.md: echo-64 table at 1000 connections")
    head = head or {}
    u, b = head.get("uring", {}), head.get("blocking", {})
    t.ok(u.get("req/s") == "200.0k [180.0k–220.0k]", "uring req/s: median [min–max]",
         u.get("req/s"))
    # per-rep ratios 2.0, 2.0, 1.5; the ratio of the medians would be 200k/110k = 1.82×
    t.ok(u.get("req/s vs blocking") == "2.00× [1.50–2.00]",
         "uring vs blocking: median of per-repetition ratios", u.get("req/s vs blocking"))
    t.ok(u.get("req/s vs epoll") == "1.05× [1.00–1.10]", "uring vs epoll",
         u.get("req/s vs epoll"))
    t.ok(u.get("server µs/req") == "4.00 [3.60–4.50]", "uring server µs/req",
         u.get("server µs/req"))
    t.ok(u.get("µs/req vs blocking") == "0.40× [0.36–0.40]",
         "CPU ratio vs blocking (lower is better)", u.get("µs/req vs blocking"))
    t.ok(u.get("p99") == "9.00 ms" and u.get("p50") == "5.00 ms" and
         u.get("p99.9") == "11.0 ms", "uring latency: medians of p50, p99, p99.9",
         "%s %s %s" % (u.get("p50"), u.get("p99"), u.get("p99.9")))
    t.ok(b.get("req/s vs blocking") == "–", "blocking has no ratio against itself",
         b.get("req/s vs blocking"))
    t.ok("client-bound 1/3" in u.get("notes", ""), "notes count client-bound repetitions",
         u.get("notes"))
    c100 = table_after(text, "**100 connections**") or {}
    bl = c100.get("blocking", {})
    t.ok(bl.get("n") == "2" and "1/3 failed" in bl.get("notes", ""),
         "a failed trial: n counts successes, notes say 1/3 failed", bl)
    t.ok(c100.get("uring", {}).get("req/s vs blocking") == "2.24× [2.08–2.40]",
         "ratios skip the repetition whose partner failed",
         c100.get("uring", {}).get("req/s vs blocking"))
    t.ok("Headline: echo-64" in text and "1000 connections" in text.split("## Limits")[0],
         "the headline is echo-64 at 1000 connections")
    t.ok("no plots: gnuplot is not installed" in text,
         "without gnuplot the report says so instead of failing")


def check_summary_csv(t, path):
    with open(path, newline="") as f:
        reader = csv.DictReader(f)
        t.ok(reader.fieldnames == [c[0] for c in csvfiles.SUMMARY_COLUMNS],
             "summary.csv header is SUMMARY_COLUMNS", reader.fieldnames)
        rows = {(r["block"], r["target"]): r for r in reader}
    t.ok(len(rows) == 6, "summary.csv: one row per block and engine", len(rows))
    u = rows.get(("echo-64/c1000", "uring"), {})
    want = {"n": "3", "n_ok": "3", "throughput_median": "200000", "throughput_min": "180000",
            "throughput_max": "220000", "server_us_per_req_median": "4",
            "throughput_vs_blocking": "2", "throughput_vs_blocking_min": "1.5",
            "throughput_vs_blocking_max": "2", "us_per_req_vs_blocking": "0.4",
            "us_per_req_vs_blocking_min": "0.36", "p99_us": "9000", "client_bound": "1",
            "errors": "0", "unit": "req/s", "server": "uring", "client": "ringlab-load"}
    bad = {k: (u.get(k), v) for k, v in want.items() if u.get(k) != v}
    t.ok(not bad, "summary.csv uring at 1000: medians, min–max, ratios", bad)
    bl = rows.get(("echo-64/c100", "blocking"), {})
    t.ok(bl.get("n_ok") == "2" and bl.get("throughput_vs_blocking") == "",
         "summary.csv blocking at 100: 2 successes, no ratio to itself", bl)
    ep = rows.get(("echo-64/c100", "epoll"), {})
    t.ok(ep.get("throughput_vs_epoll") == "" and ep.get("throughput_vs_blocking") == "2.25",
         "summary.csv epoll at 100 vs blocking: median of 2.0 and 2.5",
         ep.get("throughput_vs_blocking"))


def check_results_csv(t, path):
    numeric = {c[0] for c in csvfiles.RESULT_COLUMNS if c[1] not in ("",)} - {"load_exit"}
    with open(path, newline="") as f:
        reader = csv.DictReader(f)
        t.ok(reader.fieldnames == [c[0] for c in csvfiles.RESULT_COLUMNS],
             "results.csv header is RESULT_COLUMNS")
        rows = list(reader)
    t.ok(len(rows) == 18, "results.csv: one row per trial", len(rows))
    bad = [(r["seq"], k, r[k]) for r in rows for k in numeric if r[k] != "" and not _num(r[k])]
    t.ok(not bad, "results.csv: every numeric cell parses", bad[:3])
    failed = [r for r in rows if r["ok"] == "0"]
    t.ok(len(failed) == 1 and failed[0]["target"] == "blocking" and failed[0]["throughput"] == ""
         and "window never started" in failed[0]["problems"],
         "results.csv: the failed trial has ok=0, no numbers, its problem", failed)


def _num(s):
    try:
        float(s)
        return True
    except ValueError:
        return False


def check_summary_json(t, path):
    s = json.loads(path.read_text())
    t.ok(s.get("schema_version") == bench_env.SCHEMA_VERSION, "summary.json has schema_version")
    h = (s.get("headline") or {}).get("targets", {}).get("uring", {})
    t.ok(s.get("headline", {}).get("block") == "echo-64/c1000" and
         h.get("throughput") == [200000, 180000, 220000],
         "summary.json headline: uring throughput [median, min, max]", h.get("throughput"))
    t.ok(h.get("ratios", {}).get("blocking", {}).get("throughput") == [2.0, 1.5, 2.0],
         "summary.json headline ratio vs blocking", h.get("ratios"))
    t.ok(len(s.get("groups", [])) == 6 and s.get("trials") == 18 and s.get("failed") == 1,
         "summary.json: 6 groups, 18 trials, 1 failed")
    t.ok([b["key"] for b in s.get("blocks", [])] == ["echo-64/c1000", "echo-64/c100"],
         "summary.json lists the blocks in run order", s.get("blocks"))


def check_docs(t):
    import soak  # noqa: E402
    path = bench_env.ROOT / "docs" / "results.md"
    doc = path.read_text() if path.exists() else ""
    t.ok(doc, "docs/results.md exists")
    names = [c[0] for c in csvfiles.RESULT_COLUMNS + csvfiles.SUMMARY_COLUMNS] + \
        list(soak.SAMPLE_COLUMNS)
    missing = sorted({n for n in names if "`%s`" % n not in doc})
    t.ok(not missing, "docs/results.md documents every CSV column", missing)


def main():
    t = Tap()
    d = copy_fixture("run-a")
    r = bench("run", "--report", d, env=no_gnuplot_env())
    t.ok(r.returncode == 0, "bench/run --report rewrites the views", r.stdout + r.stderr)
    for name in ("report.md", "summary.json", "results.csv", "summary.csv"):
        t.ok((d / name).exists(), "--report wrote %s" % name)
    if (d / "report.md").exists():
        check_report_md(t, (d / "report.md").read_text())
    if (d / "summary.csv").exists():
        check_summary_csv(t, d / "summary.csv")
    if (d / "results.csv").exists():
        check_results_csv(t, d / "results.csv")
    if (d / "summary.json").exists():
        check_summary_json(t, d / "summary.json")
    check_docs(t)
    return t.done()


if __name__ == "__main__":
    sys.exit(main())
