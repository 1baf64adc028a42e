#!/usr/bin/env python3
"""chat: each newline-terminated line a client sends goes to every other client as
"<id> text\\n" (to the sender too with --echo-self).

Checks, per engine: fan-out to the others with a stable, positive, per-client id and
nothing back to the sender; --echo-self; a line split over several TCP segments arrives
once and whole; several lines in one segment; "\\r\\n" stripped to "\\n"; --max-line
(a longer line gets "ERR line too long" then EOF, the others carry on; a line of exactly
the limit passes, also at the largest limit, 1 MiB); 50 clients x 20 lines, every line exactly once and in per-sender
order; --threads 2 refused on uring/epoll (exit 2, one stderr line) and working on
blocking.  The slow-consumer case lives in test_chat_slow.py."""
import os
import re
import selectors
import socket
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

LINE_RE = re.compile(rb"^([1-9][0-9]*) (.*)$", re.S)


class Peer:
    """A chat client: a socket plus a line buffer."""

    def __init__(self, srv, name, rcvbuf=None, timeout=10.0):
        self.name = name
        self.sock = socket.socket(srv.family, socket.SOCK_STREAM)
        if rcvbuf:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.settimeout(timeout)
        self.sock.connect(srv.addr)
        if srv.family != socket.AF_UNIX:
            self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = bytearray()
        self.eof = False

    def send(self, data):
        self.sock.sendall(data)

    def say(self, text):
        self.sock.sendall(text + b"\n")

    def readline(self, timeout=5.0):
        """Returns the next line without its "\\n"; raises socket.timeout, or EOFError at
        EOF (the partial rest, if any, stays in .buf)."""
        deadline = time.monotonic() + timeout
        while True:
            i = self.buf.find(b"\n")
            if i >= 0:
                line = bytes(self.buf[:i])
                del self.buf[:i + 1]
                return line
            if self.eof:
                raise EOFError
            left = deadline - time.monotonic()
            if left <= 0:
                raise socket.timeout("no line within %.1fs (have %r)" % (timeout, bytes(self.buf[:80])))
            self.sock.settimeout(left)
            chunk = self.sock.recv(65536)
            if not chunk:
                self.eof = True
            self.buf += chunk

    def quiet(self, wait=0.3):
        """True when nothing at all arrives within `wait` seconds (and not at EOF)."""
        if self.buf or self.eof:
            return False
        self.sock.settimeout(wait)
        try:
            chunk = self.sock.recv(65536)
        except socket.timeout:
            return True
        if not chunk:
            self.eof = True
        self.buf += chunk
        return False

    def close(self):
        self.sock.close()


def parse(line):
    """(id, text) of a chat line, or None when it is not "<positive id> text"."""
    m = LINE_RE.match(line)
    return (int(m.group(1)), m.group(2)) if m else None


def join(srv, peers, name, **kw):
    """Connects a new client and returns once it and every earlier client are in the room
    (the server adds a client when it gets to it, so a connect() that returned proves
    nothing): the newcomer repeats a hello line until every earlier client has one, then
    sends a sync line, and every earlier client reads up to it, so nothing of the join is
    left unread.  Returns the new Peer, appended to `peers`."""
    p = Peer(srv, name, **kw)
    if peers:
        hello = b"hello from " + name.encode()
        pending = set(range(len(peers)))
        deadline = time.monotonic() + 15
        k = 0
        while pending:
            if time.monotonic() > deadline:
                raise AssertionError("%s's hello never reached %r" % (name, [peers[i].name for i in pending]))
            p.say(hello + b" #%d" % k)
            k += 1
            until = time.monotonic() + 0.2
            for i in sorted(pending):
                try:
                    line = peers[i].readline(max(0.01, until - time.monotonic()))
                except socket.timeout:
                    continue
                got = parse(line)
                if not got or not got[1].startswith(hello + b" #"):
                    raise AssertionError("%s expected %r, got %r" % (peers[i].name, hello, line))
                pending.discard(i)
        sync = b"synced " + name.encode()
        p.say(sync)
        for q in peers:
            while True:
                line = q.readline(10)
                got = parse(line)
                if got and got[1] == sync:
                    break
                if not got or not got[1].startswith(hello + b" #"):
                    raise AssertionError("%s expected %r, got %r" % (q.name, sync, line))
    peers.append(p)
    return p


def skip(tap, name, reason):
    tap.n += 1
    print("ok %d - %s # SKIP %s" % (tap.n, name, reason), flush=True)


def stop_ok(tap, srv, what):
    rc, err = srv.stop()
    tap.ok(rc == 0, "%s: SIGTERM -> exit status 0" % what, "rc %r, stderr:\n%s" % (rc, err))
    return harness.parse_counters(err)


def basic(tap, engine):
    with harness.Server("chat", engine) as srv:
        peers = []
        a = join(srv, peers, "A")
        b = join(srv, peers, "B")
        c = join(srv, peers, "C")

        a.say(b"hello room")
        lb, lc = b.readline(), c.readline()
        pb, pc = parse(lb), parse(lc)
        tap.ok(pb is not None and pb[1] == b"hello room" and pc is not None and pc == pb,
               "a line from A reaches B and C as '<id> hello room' with a positive integer id",
               "B got %r, C got %r" % (lb, lc))
        tap.ok(a.quiet(0.3), "A does not get its own line back", "A got %r" % bytes(a.buf))

        ids = set()
        for i in range(3):
            a.say(b"line %d" % i)
        for i in range(3):
            for q in (b, c):
                got = parse(q.readline())
                ids.add(got[0] if got and got[1] == b"line %d" % i else None)
        tap.ok(len(ids) == 1 and None not in ids and pb and ids == {pb[0]},
               "all of A's lines carry the same id, in order", "ids %r" % ids)

        b.say(b"from B")
        la, lc2 = parse(a.readline()), parse(c.readline())
        c.say(b"from C")
        la2, lb2 = parse(a.readline()), parse(b.readline())
        tap.ok(la and lc2 and la2 and lb2 and la == lc2 and la2 == lb2 and la[1] == b"from B"
               and la2[1] == b"from C" and pb and len({pb[0], la[0], la2[0]}) == 3,
               "B's and C's lines reach the others, each client with its own id",
               "A's id %r, B's %r, C's %r" % (pb and pb[0], la, la2))
        tap.ok(b.quiet(0.2) and c.quiet(0.05), "nobody gets their own line back")

        # A line split over several TCP segments arrives once, whole.
        for piece in (b"spl", b"it ov", b"er seg", b"ments\n"):
            a.send(piece)
            time.sleep(0.05)
        lb, lc = b.readline(), c.readline()
        tap.ok(parse(lb) == (pb[0], b"split over segments") and lc == lb and b.quiet(0.3) and c.quiet(0.05),
               "a line sent in 4 pieces (with pauses) is delivered once, whole",
               "B got %r (+%r), C got %r" % (lb, bytes(b.buf), lc))

        # Several lines in one segment: each delivered separately, in order.
        a.send(b"one\ntwo\nthree\n")
        got = [parse(b.readline()) for _ in range(3)]
        tap.ok(got == [(pb[0], b"one"), (pb[0], b"two"), (pb[0], b"three")],
               "three lines in one write arrive as three lines, in order", "got %r" % got)
        for _ in range(3):
            c.readline()

        # "\r\n" endings are stripped to "\n"; a "\r" inside the line is kept.
        a.send(b"crlf line\r\n")
        a.send(b"a\rb\r\n")
        a.send(b"\r\n")
        got = [b.readline() for _ in range(3)]
        want = [b"%d crlf line" % pb[0], b"%d a\rb" % pb[0], b"%d " % pb[0]]
        tap.ok(got == want, "'\\r\\n' endings are stripped: 'crlf line\\r\\n' -> '<id> crlf line\\n'",
               "got %r, want %r" % (got, want))
        for _ in range(3):
            c.readline()

        # An empty line is still a line.
        a.say(b"")
        got = b.readline()
        tap.ok(got == b"%d " % pb[0], "an empty line is delivered as '<id> \\n'", "got %r" % got)
        c.readline()

        # A partial line is held until its newline.
        a.send(b"no newline yet")
        tap.ok(b.quiet(0.3), "a line without its newline is not delivered yet", "B got %r" % bytes(b.buf))
        a.say(b" ... now")
        got = b.readline()
        tap.ok(got == b"%d no newline yet ... now" % pb[0], "it is delivered whole once the newline comes",
               "got %r" % got)
        c.readline()

        # A line sent right before closing is still delivered; a partial one is not.
        a.send(b"last words\npartial")
        a.close()
        got = b.readline()
        tap.ok(got == b"%d last words" % pb[0] and b.quiet(0.3),
               "a line sent just before the sender closes is delivered; its unterminated rest is not",
               "got %r, then %r" % (got, bytes(b.buf)))
        c.readline()

        # A has left; B and C carry on.
        time.sleep(0.1)
        b.say(b"after A left")
        got = parse(c.readline())
        tap.ok(got and got[1] == b"after A left", "after A disconnects, B and C keep chatting",
               "C got %r" % (got,))
        for p in peers:
            p.close()
        stop_ok(tap, srv, "basic")


def echo_self(tap, engine):
    with harness.Server("chat", engine, args=["--echo-self"]) as srv:
        a = Peer(srv, "A")
        a.say(b"self 0")
        first = parse(a.readline())  # proves A is in the room
        peers = [a]
        b = Peer(srv, "B")
        b.say(b"hello from B")
        hb = parse(b.readline())
        ha = parse(a.readline())
        peers.append(b)
        a.say(b"echo me")
        ga, gb = parse(a.readline()), parse(b.readline())
        tap.ok(first and first[1] == b"self 0" and ga and ga == gb and ga == (first[0], b"echo me"),
               "--echo-self: the sender gets its own line as '<own id> text', like the others",
               "A got %r, B got %r, A's first %r" % (ga, gb, first))
        tap.ok(hb and ha and hb == ha and hb[0] != first[0],
               "--echo-self: each client's lines carry its own id", "B's line: %r / %r" % (hb, ha))
        tap.ok(a.quiet(0.2) and b.quiet(0.05), "--echo-self: each line delivered once to each client")
        for p in peers:
            p.close()
        stop_ok(tap, srv, "--echo-self")


def max_line(tap, engine):
    with harness.Server("chat", engine, args=["--max-line", "100"]) as srv:
        peers = []
        a = join(srv, peers, "A")
        b = join(srv, peers, "B")
        c = join(srv, peers, "C")

        exact = b"x" * 100
        a.say(exact)
        gb, gc = parse(b.readline()), parse(c.readline())
        tap.ok(gb and gb[1] == exact and gc == gb, "--max-line 100: a line of exactly 100 bytes is delivered",
               "B got %r" % (gb,))

        a.say(b"y" * 150)
        err = eof = None
        try:
            err = a.readline(5)
            try:
                extra = a.readline(5)
                eof = "got another line %r" % extra
            except EOFError:
                eof = True if not a.buf else "EOF after %r" % bytes(a.buf)
        except (OSError, EOFError) as e:
            err = err or repr(e)
            eof = repr(e)
        tap.ok(isinstance(err, bytes) and err.startswith(b"ERR line too long"),
               "a 150-byte line with --max-line 100 gets a line starting 'ERR line too long'",
               "got %r" % (err,))
        tap.ok(eof is True, "... and then EOF", "got %r" % (eof,))
        tap.ok(b.quiet(0.3) and c.quiet(0.05), "the too-long line reaches nobody",
               "B has %r" % bytes(b.buf[:120]))

        b.say(b"still chatting")
        gc = parse(c.readline())
        c.say(b"yes")
        gb = parse(b.readline())
        tap.ok(gc and gc[1] == b"still chatting" and gb and gb[1] == b"yes",
               "the others keep chatting after the long-line client is cut off",
               "C got %r, B got %r" % (gc, gb))

        # Without a newline at all: more than --max-line bytes pending is too long too.
        d = join(srv, peers[1:], "D")
        d.send(b"z" * 300)
        try:
            err = d.readline(5)
        except (OSError, EOFError) as e:
            err = repr(e)
        tap.ok(isinstance(err, bytes) and err.startswith(b"ERR line too long"),
               "300 bytes without a newline (--max-line 100) also get 'ERR line too long'",
               "got %r" % (err,))
        tap.ok(b.quiet(0.3) and c.quiet(0.05), "none of the unterminated long input reaches anybody",
               "B has %r" % bytes(b.buf[:120]))
        for p in peers:
            p.close()
        stop_ok(tap, srv, "--max-line")


def max_line_1mib(tap, engine):
    """--max-line at its largest (1 MiB): a line of exactly 1 MiB is still a line."""
    size = 1 << 20
    with harness.Server("chat", engine, args=["--max-line", "1MiB"]) as srv:
        peers = []
        a = join(srv, peers, "A")
        b = join(srv, peers, "B", timeout=20)
        res = {}

        def reader():
            try:
                res["line"] = b.readline(6)
            except Exception as e:  # noqa: BLE001 - reported below
                res["line"] = repr(e)
        t = threading.Thread(target=reader)
        t.start()
        a.send(b"x" * size + b"\n")
        t.join(20)
        got = res.get("line")
        tap.ok(isinstance(got, bytes) and parse(got) is not None and parse(got)[1] == b"x" * size,
               "--max-line 1MiB: a line of exactly 1 MiB is delivered whole",
               "B got %s" % (("%d bytes: %r..." % (len(got), got[:20])) if isinstance(got, bytes) else got))
        try:
            a.say(b"after the big one")
            got = parse(b.readline(2))
        except (OSError, EOFError) as e:
            got = repr(e)
        tap.ok(isinstance(got, tuple) and got[1] == b"after the big one",
               "--max-line 1MiB: the sender of a 1 MiB line stays connected", "got %r" % (got,))
        # Over the limit: the error line, not a silent drop.
        c = join(srv, peers[1:], "C", timeout=20)

        def sender():
            try:
                c.send(b"y" * (size + 4096) + b"\n")
            except OSError:
                pass
        t = threading.Thread(target=sender)
        t.start()
        try:
            err = c.readline(10)
        except (OSError, EOFError) as e:
            err = repr(e)
        t.join(10)
        tap.ok(isinstance(err, bytes) and err.startswith(b"ERR line too long"),
               "--max-line 1MiB: a 1 MiB + 4 KiB line gets 'ERR line too long'", "got %r" % (err,))
        for p in peers + [c]:
            p.close()
        stop_ok(tap, srv, "--max-line 1MiB")


def many(tap, engine):
    n, per = 50, 20
    with harness.Server("chat", engine) as srv:
        peers = []
        for i in range(n):
            join(srv, peers, "c%d" % i, timeout=20)
        # Every client sends its 20 lines at once; everyone reads concurrently.
        msgs = [[b"c%d m%d %s" % (i, j, b"." * ((i * 7 + j * 13) % 60)) for j in range(per)]
                for i in range(n)]
        sel = selectors.DefaultSelector()
        out = []
        for i, p in enumerate(peers):
            p.sock.setblocking(False)
            out.append(bytearray(b"".join(m + b"\n" for m in msgs[i])))
            sel.register(p.sock, selectors.EVENT_READ | selectors.EVENT_WRITE, i)
        recv = [bytearray() for _ in range(n)]
        expect_lines = (n - 1) * per
        counts = [0] * n
        deadline = time.monotonic() + 25
        errors = []
        while time.monotonic() < deadline and (any(out) or any(c < expect_lines for c in counts)):
            for key, ev in sel.select(0.5):
                i = key.data
                s = peers[i].sock
                try:
                    if ev & selectors.EVENT_WRITE and out[i]:
                        k = s.send(out[i])
                        del out[i][:k]
                        if not out[i]:
                            sel.modify(s, selectors.EVENT_READ, i)
                    if ev & selectors.EVENT_READ:
                        chunk = s.recv(65536)
                        if not chunk:
                            errors.append((i, "EOF"))
                            sel.unregister(s)
                            continue
                        recv[i] += chunk
                        counts[i] += chunk.count(b"\n")
                except (BlockingIOError, InterruptedError):
                    pass
                except OSError as e:
                    errors.append((i, repr(e)))
                    sel.unregister(s)
        sel.close()
        time.sleep(0.2)
        for i, p in enumerate(peers):  # anything late or extra
            try:
                while True:
                    chunk = p.sock.recv(65536)
                    if not chunk:
                        break
                    recv[i] += chunk
            except (BlockingIOError, InterruptedError):
                pass
        problems = list(errors)
        ids = {}
        for i in range(n):
            lines = bytes(recv[i]).split(b"\n")
            if lines[-1] != b"":
                problems.append((i, "partial trailing line %r" % lines[-1][:40]))
            by_sender = {}
            for ln in lines[:-1]:
                got = parse(ln)
                if not got:
                    problems.append((i, "bad line %r" % ln[:40]))
                    continue
                sender = int(got[1].split(b" ", 1)[0][1:])
                by_sender.setdefault(sender, []).append(got[1])
                if ids.setdefault(sender, got[0]) != got[0]:
                    problems.append((i, "sender c%d seen with ids %d and %d" % (sender, ids[sender], got[0])))
            if i in by_sender:
                problems.append((i, "got %d of its own lines" % len(by_sender[i])))
            for j in range(n):
                if j != i and by_sender.get(j) != msgs[j]:
                    problems.append((i, "from c%d: %d lines, in order: %s" % (
                        j, len(by_sender.get(j, [])), by_sender.get(j) == sorted(by_sender.get(j, []), key=lambda m: int(m.split(b" ")[1][1:])))))
            if len(problems) > 20:
                break
        tap.ok(not problems,
               "%d clients x %d lines: each client gets every other client's lines exactly once, "
               "in per-sender order, and none of its own" % (n, per),
               "\n".join("client %d: %s" % p for p in problems[:20]))
        tap.ok(len(ids) == n and len(set(ids.values())) == n,
               "%d clients: %d distinct positive ids, one per client" % (n, n),
               "%d senders seen, %d distinct ids" % (len(ids), len(set(ids.values()))))
        for p in peers:
            p.close()
        stop_ok(tap, srv, "50 clients")


def threads(tap, engine):
    if engine in ("uring", "epoll"):
        p = subprocess.run([harness.SERVER, "chat", "--engine", engine, "--threads", "2",
                            "--listen", "127.0.0.1:0"], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True, timeout=10)
        tap.ok(p.returncode == 2 and "listening on" not in p.stdout,
               "--threads 2 with --engine %s is refused with exit status 2" % engine,
               "rc %r, stdout %r" % (p.returncode, p.stdout))
        lines = p.stderr.splitlines()
        tap.ok(len(lines) == 1 and "threads" in lines[0],
               "--threads 2 refusal: exactly one line on stderr, naming --threads", "stderr %r" % p.stderr)
        skip(tap, "--threads 2 blocking chat: exit 0 on SIGTERM", "blocking engine only")
        return
    with harness.Server("chat", engine, args=["--threads", "2"]) as srv:
        peers = []
        join(srv, peers, "A")
        b = join(srv, peers, "B")
        c = join(srv, peers, "C")
        tap.ok(True, "--threads 2 with --engine blocking starts and clients join the room")
        b.say(b"two threads")
        got = parse(c.readline())
        tap.ok(got and got[1] == b"two threads", "--threads 2 with --engine blocking: lines are delivered",
               "got %r" % (got,))
        for p in peers:
            p.close()
        stop_ok(tap, srv, "--threads 2 blocking chat")


def main():
    args = harness.parse_args()
    tap = harness.Tap()
    for fn in (basic, echo_self, max_line, max_line_1mib, many, threads):
        harness.guard(tap, fn.__name__, fn, tap, args.engine)
    return tap.done()


if __name__ == "__main__":
    sys.exit(main())
