#!/usr/bin/env python3
"""ringlab-load file against the real file server (--root in a temporary directory) on one
engine: --mode put, get and mixed with every checksum and byte verified, multi-MiB
transfers, files/s and MB/s in the outputs, the uploads under the expected names and
contents; and a server that refuses the uploads (--max-size below --size) makes the run
fail with a mismatch (exit 1)."""
import json
import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402


def clean_run(tap, name, args, conns):
    rc, out, err, doc, secs = harness.run_load(args)
    diag = harness.load_diag(rc, out, err, secs)
    tap.ok(rc == 0, "%s: exit status 0" % name, diag)
    if not tap.ok(doc is not None and "file" in doc, "%s: --json has file" % name, diag):
        return None
    tap.ok(doc["errors"]["total"] == 0 and doc["connections"]["reached"] == conns,
           "%s: zero errors, %d connections" % (name, conns), json.dumps(doc["errors"]))
    f = doc["file"]
    tap.ok(f["transfers"] > 0 and f["files_per_s"] > 0 and f["mb_per_s"] > 0,
           "%s: %d transfers, %.1f files/s, %.2f MB/s" % (name, f["transfers"],
                                                          f["files_per_s"], f["mb_per_s"]))
    tap.ok(doc["latency_us"]["corrected"]["count"] == f["transfers"],
           "%s: one latency sample per transfer" % name)
    return doc


def main():
    args = harness.parse_args()
    tap = harness.Tap()
    with tempfile.TemporaryDirectory() as root:
        with harness.Server("file", engine=args.engine, args=["--root", root]) as srv:
            # A sanitized server on a loaded machine can stall past a 1 s window (TSan,
            # blocking engine: 0 uploads in 1 s once); what is checked is completion, not
            # speed, so sanitized builds get 3 s.
            secs = "3" if harness.sanitizer() else "1"
            base = ["file", "--target", srv.spec, "--quiet", "--warmup", "0.3", "-d", secs]
            for mode in ("put", "get", "mixed"):
                clean_run(tap, "--mode %s, 8 x 64KiB" % mode,
                          base + ["-c", "8", "-s", "64KiB", "--mode", mode], 8)
            clean_run(tap, "--mode mixed, 2 x 1MiB, pipeline 2, 2 s",
                      base[:-2] + ["-d", "2", "-c", "2", "-s", "1MiB", "-p", "2", "--mode",
                                   "mixed"], 2)
            clean_run(tap, "--mode put, 2 threads, 16 x 1000 B",
                      base + ["-c", "16", "-t", "2", "-s", "1000"], 16)
        names = sorted(n for n in os.listdir(root) if n.startswith("lg-"))
        tap.ok(len(names) > 0 and all(len(n.split("-")) == 4 for n in names),
               "uploads named lg-<pid>-<key>-<n> (%d files)" % len(names), "\n".join(names[:20]))
        tap.ok(not [n for n in os.listdir(root) if n.startswith(".ringlab-tmp")],
               "no temporary files left")
        sizes = {os.path.getsize(os.path.join(root, n)) for n in names}
        tap.ok(sizes <= {65536, 1024 * 1024, 1000}, "file sizes are the --size values",
               repr(sizes))
    with tempfile.TemporaryDirectory() as root:
        with harness.Server("file", engine=args.engine,
                            args=["--root", root, "--max-size", "1000"]) as srv:
            rc, out, err, doc, secs = harness.run_load(["file", "--target", srv.spec, "-q", "-c", "2",
                                                "-s", "4096", "-d", "1", "--warmup", "0"])
            tap.ok(rc == 1 and doc is not None and doc["errors"]["mismatch"] == 2 and
                   "reply byte 0" in err, "refused uploads (ERR 413): mismatch, exit 1",
                   harness.load_diag(rc, out, err, secs))
    return tap.done()


if __name__ == "__main__":
    sys.exit(main())
