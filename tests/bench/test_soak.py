"""The soak's plan and its judgement (bench/soak.py) on synthetic samples: RSS flat
within 10% after warm-up passes, growth beyond it fails; descriptors must return to
their idle count; client errors, failed load processes and unclean server exits fail;
the report section and soak.csv say so."""
import json
import sys

from benchtest import FIXTURES, Tap, scratch

import matrix  # noqa: E402  (bench/, on the path through benchtest)
import soak  # noqa: E402

ALL = {"echo", "greeting", "udp", "chat", "file"}
WINDOW = (20.0, 120.0)


def samples(rss_at, fds_after=8, name="echo"):
    """One server sampled every second for 130 s: idle until 10 s, load to 125 s."""
    rows = []
    for t in range(0, 131):
        phase = "idle" if t < 10 else "load" if t < 126 else "after"
        rows.append({"t_s": float(t), "phase": phase, "server": name,
                     "rss_kib": 2000 if phase == "idle" else rss_at(t),
                     "fds": 8 if phase == "idle" else fds_after if phase == "after" else 1008,
                     "threads": 2, "cpu_s": t * 0.5})
    return rows


def record(errors=0, exit_status=0, reached=1000, kinds=None):
    return {"label": "soak-01-echo-64-c1000", "workload": "echo-64", "conns": 1000,
            "ok": exit_status == 0, "load_exit": [exit_status], "errors": errors,
            "error_kinds": kinds or {}, "connections_reached": reached,
            "requests": 1000000, "throughput": 10000.0, "problems": []}


CONFIG = {"engine": "uring", "fds_target": 1000, "duration_s": 100, "warmup_s": 10,
          "sample_period_s": 1.0, "loads": [{"workload": "echo-64", "conns": 1000,
                                             "source": "127.0.0.2-127.0.0.50"}]}


def judge(rss_at, fds_after=8, server_exit=0, **rec):
    return soak.analyse(samples(rss_at, fds_after), WINDOW, [record(**rec)],
                        {"echo": {"connections": 1000, "exit": server_exit}}, CONFIG)


def main():
    t = Tap()
    loads, notes = soak.plan(20000, ALL)
    t.ok(sum(l.conns for l in loads) == 20000 and not notes,
         "plan: 20000 descriptors over the load processes", [(l.workload, l.conns) for l in loads])
    t.ok(len(loads) >= 4 and all(l.conns <= matrix.PER_PROCESS_CONNS for l in loads),
         "plan: several processes, none above %d connections" % matrix.PER_PROCESS_CONNS)
    tcp = [l for l in loads if l.server != "udp"]
    first = [int(l.source.split("-")[0].rsplit(".", 1)[1]) for l in tcp]
    last = [int(l.source.split("-")[1].rsplit(".", 1)[1]) for l in tcp]
    t.ok(all(l.source for l in tcp) and all(b < a for a, b in zip(first[1:], last)),
         "plan: every TCP process rotates over its own 127.0.0.x slice",
         [l.source for l in tcp])
    loads, notes = soak.plan(1000, ALL - {"udp"})
    t.ok(sum(l.conns for l in loads) == 1000 and notes and "udp" in notes[0],
         "plan: a missing load mode is left out with a note, its share spread", notes)
    flat = judge(lambda s: 50000 + (s % 7) * 300)          # wobbles by ~4%
    t.ok(flat["pass"] and flat["servers"]["echo"]["rss_flat"], "flat RSS (±4%) passes",
         flat["failures"])
    s = flat["servers"]["echo"]
    t.ok(s["fds"] == {"idle": 8, "peak": 1008, "after": 8} and s["fds_closed"],
         "descriptors: idle, peak, after", s["fds"])
    t.ok(s["cpu_percent"] == 50.0 and s["us_per_request"] == 50.0,
         "server CPU over the window: % of a core and µs/request",
         (s["cpu_percent"], s["us_per_request"]))
    leak = judge(lambda s: 50000 + max(0, s - 20) * 100)   # +10 MiB over 100 s: +20%
    e = leak["servers"]["echo"]
    t.ok(not leak["pass"] and not e["rss_flat"] and 15 < e["rss_growth_pct"] < 25 and
         e["rss_drift_pct"] > 10, "RSS growing 20% after warm-up fails",
         (e["rss_growth_pct"], e["rss_drift_pct"], leak["failures"]))
    t.ok(any("RSS grew" in f for f in leak["failures"]), "the failure names the RSS growth")
    warm = judge(lambda s: 20000 + min(s, 20) * 1500)      # grows during warm-up only
    t.ok(warm["pass"], "growth during warm-up does not count", warm["failures"])
    t.ok(not judge(lambda s: 50000, fds_after=300)["pass"],
         "descriptors left open after the load fail")
    bad = judge(lambda s: 50000, errors=3, kinds={"reset": 3})
    t.ok(not bad["pass"] and bad["errors_total"] == 3 and bad["errors_by_kind"] == {"reset": 3}
         and any("3 client errors (reset 3)" in f for f in bad["failures"]),
         "client errors fail, counted by kind", bad["failures"])
    t.ok(not judge(lambda s: 50000, exit_status=1)["pass"], "a failed load process fails")
    t.ok(not judge(lambda s: 50000, reached=900)["pass"], "unreached connections fail")
    t.ok(not judge(lambda s: 50000, server_exit=-9)["pass"], "an unclean server exit fails")
    # Load processes whose windows barely overlap (ramp-ups of different lengths): the
    # soak's window runs from the last start to the last end, each server's CPU is
    # taken over the overlap of its own processes' windows.
    recs = [dict(record(), window_unix_s=[1002.0, 1005.0]),
            dict(record(), window_unix_s=[1004.0, 1007.0])]
    win = soak._window(recs, 0.0, 1000.0, soak.matrix.PRESETS["soak"])
    t.ok(win == (4.0, 7.0) and recs[0]["window_t_s"] == [2.0, 5.0],
         "soak window: last start to last end, on the soak's clock", (win, recs[0]))
    res = soak.analyse(samples(lambda s: 50000), win, recs, {"echo": {"exit": 0}}, CONFIG)
    e = res["servers"]["echo"]
    t.ok(e["cpu_percent"] == 50.0 and e["us_per_request"] == 25.0,
         "server CPU over the overlap [4, 5] of its processes, at their summed rate",
         (e["cpu_percent"], e["us_per_request"]))
    # The views: report section, soak.csv read back, summary.json.
    env = json.loads((FIXTURES / "run-a" / "environment.json").read_text())
    env["preset"] = "soak"
    out = scratch() / "soak-run"
    out.mkdir()
    recs = [dict(record(), seq=1, block="soak/echo-64", target="uring", rep=1, kind="soak")]
    summary = soak.write(out, env, leak, recs, samples(lambda s: 50000 + max(0, s - 20) * 100),
                         [], False)
    text = (out / "report.md").read_text()
    t.ok("## Soak — 1000 descriptors" in text and "**FAIL** — echo: RSS grew" in text,
         "report.md: soak section with the verdict and its reason")
    t.ok(summary["soak"]["pass"] is False and
         json.loads((out / "summary.json").read_text())["schema_version"] == 1,
         "summary.json: the soak result, versioned")
    back = soak.read_samples(out / "soak.csv")
    t.ok(len(back) == 131 and back[50]["rss_kib"] == 53000 and back[0]["phase"] == "idle",
         "soak.csv reads back", back[50] if len(back) > 50 else back)
    again = soak.regenerate(out, env, recs, summary)
    t.ok(again["soak"]["failures"] == leak["failures"], "a kept soak is judged again the same")
    t.ok((out / "results.csv").exists() and (out / "summary.csv").exists(),
         "a soak directory has results.csv and summary.csv too")
    return t.done()


if __name__ == "__main__":
    sys.exit(main())
