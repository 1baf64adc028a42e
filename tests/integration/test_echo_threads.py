#!/usr/bin/env python3
"""--threads 2 (and 4): several connections at once all echo byte-exact; on uring and
epoll the event loops really are separate threads.  (The blocking engine ignores
--threads: one thread per connection by design; it must still accept the option.)"""
import os
import random
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402


def thread_count(pid):
    return len(os.listdir("/proc/%d/task" % pid))


def threads(tap, engine, n):
    rng = random.Random(n)
    with harness.Server("echo", engine=engine, args=["--threads", str(n)]) as srv:
        if engine != "blocking":
            # main thread + n loops (io_uring may add its own io-wq workers)
            tap.ok(thread_count(srv.pid) >= n + 1,
                   "--threads %d: at least %d threads running" % (n, n + 1),
                   "threads: %d" % thread_count(srv.pid))
        socks = [srv.connect() for _ in range(48)]
        msgs = [[os.urandom(rng.randint(1, 8000)) for _ in range(5)] for _ in range(48)]
        res = harness.echo_many(socks, msgs, timeout=20)
        for s in socks:
            s.close()
        tap.ok(not any(res), "--threads %d: 48 concurrent connections x 5 messages echo byte-exact" % n,
               [r for r in res if r][:5])
        # A big one alongside, with a concurrent reader.
        payload = os.urandom(1 << 20)
        with srv.connect(timeout=20) as s:
            w = threading.Thread(target=s.sendall, args=(payload,))
            w.start()
            got = harness.recv_exact(s, len(payload))
            w.join(20)
        tap.ok(got == payload, "--threads %d: 1 MiB echo byte-exact" % n, "%d bytes" % len(got))
        rc, err = srv.stop()
    c = harness.parse_counters(err) or {}
    tap.ok(rc == 0 and c.get("connections") == 49,
           "--threads %d: exits 0, counters sum all loops (connections 49)" % n, err)


def main():
    args = harness.parse_args()
    tap = harness.Tap()
    for n in (2, 4):
        harness.guard(tap, "--threads %d" % n, threads, tap, args.engine, n)
    return tap.done()


if __name__ == "__main__":
    sys.exit(main())
