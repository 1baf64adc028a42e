#!/usr/bin/env python3
"""ringlab-load slowloris, the attacker itself (the reliability test rel-slowloris uses it
against the server's defences; this checks what it reports and how it behaves):

- against the echo server: it holds every connection, sends one byte per connection per
  interval, and reads back every echo but at most the last one per connection (it drains
  a connection just before its next byte, never waking up for a reply);
- against a server that cuts each connection shortly after accepting it: the cuts are
  seen through their events alone (no byte is due within the run, so none can find the
  cut instead), counted, and reconnected after --reconnect-delay;
- at exit it resets its connections: it leaves no TIME_WAIT socket behind;
- bad usage exits 2.
Counts are checked, not speed; the bounds hold on a loaded machine."""
import os
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

TIME_WAIT = "06"


def time_wait_to(port):
    """TIME_WAIT sockets on this host whose remote port is `port` (/proc/net/tcp)."""
    n = 0
    with open("/proc/net/tcp") as f:
        next(f)
        for line in f:
            fields = line.split()
            if fields[3] == TIME_WAIT and int(fields[2].split(":")[1], 16) == port:
                n += 1
    return n


class Cutter:
    """A TCP server on 127.0.0.1:0 that reads and drops what it is sent, never answers,
    and closes every connection `after` seconds after accepting it; .accepted counts
    them."""

    def __init__(self, after):
        self.after = after
        self.accepted = 0
        self.ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.ls.bind(("127.0.0.1", 0))
        self.ls.listen(1024)
        self.ls.settimeout(0.02)
        self.port = self.ls.getsockname()[1]
        self.stopping = False
        self.held = []
        self.t = threading.Thread(target=self.run, daemon=True)
        self.t.start()

    def run(self):
        while not self.stopping:
            try:
                s, _ = self.ls.accept()
                s.setblocking(False)
                self.accepted += 1
                self.held.append((time.monotonic() + self.after, s))
            except socket.timeout:
                pass
            for _, s in self.held:
                try:
                    s.recv(4096)
                except OSError:
                    pass
            now = time.monotonic()
            for due, s in [h for h in self.held if h[0] <= now]:
                s.close()
            self.held = [h for h in self.held if h[0] > now]

    def close(self):
        self.stopping = True
        self.t.join()
        for _, s in self.held:
            try:
                s.recv(4096)  # what came last: a close with unread data would reset
            except OSError:
                pass
            s.close()
        self.ls.close()


def main():
    args = harness.parse_args()
    tap = harness.Tap()
    n = 40

    with harness.Server("echo", engine=args.engine) as srv:
        port = srv.addr[1]
        rc, out, err, doc, _ = harness.run_load(
            ["slowloris", "--target", "127.0.0.1:%d" % port, "-c", str(n),
             "--interval", "200ms", "-d", "2s", "--quiet"], timeout=30)
        tap.ok(rc == 0 and doc is not None, "echo: exit 0 with a JSON report", err)
        doc = doc or {}
        tap.ok(doc.get("held") == n and doc.get("held_peak") == n and doc.get("cuts") == 0
               and doc.get("connect_errors") == 0,
               "echo: all %d held at the end, none cut (held %s, peak %s, cuts %s)"
               % (n, doc.get("held"), doc.get("held_peak"), doc.get("cuts")))
        sent, read = doc.get("bytes_sent", 0), doc.get("bytes_read", -1)
        # Connects are spread over the first interval, a byte each per interval after:
        # about 9 per connection in 2 s; at least 4 each on the slowest machine.
        tap.ok(sent >= 4 * n, "echo: one byte per connection per interval (%d sent)" % sent)
        tap.ok(sent - n <= read <= sent,
               "echo: every echo read back but at most the last per connection "
               "(sent %d, read %d)" % (sent, read))
        code, serr = srv.stop()
        c = harness.parse_counters(serr) or {}
        tap.ok(code == 0 and c.get("connections") == n,
               "echo server: exit 0, exactly %d connections (%s)" % (n, c.get("connections")))

    # The connects are spread over the first interval (2 s) and the first byte is due an
    # interval after each connect: within the 1.8 s run no byte is sent, so every cut
    # must be seen through its event alone.  Each connection is cut 0.1 s after its
    # accept and reconnects 0.3 s after the cut: about 45 cuts in all.
    cut = Cutter(after=0.1)
    try:
        rc, out, err, doc, _ = harness.run_load(
            ["slowloris", "--target", "127.0.0.1:%d" % cut.port, "-c", "20",
             "--interval", "2s", "--reconnect-delay", "300ms", "-d", "1800ms", "--quiet"],
            timeout=30)
    finally:
        cut.close()
    doc = doc or {}
    tap.ok(rc == 0 and doc.get("bytes_sent") == 0,
           "cutter: exit 0, no byte due within the run (sent %s)" % doc.get("bytes_sent"))
    cuts, reconnects = doc.get("cuts", 0), doc.get("reconnects", 0)
    tap.ok(10 <= cuts <= cut.accepted,
           "cutter: cuts seen through their events alone (%d cuts of %d accepted)"
           % (cuts, cut.accepted))
    tap.ok(reconnects >= 5, "cutter: cut connections reconnect (%d reconnects)" % reconnects)

    # A silent server that never closes first: with a FIN at exit, each of the attacker's
    # sockets would end in TIME_WAIT once the server closes too (an echoing server hides
    # this: a socket closed with an unread reply resets anyway).
    silent = Cutter(after=3600)
    try:
        rc, out, err, doc, _ = harness.run_load(
            ["slowloris", "--target", "127.0.0.1:%d" % silent.port, "-c", "20",
             "--interval", "100ms", "-d", "1s", "--quiet"], timeout=30)
    finally:
        silent.close()
    time.sleep(0.2)
    tw = time_wait_to(silent.port)
    tap.ok(rc == 0 and (doc or {}).get("held") == 20 and tw == 0,
           "exit resets the connections: all 20 held, then no TIME_WAIT to the server's "
           "port (%d)" % tw)

    rc, out, err, doc, _ = harness.run_load(
        ["slowloris", "--target", "127.0.0.1:1", "-c", "0"], timeout=10)
    tap.ok(rc == 2, "-c 0 is bad usage: exit 2 (got %d)" % rc, err)
    return tap.done()


if __name__ == "__main__":
    sys.exit(main())
