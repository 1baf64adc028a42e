#!/usr/bin/env python3
"""chat with --idle-timeout, the idle policy (core/policy.c) on every engine:

- a client that only listens is not idle while lines are sent to it (a send is activity,
  as an input is), and is cut once they stop;
- closing: a slow client the server closes ("ERR too slow") is not cut as idle while its
  last lines wait to be read: a closing connection has until its close deadline
  (--drain-timeout), so reading them after twice --idle-timeout it gets them all, the ERR
  line and EOF;
- draining: likewise a client that still has lines owed to it at SIGTERM: while the
  server drains, the drain deadline alone bounds a connection, never the idle timeout.

The blocking engine runs chat with a reader and a writer thread per client: before the
policy was shared, its reader cut a listener after the idle timeout whatever its writer
sent, and cut a closing client whose writer was still sending."""
import os
import signal
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from test_chat import join, parse  # noqa: E402

LINE_LEN = 100  # bytes per flood line, newline included

def flood_bytes():
    """More than the kernel buffers between the server and a client that does not read
    (the server's send buffer grows up to tcp_wmem's maximum)."""
    try:
        with open("/proc/sys/net/ipv4/tcp_wmem") as f:
            wmem_max = int(f.read().split()[2])
    except (OSError, ValueError, IndexError):
        wmem_max = 4 << 20
    return max(8 << 20, 2 * wmem_max)


def flood_line(seq):
    head = b"seq %08d " % seq
    return head + b"%" * (LINE_LEN - 1 - len(head))


def listener(tap, engine):
    idle = 0.4
    with harness.Server("chat", engine, args=["--idle-timeout", "400ms"]) as srv:
        peers = []
        lis = join(srv, peers, "L")  # never sends a byte
        talk = join(srv, peers, "T")
        got, n = 0, 15
        for i in range(n):  # 1.5 s, several idle timeouts
            talk.say(b"line %d" % i)
            line = parse(lis.readline(3))
            got += line is not None and line[1] == b"line %d" % i
            time.sleep(0.1)
        tap.ok(got == n, "a client that only listens gets all %d lines sent over %.1fs "
               "(--idle-timeout %.1fs): receiving is not idle" % (n, n * 0.1, idle),
               "got %d" % got)
        took = harness.wait_closed(lis.sock, 5)
        tap.ok(took is not None and took < 3,
               "once the lines stop, the listener is cut as idle (after %s s)" % (
                   "%.2f" % took if took is not None else "never"))
        for p in peers:
            p.close()
        rc, err = srv.stop()
        counters = harness.parse_counters(err) or {}
        tap.ok(rc == 0 and counters.get("idle-closed", 0) >= 1,
               "exit 0, idle-closed counted", "rc %r, stderr:\n%s" % (rc, err))


def read_to_end(peer, wait):
    """Reads what `peer` was sent until EOF (or `wait` s of silence): (flood lines in order
    from 0, the lines after them, how it ended)."""
    n, rest, end = 0, [], None
    peer.sock.settimeout(wait)
    try:
        while True:
            line = peer.readline(wait)
            got = parse(line)
            if not rest and got and got[1] == flood_line(n):
                n += 1
            else:
                rest.append(line)
    except EOFError:
        end = "EOF"
    except socket.timeout:
        end = "timeout"
    except OSError as e:
        end = repr(e)
    return n, rest, end


def closing(tap, engine):
    args = ["--idle-timeout", "1s", "--drain-timeout", "8s", "--max-queue", "64KiB"]
    with harness.Server("chat", engine, args=args) as srv:
        peers = []
        s = join(srv, peers, "S", rcvbuf=4096)
        f = join(srv, peers, "F")
        s.say(b"still here")
        got = parse(f.readline(10))
        if not got or got[1] != b"still here":
            raise AssertionError("F: %r" % (got,))
        # Flood until the kernel holds all it will for S (the server's send queue to S
        # stops growing), so that S's writer is stuck, then 256 KiB more: over S's queue.
        me = s.sock.getsockname()
        peer = s.sock.getpeername()
        batch, sent, last, still = 640, 0, -1, 0
        deadline = time.monotonic() + 20
        while still < 3 and time.monotonic() < deadline:
            f.send(b"".join(flood_line(j) + b"\n" for j in range(sent, sent + batch)))
            sent += batch
            time.sleep(0.02)
            tx = (harness.tcp_queues(peer, me) or (0, 0))[0]
            still = still + 1 if tx <= last else 0
            last = max(last, tx)
        extra = (256 << 10) // LINE_LEN
        f.send(b"".join(flood_line(j) + b"\n" for j in range(sent, sent + extra)))
        nlines = sent + extra
        tap.diag("the kernel took %d bytes for S; %d lines sent" % (last, nlines))
        time.sleep(2.5)  # more than twice --idle-timeout, well within --drain-timeout
        n, rest, end = read_to_end(s, 10)
        tap.ok(0 < n < nlines and len(rest) == 1 and rest[0].startswith(b"ERR too slow")
               and end == "EOF",
               "a slow client closed by the server, reading only after 2.5s (--idle-timeout "
               "1s), gets its lines, 'ERR too slow', then EOF",
               "%d of %d flood lines, then %r, then %s" % (n, nlines, rest[:2], end))
        for p in peers:
            p.close()
        rc, err = srv.stop(timeout=15)
        tap.ok(rc == 0, "closing: exit status 0", "rc %r, stderr:\n%s" % (rc, err))


def drain(tap, engine):
    args = ["--idle-timeout", "1s", "--drain-timeout", "8s", "--max-queue", "64MiB"]
    with harness.Server("chat", engine, args=args) as srv:
        peers = []
        r = join(srv, peers, "R")
        s = join(srv, peers, "S", rcvbuf=4096)
        f = join(srv, peers, "F")
        nlines = flood_bytes() // LINE_LEN
        batch = 1024
        for i in range(0, nlines, batch):
            f.send(b"".join(flood_line(j) + b"\n" for j in range(i, min(i + batch, nlines))))
            for j in range(i, min(i + batch, nlines)):  # keep R's queue short
                got = parse(r.readline(10))
                if not got or got[1] != flood_line(j):
                    raise AssertionError("R: line %d: %r" % (j, got))
        # Everything is in S's queue now; S speaks (so it is not idle at SIGTERM), and R
        # hearing it proves the server read it.
        s.say(b"still here")
        got = parse(r.readline(10))
        if not got or got[1] != b"still here":
            raise AssertionError("R: %r" % (got,))
        srv.proc.send_signal(signal.SIGTERM)
        time.sleep(2.5)  # more than twice --idle-timeout, well within --drain-timeout
        n, rest, end = read_to_end(s, 10)
        tap.ok(n == nlines and not rest and end == "EOF",
               "SIGTERM: a client that reads its %d owed lines only after 2.5s (--idle-timeout "
               "1s) gets every one, then EOF" % nlines,
               "got %d of %d, then %r, then %s" % (n, nlines, rest[:2], end))
        for p in peers:
            p.close()
        rc, err = srv.stop(timeout=15)
        tap.ok(rc == 0, "draining: exit status 0", "rc %r, stderr:\n%s" % (rc, err))


def main():
    args = harness.parse_args()
    tap = harness.Tap()
    harness.guard(tap, "listener", listener, tap, args.engine)
    harness.guard(tap, "closing", closing, tap, args.engine)
    harness.guard(tap, "drain", drain, tap, args.engine)
    return tap.done()


if __name__ == "__main__":
    sys.exit(main())
