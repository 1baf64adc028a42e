#!/usr/bin/env python3
"""Measures ringlab-load against the plain epoll client (bench/clients/epoll_echo_client.c)
on the same echo server, interleaved A B A B ..., server pinned to CPU 0 and the client to
CPU 1.  Prints each pair and the median ratio with its min-max.

    bench/clients/compare_clients.py [--build build] [--pairs 5] [--conns 1000]
                                     [--size 64] [--seconds 5] [--engine uring]
"""
import argparse
import json
import os
import signal
import statistics
import subprocess
import tempfile


def start_server(build, engine):
    p = subprocess.Popen(["taskset", "-c", "0", os.path.join(build, "servers", "ringlab-server"),
                          "echo", "--listen", "127.0.0.1:0", "--engine", engine],
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    addr = p.stdout.readline().split()[-1]
    return p, addr


def run_load(build, addr, a):
    with tempfile.NamedTemporaryFile(suffix=".json") as f:
        subprocess.run(["taskset", "-c", "1", os.path.join(build, "loadgen", "ringlab-load"), "echo",
                        "--target", addr, "--connections", str(a.conns), "--size", str(a.size),
                        "--duration", "%ds" % a.seconds, "--warmup", "1s", "--quiet",
                        "--json", f.name], check=True, stdout=subprocess.DEVNULL)
        return json.load(open(f.name))["totals"]["requests_per_s"]


def run_epoll(build, addr, a):
    host, port = addr.rsplit(":", 1)
    out = subprocess.run(["taskset", "-c", "1", os.path.join(build, "bench", "epoll_echo_client"),
                          host, port, str(a.conns), str(a.size), str(a.seconds)],
                         check=True, capture_output=True, text=True).stdout.split()
    return float(out[out.index("rps") + 1])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build")
    ap.add_argument("--pairs", type=int, default=5)
    ap.add_argument("--conns", type=int, default=1000)
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--seconds", type=int, default=5)
    ap.add_argument("--engine", default="uring")
    a = ap.parse_args()
    ratios = []
    for i in range(a.pairs):
        row = {}
        for name, fn in (("ringlab-load", run_load), ("epoll client", run_epoll)):
            srv, addr = start_server(a.build, a.engine)
            try:
                row[name] = fn(a.build, addr, a)
            finally:
                srv.send_signal(signal.SIGTERM)
                srv.wait(timeout=30)
        ratios.append(row["ringlab-load"] / row["epoll client"])
        print("pair %d: ringlab-load %.0f req/s, epoll client %.0f req/s, ratio %.2f" %
              (i + 1, row["ringlab-load"], row["epoll client"], ratios[-1]), flush=True)
    print("median ratio %.2f (min %.2f, max %.2f) over %d pairs" %
          (statistics.median(ratios), min(ratios), max(ratios), len(ratios)))


if __name__ == "__main__":
    main()
