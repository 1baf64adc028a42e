#!/usr/bin/env python3
"""Our HdrHistogram interval logs read by independent implementations: Debian's
libhdrhistogram-java (HistogramLogProcessor) and npm's hdr-histogram-js decode a plain
log, two shards' tagged logs and the merged log of `ringlab-load merge`; total count and
max agree exactly with ours, p50/p99/p99.9 within the histograms' precision (3 digits).
Each decoder is skipped, with the reason, when it is not installed (.ci/deps installs
both, best effort)."""
import glob
import json
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
NPM = os.environ.get("RINGLAB_NPM_PREFIX", os.path.expanduser("~/.cache/ringlab-npm"))


def java_jar():
    if not shutil.which("java"):
        return None
    jars = sorted(glob.glob("/usr/share/java/hdrhistogram*.jar"))
    return jars[0] if jars else None


def node_ok():
    return shutil.which("node") and os.path.isdir(os.path.join(NPM, "node_modules",
                                                               "hdr-histogram-js"))


def ours(log, tmp):
    """Our decoder and percentiles: `ringlab-load merge LOG --json`."""
    js = os.path.join(tmp, "ours.json")
    p = subprocess.run([harness.LOAD, "merge", "-q", "--json", js, log], capture_output=True,
                       text=True, timeout=30)
    if p.returncode:
        raise RuntimeError(p.stdout + p.stderr)
    lat = json.load(open(js))["latency_us"]["corrected"]
    return {"count": lat["count"], "max": round(lat["max"] * 1000), "p50": round(lat["p50"] * 1000),
            "p99": round(lat["p99"] * 1000), "p999": round(lat["p99.9"] * 1000)}


def tags_of(log):
    with open(log) as f:
        return sorted({l[4:].split(",", 1)[0] for l in f if l.startswith("Tag=")})


def java(jar, log, tmp):
    """HistogramLogProcessor's percentile distribution of the whole log, in ns; 125 ticks
    per half distance put rows exactly on 50%, 99% and 99.9%."""
    prefix = os.path.join(tmp, "java")
    tag = tags_of(log)
    cmd = ["java", "-cp", jar, "org.HdrHistogram.HistogramLogProcessor", "-i", log, "-o",
           prefix, "-outputValueUnitRatio", "1", "-percentilesOutputTicksPerHalf", "125"]
    if tag:
        cmd += ["-tag", tag[0]]
    subprocess.run(cmd, capture_output=True, text=True, timeout=60, check=True)
    rows, count, mx = [], None, None
    with open(prefix + ".hgrm") as f:
        for line in f:
            parts = line.split()
            if line.startswith("#[Max"):
                mx = float(line.split("=")[1].split(",")[0])
                count = int(line.rsplit("=", 1)[1].strip(" ]\n"))
            elif len(parts) >= 3 and parts[0][0].isdigit():
                rows.append((float(parts[1]), float(parts[0])))

    def at(q):
        # The table's rows are Java's percentile-iterator levels, and a level printed as
        # 0.999000 may be 99.90000000000001% inside (it then needs one value more than
        # 99.9% of 4,000): the value at q lies between the row before q's and q's own,
        # and ours is checked against that range (one or two values wide at 125 ticks).
        below = [v for p, v in rows if p < q - 1e-6]
        above = next(v for p, v in rows if p >= q - 1e-9)
        return (round(below[-1] if below else above), round(above))
    return {"count": count, "max": round(mx), "p50": at(0.5), "p99": at(0.99),
            "p999": at(0.999)}


def node(log):
    env = dict(os.environ, NODE_PATH=os.path.join(NPM, "node_modules"))
    p = subprocess.run(["node", os.path.join(HERE, "decoders", "hdr_js_sum.js"), log],
                       capture_output=True, text=True, timeout=60, env=env, check=True)
    return json.loads(p.stdout)


def agree(a, b):
    """Counts exactly; values within one bucket at 3 significant digits (of b's value, or
    of the range b gives for it)."""
    if a["count"] != b["count"]:
        return False

    def near(x, y):
        lo, hi = y if isinstance(y, tuple) else (y, y)
        return lo - lo * 2e-3 - 1 <= x <= hi + hi * 2e-3 + 1
    return all(near(a[k], b[k]) for k in ("max", "p50", "p99", "p999"))


def main():
    harness.parse_args()
    jar, js = java_jar(), node_ok()
    if not jar and not js:
        return harness.skip_all("neither java with libhdrhistogram-java nor node with "
                                "hdr-histogram-js is installed (.ci/deps installs them)")
    tap = harness.Tap()
    tmp = tempfile.mkdtemp(prefix="ringlab-decoders-")
    logs = {}
    with harness.Server("echo", engine="uring") as srv:
        base = [harness.LOAD, "echo", "--target", srv.spec, "-d", "2", "--warmup", "0.2", "-q"]
        plain = os.path.join(tmp, "plain.hlog")
        p = subprocess.run(base + ["-c", "8", "--rate", "2000", "--log", plain], timeout=60,
                           capture_output=True, text=True)
        tap.ok(p.returncode == 0, "plain open-loop run", p.stdout + p.stderr)
        logs["plain"] = plain
        procs = []
        for i in range(2):
            procs.append(subprocess.Popen(base + ["-c", "10", "--shard", "%d/2" % i,
                                                  "--start-at", "+1.5s", "--log",
                                                  os.path.join(tmp, "s%d.hlog" % i)],
                                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT))
        tap.ok(all(pr.wait(timeout=60) == 0 for pr in procs), "two shards run")
        logs["shard 0 (tagged)"] = os.path.join(tmp, "s0.hlog")
        logs["shard 1 (tagged)"] = os.path.join(tmp, "s1.hlog")
    merged = os.path.join(tmp, "merged.hlog")
    p = subprocess.run([harness.LOAD, "merge", "-q", "--log", merged,
                        os.path.join(tmp, "s0.hlog"), os.path.join(tmp, "s1.hlog")],
                       capture_output=True, text=True, timeout=30)
    tap.ok(p.returncode == 0, "merge of the shards' logs", p.stdout + p.stderr)
    logs["merged"] = merged
    for name, log in logs.items():
        mine = ours(log, tmp)
        if jar:
            theirs = java(jar, log, tmp)
            tap.ok(mine["count"] > 0 and agree(mine, theirs),
                   "HistogramLogProcessor (Java) agrees on the %s log" % name,
                   "ours %s\njava %s" % (mine, theirs))
        else:
            tap.ok(True, "Java decoder # SKIP java or libhdrhistogram-java missing")
        if js:
            theirs = node(log)
            tap.ok(mine["count"] > 0 and agree(mine, theirs),
                   "hdr-histogram-js agrees on the %s log" % name,
                   "ours %s\njs %s" % (mine, theirs))
        else:
            tap.ok(True, "hdr-histogram-js # SKIP node or hdr-histogram-js missing")
    return tap.done()


if __name__ == "__main__":
    sys.exit(main())
