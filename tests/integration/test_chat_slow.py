#!/usr/bin/env python3
"""chat, slow consumer: with --max-queue 64KiB --drain-timeout 1s, a client that never
reads (small SO_RCVBUF) while another floods lines is disconnected by the server -- without
reading a byte -- within the drain timeout of going over its queue; a fast reader gets every
line in order meanwhile; the server's memory stays bounded; when the slow client finally
reads it finds complete lines in order, then possibly "ERR too slow", then EOF (or a
reset)."""
import os
import re
import socket
import struct
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from test_chat import Peer, join, parse  # noqa: E402

LINE_LEN = 200          # bytes per flood line, newline included
BATCH = 64              # lines per write; the flooder never runs more than 2 batches ahead of the reader
MAX_FLOOD = 48 << 20    # give up flooding after this many bytes ...
MAX_FLOOD_S = 20.0      # ... or this long
RSS_LIMIT_KB = 200 * 1024
PACE_S = 0.002          # pause after each batch: at most ~6 MB/s


def flood_line(seq):
    head = b"seq %08d " % seq
    return head + b"%" * (LINE_LEN - 1 - len(head))


def rss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def socket_inode(local, remote):
    """The inode ("socket:[N]") of the IPv4 TCP socket local <-> remote, from
    /proc/net/tcp, or None."""
    def enc(addr):
        return "%08X:%04X" % (struct.unpack("=I", socket.inet_aton(addr[0]))[0], addr[1])
    want = (enc(local), enc(remote))
    with open("/proc/net/tcp") as f:
        next(f)
        for line in f:
            fields = line.split()
            if (fields[1], fields[2]) == want and fields[9] != "0":
                return "socket:[%s]" % fields[9]
    return None


def holds(pid, inode):
    """True while process `pid` has `inode` open."""
    fd_dir = "/proc/%d/fd" % pid
    for fd in os.listdir(fd_dir):
        try:
            if os.readlink(os.path.join(fd_dir, fd)) == inode:
                return True
        except OSError:
            pass
    return False


class Reader(threading.Thread):
    """Reads the fast client's lines as they come and checks them: flood lines from one
    id, with consecutive sequence numbers from 0."""

    def __init__(self, peer):
        super().__init__(daemon=True)
        self.peer = peer
        self.count = 0
        self.error = None
        self.sender = None
        self.stop = False
        self.cv = threading.Condition()

    def run(self):
        buf = bytearray()
        s = self.peer.sock
        s.settimeout(0.2)
        try:
            while not self.stop:
                try:
                    chunk = s.recv(262144)
                except socket.timeout:
                    continue
                if not chunk:
                    raise EOFError("EOF after %d lines" % self.count)
                buf += chunk
                end = buf.rfind(b"\n")
                if end < 0:
                    continue
                lines = bytes(buf[:end]).split(b"\n")
                del buf[:end + 1]
                n = self.count
                for ln in lines:
                    got = parse(ln)
                    if not got or got[1] != flood_line(n) or (self.sender is not None and got[0] != self.sender):
                        raise AssertionError("line %d: got %r" % (n, ln[:60]))
                    self.sender = got[0]
                    n += 1
                with self.cv:
                    self.count = n
                    self.cv.notify_all()
        except Exception as e:  # noqa: BLE001 - reported by the test
            with self.cv:
                self.error = repr(e)
                self.cv.notify_all()

    def wait_for(self, n, timeout):
        deadline = time.monotonic() + timeout
        with self.cv:
            while self.count < n and self.error is None:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self.cv.wait(left)
            return self.count >= n


def slow_consumer(tap, engine):
    args = ["--max-queue", "64KiB", "--drain-timeout", "1s"]
    with harness.Server("chat", engine, args=args) as srv:
        peers = []
        r = join(srv, peers, "R")
        s = join(srv, peers, "S", rcvbuf=4096)
        f = join(srv, peers, "F")
        s_inode = socket_inode(srv.addr, s.sock.getsockname())
        tap.ok(s_inode is not None and holds(srv.pid, s_inode),
               "setup: the server's socket for the slow client is found in /proc", s_inode)

        reader = Reader(r)
        reader.start()
        sent = 0
        max_rss = rss_kb(srv.pid)
        t0 = time.monotonic()
        closed_at = None
        last_check = 0.0
        while sent * LINE_LEN < MAX_FLOOD and time.monotonic() - t0 < MAX_FLOOD_S:
            f.send(b"".join(flood_line(sent + i) + b"\n" for i in range(BATCH)))
            sent += BATCH
            time.sleep(PACE_S)
            # Moderate pace: never more than two batches ahead of the fast reader.
            if not reader.wait_for(sent - BATCH, 10):
                break
            now = time.monotonic()
            if now - last_check >= 0.05:
                last_check = now
                max_rss = max(max_rss, rss_kb(srv.pid))
                if not holds(srv.pid, s_inode):
                    closed_at = now
                    break
        flood_s = time.monotonic() - t0
        tap.diag("flooded %d lines (%.1f MiB) in %.1fs; server closed the slow client: %s; max RSS %d KiB"
                 % (sent, sent * LINE_LEN / 1048576.0, flood_s, closed_at is not None, max_rss))
        tap.ok(reader.error is None, "the fast reader keeps up during the flood", reader.error)
        tap.ok(closed_at is not None,
               "the server disconnects a client that never reads (queue over 64KiB, drain timeout 1s) "
               "without waiting for it to read",
               "still connected after flooding %.1f MiB over %.1fs" % (sent * LINE_LEN / 1048576.0, flood_s))

        # The room carries on: more lines, then the reader must have every one, in order.
        for _ in range(4):
            f.send(b"".join(flood_line(sent + i) + b"\n" for i in range(BATCH)))
            sent += BATCH
        done = reader.wait_for(sent, 15)
        reader.stop = True
        reader.join(5)
        tap.ok(done and reader.error is None and reader.count == sent,
               "the fast reader receives every one of the %d lines, in order" % sent,
               "got %d lines, error %s" % (reader.count, reader.error))
        max_rss = max(max_rss, rss_kb(srv.pid))
        tap.ok(max_rss < RSS_LIMIT_KB, "server memory stays bounded: VmRSS peak %d KiB < %d KiB"
               % (max_rss, RSS_LIMIT_KB))
        tap.ok(srv.alive(), "server still running")

        # Now the slow client reads what it was sent: lines in order, maybe a partial last
        # one, maybe "ERR too slow", then EOF or reset -- not a connection left open.
        data = bytearray(s.buf)
        end = None
        s.sock.settimeout(5)
        try:
            while True:
                chunk = s.sock.recv(262144)
                if not chunk:
                    end = "EOF"
                    break
                data += chunk
        except socket.timeout:
            end = "timeout"
        except ConnectionResetError:
            end = "reset"
        tap.ok(end in ("EOF", "reset"), "the slow client, reading at last, reaches EOF or a reset",
               "after %d bytes: %s" % (len(data), end))
        lines = bytes(data).split(b"\n")
        tail = lines.pop()  # partial line after the last newline ("" if none)
        problems = []
        err_line = None
        n = 0
        for i, ln in enumerate(lines):
            got = parse(ln)
            if ln.startswith(b"ERR "):
                if i != len(lines) - 1 or tail:
                    problems.append("ERR line %r is not the last thing received" % ln)
                err_line = ln
                continue
            if got and got[1] == flood_line(n) and got[0] == reader.sender:
                n += 1
            else:
                problems.append("line %d: got %r, expected flood line %d" % (i, ln[:60], n))
                break
        if tail and not (b"%d " % (reader.sender or 0) + flood_line(n)).startswith(tail):
            problems.append("trailing partial line %r is not the start of line %d" % (tail[:60], n))
        tap.diag("slow client got %d complete flood lines, %s, then %s" % (
            n, "ERR line %r" % err_line if err_line else "no ERR line", end))
        tap.ok(not problems, "what the slow client got is the flood's lines in order (then maybe ERR)",
               "\n".join(problems[:5]))
        tap.ok(err_line is None or re.match(rb"^ERR too slow", err_line),
               "an ERR line the slow client gets says 'ERR too slow'", "got %r" % err_line)
        tap.ok(n < sent, "the slow client did not get every line (it was cut off)",
               "got %d of %d" % (n, sent))
        for p in peers:
            p.close()
        rc, err = srv.stop(timeout=8)
        tap.ok(rc == 0, "SIGTERM -> exit status 0", "rc %r, stderr:\n%s" % (rc, err))


def main():
    args = harness.parse_args()
    tap = harness.Tap()
    harness.guard(tap, "slow consumer", slow_consumer, tap, args.engine)
    return tap.done()


if __name__ == "__main__":
    sys.exit(main())
