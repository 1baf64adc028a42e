#!/usr/bin/env python3
"""File server atomicity: a client that disconnects (FIN or RST) mid-upload leaves no
file under the final name and no .ringlab-tmp-* behind; a SIGKILLed server's leftover
temporary file is swept by the next start on the same root before it listens, and
nothing partial is visible under any name; of two concurrent uploads of one name the
one that completes last wins, whole; a reader doing GET in a loop while the name is
re-uploaded sees only the whole old or the whole new content."""
import hashlib
import os
import shutil
import signal
import socket
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402


def content(root, name):
    try:
        with open(os.path.join(root, name), "rb") as f:
            return f.read()
    except FileNotFoundError:
        return None


def tmp_with_bytes(root, at_least):
    """The temporary files in root holding at least `at_least` bytes."""
    out = []
    for n in harness.tmp_files(root):
        try:
            if os.stat(os.path.join(root, n)).st_size >= at_least:
                out.append(n)
        except FileNotFoundError:
            pass
    return out


def disconnect_mid_upload(tap, srv, root, how):
    data = os.urandom(1 << 20)
    s = srv.connect(timeout=5)
    s.sendall(b"PUT half-%s %d\n" % (how.encode(), len(data)) + data[:600 * 1024])
    # The server writes 256 KiB at a time: wait until part of the body is on disk.
    seen = harness.wait_for(lambda: tmp_with_bytes(root, 256 * 1024), 5)
    tap.ok(bool(seen), "%s mid-upload: a temporary file holds part of the body first" % how,
           os.listdir(root))
    if how == "RST":
        harness.reset_close(s)
    else:
        s.close()
    gone = harness.wait_for(lambda: not harness.tmp_files(root), 3)
    tap.ok(gone, "%s mid-upload: the temporary file is removed" % how, harness.tmp_files(root))
    tap.ok(not os.path.exists(os.path.join(root, "half-%s" % how)),
           "%s mid-upload: nothing under the final name" % how)


def killed_server(tap, engine, root):
    with open(os.path.join(root, "keep"), "wb") as f:
        f.write(b"old")
    srv = harness.Server("file", engine=engine, args=["--root", root])
    try:
        data = os.urandom(2 << 20)
        s = srv.connect(timeout=5)
        s.sendall(b"PUT keep %d\n" % len(data) + data[:1 << 20])
        s2 = srv.connect(timeout=5)
        s2.sendall(b"PUT fresh %d\n" % len(data) + data[:1 << 20])
        seen = harness.wait_for(lambda: len(tmp_with_bytes(root, 256 * 1024)) == 2, 5)
        tap.ok(bool(seen), "kill: both uploads have partial temporary files", os.listdir(root))
        leftovers = harness.tmp_files(root)
        srv.stop(signal.SIGKILL)
        s.close()
        s2.close()
    finally:
        srv.stop(signal.SIGKILL)
    tap.ok(harness.tmp_files(root) == leftovers and leftovers,
           "kill: the killed server left its temporary files", os.listdir(root))
    tap.ok(content(root, "keep") == b"old", "kill: the file being replaced keeps its old content")
    tap.ok(content(root, "fresh") is None, "kill: the new name does not exist")
    # A stale temp file from an older pid, as another crash would leave.
    with open(os.path.join(root, ".ringlab-tmp-1-99"), "wb") as f:
        f.write(b"stale")
    with harness.Server("file", engine=engine, args=["--root", root]) as srv2:
        # Checked right after "listening on": the sweep runs before the server listens.
        tap.ok(harness.tmp_files(root) == [], "restart: every .ringlab-tmp-* was removed before listening",
               os.listdir(root))
        tap.ok(sorted(os.listdir(root)) == ["keep"], "restart: only the complete file remains",
               os.listdir(root))
        with srv2.connect() as s:
            line, body = harness.file_get(s, "keep")
            tap.ok(body == b"old", "restart: the old file is served whole", repr(line))
            s.sendall(b"LIST\n")
            line = harness.read_line(s)
            rest = harness.read_line(s)
            tap.ok(line == b"OK 1\n" and rest == b"3 keep\n", "restart: LIST shows only keep",
                   "%r %r" % (line, rest))
    os.unlink(os.path.join(root, "keep"))


def last_completed_wins(tap, srv, root, first, second):
    """Both uploads are in flight; `first` finishes, then `second`: second's content wins."""
    n = 700 * 1024
    bodies = {"A": os.urandom(n), "B": os.urandom(n + 1)}
    socks = {k: srv.connect(timeout=10) for k in bodies}
    try:
        for k, s in socks.items():
            s.sendall(b"PUT same %d\n" % len(bodies[k]) + bodies[k][:-1])
        harness.wait_for(lambda: len(tmp_with_bytes(root, 512 * 1024)) == 2, 5)
        replies = {}
        for k in (first, second):
            socks[k].sendall(bodies[k][-1:])
            replies[k] = harness.read_line(socks[k])
        want = {k: b"OK %d %s\n" % (len(b), hashlib.sha256(b).hexdigest().encode())
                for k, b in bodies.items()}
        tap.ok(replies == want, "%s then %s: both uploads OK" % (first, second), replies)
        tap.ok(content(root, "same") == bodies[second],
               "%s completes last: the file is exactly %s's content" % (second, second))
        tap.ok(harness.tmp_files(root) == [], "%s then %s: no temporary file left" % (first, second))
    finally:
        for s in socks.values():
            s.close()


def racing_uploads(tap, srv, root):
    """Two uploads sent flat out at once: the result is exactly one of them."""
    bodies = [os.urandom(3 << 20), os.urandom(3 << 20)]
    replies = [None, None]

    def up(i):
        with srv.connect(timeout=20) as s:
            replies[i] = harness.file_put(s, "race", bodies[i])
    ts = [threading.Thread(target=up, args=(i,)) for i in range(2)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(30)
    tap.ok(all(r and r.startswith(b"OK ") for r in replies), "racing uploads: both OK", replies)
    tap.ok(content(root, "race") in bodies, "racing uploads: the file is exactly one of them")
    tap.ok(harness.tmp_files(root) == [], "racing uploads: no temporary file left")
    os.unlink(os.path.join(root, "race"))


def reader_during_uploads(tap, srv, root):
    old, new = os.urandom(1 << 20), os.urandom((3 << 19) + 7)
    good = {hashlib.sha256(old).digest(): len(old), hashlib.sha256(new).digest(): len(new)}
    with srv.connect() as s:
        harness.file_put(s, "hot", old)
    stop = threading.Event()
    seen = {"gets": 0, "bad": [], "kinds": set()}

    def reader():
        try:
            with srv.connect(timeout=10) as s:
                while not stop.is_set():
                    line, body = harness.file_get(s, "hot")
                    seen["gets"] += 1
                    d = hashlib.sha256(body or b"").digest()
                    if body is None or d not in good or good[d] != len(body) or \
                            line != b"OK %d\n" % len(body):
                        seen["bad"].append("%r + %s bytes" % (line, None if body is None else len(body)))
                    else:
                        seen["kinds"].add(len(body))
        except Exception as e:  # noqa: BLE001 - reported below
            seen["bad"].append(repr(e))
    t = threading.Thread(target=reader)
    t.start()
    puts_ok = 0
    try:
        with srv.connect(timeout=10) as s:
            deadline = time.monotonic() + 3.0
            i = 0
            while time.monotonic() < deadline and i < 60:
                body = new if i % 2 == 0 else old
                if harness.file_put(s, "hot", body).startswith(b"OK "):
                    puts_ok += 1
                i += 1
    finally:
        time.sleep(0.1)
        stop.set()
        t.join(20)
    tap.diag("reader: %d GETs during %d uploads" % (seen["gets"], puts_ok))
    tap.ok(puts_ok >= 3 and seen["gets"] >= 3, "reader/writer: both made progress",
           "%d uploads, %d GETs" % (puts_ok, seen["gets"]))
    tap.ok(seen["kinds"] == {len(old), len(new)}, "reader/writer: the reader saw both versions",
           seen["kinds"])
    tap.ok(not seen["bad"], "reader/writer: every GET returned the whole old or whole new file",
           "\n".join(seen["bad"][:5]))
    tap.ok(harness.tmp_files(root) == [], "reader/writer: no temporary file left")
    os.unlink(os.path.join(root, "hot"))


def main():
    args = harness.parse_args()
    tap = harness.Tap()
    root = tempfile.mkdtemp(prefix="ringlab-file-atomic-")
    try:
        with harness.Server("file", engine=args.engine, args=["--root", root]) as srv:
            for how in ("FIN", "RST"):
                harness.guard(tap, "disconnect " + how, disconnect_mid_upload, tap, srv, root, how)
            harness.guard(tap, "A then B", last_completed_wins, tap, srv, root, "A", "B")
            harness.guard(tap, "B then A", last_completed_wins, tap, srv, root, "B", "A")
            harness.guard(tap, "racing", racing_uploads, tap, srv, root)
            harness.guard(tap, "reader", reader_during_uploads, tap, srv, root)
            tap.ok(srv.alive(), "server still running")
            rc, err = srv.stop()
            tap.ok(rc == 0, "SIGTERM: exit status 0", err)
        if os.path.exists(os.path.join(root, "same")):
            os.unlink(os.path.join(root, "same"))
        harness.guard(tap, "killed server", killed_server, tap, args.engine, root)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return tap.done()


if __name__ == "__main__":
    sys.exit(main())
