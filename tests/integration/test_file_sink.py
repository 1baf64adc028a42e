#!/usr/bin/env python3
"""File server --sink: a client sends bytes then half-closes (nc -N) and receives
'OK <size> <sha256> output<N>.txt' before EOF; output<N>.txt holds exactly those bytes;
the next connection gets output<N+1>.txt; a restart continues after the highest existing
number (also one planted by hand); nothing is stored for a client that resets mid-way."""
import hashlib
import os
import re
import shutil
import socket
import sys
import tempfile
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402


def sink_send(srv, data):
    """Sends `data`, half-closes, returns everything received until EOF."""
    with srv.connect(timeout=15) as s:
        err = []

        def send():
            try:
                s.sendall(data)
                s.shutdown(socket.SHUT_WR)
            except OSError as e:
                err.append(e)
        t = threading.Thread(target=send)
        t.start()
        got = harness.recv_all(s)
        t.join(15)
        return got if not err else b"send failed: %r" % err


def next_number(root):
    """1 + the highest N of the output<N>.txt files in root (0 when there is none)."""
    nums = [int(m.group(1)) for m in (re.fullmatch(r"output(\d+)\.txt", n) for n in os.listdir(root)) if m]
    return max(nums) + 1 if nums else 0


def check(tap, srv, root, data, label):
    """Sends `data` through the sink: it must be stored as output<N>.txt with N = 1 + the
    highest number already stored (so one failure does not shift the later checks)."""
    n = next_number(root)
    got = sink_send(srv, data)
    name = "output%d.txt" % n
    want = b"OK %d %s %s\n" % (len(data), hashlib.sha256(data).hexdigest().encode(), name.encode())
    tap.ok(got == want, "%s: reply is 'OK <size> <sha256> %s' then EOF" % (label, name),
           "got %r, want %r" % (got[:200], want))
    try:
        with open(os.path.join(root, name), "rb") as f:
            stored = f.read()
    except OSError as e:
        stored = e
    tap.ok(stored == data, "%s: %s holds exactly the %d bytes sent" % (label, name, len(data)))
    return name if got == want else None


def run(tap, engine, root):
    with harness.Server("file", engine=engine, args=["--root", root, "--sink"]) as srv:
        check(tap, srv, root, b"hello sink\n", "first connection")
        check(tap, srv, root, os.urandom(3 << 20), "second connection (3 MiB)")
        check(tap, srv, root, b"", "empty upload")
        # Commands mean nothing in sink mode: they are stored as data.
        check(tap, srv, root, b"LIST\nGET output0.txt\n", "command text")
        # A client that resets before finishing stores nothing.
        s = srv.connect()
        s.sendall(b"x" * 100000)
        harness.reset_close(s)
        gone = harness.wait_for(lambda: not harness.tmp_files(root), 3)
        tap.ok(gone, "reset mid-upload: no temporary file left", os.listdir(root))
        check(tap, srv, root, b"after reset", "after a reset")
        # Larger than one 256 KiB write: FIN may arrive while a write is in flight.
        for i in range(1, 6):
            check(tap, srv, root, os.urandom(600 * 1024 + i), "600 KiB upload %d" % i)
        names = sorted(os.listdir(root))
        tap.ok(names == sorted("output%d.txt" % i for i in range(len(names))),
               "the stored files are output0.txt.. with no gap and no temporary file", names)
        rc, err = srv.stop()
        tap.ok(rc == 0, "SIGTERM -> exit status 0", err)
    with harness.Server("file", engine=engine, args=["--root", root, "--sink"]) as srv:
        check(tap, srv, root, b"restarted", "after a restart")
        srv.stop()
    with open(os.path.join(root, "output41.txt"), "wb") as f:
        f.write(b"planted")
    with open(os.path.join(root, "output7.txt.bak"), "wb") as f:
        f.write(b"not a sink file")
    with harness.Server("file", engine=engine, args=["--root", root, "--sink"]) as srv:
        check(tap, srv, root, b"after planted", "restart with output41.txt planted")
        srv.stop()
    with open(os.path.join(root, "output41.txt"), "rb") as f:
        tap.ok(f.read() == b"planted", "the planted output41.txt is untouched")


def main():
    args = harness.parse_args()
    tap = harness.Tap()
    root = tempfile.mkdtemp(prefix="ringlab-file-sink-")
    try:
        harness.guard(tap, "sink", run, tap, args.engine, root)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return tap.done()


if __name__ == "__main__":
    sys.exit(main())
