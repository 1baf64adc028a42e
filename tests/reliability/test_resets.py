#!/usr/bin/env python3
"""resets: while ringlab-load runs 90 clients, 10 more (10%) reset their connection
(SO_LINGER {1,0} close) at random moments, often with an echo still in flight, and
reconnect.  ringlab-load reports zero errors; after everything closes the server's fd
count returns to its baseline."""
import os
import random
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import rel  # noqa: E402

LOADERS = 90
RESETTERS = 10
SECONDS = 3


def resetter(srv, stop, stats, seed):
    rnd = random.Random(seed)
    while not stop.is_set():
        try:
            s = srv.connect(timeout=5)
            end = time.monotonic() + rnd.uniform(0.01, 0.4)
            while time.monotonic() < end:
                msg = os.urandom(rnd.randint(1, 8192))
                s.sendall(msg)
                if rel.recv_exact(s, len(msg)) != msg:
                    stats["bad"] += 1
                    break
            # reset with data in flight half of the time
            if rnd.random() < 0.5:
                s.sendall(os.urandom(rnd.randint(1, 65536)))
            rel.reset_close(s)
            stats["resets"] += 1
        except OSError as e:
            stats["oserr"] += 1
            stats["last"] = repr(e)


def main():
    args = rel.parse_args()
    tap = rel.Tap()
    with rel.Server("echo", engine=args.engine) as srv:
        base = rel.fd_count(srv.pid)
        stop = threading.Event()
        stats = {"bad": 0, "resets": 0, "oserr": 0, "last": None}
        load = rel.Load("echo", srv.addr, ["-c", LOADERS, "-d", "%ds" % SECONDS,
                                           "--warmup", "0", "-s", "512"])
        ths = [threading.Thread(target=resetter, args=(srv, stop, stats, i)) for i in range(RESETTERS)]
        for t in ths:
            t.start()
        rc, doc, out = load.wait(timeout=60)
        stop.set()
        for t in ths:
            t.join()
        err = rel.errors_of(doc)
        tap.ok(rc == 0 and err.get("total") == 0,
               "ringlab-load: exit %s, errors %s (want 0, 0)" % (rc, err.get("total")), out)
        tap.ok(stats["resets"] > 20, "%d resets by %d resetting clients" % (stats["resets"], RESETTERS))
        tap.ok(stats["bad"] == 0, "resetting clients' echoes correct before reset")
        tap.diag("resetter OSErrors: %d %s" % (stats["oserr"], stats["last"] or ""))
        if doc:
            tap.diag("load: %d requests, p99 %.0f us" % (doc["totals"]["requests"], rel.p99_of(doc)))
        tap.ok(srv.alive(), "server alive")
        fds = rel.wait_for(lambda: rel.fd_count(srv.pid) == base and base, 5)
        tap.ok(bool(fds), "fd count back to baseline %d (now %d)" % (base, rel.fd_count(srv.pid)))
        code, serr = srv.stop()
    tap.ok(code == 0, "server exit 0 (got %s)" % code, rel.counters_diag(serr))
    c = rel.parse_counters(serr) or {}
    tap.diag("counters: %s" % c)
    tap.ok(c.get("resets", 0) + c.get("errors", 0) > 0 or stats["resets"] > 0,
           "server saw the resets (resets %s, errors %s)" % (c.get("resets"), c.get("errors")))
    return tap.done()


if __name__ == "__main__":
    sys.exit(main())
