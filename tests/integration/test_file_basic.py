#!/usr/bin/env python3
"""File server basics: round trips of 0 B, 1 B, 1 MiB and 100 MiB with matching sha256
(PUT reply, GET bytes and the file on disk); several commands one after another on one
connection (PUT, GET, LIST, DEL, GET after DEL -> 404); a pipelined batch written at
once is answered in order, including batches with LIST and error replies in the middle."""
import hashlib
import os
import shutil
import sys
import tempfile
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

E404 = b"ERR 404 "


def sha(data):
    return hashlib.sha256(data).hexdigest().encode()


def put_reply(data):
    return b"OK %d %s\n" % (len(data), sha(data))


def on_disk(root, name):
    try:
        with open(os.path.join(root, name), "rb") as f:
            return f.read()
    except OSError as e:
        return "unreadable: %s" % e


def round_trip(tap, srv, root, label, data):
    name = "rt-%s.bin" % label
    with srv.connect(timeout=30) as s:
        if len(data) > (8 << 20):
            # Send from a thread while this one reads the reply, so neither side can
            # block the other on full socket buffers.
            err = []

            def send():
                try:
                    s.sendall(b"PUT %s %d\n" % (name.encode(), len(data)) + data)
                except OSError as e:
                    err.append(e)
            t = threading.Thread(target=send)
            t.start()
            line = harness.read_line(s)
            t.join(30)
            tap.ok(not err, "%s: upload sent without a socket error" % label, err)
        else:
            line = harness.file_put(s, name, data)
        tap.ok(line == put_reply(data), "%s: PUT reply is OK <size> <sha256> matching hashlib" % label,
               "got %r, want %r" % (line[:200], put_reply(data)))
        tap.ok(on_disk(root, name) == data, "%s: the stored file is byte-identical" % label)
        line, body = harness.file_get(s, name)
        tap.ok(line == b"OK %d\n" % len(data), "%s: GET reply is OK <size>" % label, repr(line[:200]))
        tap.ok(body is not None and len(body) == len(data) and sha(body) == sha(data),
               "%s: GET returns identical bytes" % label,
               "got %s bytes" % (None if body is None else len(body)))
        tap.ok(harness.tmp_files(root) == [], "%s: no temporary file left" % label,
               harness.tmp_files(root))
    os.unlink(os.path.join(root, name))


def sequence(tap, srv, root):
    """PUT, GET, LIST, DEL, GET, each after the previous reply, on one connection."""
    a, b = b"first file\n", os.urandom(70000)
    with srv.connect() as s:
        tap.ok(harness.file_put(s, "seq-a.txt", a) == put_reply(a), "sequence: PUT a -> OK")
        tap.ok(harness.file_put(s, "seq-b.bin", b) == put_reply(b), "sequence: PUT b -> OK")
        line, body = harness.file_get(s, "seq-a.txt")
        tap.ok(body == a, "sequence: GET a returns a", repr(line))
        s.sendall(b"LIST\n")
        head = harness.read_line(s)
        ok = head.startswith(b"OK ") and head[3:-1].isdigit()
        entries = [harness.read_line(s) for _ in range(int(head[3:-1]) if ok else 0)]
        tap.ok(ok and sorted(entries) == sorted([b"%d seq-a.txt\n" % len(a), b"%d seq-b.bin\n" % len(b)]),
               "sequence: LIST shows both files with their sizes (and no temp files)",
               "%r %r" % (head, entries))
        s.sendall(b"DEL seq-a.txt\n")
        tap.ok(harness.read_line(s) == b"OK\n", "sequence: DEL a -> OK")
        tap.ok(not os.path.exists(os.path.join(root, "seq-a.txt")), "sequence: DEL removed the file")
        line, body = harness.file_get(s, "seq-a.txt")
        tap.ok(line.startswith(E404), "sequence: GET after DEL -> ERR 404", repr(line))
        s.sendall(b"DEL seq-a.txt\n")
        line = harness.read_line(s)
        tap.ok(line.startswith(E404), "sequence: DEL of a missing file -> ERR 404", repr(line))
        line, body = harness.file_get(s, "seq-b.bin")
        tap.ok(body == b, "sequence: the connection still serves GET b after the errors", repr(line))
        os.unlink(os.path.join(root, "seq-b.bin"))


def read_replies(s, kinds):
    """Reads replies of the given kinds ('put', 'get', 'list', 'line') in order; a reply that
    does not arrive within the socket timeout ends the list early."""
    out = []
    try:
        for k in kinds:
            line = harness.read_line(s)
            if not line:
                out.append(b"<EOF>")
                return out
            if k == "get" and line.startswith(b"OK "):
                line += harness.recv_exact(s, int(line[3:-1]))
            elif k == "list" and line.startswith(b"OK "):
                for _ in range(int(line[3:-1])):
                    line += harness.read_line(s)
            out.append(line)
    except OSError as e:
        out.append(("no reply: %r" % e).encode())
    return out


def pipelined(tap, srv, root):
    # Only PUT/GET/DEL (commands that do file I/O) in one write.
    with srv.connect(timeout=5) as s:
        s.sendall(b"PUT p1 3\nabcPUT p2 2\nxyGET p1\nDEL p2\nGET p2\nGET p1\n")
        got = read_replies(s, ["put", "put", "get", "line", "line", "get"])
        want = [put_reply(b"abc"), put_reply(b"xy"), b"OK 3\nabc", b"OK\n", None, b"OK 3\nabc"]
        ok = len(got) == len(want) and all(
            g == w if w is not None else g.startswith(E404) for g, w in zip(got, want))
        tap.ok(ok, "pipelined PUT/PUT/GET/DEL/GET/GET in one write: all answered in order",
               "got %r" % got)
    # LIST in the middle of a batch.
    with srv.connect(timeout=5) as s:
        s.sendall(b"LIST\nGET p1\nLIST\n")
        got = read_replies(s, ["list", "get", "list"])
        want = [b"OK 1\n3 p1\n", b"OK 3\nabc", b"OK 1\n3 p1\n"]
        tap.ok(got == want, "pipelined LIST/GET/LIST in one write: all answered in order",
               "got %r" % got)
    # Error replies in the middle of a batch: the connection stays usable and in order.
    with srv.connect(timeout=5) as s:
        s.sendall(b"BOGUS\nGET .hidden\nGET p1\n")
        got = read_replies(s, ["line", "line", "get"])
        ok = (len(got) == 3 and got[0].startswith(b"ERR 400 ") and got[1].startswith(b"ERR 403 ")
              and got[2] == b"OK 3\nabc")
        tap.ok(ok, "pipelined BOGUS/GET .hidden/GET in one write: ERR 400, ERR 403, then the file",
               "got %r" % got)
    os.unlink(os.path.join(root, "p1"))


def main():
    args = harness.parse_args()
    tap = harness.Tap()
    root = tempfile.mkdtemp(prefix="ringlab-file-basic-")
    try:
        with harness.Server("file", engine=args.engine, args=["--root", root]) as srv:
            big = os.urandom(1 << 20)
            for label, data in [("0B", b""), ("1B", b"\x00"), ("1MiB", big),
                                ("100MiB", os.urandom(100 << 20))]:
                harness.guard(tap, label, round_trip, tap, srv, root, label, data)
            del big, data
            harness.guard(tap, "sequence", sequence, tap, srv, root)
            harness.guard(tap, "pipelined", pipelined, tap, srv, root)
            tap.ok(srv.alive(), "server still running after the tests")
            rc, err = srv.stop()
            tap.ok(rc == 0, "SIGTERM: exit status 0", err)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return tap.done()


if __name__ == "__main__":
    sys.exit(main())
