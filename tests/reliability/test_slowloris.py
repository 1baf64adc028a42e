#!/usr/bin/env python3
"""slowloris: the echo server with --idle-timeout 1s; 2,000 idle connections (1,000 on
the blocking engine: one thread each; RINGLAB_SLOWLORIS_N=5000 for the full-size run) that send one byte every 3 s and reconnect when cut,
plus 100 active clients from ringlab-load.  The idle ones get cut off (idle-closed > 0,
the sockets see EOF) and the active clients' p99 stays within 2x of the p99 measured
without the attack in the same test (3 s each; median of 3 when one pair is over)."""
import errno
import heapq
import itertools
import os
import resource
import selectors
import socket
import statistics
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import rel  # noqa: E402


class Attacker(threading.Thread):
    def __init__(self, srv, n):
        super().__init__(daemon=True)
        self.srv, self.n = srv, n
        self.stop = threading.Event()
        self.eof = 0
        self.resets = 0
        self.connects = 0
        self.open = 0
        self.cpu = 0.0  # share of a core the attacker thread used
        self.sel = selectors.DefaultSelector()
        self.due = []  # heap of (time the next byte is due, tie-breaker, socket)
        self.seq = itertools.count()

    def dial(self):
        s = socket.socket(self.srv.family, socket.SOCK_STREAM)
        s.setblocking(False)
        e = s.connect_ex(self.srv.addr)
        if e not in (0, errno.EINPROGRESS):
            s.close()
            return
        self.connects += 1
        self.sel.register(s, selectors.EVENT_READ)
        heapq.heappush(self.due, (time.monotonic(), next(self.seq), s))

    def run(self):
        t0, c0 = time.monotonic(), time.thread_time()
        for _ in range(self.n):
            self.dial()
        while not self.stop.is_set():
            now = time.monotonic()
            for key, _ in self.sel.select(0.1):
                s = key.fileobj
                try:
                    data = s.recv(4096)
                except (BlockingIOError, InterruptedError):
                    continue
                except OSError:
                    data = None
                if data:
                    continue
                if data is None:
                    self.resets += 1
                else:
                    self.eof += 1
                self.sel.unregister(s)
                s.close()
                if not self.stop.is_set():
                    self.dial()
            # Only the sockets whose byte is due: the attacker's own CPU stays small, so
            # what the active clients see is the server's doing, not a busy attacker.
            while self.due and self.due[0][0] <= now:
                s = heapq.heappop(self.due)[2]
                if s.fileno() < 0:
                    continue  # cut and closed since
                try:
                    s.send(b".")
                except OSError:
                    pass
                heapq.heappush(self.due, (now + 3.0, next(self.seq), s))
            self.open = len(self.sel.get_map())
        for key in list(self.sel.get_map().values()):
            key.fileobj.close()
        self.sel.close()
        self.cpu = (time.thread_time() - c0) / max(time.monotonic() - t0, 1e-9)


def measure(addr):
    rc, doc, out = rel.run_load("echo", addr, ["-c", 100, "-d", "3s", "--warmup", "0"])
    if doc is None:
        raise RuntimeError("ringlab-load gave no JSON: %s" % out)
    return rc, doc, out


def main():
    args = rel.parse_args()
    tap = rel.Tap()
    # RINGLAB_SLOWLORIS_N: the full-size run (5,000), by hand; the suite default
    # keeps the test bounded on 2 cores.
    n = int(os.environ.get("RINGLAB_SLOWLORIS_N", "1000" if args.engine == "blocking" else "2000"))
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < n + 1024:  # the attacker's sockets live in this process
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(n + 1024, hard), hard))
    with rel.Server("echo", engine=args.engine, args=["--idle-timeout", "1s"]) as srv:
        base, att = [], []
        errs = 0
        for rnd in range(3):
            rc, doc, out = measure(srv.addr)
            base.append(rel.p99_of(doc))
            errs += rel.errors_of(doc).get("total", 1)
            if rel.errors_of(doc).get("total"):
                tap.diag("baseline errors: %s" % {k: v for k, v in rel.errors_of(doc).items() if v})
            a = Attacker(srv, n)
            a.start()
            time.sleep(1.5)  # all connected; the first ones already cut
            rc, doc, out = measure(srv.addr)
            att.append(rel.p99_of(doc))
            errs += rel.errors_of(doc).get("total", 1)
            if rel.errors_of(doc).get("total"):
                tap.diag("attack errors: %s" % {k: v for k, v in rel.errors_of(doc).items() if v})
            a.stop.set()
            a.join()
            tap.diag("round %d: p99 %.0f us without, %.0f us with the attack; attacker: "
                     "%d connects, %d EOF, %d resets, %d open, %.0f%% of a core" % (
                         rnd + 1, base[-1], att[-1], a.connects, a.eof, a.resets, a.open,
                         100 * a.cpu))
            if rnd == 0 and att[0] <= 2 * base[0]:
                break
        tap.ok(errs == 0, "active clients: zero errors in every run (%d)" % errs)
        b, x = statistics.median(base), statistics.median(att)
        tap.ok(x <= 2 * b, "active p99 under attack %.0f us within 2x of baseline %.0f us "
               "(%s of %d run(s))" % (x, b, "median" if len(base) > 1 else "one", len(base)))
        tap.ok(a.eof > 0, "idle sockets see EOF (%d EOFs, %d resets, %d idle connections)"
               % (a.eof, a.resets, n))
        tap.ok(srv.alive(), "server alive")
        code, serr = srv.stop()
    c = rel.parse_counters(serr) or {}
    tap.ok(code == 0, "server exit 0 (got %s)" % code, rel.counters_diag(serr))
    tap.ok(c.get("idle-closed", 0) > 0, "counters: idle-closed %s > 0" % c.get("idle-closed"))
    tap.diag("counters: %s" % c)
    return tap.done()


if __name__ == "__main__":
    sys.exit(main())
