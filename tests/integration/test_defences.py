#!/usr/bin/env python3
"""The defences against slow and flooding clients, on one engine:

- --max-conns-per-source 3: the 4th connection from 127.0.0.2 is not served while
  127.0.0.3 still gets its 3, and 127.0.0.2 gets a slot back once one of its own closes.
  Twice: with the listener's SYN filter (the default: the 4th's SYN is dropped, its
  connect never completes) and with --no-source-filter (the 4th is accepted and reset);
- --line-timeout 300ms: a chat client trickling one byte every 50 ms, never a newline,
  is told "ERR line timeout" and closed (one byte per interval cannot defeat it), while a
  client sending whole lines stays; a file client trickling a command header gets
  "ERR 408";
- --max-conns 4 --evict-idle 200ms: with 4 idle holders, a new client is served and one
  holder is evicted.
Each is checked in the final counters.  No exact timing is asserted: only that the cut
comes, within generous bounds."""
import os
import socket
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402


def connect_from(srv, src, timeout=5.0):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.bind((src, 0))
    s.connect(srv.addr)
    return s


def connect_refused(srv, src):
    """Connects from `src` where the server is expected to refuse: returns the socket, or
    None when the refusal (a reset right after accept) already arrived inside connect()
    -- on a loaded machine the client often wakes from connect after the reset."""
    try:
        return connect_from(srv, src)
    except (ConnectionResetError, socket.timeout):
        return None  # reset inside connect(), or the SYN filter still holds the source


def echo_ok(s, msg=b"ping"):
    """True when `s` echoes `msg` back; False on EOF, reset or timeout."""
    try:
        s.sendall(msg)
        return harness.recv_exact(s, len(msg)) == msg
    except (OSError, EOFError, ConnectionError, RuntimeError):
        return False


def closed_by_server(s, limit):
    """True when the server ends `s` (EOF or reset) within `limit` seconds."""
    s.settimeout(limit)
    try:
        while True:
            data = s.recv(4096)
            if not data:
                return True
    except socket.timeout:
        return False
    except OSError:
        return True


def dial(srv, src, wait):
    """A connect from `src`: the socket once connected, None when the handshake did not
    complete within `wait` seconds (the server's filter dropped the SYN), or "reset" when
    the server's reset came before connect() returned."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind((src, 0))
    s.settimeout(wait)
    try:
        s.connect(srv.addr)
    except socket.timeout:
        s.close()
        return None
    except ConnectionResetError:
        s.close()
        return "reset"
    except OSError:
        s.close()
        raise
    return s


def per_source(tap, engine, filtered):
    how = "SYN filter" if filtered else "--no-source-filter"
    args = ["--max-conns-per-source", "3", "--verbose"]
    if not filtered:
        args.append("--no-source-filter")
    with harness.Server("echo", engine=engine, args=args) as srv:
        a = [connect_from(srv, "127.0.0.2") for _ in range(3)]
        tap.ok(all(echo_ok(s) for s in a), "%s: 3 connections from 127.0.0.2 are served" % how)
        # The server attached the filter at the third admission, before it echoed: the
        # 4th's SYN is dropped whatever the load, so its handshake cannot complete.
        extra = dial(srv, "127.0.0.2", 0.5 if filtered else 5.0)
        if filtered:
            tap.ok(extra is None, "SYN filter: the 4th from 127.0.0.2 never connects")
        else:
            tap.ok(extra == "reset" or (extra is not None and closed_by_server(extra, 5.0)),
                   "--no-source-filter: the 4th from 127.0.0.2 is accepted and closed at once")
        if extra not in (None, "reset"):
            extra.close()
        b = [connect_from(srv, "127.0.0.3") for _ in range(3)]
        tap.ok(all(echo_ok(s) for s in b), "127.0.0.3 still gets its 3 connections")
        tap.ok(all(echo_ok(s, b"again") for s in a), "127.0.0.2's 3 are unaffected")
        a.pop().close()
        # The slot comes back once the server has seen the close: retry for a while.
        back = False
        deadline = time.monotonic() + 10
        while not back and time.monotonic() < deadline:
            s = connect_refused(srv, "127.0.0.2")
            back = s is not None and echo_ok(s)
            if back:
                a.append(s)
            else:
                if s:
                    s.close()
                time.sleep(0.1)
        tap.ok(back, "%s: 127.0.0.2 gets a slot back after closing one" % how)
        for s in a + b:
            s.close()
        rc, err = srv.stop()
    c = harness.parse_counters(err) or {}
    tap.ok(rc == 0, "%s: server exits 0" % how, err)
    if filtered:
        # Both sources reached the cap; 127.0.0.2 twice (again when it got its slot back).
        tap.ok(c.get("source-blocked", 0) >= 2, "counters: source-blocked %s >= 2"
               % c.get("source-blocked"), c)
        tap.ok("their SYNs dropped by the listener's filter" in err,
               "--verbose logs the filter", err[-2000:])
    else:
        tap.ok(c.get("source-refused", 0) >= 1 and c.get("source-blocked") == 0,
               "counters: source-refused %s >= 1, source-blocked %s = 0"
               % (c.get("source-refused"), c.get("source-blocked")), c)
        tap.ok("max-conns-per-source 3 reached" in err, "--verbose logs the refusal",
               err[-2000:])


def trickle(s, stop, sent):
    """Sends one byte every 50 ms until told to stop or the socket fails."""
    try:
        while not stop.is_set():
            s.send(b"x")
            sent[0] += 1
            time.sleep(0.05)
    except OSError:
        pass


def read_until_closed(s, limit):
    """Everything the server sends until it closes `s`; None if still open after `limit`."""
    s.settimeout(limit)
    buf = b""
    t0 = time.monotonic()
    try:
        while time.monotonic() - t0 < limit:
            data = s.recv(4096)
            if not data:
                return buf
            buf += data
    except socket.timeout:
        return None
    except OSError:
        return buf
    return None


def cut_trickler(srv, header=b""):
    """A client that sends `header`, then a byte every 50 ms: (what it got, bytes sent)."""
    s = srv.connect(timeout=5)
    if header:
        s.sendall(header)
    stop, sent = threading.Event(), [0]
    t = threading.Thread(target=trickle, args=(s, stop, sent))
    t.start()
    got = read_until_closed(s, 10.0)
    stop.set()
    t.join(5)
    s.close()
    return got, sent[0]


def line_deadline(tap, engine):
    with harness.Server("chat", engine=engine, args=["--line-timeout", "300ms"]) as srv:
        good = srv.connect(timeout=5)
        stop, ok = threading.Event(), {"n": 0}

        def lines():
            try:
                while not stop.is_set():
                    good.sendall(b"hello %d\n" % ok["n"])
                    ok["n"] += 1
                    time.sleep(0.05)
            except OSError as e:
                ok["err"] = repr(e)

        t = threading.Thread(target=lines)
        t.start()
        got, sent = cut_trickler(srv)
        stop.set()
        t.join(5)
        tap.ok(got is not None, "chat: the trickling client is cut (sent %d bytes)" % sent)
        tap.ok(got is not None and b"ERR line timeout" in got,
               "chat: it is told why", got[-200:] if got else got)
        tap.ok(sent >= 2, "chat: it kept trickling, a byte every 50 ms, before the cut (%d)"
               % sent)
        tap.ok("err" not in ok and echo_alive(good),
               "chat: a client sending whole lines stays (%d lines)" % ok["n"], ok)
        good.close()
        rc, err = srv.stop()
    c = harness.parse_counters(err) or {}
    tap.ok(rc == 0, "chat: server exits 0", err)
    tap.ok(c.get("line-timeouts") == 1, "chat counters: line-timeouts 1", c)

    root = tempfile.mkdtemp(prefix="ringlab-defences-")
    with harness.Server("file", engine=engine,
                        args=["--root", root, "--line-timeout", "300ms"]) as srv:
        got, sent = cut_trickler(srv, b"PUT slow")
        tap.ok(got is not None and got.startswith(b"ERR 408"),
               "file: a trickled command header gets ERR 408 and is closed (sent %d)" % sent,
               got)
        with srv.connect() as s:
            tap.ok(harness.file_put(s, "ok.txt", b"fine").startswith(b"OK"),
                   "file: a normal upload still works")
        rc, err = srv.stop()
    c = harness.parse_counters(err) or {}
    tap.ok(rc == 0 and c.get("line-timeouts") == 1, "file: exit 0, line-timeouts 1", c)


def echo_alive(s):
    """A chat client is still connected: the server has not closed it."""
    s.settimeout(0.2)
    try:
        while True:
            if not s.recv(65536):
                return False
    except socket.timeout:
        return True
    except OSError:
        return False


def eviction(tap, engine):
    with harness.Server("echo", engine=engine,
                        args=["--max-conns", "4", "--evict-idle", "200ms"]) as srv:
        holders = [srv.connect(timeout=5) for _ in range(4)]
        tap.ok(all(echo_ok(s) for s in holders), "4 holders fill --max-conns 4")
        time.sleep(0.6)  # all quiet for longer than --evict-idle
        new = srv.connect(timeout=10)
        tap.ok(echo_ok(new, b"new client"), "a new client is served while full")
        cut = sum(1 for s in holders if closed_by_server(s, 0.5))
        tap.ok(cut >= 1, "a holder was evicted to make room (%d of 4)" % cut)
        new.close()
        for s in holders:
            s.close()
        rc, err = srv.stop()
    c = harness.parse_counters(err) or {}
    tap.ok(rc == 0, "server exits 0", err)
    tap.ok(c.get("evicted", 0) >= 1, "counters: evicted %s >= 1" % c.get("evicted"), c)


def main():
    args = harness.parse_args()
    tap = harness.Tap()
    harness.guard(tap, "per-source cap", per_source, tap, args.engine, True)
    harness.guard(tap, "per-source cap, fallback", per_source, tap, args.engine, False)
    harness.guard(tap, "line deadline", line_deadline, tap, args.engine)
    harness.guard(tap, "eviction", eviction, tap, args.engine)
    return tap.done()


if __name__ == "__main__":
    sys.exit(main())
