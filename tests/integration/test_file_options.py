#!/usr/bin/env python3
"""File server options: --fsync round trips; --idle-timeout 500ms cuts off a client that
stops sending mid-upload (not before the timeout) and removes its temporary file, while
an idle client between commands is cut off too; SIGTERM with an idle connection open
exits 0."""
import hashlib
import os
import shutil
import signal
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402


def fsync_round_trip(tap, engine, root):
    with harness.Server("file", engine=engine, args=["--root", root, "--fsync"]) as srv:
        with srv.connect(timeout=10) as s:
            for name, data in (("empty", b""), ("one-mib", os.urandom(1 << 20))):
                line = harness.file_put(s, name, data)
                want = b"OK %d %s\n" % (len(data), hashlib.sha256(data).hexdigest().encode())
                tap.ok(line == want, "--fsync: PUT %s -> OK with the right sha256" % name, repr(line))
                line, body = harness.file_get(s, name)
                tap.ok(body == data, "--fsync: GET %s returns the same bytes" % name, repr(line))
                with open(os.path.join(root, name), "rb") as f:
                    tap.ok(f.read() == data, "--fsync: %s on disk is identical" % name)
        tap.ok(harness.tmp_files(root) == [], "--fsync: no temporary files left")
        rc, err = srv.stop()
        tap.ok(rc == 0, "--fsync: SIGTERM -> exit status 0", err)
    for name in ("empty", "one-mib"):
        os.unlink(os.path.join(root, name))


def idle_timeout(tap, engine, root):
    with harness.Server("file", engine=engine, args=["--root", root, "--idle-timeout", "500ms"]) as srv:
        s = srv.connect()
        t0 = time.monotonic()
        s.sendall(b"PUT stalled 1000000\n" + b"s" * 300000)
        seen = harness.wait_for(lambda: harness.tmp_files(root), 0.4)
        tap.ok(bool(seen), "idle: the stalled upload has a temporary file", os.listdir(root))
        waited = harness.wait_closed(s, 3.0)
        s.close()
        elapsed = time.monotonic() - t0
        tap.ok(waited is not None, "idle: a client stalled mid-upload is cut off",
               "still open after 3 s")
        tap.ok(waited is None or elapsed >= 0.45, "idle: not before the 500ms timeout (%.2fs)" % elapsed)
        gone = harness.wait_for(lambda: not harness.tmp_files(root), 2)
        tap.ok(gone, "idle: its temporary file is removed", os.listdir(root))
        tap.ok(not os.path.exists(os.path.join(root, "stalled")), "idle: nothing under the final name")

        # A client that keeps talking is not cut off, even across several timeouts.
        with srv.connect() as k:
            ok = True
            for i in range(8):
                line = harness.file_put(k, "alive", b"%d" % i)
                ok = ok and line.startswith(b"OK ")
                time.sleep(0.2)
            tap.ok(ok, "idle: a client sending every 200 ms stays connected for 1.6 s")
        os.unlink(os.path.join(root, "alive"))

        # Silent between commands: cut off as well.
        with srv.connect() as q:
            line, body = harness.file_get(q, "nothing")
            tap.ok(line.startswith(b"ERR 404 "), "idle: a GET first", repr(line))
            waited = harness.wait_closed(q, 3.0)
            tap.ok(waited is not None, "idle: a client silent between commands is cut off")
        tap.ok(srv.alive(), "idle: server still running")
        rc, err = srv.stop()
        tap.ok(rc == 0, "idle: SIGTERM -> exit status 0", err)
        counters = harness.parse_counters(err) or {}
        tap.ok(counters.get("idle-closed", 0) >= 2, "idle: counted as idle-closed", counters)


def sigterm_idle(tap, engine, root):
    srv = harness.Server("file", engine=engine, args=["--root", root])
    try:
        s = srv.connect()
        line, body = harness.file_get(s, "none")
        tap.ok(line.startswith(b"ERR 404 "), "sigterm: an idle connection has talked first", repr(line))
        t0 = time.monotonic()
        rc, err = srv.stop(signal.SIGTERM, timeout=10)
        tap.ok(rc == 0, "sigterm with an idle connection: exit status 0", err)
        tap.ok(time.monotonic() - t0 < 8, "sigterm: exits within the drain timeout")
        tap.ok(harness.wait_closed(s, 2.0) is not None, "sigterm: the idle connection is closed")
        s.close()
    finally:
        srv.stop(signal.SIGKILL)


def main():
    args = harness.parse_args()
    tap = harness.Tap()
    root = tempfile.mkdtemp(prefix="ringlab-file-options-")
    try:
        harness.guard(tap, "fsync", fsync_round_trip, tap, args.engine, root)
        harness.guard(tap, "idle timeout", idle_timeout, tap, args.engine, root)
        harness.guard(tap, "sigterm", sigterm_idle, tap, args.engine, root)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return tap.done()


if __name__ == "__main__":
    sys.exit(main())
