#!/usr/bin/env python3
"""bench/peers.py's probes: which ringlab-server option makes udp answer sockperf (found by
its own name, not by a line that merely mentions sockperf), and the real server's --help
when a build root is given."""
import subprocess
import sys

import benchtest  # noqa: F401  (puts bench/ on sys.path)
from benchtest import Tap

import peers  # noqa: E402


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
    if len(sys.argv) > 1:
        srv = "%s/servers/ringlab-server" % sys.argv[1]
        text = subprocess.run([srv, "--help"], capture_output=True, text=True).stdout
        tap.ok(opt(text) == "--sockperf", "the built server's --help gives --sockperf (%r)"
               % opt(text))
    return tap.done()


if __name__ == "__main__":
    sys.exit(main())
