#!/usr/bin/env python3
"""File server when storage runs out.  Root on a 4 MiB tmpfs (skipped when mount fails):
a 10 MiB PUT -> ERR 507 naming ENOSPC, the temporary file is removed and its space freed
(a 3 MiB upload fits afterwards), the rest of the body is skipped and the next command
on that connection answered, other clients keep being served.  RLIMIT_FSIZE of 1 MiB: a
2 MiB PUT -> ERR 507 (File too large) instead of SIGXFSZ killing the server."""
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402


def failing_upload(tap, srv, root, label, size, cause):
    """PUT `size` bytes, which cannot be stored, followed by LIST in the same write."""
    data = os.urandom(size)
    err = []
    with srv.connect(timeout=15) as s:
        def send():
            try:
                s.sendall(b"PUT big %d\n" % size + data + b"LIST\n")
            except OSError as e:
                err.append(e)
        t = threading.Thread(target=send)
        t.start()
        try:
            line = harness.read_line(s)
        except OSError as e:
            line = ("no reply: %r" % e).encode()
        tap.ok(line.startswith(b"ERR 507 ") and cause.encode() in line,
               "%s: PUT of %d bytes -> ERR 507 naming '%s'" % (label, size, cause), repr(line))
        t.join(15)
        tap.ok(not err and not t.is_alive(),
               "%s: the server read (and skipped) the whole body" % label, err)
        s.settimeout(5)
        try:
            nxt = harness.read_line(s)
        except OSError as e:
            nxt = ("no reply: %r" % e).encode()
        tap.ok(nxt == b"OK 0\n",
               "%s: the LIST after the failed body, in the same write, is answered" % label,
               repr(nxt))
    gone = harness.wait_for(lambda: not harness.tmp_files(root), 3)
    tap.ok(gone, "%s: the temporary file is removed" % label, os.listdir(root))
    tap.ok(not os.path.exists(os.path.join(root, "big")), "%s: nothing under the final name" % label)


def serves_others(tap, srv, label, name, size):
    data = os.urandom(size)
    with srv.connect(timeout=15) as s:
        line = harness.file_put(s, name, data)
        tap.ok(line.startswith(b"OK %d " % size), "%s: another client's %d-byte PUT works" % (label, size),
               repr(line))
        line, body = harness.file_get(s, name)
        tap.ok(body == data, "%s: ... and GET returns it" % label, repr(line))


def disk_full(tap, engine):
    mnt = tempfile.mkdtemp(prefix="ringlab-file-tmpfs-")
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", mnt],
                       capture_output=True, text=True)
    if r.returncode != 0:
        os.rmdir(mnt)
        tap.ok(True, "disk full on a 4 MiB tmpfs # SKIP mount failed: %s" % r.stderr.strip())
        return
    try:
        with harness.Server("file", engine=engine, args=["--root", mnt]) as srv:
            failing_upload(tap, srv, mnt, "tmpfs full", 10 << 20, "No space left on device")
            st = os.statvfs(mnt)
            free = st.f_bavail * st.f_frsize
            tap.ok(free >= (7 << 19), "tmpfs full: the failed upload's space is freed (%d bytes free)" % free)
            # Only fits if the failed upload's blocks were released.
            serves_others(tap, srv, "tmpfs full", "fits", 3 << 20)
            serves_others(tap, srv, "tmpfs full", "small", 5)
            tap.ok(srv.alive(), "tmpfs full: server still running")
            rc, err = srv.stop()
            tap.ok(rc == 0, "tmpfs full: SIGTERM -> exit status 0", err)
    finally:
        subprocess.run(["umount", mnt], capture_output=True)
        try:
            os.rmdir(mnt)
        except OSError as e:
            tap.diag("cannot remove %s: %s" % (mnt, e))


def fsize_limit(tap, engine):
    root = tempfile.mkdtemp(prefix="ringlab-file-fsize-")

    def limit():
        resource.setrlimit(resource.RLIMIT_FSIZE, (1 << 20, 1 << 20))
    try:
        with harness.Server("file", engine=engine, args=["--root", root], preexec_fn=limit) as srv:
            failing_upload(tap, srv, root, "RLIMIT_FSIZE", 2 << 20, "File too large")
            tap.ok(srv.alive(), "RLIMIT_FSIZE: the server survived the overrun (no SIGXFSZ)")
            serves_others(tap, srv, "RLIMIT_FSIZE", "under", 512 << 10)
            rc, err = srv.stop()
            tap.ok(rc == 0, "RLIMIT_FSIZE: SIGTERM -> exit status 0", err)
    finally:
        shutil.rmtree(root, ignore_errors=True)


def main():
    args = harness.parse_args()
    tap = harness.Tap()
    harness.guard(tap, "disk full", disk_full, tap, args.engine)
    harness.guard(tap, "RLIMIT_FSIZE", fsize_limit, tap, args.engine)
    return tap.done()


if __name__ == "__main__":
    sys.exit(main())
