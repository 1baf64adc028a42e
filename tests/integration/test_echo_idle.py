#!/usr/bin/env python3
"""--idle-timeout 300ms: a silent connection is closed (EOF or reset within ~2 s, not
before the timeout), a connection that never sent a byte is closed too, while one that
keeps sending every 100 ms stays open and keeps getting exact echoes."""
import os
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

IDLE = 0.3


def wait_closed(s, limit):
    """Seconds until the server closes `s` (EOF or reset), or None if it stays open."""
    t0 = time.monotonic()
    s.settimeout(limit)
    try:
        data = s.recv(100)
        if data:
            return "unexpected data %r" % data
    except socket.timeout:
        return None
    except OSError:
        pass  # a reset is a close too
    return time.monotonic() - t0


def active(srv, stop, out):
    """Sends a message every 100 ms and checks each echo, until told to stop."""
    n = 0
    try:
        with srv.connect(timeout=5) as s:
            while not stop.is_set():
                msg = b"tick %d" % n
                s.sendall(msg)
                if harness.recv_exact(s, len(msg)) != msg:
                    out["error"] = "echo %d wrong" % n
                    return
                n += 1
                time.sleep(0.1)
            # Still open after everything else has been cut.
            s.sendall(b"last")
            out["last"] = harness.recv_exact(s, 4)
    except Exception as e:  # noqa: BLE001 - reported as a failure
        out["error"] = "after %d echoes: %r" % (n, e)
    out["n"] = n


def idle(tap, engine):
    with harness.Server("echo", engine=engine, args=["--idle-timeout", "300ms"]) as srv:
        stop, out = threading.Event(), {}
        t = threading.Thread(target=active, args=(srv, stop, out))
        t.start()
        silent = srv.connect()
        silent.sendall(b"hi")
        harness.recv_exact(silent, 2)
        mute = srv.connect()  # never sends anything
        took = wait_closed(silent, 3.0)
        took_mute = wait_closed(mute, 3.0)
        silent.close()
        mute.close()
        time.sleep(1.0)  # the active client carries on past several more timeouts
        stop.set()
        t.join(10)
        tap.ok(isinstance(took, float) and 0.25 <= took <= 2.0,
               "a silent connection is closed by the 300 ms idle timeout, not before (after %.3f s)" % (took if isinstance(took, float) else -1), took)
        tap.ok(isinstance(took_mute, float) and took_mute <= 2.0,
               "a connection that never sent anything is closed too (%.3f s after the first)" % (took_mute if isinstance(took_mute, float) else -1), took_mute)
        tap.ok("error" not in out and out.get("n", 0) >= 10 and out.get("last") == b"last",
               "a client sending every 100 ms stays open and every echo is exact (%s echoes)"
               % out.get("n"), out)
        rc, err = srv.stop()
    c = harness.parse_counters(err) or {}
    tap.ok(rc == 0, "server exits 0 on SIGTERM", err)
    tap.ok(c.get("idle-closed") == 2, "counters: idle-closed 2 (the silent ones, not the active one)", c)


def main():
    args = harness.parse_args()
    tap = harness.Tap()
    harness.guard(tap, "idle timeout", idle, tap, args.engine)
    return tap.done()


if __name__ == "__main__":
    sys.exit(main())
