#!/usr/bin/env python3
"""File server confinement: every unsafe name (../x, /etc/passwd, a/b, ., .., empty, NUL
inside, 300 bytes, control bytes, leading dot) gets an ERR (403; 400 is accepted for the
empty name) for GET, PUT and DEL, and nothing changes on disk, inside or outside the root.
The body of a rejected PUT is skipped, never run as commands.  A symlink planted in the
root that points outside cannot be read through (ERR 403) nor written through (the
outside file stays unchanged), and a symlinked directory cannot be used to escape.  A PUT
over a directory fails at the rename (ERR 403) and leaves no temporary file."""
import hashlib
import os
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402


def snapshot(top):
    """{relative path: (kind, content or link target)} of everything under `top`."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(top):
        for n in dirnames + filenames:
            p = os.path.join(dirpath, n)
            rel = os.path.relpath(p, top)
            if os.path.islink(p):
                out[rel] = ("link", os.readlink(p))
            elif os.path.isdir(p):
                out[rel] = ("dir", None)
            else:
                with open(p, "rb") as f:
                    out[rel] = ("file", hashlib.sha256(f.read()).hexdigest())
    return out


UNSAFE = [
    ("../x", b"../x"),
    ("/etc/passwd", b"/etc/passwd"),
    ("a/b", b"a/b"),
    (".", b"."),
    ("..", b".."),
    ("leading dot", b".hidden"),
    ("NUL inside", b"ok\x00name"),
    ("300-byte name", b"n" * 300),
    ("control byte 0x01", b"bad\x01name"),
    ("escape sequence", b"bad\x1b[2Jname"),
    ("tab", b"bad\tname"),
    ("DEL byte 0x7f", b"bad\x7fname"),
    ("carriage return inside", b"bad\rname"),
    ("symlinked dir component", b"dirlink/secret"),
    ("subdirectory component", b"sub/inner"),
]


def expect_err(tap, s, what, allow_400=False):
    try:
        line = harness.read_line(s)
    except OSError as e:
        line = ("no reply: %r" % e).encode()
    ok = line.startswith(b"ERR 403 ") or (allow_400 and line.startswith(b"ERR 400 "))
    tap.ok(ok, what, repr(line))
    return ok


def unsafe_names(tap, srv, top, root):
    # The same connection is used throughout: every rejection must leave it usable.
    with srv.connect(timeout=5) as s:
        for label, name in UNSAFE:
            before = snapshot(top)
            s.sendall(b"GET " + name + b"\n")
            expect_err(tap, s, "GET %s -> ERR 403" % label)
            s.sendall(b"DEL " + name + b"\n")
            expect_err(tap, s, "DEL %s -> ERR 403" % label)
            # PUT on its own connection, so a body taken for commands cannot shift the
            # replies of the other cases.
            with srv.connect(timeout=5) as p:
                body = b"pwned by %s\n" % label.encode()
                p.sendall(b"PUT %s %d\n" % (name, len(body)) + body)
                expect_err(tap, p, "PUT %s -> ERR 403" % label)
                # The body "pwned ...\n", had it been run as a command, would answer
                # ERR 400 before this LIST's reply.
                p.sendall(b"LIST\n")
                try:
                    line = harness.read_line(p)
                except OSError as e:
                    line = ("no reply: %r" % e).encode()
                tap.ok(line.startswith(b"OK "),
                       "PUT %s: its body is skipped, the next command is answered" % label,
                       repr(line))
            tap.ok(snapshot(top) == before, "%s: nothing changed on disk" % label)
        # The empty name: "GET \n" is malformed (empty word); 403 or 400 are both fine.
        before = snapshot(top)
        for cmd in (b"GET \n", b"DEL \n", b"PUT  0\n"):
            s.sendall(cmd)
            expect_err(tap, s, "%r (empty name) -> an ERR" % cmd, allow_400=True)
        tap.ok(snapshot(top) == before, "empty name: nothing changed on disk")
        # Positive control: ordinary and UTF-8 names are accepted.
        for name in (b"plain-name_1.txt", "h\u00e9llo-\u4e16\u754c.txt".encode()):
            line = harness.file_put(s, name, b"fine")
            tap.ok(line.startswith(b"OK 4 "), "PUT %r is allowed" % name, repr(line))
            line, body = harness.file_get(s, name)
            tap.ok(body == b"fine", "GET %r returns it" % name, repr(line))
            s.sendall(b"DEL " + name + b"\n")
            tap.ok(harness.read_line(s) == b"OK\n", "DEL %r -> OK" % name)


def rejected_put_body_not_run(tap, srv, root):
    """A rejected PUT's body must not be taken for commands: here it says DEL keep."""
    with open(os.path.join(root, "keep"), "wb") as f:
        f.write(b"precious")
    body = b"DEL keep\n"
    with srv.connect(timeout=5) as s:
        s.sendall(b"PUT ../x %d\n" % len(body))
        expect_err(tap, s, "PUT ../x (body sent later) -> ERR 403")
        s.sendall(body)
        s.sendall(b"GET keep\n")
        try:
            line = harness.read_line(s)
        except OSError as e:
            line = ("no reply: %r" % e).encode()
        tap.ok(line == b"OK 8\n", "the next reply after the skipped body answers GET keep",
               "got %r (an 'OK' here is the body's DEL being run)" % line)
    tap.ok(os.path.exists(os.path.join(root, "keep")),
           "a rejected PUT's body 'DEL keep' was not run: keep still exists")
    try:
        os.unlink(os.path.join(root, "keep"))
    except OSError:
        pass


def symlinks(tap, srv, top, root, outside):
    secret = os.path.join(outside, "secret")
    with srv.connect(timeout=5) as s:
        line, body = harness.file_get(s, "link")
        tap.ok(line.startswith(b"ERR 403 ") and body is None,
               "GET of a symlink pointing outside -> ERR 403", repr(line))
        line, body = harness.file_get(s, "dirlink")
        tap.ok(line.startswith(b"ERR 403 "), "GET of a symlinked directory -> ERR 403", repr(line))
        line, body = harness.file_get(s, "inlink")
        tap.ok(line.startswith(b"ERR 403 "), "GET of a symlink to a file inside root -> ERR 403",
               repr(line))
        line, body = harness.file_get(s, "sub")
        tap.ok(line.startswith(b"ERR 403 "), "GET of a directory -> ERR 403", repr(line))
        # LIST shows regular files only.
        s.sendall(b"LIST\n")
        head = harness.read_line(s)
        n = int(head[3:-1]) if head.startswith(b"OK ") and head[3:-1].isdigit() else -1
        entries = [harness.read_line(s) for _ in range(max(n, 0))]
        tap.ok(entries == [b"6 target\n"], "LIST shows the regular file only, no links or dirs",
               "%r %r" % (head, entries))

        # PUT to the link's name: must not write through it.
        line = harness.file_put(s, "link", b"overwritten")
        with open(secret, "rb") as f:
            tap.ok(f.read() == b"secret", "PUT link: the file outside root is untouched")
        p = os.path.join(root, "link")
        if line.startswith(b"OK "):
            # renameat replaced the link itself: acceptable, as long as it is now a plain file.
            tap.ok(not os.path.islink(p) and open(p, "rb").read() == b"overwritten",
                   "PUT link -> OK replaced the link itself with a regular file", repr(line))
        else:
            tap.ok(line.startswith(b"ERR 403 ") and os.readlink(p) == secret,
                   "PUT link -> ERR 403 and the link is unchanged", repr(line))
        line = harness.file_put(s, "dirlink", b"overwritten")
        tap.ok(sorted(os.listdir(outside)) == ["secret"],
               "PUT dirlink: nothing created in the directory outside root", os.listdir(outside))
        line = harness.file_put(s, "inlink", b"changed")
        with open(os.path.join(root, "target"), "rb") as f:
            tap.ok(f.read() == b"target", "PUT inlink: the link's target inside root is untouched")
        s.sendall(b"DEL sub\n")
        line = harness.read_line(s)
        tap.ok(line.startswith(b"ERR 403 ") and os.path.isdir(os.path.join(root, "sub")),
               "DEL of a directory -> ERR 403 and it stays", repr(line))
        # PUT over a directory: the body is stored, then the rename fails (EISDIR), so the
        # temporary file is unlinked straight away (no close step) and the failure reported.
        line = harness.file_put(s, "sub", b"over a dir")
        tap.ok(line.startswith(b"ERR 403 ") and os.path.isdir(os.path.join(root, "sub")),
               "PUT over a directory -> ERR 403 and it stays", repr(line))
        tap.ok(harness.tmp_files(root) == [], "PUT over a directory: no temporary file left",
               harness.tmp_files(root))
        line, body = harness.file_get(s, "target")
        tap.ok(body == b"target", "PUT over a directory: the connection keeps working", repr(line))
    with open(secret, "rb") as f:
        tap.ok(f.read() == b"secret", "the outside file is unchanged at the end")
    tap.ok(sorted(os.listdir(os.path.join(top))) == sorted(["root", "outside", "x"]),
           "nothing was created next to root", os.listdir(top))


def main():
    args = harness.parse_args()
    tap = harness.Tap()
    top = tempfile.mkdtemp(prefix="ringlab-file-names-")
    root = os.path.join(top, "root")
    outside = os.path.join(top, "outside")
    try:
        os.mkdir(root)
        os.mkdir(outside)
        with open(os.path.join(outside, "secret"), "wb") as f:
            f.write(b"secret")
        with open(os.path.join(top, "x"), "wb") as f:  # what ../x would reach
            f.write(b"next to root")
        with open(os.path.join(root, "target"), "wb") as f:
            f.write(b"target")
        os.symlink(os.path.join(outside, "secret"), os.path.join(root, "link"))
        os.symlink(outside, os.path.join(root, "dirlink"))
        os.symlink("target", os.path.join(root, "inlink"))
        os.mkdir(os.path.join(root, "sub"))
        with harness.Server("file", engine=args.engine, args=["--root", root]) as srv:
            harness.guard(tap, "unsafe names", unsafe_names, tap, srv, top, root)
            harness.guard(tap, "rejected PUT body", rejected_put_body_not_run, tap, srv, root)
            harness.guard(tap, "symlinks", symlinks, tap, srv, top, root, outside)
            tap.ok(srv.alive(), "server still running")
            rc, err = srv.stop()
            tap.ok(rc == 0, "SIGTERM: exit status 0", err)
    finally:
        shutil.rmtree(top, ignore_errors=True)
    return tap.done()


if __name__ == "__main__":
    sys.exit(main())
