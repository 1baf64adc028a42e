#!/usr/bin/env python3
"""ringlab-load's command line: bad usage is one line on stderr and exit status 2 (and
nothing is started); --help names every option and gives examples; --version."""
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

T = ["echo", "--target", "127.0.0.1:9"]
U = ["udp", "--target", "127.0.0.1:9"]
BAD = [
    ([], "no arguments"),
    (["echo"], "no --target"),
    (["ping", "--target", "127.0.0.1:9"], "unknown protocol"),
    (T + ["extra"], "extra argument"),
    (T + ["--bogus"], "unknown option"),
    (T + ["--connections"], "option without its value"),
    (["echo", "--target", "nohost-port"], "malformed address"),
    (["echo", "--target", "127.0.0.1:0"], "port 0"),
    (T + ["-c", "0"], "zero connections"),
    (T + ["-c", "20001"], "more than 20000 connections"),
    (T + ["-c", "2", "-t", "3"], "more threads than connections"),
    (T + ["-t", "65"], "too many threads"),
    (T + ["-d", "soon"], "malformed duration"),
    (T + ["-d", "0"], "zero duration"),
    (T + ["--warmup", "-1s"], "negative warm-up"),
    (T + ["-s", "0"], "zero size"),
    (T + ["-s", "1b"], "size in bits"),
    (T + ["-s", "65MiB"], "size above 64 MiB"),
    (T + ["-p", "0"], "zero pipeline"),
    (T + ["-r", "fast"], "malformed rate"),
    (T + ["-r", "0"], "zero rate"),
    (T + ["--connect-rate", "-5"], "negative connect rate"),
    (T + ["--timeout", "0"], "zero timeout"),
    (T + ["--source", "127.0.0.9-127.0.0.2"], "source range ending before it starts"),
    (T + ["--source", "::1"], "source of another family"),
    (["echo", "--target", "unix:/tmp/x.sock", "--source", "127.0.0.2"], "source with unix"),
    (T + ["--seed", "x"], "malformed seed"),
    (T + ["--sockperf"], "--sockperf with echo"),
    (U + ["--sockperf", "-s", "21"], "--sockperf below 22 bytes"),
    (U + ["--sockperf", "--expect", "x"], "--sockperf with --expect"),
    (U + ["--sockperf", "--reply-any"], "--sockperf with --reply-any"),
]
OPTIONS = ["--target", "--connections", "--threads", "--duration", "--warmup", "--size",
           "--pipeline", "--rate", "--connect-rate", "--source", "--timeout", "--json", "--hgrm",
           "--log", "--seed", "--sockperf", "--quiet", "--verbose", "--help", "--version"]


def main():
    harness.parse_args()
    tap = harness.Tap()
    for args, what in BAD:
        p = subprocess.run([harness.LOAD] + args, capture_output=True, text=True, timeout=10)
        lines = p.stderr.splitlines()
        tap.ok(p.returncode == 2 and len(lines) == 1 and p.stdout == "",
               "bad usage (%s): exit 2, one line on stderr" % what,
               "status %d, stderr %r, stdout %r" % (p.returncode, p.stderr, p.stdout))
    p = subprocess.run([harness.LOAD, "--help"], capture_output=True, text=True, timeout=10)
    tap.ok(p.returncode == 0, "--help exits 0", p.stderr)
    missing = [o for o in OPTIONS if o not in p.stdout]
    tap.ok(not missing, "--help names every option", "missing: %s" % missing)
    tap.ok("Examples:" in p.stdout and "echo" in p.stdout, "--help has examples and protocols")
    p = subprocess.run([harness.LOAD, "--version"], capture_output=True, text=True, timeout=10)
    tap.ok(p.returncode == 0 and p.stdout.startswith("ringlab-load ") and "liburing" in p.stdout,
           "--version: %s" % p.stdout.strip())
    return tap.done()


if __name__ == "__main__":
    sys.exit(main())
