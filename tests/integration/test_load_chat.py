#!/usr/bin/env python3
"""ringlab-load chat against the real chat server on one engine: 50 clients in one room,
every line reaches every other client exactly once and in order (zero errors, deliveries =
49 x lines, but for the lines the window's edges cut), --rate kept (the schedule exactly,
the rate within 5% when the run kept up), the outputs carry lines/s, deliveries/s and
the fan-out latency; --senders 5 of 50 clients: the rate is shared by the five, every
line still reaches all 49 others, and the JSON names the senders.  Against a small Python
room: with --senders 2 only clients 0 and 1 send, a room that repeats one line is caught
(exit 1), and so is one that disconnects a listener (eof, then its sender's timeout).
--senders outside 1..--connections, or with another protocol, is bad usage (exit 2)."""
import json
import os
import selectors
import socket
import subprocess
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

run_load = harness.run_load
diag_of = harness.load_diag


class PyRoom:
    """A chat room in a thread: relays each line to every other member as '<id> line'.
    Records the client index (first word) of every data line in `talkers`; with
    `repeat_at` set, sends that data line twice; with `kick_at` set, disconnects the
    member that joined last after relaying that data line."""

    def __init__(self, repeat_at=None, kick_at=None):
        self.repeat_at = repeat_at
        self.kick_at = kick_at
        self.talkers = set()
        self.ls = socket.socket()
        self.ls.bind(("127.0.0.1", 0))
        self.ls.listen(16)
        self.ls.setblocking(False)
        self.port = self.ls.getsockname()[1]
        self.stop = threading.Event()
        self.t = threading.Thread(target=self.loop, daemon=True)
        self.t.start()

    def loop(self):
        sel = selectors.DefaultSelector()
        sel.register(self.ls, selectors.EVENT_READ)
        members, bufs, ids, n = [], {}, {}, 0
        while not self.stop.is_set():
            for key, _ in sel.select(0.1):
                s = key.fileobj
                if s is self.ls:
                    c, _ = self.ls.accept()
                    members.append(c)
                    bufs[c] = b""
                    ids[c] = len(ids) + 1
                    sel.register(c, selectors.EVENT_READ)
                    continue
                data = s.recv(65536)
                if not data:
                    sel.unregister(s)
                    members.remove(s)
                    continue
                bufs[s] += data
                while b"\n" in bufs[s]:
                    line, bufs[s] = bufs[s].split(b"\n", 1)
                    out = b"%d %s\n" % (ids[s], line)
                    if line != b"S":
                        n += 1
                        self.talkers.add(line.split(b" ", 1)[0])
                        if n == self.repeat_at:
                            out += out
                    for m in members:
                        if m is not s:
                            m.sendall(out)
                    if n == self.kick_at and line != b"S":
                        gone = members.pop()
                        sel.unregister(gone)
                        gone.close()
        for m in members:
            m.close()
        self.ls.close()

    def close(self):
        self.stop.set()
        self.t.join(5)


def check_fanout(tap, name, doc):
    """Every line reaches all the others: deliveries = others x lines, except for the lines
    the window's edges cut: a line unfinished when the window starts had up to others - 1 of
    its deliveries before it, one unfinished at its end up to others - 1 inside it.  How
    many lines that can be is known exactly (open loop: behind_at_start/_at_end; closed
    loop: at most --pipeline per sender), so the bound holds on any machine."""
    ch, p, t = doc["chat"], doc["parameters"], doc["totals"]
    others = p["connections"] - 1
    if p["mode"] == "open":
        before, after = t["behind_at_start"], t["behind_at_end"]
    else:
        before = after = p["senders"] * p["pipeline"]
    diff = ch["deliveries"] - others * ch["lines"]
    tap.ok(ch["lines"] > 0 and -(others - 1) * before <= diff <= (others - 1) * after,
           "%s: every line reaches all %d others: %d deliveries = %d x %d lines %+d, within "
           "the %d/%d lines cut by the window's start/end" % (
               name, others, ch["deliveries"], others, ch["lines"], diff, before, after),
           json.dumps([ch, t]))


def closed_loop(tap, engine):
    with harness.Server("chat", engine=engine) as srv:
        base = ["chat", "--target", srv.spec, "--quiet", "--warmup", "0.5"]
        rc, out, err, doc, secs = run_load(base + ["-c", "50", "-d", "2"])
        diag = diag_of(rc, out, err, secs)
        tap.ok(rc == 0, "50 clients, closed loop: exit status 0", diag)
        if tap.ok(doc is not None and "chat" in doc, "--json has chat", diag):
            ch = doc["chat"]
            tap.ok(doc["errors"]["total"] == 0 and doc["connections"]["reached"] == 50,
                   "zero errors, 50 clients", json.dumps(doc["errors"]))
            tap.ok(ch["lines"] > 100 and ch["lines_per_s"] > 0 and ch["deliveries_per_s"] > 0,
                   "%d lines (%.0f/s), %d deliveries (%.0f/s)" % (
                       ch["lines"], ch["lines_per_s"], ch["deliveries"],
                       ch["deliveries_per_s"]))
            check_fanout(tap, "closed loop", doc)
            tap.ok(doc["latency_us"]["corrected"]["count"] == ch["deliveries"],
                   "one fan-out latency sample per delivery")
            tap.ok(doc["parameters"].get("senders") == 50,
                   "without --senders all 50 clients send (parameters.senders 50)",
                   json.dumps(doc["parameters"]))


def open_loop(tap, engine):
    # A fresh room: lines an earlier run's clients sent just before they left may still be
    # relayed (the blocking engine reads them after the close), and would be foreign lines.
    with harness.Server("chat", engine=engine) as srv:
        base = ["chat", "--target", srv.spec, "--quiet", "--warmup", "0.5"]
        rc, out, err, doc, secs = run_load(base + ["-c", "20", "-d", "2", "--rate", "1000"])
        diag = diag_of(rc, out, err, secs)
        tap.ok(rc == 0, "--rate 1000 lines/s: exit status 0", diag)
        if doc:
            # The schedule of lines, every line accounted for, and the rate when the run
            # kept up at the window's edges.
            harness.check_schedule(tap, "--rate 1000 lines/s", doc, 1000, 20)
            tap.ok(doc["latency_us"]["uncorrected"]["count"] > 0, "open loop: uncorrected kept")


def some_senders(tap, engine):
    with harness.Server("chat", engine=engine) as srv:
        rc, out, err, doc, secs = run_load(["chat", "--target", srv.spec, "--warmup", "0.5",
                                            "-c", "50", "--senders", "5", "--rate", "500",
                                            "-d", "2"])
        diag = diag_of(rc, out, err, secs)
        tap.ok(rc == 0, "-c 50 --senders 5 --rate 500: exit status 0", diag)
        if not tap.ok(doc is not None and "chat" in doc, "--senders 5: --json has chat", diag):
            return
        ch = doc["chat"]
        tap.ok(doc["errors"]["total"] == 0 and doc["connections"]["reached"] == 50 and
               doc["connections"]["open_at_end"] == 50,
               "--senders 5: zero errors, 50 clients reached and still open at the end",
               json.dumps([doc["errors"], doc["connections"]]))
        tap.ok(doc["totals"]["requests"] > 0 and doc["totals"]["requests"] == ch["deliveries"],
               "--senders 5: requests > 0, one per delivery (%d)" % doc["totals"]["requests"])
        # The five share the rate: their schedules hold 500 lines/s within one line each.
        harness.check_schedule(tap, "--senders 5 --rate 500", doc, 500, 5)
        # Listeners included: the 45 that do not send receive every line too.
        check_fanout(tap, "--senders 5", doc)
        tap.ok(doc["parameters"].get("senders") == 5, "--json parameters.senders is 5",
               json.dumps(doc["parameters"]))
        tap.ok("from 5 senders, each delivered to all 49 others" in out,
               "the summary names 5 senders and 49 receivers per line", out)


def load_in_room(room, args):
    """Runs ringlab-load chat -q against a PyRoom, then closes the room; returns
    (status, stdout, stderr, json or None, diagnostics)."""
    try:
        rc, out, err, doc, secs = run_load(["chat", "--target", "127.0.0.1:%d" % room.port, "-q",
                                            "--warmup", "0.2"] + args, timeout=30)
    finally:
        room.close()
    return rc, out, err, doc, diag_of(rc, out, err, secs)


def only_first_senders(tap):
    room = PyRoom()
    rc, _, _, _, diag = load_in_room(room, ["-c", "6", "--senders", "2", "-d", "1", "--rate",
                                            "200"])
    tap.ok(rc == 0 and room.talkers == {b"0", b"1"},
           "-c 6 --senders 2: only clients 0 and 1 send lines, and the run is clean",
           "talkers %r\n%s" % (sorted(room.talkers), diag))


def repeated_line(tap):
    rc, _, err, doc, diag = load_in_room(PyRoom(repeat_at=200), ["-c", "3", "-d", "2", "--rate",
                                                                "300", "--timeout", "1s"])
    tap.ok(rc == 1 and doc is not None and doc["errors"]["mismatch"] >= 1 and
           "twice or out of order" in err, "a repeated line is caught: exit 1", diag)


def listener_dropped(tap):
    rc, _, _, doc, diag = load_in_room(PyRoom(kick_at=100), ["-c", "4", "--senders", "1", "-d",
                                                             "2", "--rate", "200", "--timeout",
                                                             "300ms"])
    e = doc["errors"] if doc else {}
    tap.ok(rc == 1 and e.get("eof", 0) >= 1 and e.get("timeout", 0) >= 1 and
           doc["connections"]["open_at_end"] < 4,
           "a listener the room disconnects is reported (eof) and the lines it misses time "
           "out their sender: exit 1", "%s\n%s" % (json.dumps(e), diag))


def bad_senders(tap):
    for extra, want in ((["chat", "-c", "50", "--senders", "0"], "--senders"),
                        (["chat", "-c", "50", "--senders", "51"], "--senders 51"),
                        (["chat", "-c", "50", "--senders", "x"], "--senders"),
                        (["echo", "-c", "50", "--senders", "5"], "chat only")):
        p = subprocess.run([harness.LOAD] + extra + ["--target", "127.0.0.1:9"],
                           capture_output=True, text=True, timeout=10)
        tap.ok(p.returncode == 2 and want in p.stderr and p.stderr.count("\n") == 1,
               "%s: bad usage, exit status 2, one line naming %s" % (" ".join(extra), want),
               "rc %r, stderr %r" % (p.returncode, p.stderr))


def main():
    args = harness.parse_args()
    tap = harness.Tap()
    for fn in (closed_loop, open_loop, some_senders):
        harness.guard(tap, fn.__name__, fn, tap, args.engine)
    if args.engine == "uring":
        for fn in (only_first_senders, repeated_line, listener_dropped, bad_senders):
            harness.guard(tap, fn.__name__, fn, tap)
    return tap.done()


if __name__ == "__main__":
    sys.exit(main())
