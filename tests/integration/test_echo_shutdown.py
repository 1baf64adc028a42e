#!/usr/bin/env python3
"""Stopping: SIGTERM (and SIGINT) give exit status 0 and one final counters line on
stderr; replies already queued are delivered before the connection is closed; a client
that never reads its large reply is cut at the drain timeout and the server still exits
0 in time."""
import os
import select
import signal
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402


def stop_timed(srv, sig=signal.SIGTERM, timeout=20):
    t0 = time.monotonic()
    rc, err = srv.stop(sig, timeout=timeout)
    return rc, err, time.monotonic() - t0


def counters_line(tap, engine):
    """3 connections, known byte counts, one of them still open and idle at SIGTERM."""
    with harness.Server("echo", engine=engine, args=["--drain-timeout", "10s"]) as srv:
        total = 0
        idle = None
        for i, size in enumerate((100, 200, 300)):
            s = srv.connect()
            s.sendall(b"%c" % (65 + i) * size)
            harness.recv_exact(s, size)
            total += size
            if i == 2:
                idle = s
            else:
                s.close()
        rc, err, took = stop_timed(srv)
        try:
            eof = idle.recv(10)
        except OSError as e:
            eof = e
        idle.close()
    tap.ok(rc == 0, "SIGTERM: exit status 0", "rc %r, stderr:\n%s" % (rc, err))
    lines = [ln for ln in err.splitlines() if "engine stopped:" in ln]
    c = harness.parse_counters(err) or {}
    tap.ok(len(lines) == 1 and "connections 3" in lines[0],
           "SIGTERM: stderr has one final counters line with 'connections 3'", err)
    tap.ok(c.get("closed") == 3 and c.get("bytes in") == total and c.get("bytes out") == total
           and c.get("errors") == 0,
           "SIGTERM: counters show 3 closed, %d bytes in and out, 0 errors" % total, c)
    tap.ok(eof == b"", "SIGTERM: an idle open client gets a clean EOF", repr(eof))
    tap.ok(took < 3, "SIGTERM: with nothing in flight the server exits at once, not at the "
           "10 s drain timeout (%.2fs)" % took)


def sigint(tap, engine):
    with harness.Server("echo", engine=engine) as srv:
        with srv.connect() as s:
            s.sendall(b"ping")
            harness.recv_exact(s, 4)
        rc, err, took = stop_timed(srv, signal.SIGINT)
    c = harness.parse_counters(err) or {}
    tap.ok(rc == 0 and c.get("connections") == 1,
           "SIGINT: exit status 0 and a counters line with 'connections 1'", "rc %r\n%s" % (rc, err))


def queued_reply_delivered(tap, engine):
    """512 KiB sent, nothing read yet, then SIGTERM: the client still reads every byte of
    its reply, then EOF."""
    payload = os.urandom(512 * 1024)
    with harness.Server("echo", engine=engine, args=["--drain-timeout", "5s"]) as srv:
        # A receive buffer that holds the whole reply: the blocking engine reads only as
        # fast as it can send, so without it the server could not read all 512 KiB before
        # the signal -- and input a server never read may be dropped at stop.
        s = srv.connect(timeout=10, rcvbuf=2 << 20)
        s.sendall(payload)
        # Let the server take in all of it (uring/epoll read until 1 MiB of reply is queued).
        read_all = None
        if srv.family == socket.AF_INET:
            read_all = harness.wait_for(
                lambda: (harness.tcp_queues(s.getpeername(), s.getsockname()) or (0, 0))[1] == 0, 5)
        srv.proc.send_signal(signal.SIGTERM)
        time.sleep(0.2)
        try:
            got, err_ = harness.recv_all(s), None
        except OSError as e:
            got, err_ = b"", e
        s.close()
        rc, err, _ = stop_timed(srv)
    tap.ok(got == payload, "SIGTERM with a 512 KiB reply queued: the client gets all of it, "
           "then EOF", "got %d of %d bytes, error %r, prefix equal %s, server had read it all "
           "before the signal: %s" % (len(got), len(payload), err_, payload.startswith(got),
                                      read_all))
    tap.ok(rc == 0, "SIGTERM with a reply queued: exit status 0", err)


def owed_replies_survive_drain(tap, engine):
    """A client that sent more than the server would read (8 MiB, not reading meanwhile),
    then starts reading right as SIGTERM arrives: it must get back every byte the server
    had read before the signal -- those replies were in flight -- and only then the end
    of the stream.  (Input the server never read may be dropped.)"""
    data = os.urandom(8 << 20)
    with harness.Server("echo", engine=engine, args=["--drain-timeout", "5s"]) as srv:
        s = socket.socket(srv.family, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
        s.connect(srv.addr)
        s.setblocking(False)
        sent, last = 0, time.monotonic()
        while sent < len(data) and time.monotonic() - last < 1.0:
            select.select([], [s], [], 0.1)
            try:
                sent += s.send(data[sent:sent + 65536])
                last = time.monotonic()
            except BlockingIOError:
                pass
        time.sleep(0.3)
        me, peer = s.getsockname(), s.getpeername()
        cq, sq = harness.tcp_queues(me, peer), harness.tcp_queues(peer, me)
        read = sent - cq[0] - sq[1]  # sent - unacked by the server - unread by the server
        t0 = time.monotonic()
        srv.proc.send_signal(signal.SIGTERM)
        s.setblocking(True)
        s.settimeout(8)
        got, end = bytearray(), None
        try:
            while True:
                b = s.recv(65536)
                if not b:
                    end = "EOF"
                    break
                got += b
        except socket.timeout:
            end = "timeout"
        except OSError as e:
            end = repr(e)
        took = time.monotonic() - t0
        s.close()
        rc, err, _ = stop_timed(srv)
    tap.ok(data.startswith(bytes(got)) and len(got) >= read,
           "SIGTERM: a client reading its replies gets every byte the server had read "
           "(%d of %d owed, %.2fs, then %s)" % (len(got), read, took, end),
           "sent %d, server had read %d, client got %d then %s; prefix ok %s" %
           (sent, read, len(got), end, data.startswith(bytes(got))))
    tap.ok(rc == 0, "SIGTERM with replies owed: exit status 0", err)


def stuck_reply(tap, engine):
    """A client that sends up to 32 MiB and never reads: far more than the kernel buffers
    on the way back can hold, so the server is left with a reply it cannot send.  SIGTERM
    with --drain-timeout 2s exits 0 after about 2 s, cutting that connection."""
    with harness.Server("echo", engine=engine, args=["--drain-timeout", "2s"]) as srv:
        s = socket.socket(srv.family, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 32768)
        s.settimeout(15)
        s.connect(srv.addr)
        progress = {"sent": 0}
        chunk = os.urandom(64 * 1024)

        def writer():
            try:
                for _ in range(512):
                    s.sendall(chunk)
                    progress["sent"] += len(chunk)
            except OSError as e:
                progress["error"] = e
        t = threading.Thread(target=writer)
        t.start()
        # Wait until the writer is done or blocked (no progress for 1 s): the server then
        # holds a large reply that the client does not read.
        last, still = -1, 0
        while still < 4:
            time.sleep(0.25)
            still = still + 1 if progress["sent"] == last else 0
            last = progress["sent"]
        with srv.connect() as other:  # an ordinary client is served meanwhile
            other.sendall(b"ok?")
            ok = harness.recv_exact(other, 3) == b"ok?"
        rc, err, took = stop_timed(srv, timeout=10)
        t.join(15)
        # After the cut, what the client still holds is a byte-exact prefix of its data,
        # then EOF or a reset -- not a hang.
        got, end = bytearray(), None
        s.settimeout(5)
        try:
            while True:
                b = s.recv(65536)
                if not b:
                    end = "EOF"
                    break
                got += b
        except socket.timeout:
            end = "timeout"
        except OSError as e:
            end = repr(e)
        s.close()
        prefix_ok = all(got[i:i + len(chunk)] == chunk[:len(got) - i]
                        for i in range(0, len(got), len(chunk)))
        cut = end != "timeout"
    tap.diag("writer done or blocked after %d bytes; server exit took %.2fs" % (last, took))
    tap.ok(ok, "another client is echoed while a large reply is stuck")
    tap.ok(rc == 0, "SIGTERM with a stuck reply: exit status 0", "rc %r\n%s" % (rc, err))
    tap.ok(1.5 <= took <= 4.5, "SIGTERM with a stuck reply: the server waits the 2 s drain "
           "timeout, then exits (%.2fs)" % took)
    tap.ok(not t.is_alive() and cut, "the stuck client's connection is cut at the drain timeout",
           "writer %r, end of stream: %s" % (progress, end))
    tap.ok(prefix_ok and len(got) > 0, "the stuck client's partial reply is a byte-exact prefix",
           "%d bytes" % len(got))
    tap.ok(harness.parse_counters(err) is not None, "stuck reply: final counters line printed", err)


def main():
    args = harness.parse_args()
    tap = harness.Tap()
    harness.guard(tap, "SIGTERM counters", counters_line, tap, args.engine)
    harness.guard(tap, "SIGINT", sigint, tap, args.engine)
    harness.guard(tap, "queued reply delivered", queued_reply_delivered, tap, args.engine)
    harness.guard(tap, "owed replies survive drain", owed_replies_survive_drain, tap, args.engine)
    harness.guard(tap, "stuck reply", stuck_reply, tap, args.engine)
    return tap.done()


if __name__ == "__main__":
    sys.exit(main())
