#!/usr/bin/env python3
"""A client that sends 8 MiB and never reads: the server stops reading it once its reply
queue is full (--max-queue, default 1 MiB) instead of buffering without bound, other
clients are still served promptly meanwhile, and when the stuck client goes away the
server is fine (alive, echoing, fd count back to its baseline)."""
import os
import select
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

TOTAL = 8 << 20
MAX_QUEUE = 1 << 20


def both_queues(client):
    """((tx, rx) of the client socket, (tx, rx) of the server's socket for it), from
    /proc/net/tcp; None if either is missing."""
    me, peer = client.getsockname(), client.getpeername()
    c, s = harness.tcp_queues(me, peer), harness.tcp_queues(peer, me)
    if c is None or s is None:
        return None
    return c, s


def stuck(tap, engine, trickle):
    """trickle: bytes written slowly (64 KiB every 10 ms) before the rest goes at full
    speed; this lets the server's socket send buffer fill while its reply queue is still
    short, so its send is already blocked when the flood arrives."""
    how = "first %d MiB trickled" % (trickle >> 20) if trickle else "full speed"
    with harness.Server("echo", engine=engine) as srv:
        base = harness.fd_count(srv.pid)
        hog = socket.socket(srv.family, socket.SOCK_STREAM)
        hog.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
        hog.settimeout(20)
        hog.connect(srv.addr)
        # Write without ever reading, until the kernel takes no more for 1 s (or all 8 MiB
        # are gone): nonblocking, so closing the socket later cannot race a blocked send.
        chunk = os.urandom(65536)
        hog.setblocking(False)
        sent, last_progress = 0, time.monotonic()
        deadline = last_progress + 20
        while sent < TOTAL and time.monotonic() - last_progress < 1.0 and time.monotonic() < deadline:
            select.select([], [hog], [], 0.1)
            try:
                sent += hog.send(chunk[: min(len(chunk), TOTAL - sent)])
                last_progress = time.monotonic()
            except BlockingIOError:
                pass
            if sent < trickle:
                time.sleep(0.01)
        if sent == TOTAL:
            time.sleep(0.5)  # let the server take what it will
        q = both_queues(hog)
        tap.ok(q is not None, "[%s] both ends of the stuck connection found in /proc/net/tcp" % how)
        if q:
            # What the server process holds = what it read - what it wrote, where
            # read = bytes sent - the client's unacked bytes - bytes unread at the server,
            # written = the server's unacked bytes + bytes sitting unread at the client.
            (c_tx, c_rx), (s_tx, s_rx) = q
            read = sent - c_tx - s_rx
            written = s_tx + c_rx
            held = read - written
            tap.diag("[%s] client sent %d; client unacked %d unread %d; server unacked %d "
                     "unread %d => server read %d, wrote %d, holds %d" %
                     (how, sent, c_tx, c_rx, s_tx, s_rx, read, written, held))
            tap.ok(held <= 2 * MAX_QUEUE,
                   "[%s] the server holds at most 2 x --max-queue (1 MiB) for a client that "
                   "does not read (holds %d bytes)" % (how, held))
        # Meanwhile another client is served promptly, repeatedly.
        worst = 0.0
        bad = None
        for i in range(20):
            msg = os.urandom(1000 + i)
            t0 = time.monotonic()
            with srv.connect(timeout=5) as s:
                s.sendall(msg)
                got = harness.recv_exact(s, len(msg))
            worst = max(worst, time.monotonic() - t0)
            if got != msg:
                bad = "exchange %d: %d bytes back" % (i, len(got))
                break
        tap.ok(bad is None and worst < 1.0,
               "[%s] while it is stuck, other clients get exact echoes promptly (worst %.3fs)"
               % (how, worst), bad)
        tap.ok(srv.alive(), "[%s] server alive while the client is stuck" % how)
        # The stuck client goes away without reading (its unread data makes this a reset).
        hog.close()
        with srv.connect() as s:
            s.sendall(b"fine")
            got = harness.recv_exact(s, 4)
        tap.ok(got == b"fine", "[%s] after the stuck client closes, a new client is echoed" % how,
               repr(got))
        back = harness.wait_for(lambda: harness.fd_count(srv.pid) <= base + 1, 5)
        tap.ok(back, "[%s] server fd count returns to its baseline" % how,
               "fds %d, baseline %d" % (harness.fd_count(srv.pid), base))
        rc, err = srv.stop()
    tap.ok(rc == 0, "[%s] server exits 0 on SIGTERM" % how, err)


def main():
    args = harness.parse_args()
    tap = harness.Tap()
    harness.guard(tap, "stuck client, full speed", stuck, tap, args.engine, 0)
    harness.guard(tap, "stuck client, trickle", stuck, tap, args.engine, 4 << 20)
    return tap.done()


if __name__ == "__main__":
    sys.exit(main())
