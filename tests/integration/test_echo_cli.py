#!/usr/bin/env python3
"""Command line: bad usage exits 2 with exactly one line on stderr (and nothing on
stdout, no server started); --help exits 0 and lists every option and an example;
--version exits 0.  Engine-independent: runs once."""
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

OPTIONS = ["--listen", "--engine", "--threads", "--max-conns", "--idle-timeout",
           "--drain-timeout", "--backlog", "--buf-count", "--buf-size", "--sq-entries",
           "--cq-entries", "--max-queue", "--verbose", "--help", "--version"]
SHORT = ["-l", "-e", "-t", "-v", "-h", "-V"]

# Each runs on port 0 so that, should the server wrongly start, it cannot clash.
BAD = [
    ("unknown option", ["echo", "--listen", "127.0.0.1:0", "--bogus"]),
    ("unknown short option", ["echo", "--listen", "127.0.0.1:0", "-Z"]),
    ("--threads abc", ["echo", "--listen", "127.0.0.1:0", "--threads", "abc"]),
    ("--threads 0", ["echo", "--listen", "127.0.0.1:0", "--threads", "0"]),
    ("--idle-timeout 10x", ["echo", "--listen", "127.0.0.1:0", "--idle-timeout", "10x"]),
    ("--drain-timeout -1s", ["echo", "--listen", "127.0.0.1:0", "--drain-timeout", "-1s"]),
    ("--buf-count 6 (not a power of two)", ["echo", "--listen", "127.0.0.1:0", "--buf-count", "6"]),
    ("--buf-count 65536 (too large)", ["echo", "--listen", "127.0.0.1:0", "--buf-count", "65536"]),
    ("--max-queue 10B (too small)", ["echo", "--listen", "127.0.0.1:0", "--max-queue", "10B"]),
    ("--buf-size 12Q", ["echo", "--listen", "127.0.0.1:0", "--buf-size", "12Q"]),
    ("--listen without a value", ["echo", "--listen"]),
    ("--listen nonsense", ["echo", "--listen", "nonsense"]),
    ("missing protocol", ["--listen", "127.0.0.1:0", "--engine", "epoll"]),
    ("unknown protocol", ["nosuchproto", "--listen", "127.0.0.1:0"]),
    ("extra argument", ["echo", "extra", "--listen", "127.0.0.1:0"]),
    ("unknown engine", ["echo", "--listen", "127.0.0.1:0", "--engine", "kqueue"]),
]


def source_options():
    """Every long option in servers/main.c's getopt table, so a new option cannot be left
    out of --help unnoticed."""
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "servers", "main.c")
    try:
        with open(path) as f:
            src = f.read()
    except OSError:
        return []
    table = src.split("long_opts[]", 1)[-1].split("};", 1)[0]
    return ["--" + o for o in re.findall(r'\{"([a-z0-9-]+)",', table)]


def run(argv):
    try:
        p = subprocess.run([harness.SERVER] + argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           text=True, timeout=5)
        return p.returncode, p.stdout, p.stderr
    except subprocess.TimeoutExpired as e:  # it started serving: kill it, report it
        return "still running after 5s", e.stdout or "", e.stderr or ""


def main():
    harness.parse_args()
    tap = harness.Tap()
    for name, argv in BAD:
        rc, out, err = run(argv)
        lines = err.splitlines()
        tap.ok(rc == 2 and len(lines) == 1 and err.endswith("\n") and lines[0].strip() and out == "",
               "bad usage (%s): exit 2, exactly one line on stderr, nothing on stdout" % name,
               "argv %r\nrc %r\nstdout %r\nstderr %r" % (argv, rc, out, err))

    rc, out, err = run(["--help"])
    from_src = source_options()
    tap.ok(len(from_src) >= len(OPTIONS), "found the getopt table in servers/main.c", from_src)
    missing = [o for o in sorted(set(OPTIONS + from_src)) + SHORT if not re.search(r"(^|[\s,])%s\b" % re.escape(o), out)]
    tap.ok(rc == 0 and err == "", "--help: exit 0, nothing on stderr", "rc %r stderr %r" % (rc, err))
    tap.ok(not missing, "--help lists every option", "missing: %s" % missing)
    tap.ok(re.search(r"^Examples?:\s*$", out, re.M) and
           re.search(r"^\s+ringlab-server echo .*--listen", out, re.M),
           "--help includes an example command line", out)
    tap.ok("echo" in out and "uring" in out and "epoll" in out and "blocking" in out,
           "--help names the echo protocol and the three engines")
    rc2, out2, _ = run(["-h"])
    tap.ok(rc2 == 0 and out2 == out, "-h is the same as --help")

    rc, out, err = run(["--version"])
    tap.ok(rc == 0 and re.match(r"ringlab-server \d+\.\d+\.\d+", out) is not None and err == "",
           "--version: exit 0, prints 'ringlab-server X.Y.Z ...'", "rc %r out %r err %r" % (rc, out, err))
    rc, out, err = run(["-V"])
    tap.ok(rc == 0 and out.startswith("ringlab-server "), "-V: exit 0, prints the version", out)
    return tap.done()


if __name__ == "__main__":
    sys.exit(main())
