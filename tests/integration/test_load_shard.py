#!/usr/bin/env python3
"""ringlab-load across processes: --shard I/N (and the launchers' environment variables)
splits connections, rate and --source so the shards add up exactly and do not overlap;
--start-at starts the window at a wall-clock instant and a late start fails the run;
`ringlab-load merge` adds the shards' histograms (the merged counts are the bucket-wise
sum, its percentiles those of that one histogram, computed here independently), sums
the counts (the schedule's too: the merged run holds the whole --rate), flags windows
that do not overlap, and rejects mismatched shards, mixed tags and corrupt files with one
clear line."""
import base64
import json
import math
import os
import re
import struct
import subprocess
import sys
import tempfile
import time
import zlib

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

T = ["echo", "--target", "127.0.0.1:9"]
BAD = [
    (T + ["--shard", "3/3"], {}, "shard index not below the count"),
    (T + ["--shard", "1"], {}, "shard without a count"),
    (T + ["--shard", "0/0"], {}, "zero shards"),
    (T + ["-c", "2", "--shard", "0/3"], {}, "fewer connections than shards"),
    (T + ["-c", "40002", "--shard", "0/2"], {}, "a shard above 20000 connections"),
    (T + ["-c", "4", "--shard", "0/2", "--source", "127.0.0.2"], {}, "fewer sources than shards"),
    (["chat", "--target", "127.0.0.1:9", "--shard", "0/2"], {}, "chat sharded"),
    (T, {"JOB_COMPLETION_INDEX": "1"}, "JOB_COMPLETION_INDEX without --shards"),
    (T + ["--shards", "2"], {"JOB_COMPLETION_INDEX": "2"}, "JOB_COMPLETION_INDEX >= --shards"),
    (T + ["--shards", "2"], {}, "--shards without JOB_COMPLETION_INDEX"),
    (T, {"SLURM_PROCID": "1"}, "SLURM_PROCID without SLURM_NTASKS"),
    (T, {"SLURM_PROCID": "x", "SLURM_NTASKS": "2"}, "malformed SLURM_PROCID"),
    (T + ["--start-at", "soon"], {}, "malformed --start-at"),
    (T + ["--start-at", "+x"], {}, "malformed relative --start-at"),
]


def env_without_launchers(extra):
    env = {k: v for k, v in os.environ.items()
           if k not in ("JOB_COMPLETION_INDEX", "SLURM_PROCID", "SLURM_NTASKS")}
    env.update(extra)
    return env


def varint(buf, pos):
    v = shift = 0
    for i in range(9):
        b = buf[pos]
        pos += 1
        if i == 8:
            v |= b << 56
            break
        v |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            break
    return (v >> 1) ^ -(v & 1), pos


def decode_counts(b64):
    """{index: count} of a compressed V2 histogram (lowest 1, 3 significant figures)."""
    raw = base64.b64decode(b64)
    _, length = struct.unpack(">ii", raw[:8])
    inner = zlib.decompress(raw[8:8 + length])
    _, plen, _, sigfigs, lowest, _, _ = struct.unpack(">iiiiqqd", inner[:40])
    assert sigfigs == 3 and lowest == 1
    counts, idx, pos, end = {}, 0, 40, 40 + plen
    while pos < end:
        v, pos = varint(inner, pos)
        if v < 0:
            idx += -v
        else:
            if v:
                counts[idx] = v
            idx += 1
    return counts


def value_at(counts, pct):
    """HdrHistogram's getValueAtPercentile for lowest 1, 3 significant figures (2048
    sub-buckets, half 1024): the highest value equivalent to the bucket holding the
    ceil(pct% of total)-th value."""
    total = sum(counts.values())
    want = min(total, max(1, math.ceil(math.nextafter(pct, -math.inf) * total / 100.0)))
    seen = 0
    for i in sorted(counts):
        seen += counts[i]
        if seen >= want:
            bucket, sub = (i >> 10) - 1, (i & 1023) + 1024
            if bucket < 0:
                bucket, sub = 0, sub - 1024
            return (sub << bucket) + (1 << bucket) - 1
    return 0


def run_shards(spec, n, extra, tmp, tag):
    """Starts n shards of one run at the same --start-at; returns their JSON docs."""
    procs = []
    for i in range(n):
        js = os.path.join(tmp, "%s%d.json" % (tag, i))
        log = os.path.join(tmp, "%s%d.hlog" % (tag, i))
        cmd = [harness.LOAD, "echo", "--target", spec, "--shard", "%d/%d" % (i, n),
               "--json", js, "--log", log, "-q"] + extra
        procs.append((subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                       text=True, env=env_without_launchers({})), js))
    docs = []
    for p, js in procs:
        out, err = p.communicate(timeout=60)
        docs.append((p.returncode, out + err, js))
    return docs


def merge(args):
    return subprocess.run([harness.LOAD, "merge"] + args, capture_output=True, text=True,
                          timeout=60)


def main():
    harness.parse_args()
    tap = harness.Tap()
    for args, env, what in BAD:
        p = subprocess.run([harness.LOAD] + args, capture_output=True, text=True, timeout=10,
                           env=env_without_launchers(env))
        tap.ok(p.returncode == 2 and len(p.stderr.splitlines()) == 1 and p.stdout == "",
               "bad usage (%s): exit 2, one line on stderr" % what,
               "status %d, stderr %r" % (p.returncode, p.stderr))
    p = subprocess.run([harness.LOAD, "--help"], capture_output=True, text=True, timeout=10)
    tap.ok(all(w in p.stdout for w in ("--shard", "--start-at", "JOB_COMPLETION_INDEX",
                                       "SLURM_PROCID", "merge")),
           "--help names --shard, --start-at, the launchers' variables and merge")

    tmp = tempfile.mkdtemp(prefix="ringlab-shard-")
    with harness.Server("echo", engine="uring") as srv:
        # Three shards of 10 connections at 3000 req/s over 6 source addresses.
        start = "%.3f" % (time.time() + 3.0)
        runs = run_shards(srv.spec, 3, ["-c", "10", "--rate", "3000", "-d", "2", "--warmup",
                                        "0.2", "--source", "127.0.0.2-127.0.0.7",
                                        "--seed", "42", "--start-at", start], tmp, "s")
        tap.ok(all(rc == 0 for rc, _, _ in runs), "three shards run clean",
               "\n".join(o for _, o, _ in runs))
        docs = [json.load(open(js)) for _, _, js in runs]
        sh = [d["shard"] for d in docs]
        conns = [d["parameters"]["connections"] for d in docs]
        tap.ok(conns == [4, 3, 3] and sum(conns) == 10,
               "connections split 4+3+3 = 10", conns)
        firsts = [s["first_connection"] for s in sh]
        tap.ok(firsts == [0, 4, 7], "connection ranges are contiguous and disjoint", firsts)
        rates = [d["parameters"]["rate"] for d in docs]
        tap.ok(abs(sum(rates) - 3000) < 1e-6 and all(abs(r / c - 300) < 1e-9
                                                     for r, c in zip(rates, conns)),
               "rates add up to --rate, 300/s per connection as in one process", rates)
        src = [(s["source_offset"], s["source_count"]) for s in sh]
        tap.ok(src == [(0, 2), (2, 2), (4, 2)], "--source split into disjoint sub-ranges", src)
        tap.ok(all(s["count"] == 3 and s["from"] == "--shard" and s["host"] for s in sh) and
               [s["index"] for s in sh] == [0, 1, 2], "JSON names host and shard")
        late = [d["totals"]["start_late_s"] for d in docs]
        starts = [d["totals"]["window_start_unix_s"] for d in docs]
        tap.ok(all(abs(x) < 0.1 for x in late) and max(starts) - min(starts) < 0.1,
               "--start-at: every window starts at the instant asked", (late, starts))
        tap.ok(all(d["environment"]["clock"]["wall"] == "CLOCK_REALTIME" for d in docs),
               "JSON names the clock source")
        with open(os.path.join(tmp, "s1.hlog")) as f:
            lines = [l for l in f.read().splitlines() if l and l[0] not in '#"']
        tap.ok(lines and all(l.startswith("Tag=%s/1/3," % sh[1]["host"]) for l in lines),
               "interval log lines carry Tag=<host>/1/3", lines[:2])

        # The merge: histograms added bucket by bucket, percentiles of the sum.
        mj, mh, ml = (os.path.join(tmp, n) for n in ("m.json", "m.hgrm", "m.hlog"))
        p = merge(["--json", mj, "--hgrm", mh, "--log", ml] + [js for _, _, js in runs])
        tap.ok(p.returncode == 0, "merge of the three shards exits 0", p.stdout + p.stderr)
        m = json.load(open(mj))
        total = {}
        for d in docs:
            for i, c in decode_counts(d["histograms"]["corrected"]).items():
                total[i] = total.get(i, 0) + c
        merged = decode_counts(m["histograms"]["corrected"])
        tap.ok(merged == total, "merged histogram is the bucket-wise sum of the shards'")
        lat = m["latency_us"]["corrected"]
        want = {k: value_at(total, q) / 1000.0
                for k, q in (("p50", 50), ("p99", 99), ("p99.9", 99.9), ("max", 100))}
        tap.ok(all(abs(lat[k] - v) < 1e-9 for k, v in want.items()),
               "merged percentiles are those of the one summed histogram",
               "%s vs %s" % (lat, want))
        tap.ok(m["totals"]["requests"] == sum(d["totals"]["requests"] for d in docs) ==
               lat["count"] and m["totals"]["bytes_sent"] ==
               sum(d["totals"]["bytes_sent"] for d in docs),
               "requests and bytes are summed")
        keys = ("scheduled", "sent", "behind_at_start", "behind_at_end")
        tap.ok(all(m["totals"][k] == sum(d["totals"][k] for d in docs) for k in keys) and
               m["totals"]["send_late_max_s"] == max(d["totals"]["send_late_max_s"]
                                                     for d in docs),
               "schedule counts are summed, the sender's lateness is the shards' largest",
               json.dumps([m["totals"]] + [d["totals"] for d in docs]))
        # The shards' schedules make up the one of the whole run: 3000/s over 10
        # connections, every request accounted for in the sums.
        harness.check_schedule(tap, "merged", m, 3000, 10)
        tap.ok(m["connections"]["reached"] == 10 and len(m["merged_from"]) == 3,
               "merged JSON: 10 connections, the three shards listed")
        tap.ok("shard" in p.stdout and "p99" in p.stdout and "requests" in p.stdout,
               "merge prints a per-shard table and the summary", p.stdout)
        with open(ml) as f:
            ivs = [l for l in f.read().splitlines() if l and l[0] not in '#"']
        counts = [sum(decode_counts(l.split(",")[3]).values()) for l in ivs]
        tap.ok(sum(counts) == lat["count"], "merged --log intervals add up (%s)" % counts)
        with open(mh) as f:
            hg = f.read()
        tap.ok(re.search(r"Total count\s*=\s*%d\b" % lat["count"], hg) is not None,
               "merged --hgrm counts every request", hg[-300:])
        p2 = merge([os.path.join(tmp, "s%d.hlog" % i) for i in range(3)])
        tap.ok(p2.returncode == 0 and str(lat["count"]) in p2.stdout,
               "merging the three interval logs counts the same requests", p2.stdout + p2.stderr)

        # Environment-driven shards.
        for env, frm in (({"JOB_COMPLETION_INDEX": "1"}, "JOB_COMPLETION_INDEX"),
                         ({"SLURM_PROCID": "2", "SLURM_NTASKS": "3"}, "SLURM")):
            js = os.path.join(tmp, "env.json")
            extra = ["--shards", "3"] if "JOB_COMPLETION_INDEX" in env else []
            p = subprocess.run([harness.LOAD, "echo", "--target", srv.spec, "-c", "6", "-d",
                                "0.3", "--warmup", "0", "-q", "--json", js] + extra,
                               capture_output=True, text=True, timeout=30,
                               env=env_without_launchers(env))
            d = json.load(open(js)) if p.returncode == 0 else {"shard": {}}
            tap.ok(d["shard"].get("from", "").startswith(frm) and
                   d["parameters"]["connections"] == 2 and
                   d["shard"]["index"] == int(list(env.values())[0]),
                   "shard taken from %s" % frm, p.stdout + p.stderr)

        # A start already in the past is late: exit 1, said so, recorded.
        js = os.path.join(tmp, "late.json")
        p = subprocess.run([harness.LOAD, "echo", "--target", srv.spec, "-c", "2", "-d", "0.3",
                            "--warmup", "0", "--start-at", "%.3f" % (time.time() - 5),
                            "--json", js], capture_output=True, text=True, timeout=30)
        d = json.load(open(js))
        tap.ok(p.returncode == 1 and "after --start-at" in p.stdout and
               d["totals"]["start_late_s"] > 4.9 and d["exit_status"] == 1,
               "a late --start-at fails the run and says how late", p.stdout + p.stderr)

        # Windows that do not overlap: shard 0 and shard 1 run one after the other.
        seq = []
        for i in range(2):
            js = os.path.join(tmp, "q%d.json" % i)
            subprocess.run([harness.LOAD, "echo", "--target", srv.spec, "-c", "2", "-d", "0.5",
                            "--warmup", "0", "-q", "--shard", "%d/2" % i, "--json", js],
                           capture_output=True, text=True, timeout=30,
                           env=env_without_launchers({}))
            seq.append(js)
        p = merge(seq)
        tap.ok(p.returncode == 1 and "do not overlap" in p.stdout and "WARNING" in p.stdout,
               "windows that do not overlap are flagged (exit 1)", p.stdout + p.stderr)

    # Bad inputs: one clear line, exit 2.
    s = [os.path.join(tmp, "s%d.hlog" % i) for i in range(3)]
    mixed = os.path.join(tmp, "mixed.hlog")
    with open(mixed, "w") as f:
        f.write(open(s[0]).read() + "\n".join(l for l in open(s[1]).read().splitlines()
                                              if l.startswith("Tag=")) + "\n")
    corrupt = os.path.join(tmp, "corrupt.hlog")
    with open(corrupt, "w") as f:
        for l in open(s[0]).read().splitlines():
            f.write((l[:-12] + "!!!!" if l.startswith("Tag=") else l) + "\n")
    broken = os.path.join(tmp, "broken.json")
    with open(broken, "w") as f:
        f.write(open(os.path.join(tmp, "s0.json")).read()[:500])
    other = os.path.join(tmp, "q1.json")
    for args, want, what in (([mixed], "different tags", "a log with two shards' tags"),
                             ([s[0], s[0]], "mismatched shards", "the same shard twice"),
                             ([os.path.join(tmp, "s0.json"), other], "mismatched shards",
                              "shards of different counts"),
                             ([corrupt], "does not decode", "a corrupt histogram"),
                             ([broken], "not valid JSON", "a truncated JSON"),
                             ([os.path.join(tmp, "nope.json")], "cannot read", "a missing file"),
                             ([], "no input", "no inputs")):
        p = merge(args)
        tap.ok(p.returncode == 2 and want in p.stderr and len(p.stderr.splitlines()) == 1,
               "merge rejects %s with one clear line" % what, p.stdout + p.stderr)
    return tap.done()


if __name__ == "__main__":
    sys.exit(main())
