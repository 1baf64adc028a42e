#!/usr/bin/env python3
"""fd exhaustion: the server runs with RLIMIT_NOFILE 256 and 1,000 clients connect (the
kernel queues what the server cannot accept in the backlog).  While at the limit (~2 s)
the server stays up, uses < 10% of a core, and keeps echoing the connections it holds;
after 600 client sockets close it accepts again and every waiting client is served;
the final counters show accept backoffs > 0."""
import errno
import os
import resource
import selectors
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import rel  # noqa: E402

N = 1000
LIMIT = 256


def ping_of(i):
    return b"ping-%04d\n" % i


def collect(socks, idx, want, timeout):
    """Reads echoes on socks[i] for i in idx until each has len(want(i)) bytes or timeout;
    returns {i: bytes}."""
    sel = selectors.DefaultSelector()
    got = {}
    for i in idx:
        got[i] = b""
        sel.register(socks[i], selectors.EVENT_READ, i)
    left = set(idx)
    deadline = time.monotonic() + timeout
    while left and time.monotonic() < deadline:
        for key, _ in sel.select(0.2):
            i = key.data
            try:
                chunk = socks[i].recv(4096)
            except (BlockingIOError, InterruptedError):
                continue
            except OSError as e:
                chunk = b""
                got[i] += ("<%s>" % e.strerror).encode()
            if not chunk or len(got[i] + chunk) >= len(want(i)):
                got[i] += chunk
                left.discard(i)
                sel.unregister(socks[i])
            else:
                got[i] += chunk
    sel.close()
    return got


def main():
    args = rel.parse_args()
    tap = rel.Tap()
    srv = rel.Server("echo", engine=args.engine, args=["--verbose"],
                     preexec_fn=rel.rlimit(resource.RLIMIT_NOFILE, LIMIT))
    socks = []
    try:
        for i in range(N):
            s = socket.socket(srv.family, socket.SOCK_STREAM)
            s.setblocking(False)
            err = s.connect_ex(srv.addr)
            if err not in (0, errno.EINPROGRESS):
                raise OSError(err, os.strerror(err))
            socks.append(s)
        # everyone sends its ping; accepted connections echo it, queued ones keep it in
        # the socket buffer until the server accepts them
        time.sleep(0.5)
        sel = selectors.DefaultSelector()
        for i, s in enumerate(socks):
            sel.register(s, selectors.EVENT_WRITE, i)
        unsent = set(range(N))
        deadline = time.monotonic() + 10
        while unsent and time.monotonic() < deadline:
            for key, _ in sel.select(0.2):
                i = key.data
                try:
                    socks[i].send(ping_of(i))
                except (BlockingIOError, InterruptedError):
                    continue
                unsent.discard(i)
                sel.unregister(socks[i])
        sel.close()
        tap.ok(not unsent, "all %d clients connected and sent a ping" % N,
               "%d could not send" % len(unsent))
        got = collect(socks, range(N), ping_of, 2.0)
        held = [i for i in range(N) if got[i] == ping_of(i)]
        bad = [i for i in range(N) if got[i] and got[i] != ping_of(i)]
        tap.ok(0 < len(held) < LIMIT, "server holds %d connections (< RLIMIT_NOFILE %d)"
               % (len(held), LIMIT))
        tap.ok(not bad, "no wrong echo / early close", "e.g. %r" % [(i, got[i]) for i in bad[:5]])
        tap.diag("held %d of %d; fd count of server %d" % (len(held), N, rel.fd_count(srv.pid)))

        # at the limit for ~2 s: alive, cheap, still echoing what it holds
        c0, t0 = rel.proc_cpu_seconds(srv.pid), time.monotonic()
        rounds_ok = True
        for r in range(4):
            for i in held:
                socks[i].send(b"r%d-%04d\n" % (r, i))
            echoed = collect(socks, held, lambda i, r=r: b"r%d-%04d\n" % (r, i), 2.0)
            rounds_ok &= all(echoed[i] == b"r%d-%04d\n" % (r, i) for i in held)
            time.sleep(max(0, 0.5 * (r + 1) - (time.monotonic() - t0)))
        cpu = rel.proc_cpu_seconds(srv.pid) - c0
        wall = time.monotonic() - t0
        tap.ok(srv.alive(), "server alive at the fd limit")
        tap.ok(rounds_ok, "held connections keep being echoed at the limit (4 rounds)")
        pct = 100.0 * cpu / wall
        tap.ok(pct < 10.0, "server CPU at the limit %.1f%% of a core (< 10%%) over %.1f s"
               % (pct, wall))

        # close 600 (every held one and the rest from the waiting ones): the waiting must
        # all get served, in turns, since only ~LIMIT fit at once
        waiting = [i for i in range(N) if i not in set(held)]
        close = set(held) | set(waiting[:600 - len(held)])
        for i in close:
            socks[i].close()
        rest = [i for i in range(N) if i not in close]
        served = 0
        first = None
        t1 = time.monotonic()
        pending = list(rest)
        while pending and time.monotonic() - t1 < 20:
            got = collect(socks, pending, ping_of, 0.5)
            done = [i for i in pending if got[i]]
            for i in done:
                if got[i] == ping_of(i):
                    served += 1
                socks[i].close()
            if done and first is None:
                first = time.monotonic() - t1
            # a client whose ping came partially keeps waiting: treat got as complete
            pending = [i for i in pending if not got[i]]
        tap.ok(first is not None and first < 5.0,
               "after 600 closes the server accepts again (first echo after %s s)"
               % ("%.2f" % first if first is not None else "never"))
        tap.ok(served == len(rest), "all %d waiting clients served (%d)" % (len(rest), served),
               "%d never served within 20 s" % len(pending))
        tap.diag("waiting clients served in %.2f s" % (time.monotonic() - t1))
    finally:
        for s in socks:
            s.close()
        rc, err = srv.stop()
    tap.ok(rc == 0, "exit 0 on SIGTERM (got %s)" % rc, rel.counters_diag(err))
    c = rel.parse_counters(err) or {}
    tap.ok(c.get("accept backoffs", 0) > 0, "counters: accept backoffs %s > 0" %
           c.get("accept backoffs"), rel.counters_diag(err))
    tap.diag("counters: %s" % c)
    return tap.done()


if __name__ == "__main__":
    sys.exit(main())
