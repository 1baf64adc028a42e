#!/usr/bin/env python3
"""bench/multihost end to end with two load hosts: namespaces built, the echo load split
over the hosts by pdsh, every shard clean, the merge adds up to the whole load, and every
namespace removed afterwards.  Skipped (with the reason) when not root or pdsh is
missing."""
import json
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "bench",
                      "multihost")


def namespaces():
    p = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True)
    return {l.split()[0] for l in p.stdout.splitlines() if l.strip()}


def main():
    harness.parse_args()
    if os.geteuid() != 0:
        return harness.skip_all("not root: bench/multihost needs network namespaces")
    if not shutil.which("pdsh"):
        return harness.skip_all("pdsh is not installed (apt-get install pdsh)")
    if harness.sanitizer(harness.LOAD) == "thread":
        return harness.skip_all("not under ThreadSanitizer (the load run is the release one)")
    tap = harness.Tap()
    out = tempfile.mkdtemp(prefix="ringlab-multihost-")
    p = subprocess.run([sys.executable, SCRIPT, "--hosts", "2", "--connections", "40",
                        "--duration", "1s", "--warmup", "0.3s", "--start-in", "2",
                        "--build", harness.BUILD, "--out", out],
                       capture_output=True, text=True, timeout=100)
    diag = "status %d\n%s\n%s" % (p.returncode, p.stdout, p.stderr)
    tap.ok(p.returncode == 0, "bench/multihost --hosts 2 exits 0", diag)
    shards = []
    for i in range(2):
        path = os.path.join(out, "shard-%d.json" % i)
        shards.append(json.load(open(path)) if os.path.exists(path) else None)
    tap.ok(all(shards), "both load hosts wrote their shard", os.listdir(out))
    if all(shards):
        tap.ok([s["shard"]["index"] for s in shards] == [0, 1] and
               [s["parameters"]["connections"] for s in shards] == [20, 20] and
               all(s["exit_status"] == 0 for s in shards),
               "each host ran its half of the connections cleanly")
        tap.ok(len({s["shard"]["host"] for s in shards}) == 2, "the hosts have their own names")
    mpath = os.path.join(out, "merged.json")
    m = json.load(open(mpath)) if os.path.exists(mpath) else None
    tap.ok(m is not None and m["connections"]["reached"] == 40 and
           m["errors"]["total"] == 0 and m["totals"]["requests"] > 0 and
           m["totals"]["requests"] == sum(s["totals"]["requests"] for s in shards if s),
           "the merge holds all 40 connections and every shard's requests", diag)
    tap.ok(os.path.exists(os.path.join(out, "report.md")) and
           os.path.exists(os.path.join(out, "merged.hgrm")), "report.md and merged.hgrm written")
    envp = os.path.join(out, "environment.json")
    made = set(json.load(open(envp))["namespaces"]) if os.path.exists(envp) else set()
    tap.ok(len(made) == 4 and not made & namespaces(), "every namespace it made is gone",
           "made %s, left %s" % (sorted(made), sorted(made & namespaces())))
    return tap.done()


if __name__ == "__main__":
    sys.exit(main())
