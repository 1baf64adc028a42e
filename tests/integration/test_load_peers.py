#!/usr/bin/env python3
"""ringlab-load against misbehaving peers (small Python servers in this script):
  - a peer that flips one byte now and then: caught, counted as mismatches, exit 1;
  - a peer that stalls 500 ms in the middle of an open-loop run: the stall shows in the
    corrected p99 (measured from the intended send times) and not in the uncorrected p99;
  - a peer that closes every connection after a few requests: reported as errors, in
    bounded time, exit 1;
  - a peer that accepts and never answers: requests time out (--timeout), exit 1;
  - nobody listening: connect errors by errno, the connection target is not reached."""
import json
import os
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402


class Peer:
    """A threaded TCP server on 127.0.0.1:0 that runs handler(peer, conn) per connection."""

    def __init__(self, handler):
        self.handler = handler
        self.lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.lsock.bind(("127.0.0.1", 0))
        self.lsock.listen(512)
        self.spec = "127.0.0.1:%d" % self.lsock.getsockname()[1]
        self.first_accept = None
        self.stop = False
        self.lock = threading.Lock()
        self.count = 0
        threading.Thread(target=self.accept_loop, daemon=True).start()

    def accept_loop(self):
        while not self.stop:
            try:
                conn, _ = self.lsock.accept()
            except OSError:
                return
            if self.first_accept is None:
                self.first_accept = time.monotonic()
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            threading.Thread(target=self.serve, args=(conn,), daemon=True).start()

    def serve(self, conn):
        try:
            self.handler(self, conn)
        except OSError:
            pass
        finally:
            conn.close()

    def close(self):
        self.stop = True
        self.lsock.close()


def corrupting(peer, conn):
    """Echoes, flipping one byte of every 50th chunk (process-wide)."""
    while True:
        data = conn.recv(65536)
        if not data:
            return
        with peer.lock:
            peer.count += 1
            flip = peer.count % 50 == 0
        if flip:
            data = bytearray(data)
            data[len(data) // 2] ^= 0x01
        conn.sendall(data)


def stalling(peer, conn):
    """Echoes; everything stops for 500 ms once, 2.5 s after the first connection."""
    while True:
        data = conn.recv(65536)
        if not data:
            return
        stall_at = peer.first_accept + 2.5
        now = time.monotonic()
        if stall_at <= now < stall_at + 0.5:
            time.sleep(stall_at + 0.5 - now)
        conn.sendall(data)


def closing(peer, conn):
    """Echoes five 64-byte requests' worth of bytes, then closes."""
    left = 5 * 64
    while left > 0:
        data = conn.recv(left)
        if not data:
            return
        conn.sendall(data)
        left -= len(data)


def silent(peer, conn):
    """Reads and never answers."""
    while conn.recv(65536):
        pass


def test_corrupt(tap):
    peer = Peer(corrupting)
    try:
        rc, out, err, doc, secs = harness.run_load(["echo", "--target", peer.spec, "-c", "4", "-d", "2",
                                            "--warmup", "0"])
    finally:
        peer.close()
    diag = "status %d\nstdout:\n%s\nstderr:\n%s" % (rc, out, err[-2000:])
    tap.ok(rc == 1, "corrupting peer: exit status 1", diag)
    tap.ok(doc is not None and doc["errors"]["mismatch"] > 0,
           "corrupting peer: mismatches counted (%s)" % (doc and doc["errors"]["mismatch"]), diag)
    tap.ok("reply mismatch on connection" in err, "corrupting peer: mismatch reported on stderr",
           diag)
    tap.ok("mismatch" in out and "FAILED" in out, "corrupting peer: summary says so", out)


def stall_run():
    peer = Peer(stalling)
    try:
        # 2,000 req/s for 4 s: the 500 ms stall delays ~1,000 of ~8,000 requests (12%).
        return harness.run_load(["echo", "--target", peer.spec, "-c", "10", "--rate", "2000",
                         "--pipeline", "1", "-d", "4", "--warmup", "0.3"])
    finally:
        peer.close()


def test_stall(tap):
    # On a machine busy with other tests the Python peer itself can be starved long enough
    # to show in the uncorrected latency too; such a run is repeated (twice at most).
    for attempt in range(3):
        rc, out, err, doc, secs = stall_run()
        if rc != 0 or doc is None or doc["latency_us"]["uncorrected"]["p99"] < 100000:
            break
        tap.diag("attempt %d: uncorrected p99 %.1f ms (busy machine?)" % (
            attempt + 1, doc["latency_us"]["uncorrected"]["p99"] / 1000.0))
    diag = "status %d\nstdout:\n%s\nstderr:\n%s" % (rc, out, err[-2000:])
    tap.ok(rc == 0, "stalling peer: run completes cleanly", diag)
    if not tap.ok(doc is not None, "stalling peer: --json written", diag):
        return
    c99 = doc["latency_us"]["corrected"]["p99"] / 1000.0
    u99 = doc["latency_us"]["uncorrected"]["p99"] / 1000.0
    tap.ok(c99 >= 400, "stall shows in corrected p99: %.1f ms" % c99, out)
    tap.ok(u99 < 100, "stall does not show in uncorrected p99: %.1f ms" % u99, out)
    # The schedule catches up after the stall: every request accounted for, and 2,000/s
    # within 2% when the backlog was cleared by the window's end (a busy machine may not).
    harness.check_schedule(tap, "stalling peer", doc, 2000, 10, tol=0.02)


def test_closing(tap):
    peer = Peer(closing)
    try:
        rc, out, err, doc, secs = harness.run_load(["echo", "--target", peer.spec, "-c", "20", "-d", "10",
                                            "--warmup", "0"], timeout=30)
    finally:
        peer.close()
    diag = "status %d after %.1fs\nstdout:\n%s\nstderr:\n%s" % (rc, secs, out, err[-2000:])
    tap.ok(rc == 1, "closing peer: exit status 1", diag)
    tap.ok(secs < 8, "closing peer: ends once every connection is gone (%.1fs)" % secs, diag)
    lost = doc and doc["errors"]["eof"] + doc["errors"]["reset"]
    tap.ok(lost == 20, "closing peer: all 20 losses counted (eof+reset = %s)" % lost,
           doc and json.dumps(doc["errors"]))


def test_silent(tap):
    peer = Peer(silent)
    try:
        rc, out, err, doc, secs = harness.run_load(["echo", "--target", peer.spec, "-c", "5", "-d", "3",
                                            "--warmup", "0", "--timeout", "500ms"], timeout=30)
    finally:
        peer.close()
    diag = "status %d after %.1fs\nstdout:\n%s\nstderr:\n%s" % (rc, secs, out, err[-2000:])
    tap.ok(rc == 1, "silent peer: exit status 1", diag)
    tap.ok(doc is not None and doc["errors"]["timeout"] == 5,
           "silent peer: 5 request timeouts (%s)" % (doc and doc["errors"]["timeout"]), diag)
    tap.ok(secs < 10, "silent peer: bounded time (%.1fs)" % secs)


def test_refused(tap):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    spec = "127.0.0.1:%d" % s.getsockname()[1]
    s.close()  # nothing listens there now
    rc, out, err, doc, secs = harness.run_load(["echo", "--target", spec, "-c", "10", "-d", "1"],
                                       timeout=30)
    diag = "status %d\nstdout:\n%s\nstderr:\n%s" % (rc, out, err[-2000:])
    tap.ok(rc == 1, "refused: exit status 1", diag)
    by = doc and doc["errors"]["connect_by_errno"]
    tap.ok(by == {"ECONNREFUSED": 10}, "refused: 10 connect errors ECONNREFUSED (%s)" % by, diag)
    tap.ok("connection target not reached: 0 of 10" in out, "refused: summary says the target "
           "was not reached", out)


def main():
    harness.parse_args()
    tap = harness.Tap()
    for t in (test_corrupt, test_stall, test_closing, test_silent, test_refused):
        try:
            t(tap)
        except Exception as e:  # one broken case must not hide the others
            tap.ok(False, "%s raised %r" % (t.__name__, e))
    return tap.done()


if __name__ == "__main__":
    sys.exit(main())
