#!/usr/bin/env python3
"""bench/peers.py's probes: which ringlab-server option makes udp answer sockperf (found by
its own name, not by a line that merely mentions sockperf), and the real server's --help
when a build root is given."""
import subprocess
import sys

import benchtest  # noqa: F401  (puts bench/ on sys.path)
from benchtest import Tap

import peers  # noqa: E402
import procs  # noqa: E402


def main():
    tap = Tap()
    opt = peers.server_sockperf_option
    tap.ok(opt("      --sockperf           udp: answer like 'sockperf server'\n") == "--sockperf",
           "an option named --sockperf is found")
    tap.ok(opt("  udp        UDP: echo, send --reply, or answer sockperf\n"
               "      --sockperf           udp: answer sockperf\n") == "--sockperf",
           "a line that only mentions sockperf next to another option is not taken for it")
    tap.ok(opt("  -s, --sockperf-mode      udp: answer sockperf\n") == "--sockperf-mode",
           "a short alias before the option is allowed")
    tap.ok(opt("      --reply TEXT         udp: a fixed reply\n") is None,
           "no sockperf option: None")
    import os
    import tempfile
    root = str(benchtest.ROOT)
    tmp = os.path.join(tempfile.gettempdir(), "ringlab-nginx-ab_cd123")
    line = procs.command_line(["nginx", "-p", tmp, "-c", tmp + "/nginx.conf", "-e",
                               root + "/results/r/raw/x.stderr", "-g", "daemon off;"])
    tap.ok(line == "nginx -p <tmp> -c <tmp>/nginx.conf -e results/r/raw/x.stderr -g daemon off;",
           "recorded commands carry no machine paths: %r" % line)
    home = os.path.expanduser("~")
    tap.ok(procs.scrub_paths("found: YES (%s/.pyenv/bin/python3) in %s/build-bench\n"
                             % (home, root)) == "found: YES (~/.pyenv/bin/python3) in build-bench\n",
           "logs: the home directory becomes ~, the repository root goes")
    if len(sys.argv) > 1:
        srv = "%s/servers/ringlab-server" % sys.argv[1]
        text = subprocess.run([srv, "--help"], capture_output=True, text=True).stdout
        tap.ok(opt(text) == "--sockperf", "the built server's --help gives --sockperf (%r)"
               % opt(text))
    return tap.done()


if __name__ == "__main__":
    sys.exit(main())
