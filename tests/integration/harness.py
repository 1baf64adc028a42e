"""Shared helpers for ringlab's integration tests: start the real binaries on port 0,
find the address they print, stop them with a signal and collect what they said.

Every test script takes `--engine ENGINE` and the build directory via the environment
(RINGLAB_BUILD, set by meson), prints TAP, and exits non-zero on any failure.
"""
import argparse
import faulthandler
import json
import os
import select
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

BUILD = os.environ.get("RINGLAB_BUILD", os.path.join(os.path.dirname(__file__), "..", "..", "build"))
SERVER = os.path.join(BUILD, "servers", "ringlab-server")
LOAD = os.path.join(BUILD, "loadgen", "ringlab-load")
START_TIMEOUT_S = 60  # a sanitized server on a loaded machine starts in well under this

# When meson's timeout ends a test it sends SIGTERM and prints nothing the test wrote; a
# hung test should say where it hung.  So SIGTERM first dumps every Python thread's stack
# to stderr (kept in meson's testlog, and printed by .ci/run for a timed-out test), then
# ends the process as before.
faulthandler.register(signal.SIGTERM, chain=True)


class Tap:
    """Minimal TAP emitter: ok(cond, name), then done() returns the exit status."""

    def __init__(self):
        self.n = 0
        self.failed = 0

    def ok(self, cond, name, diag=None):
        self.n += 1
        print(("ok %d - %s" if cond else "not ok %d - %s") % (self.n, name), flush=True)
        if not cond:
            self.failed += 1
            if diag:
                for line in str(diag).splitlines():
                    print("# " + line, flush=True)
        return cond

    def diag(self, msg):
        for line in str(msg).splitlines():
            print("# " + line, flush=True)

    def done(self):
        print("1..%d" % self.n, flush=True)
        return 1 if self.failed else 0


def skip_all(reason):
    """TAP plan for a script that cannot run here: meson counts it as skipped."""
    print("1..0 # SKIP %s" % reason, flush=True)
    return 0


def sanitizer(binary=None):
    """The sanitizer runtime linked into `binary` (default: the server) -- "address",
    "thread" -- or None.  Found by the runtime's init symbol in the file."""
    with open(binary or SERVER, "rb") as f:
        data = f.read()
    for name in ("thread", "address", "memory"):
        if b"__%ssan_init" % name[0].encode() in data:
            return name
    return None


def parse_args(extra=None):
    p = argparse.ArgumentParser()
    p.add_argument("--engine", default="uring")
    if extra:
        extra(p)
    return p.parse_args()


class Server:
    """A running ringlab-server.  Use as a context manager; .addr is (host, port) or a
    unix path; .stop() sends SIGTERM and returns (exit status, stderr text)."""

    def __init__(self, protocol, engine="uring", listen="127.0.0.1:0", args=(), env=None,
                 preexec_fn=None, binary=None):
        cmd = [binary or SERVER, protocol, "--engine", engine, "--listen", listen] + list(args)
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True, env=env, preexec_fn=preexec_fn)
        ready, _, _ = select.select([self.proc.stdout], [], [], START_TIMEOUT_S)
        line = self.proc.stdout.readline().strip() if ready else ""
        if not line.startswith("listening on "):
            err = self.proc.stderr.read() if self.proc.poll() is not None else ""
            self.proc.kill()
            raise RuntimeError("server did not start: %r %s" % (line, err))
        self.spec = line[len("listening on "):]
        if self.spec.startswith("unix:"):
            self.family = socket.AF_UNIX
            self.addr = self.spec[5:]
        elif self.spec.startswith("["):
            host, port = self.spec[1:].rsplit("]:", 1)
            self.family = socket.AF_INET6
            self.addr = (host, int(port))
        else:
            host, port = self.spec.rsplit(":", 1)
            self.family = socket.AF_INET
            self.addr = (host, int(port))
        self.stderr = None
        self.rc = None

    @property
    def pid(self):
        return self.proc.pid

    def connect(self, timeout=10.0, rcvbuf=None):
        """A connected client socket; `rcvbuf` sets SO_RCVBUF before connecting (so the
        window it advertises can use it)."""
        s = socket.socket(self.family, socket.SOCK_STREAM)
        if rcvbuf:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        s.settimeout(timeout)
        s.connect(self.addr)
        return s

    def alive(self):
        return self.proc.poll() is None

    def stop(self, sig=signal.SIGTERM, timeout=20):
        if self.rc is not None:
            return self.rc, self.stderr
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            _, err = self.proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            try:
                # Bounded too: a process the server started (a sanitizer's symbolizer)
                # can hold its stderr open after the server itself is gone.
                _, err = self.proc.communicate(timeout=10)
            except subprocess.TimeoutExpired:
                err = "[harness: stderr still open 10s after SIGKILL]"
            err = (err or "") + "\n[harness: killed after %ss]" % timeout
        self.rc, self.stderr = self.proc.returncode, err
        return self.rc, self.stderr

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


def recv_exact(sock, n):
    """Reads exactly n bytes (short reads are normal); returns fewer only at EOF."""
    buf = bytearray()
    while len(buf) < n:
        chunk = sock.recv(min(65536, n - len(buf)))
        if not chunk:
            break
        buf.extend(chunk)
    return bytes(buf)


def recv_all(sock):
    """Reads until EOF."""
    buf = bytearray()
    while True:
        chunk = sock.recv(65536)
        if not chunk:
            return bytes(buf)
        buf.extend(chunk)


def wait_closed(sock, limit):
    """Reads and drops what arrives until the server closes `sock` (EOF or reset): the
    seconds that took, or None if it is still open after `limit` seconds."""
    t0 = time.monotonic()
    sock.settimeout(limit)
    try:
        while sock.recv(65536):
            pass
    except socket.timeout:
        return None
    except OSError:
        pass  # a reset is a close too
    return time.monotonic() - t0


def proc_cpu_seconds(pid):
    """utime + stime of a process, in seconds, from /proc/PID/stat."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks


def fd_count(pid):
    return len(os.listdir("/proc/%d/fd" % pid))


# ---- helpers shared by the echo server tests (test_echo_*.py) ----

import re as _re
import selectors as _selectors
import struct as _struct
import traceback as _traceback


def guard(tap, name, fn, *args, **kwargs):
    """Runs one test case; an exception becomes a failed TAP line (with the traceback as
    diagnostics) instead of ending the script, so the other cases still run."""
    try:
        return fn(*args, **kwargs)
    except Exception:
        tap.ok(False, "%s: raised" % name, _traceback.format_exc())
        return None


def wait_for(pred, timeout, interval=0.05):
    """Polls pred() until it returns something true or `timeout` seconds pass; returns its
    last value."""
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v or time.monotonic() >= deadline:
            return v
        time.sleep(interval)


def reset_close(sock):
    """Closes with SO_LINGER {1, 0}, so the kernel sends RST instead of FIN."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _struct.pack("ii", 1, 0))
    sock.close()


def parse_counters(stderr):
    """The final counters line ringlab-server prints on stderr at shutdown, as a dict
    ('connections', 'closed', 'refused', 'idle-closed', 'errors', 'requests', 'bytes in',
    'bytes out', 'accept backoffs', 'buffer-ring empty' -> int); None when absent."""
    for line in reversed((stderr or "").splitlines()):
        if " engine stopped: " in line:
            tail = line.split(" engine stopped: ", 1)[1]
            return {k: int(v) for k, v in _re.findall(r"([a-z][a-z-]*(?: [a-z][a-z-]*)*) (\d+)", tail)}
    return None


def echo_many(socks, msgs, timeout):
    """Drives many echo clients at once from one thread with nonblocking sockets: client i
    sends msgs[i][0], reads its echo back in full, then sends msgs[i][1], and so on.
    Returns one entry per client: None when every echo was byte-exact, else what went
    wrong (mismatch, EOF, error, or still unfinished when `timeout` seconds ran out)."""
    sel = _selectors.DefaultSelector()
    state = []
    result = [None] * len(socks)
    pending = 0
    for i, s in enumerate(socks):
        s.setblocking(False)
        state.append([0, 0, bytearray()])  # message index, bytes of it sent, echo so far
        if msgs[i]:
            sel.register(s, _selectors.EVENT_READ | _selectors.EVENT_WRITE, i)
            pending += 1
    deadline = time.monotonic() + timeout

    def fail(i, why):
        result[i] = why
        sel.unregister(socks[i])

    while pending:
        left = deadline - time.monotonic()
        if left <= 0:
            break
        for key, ev in sel.select(min(left, 1.0)):
            i = key.data
            st = state[i]
            msg = msgs[i][st[0]]
            s = socks[i]
            try:
                if ev & _selectors.EVENT_WRITE and st[1] < len(msg):
                    st[1] += s.send(memoryview(msg)[st[1]:st[1] + 262144])
                    if st[1] == len(msg):
                        sel.modify(s, _selectors.EVENT_READ, i)
                if ev & _selectors.EVENT_READ:
                    chunk = s.recv(len(msg) - len(st[2]))
                    if not chunk:
                        fail(i, "EOF after %d of %d bytes of message %d" % (len(st[2]), len(msg), st[0]))
                        pending -= 1
                        continue
                    st[2] += chunk
            except (BlockingIOError, InterruptedError):
                continue
            except OSError as e:
                fail(i, "%s in message %d" % (e, st[0]))
                pending -= 1
                continue
            if len(st[2]) == len(msg):
                if st[2] != msg:
                    at = next(k for k in range(len(msg)) if st[2][k] != msg[k])
                    fail(i, "message %d (%d bytes) differs from byte %d" % (st[0], len(msg), at))
                    pending -= 1
                    continue
                st[0] += 1
                st[1] = 0
                st[2] = bytearray()
                if st[0] == len(msgs[i]):
                    sel.unregister(s)
                    pending -= 1
                else:
                    sel.modify(s, _selectors.EVENT_READ | _selectors.EVENT_WRITE, i)
    for i, st in enumerate(state):
        if result[i] is None and msgs[i] and st[0] < len(msgs[i]):
            result[i] = "unfinished after %.1fs: message %d of %d, %d bytes sent, %d echoed" % (
                timeout, st[0], len(msgs[i]), st[1], len(st[2]))
    sel.close()
    return result


def tcp_queues(local, remote):
    """(tx_queue, rx_queue) of the IPv4 TCP socket with these (host, port) endpoints, from
    /proc/net/tcp, or None when there is none.  tx_queue: bytes written and not yet
    acknowledged by the peer; rx_queue: bytes received and not yet read by its owner."""
    def enc(addr):
        return "%08X:%04X" % (_struct.unpack("=I", socket.inet_aton(addr[0]))[0], addr[1])
    want = (enc(local), enc(remote))
    with open("/proc/net/tcp") as f:
        next(f)
        for line in f:
            fields = line.split()
            if (fields[1], fields[2]) == want:
                tx, rx = fields[4].split(":")
                return int(tx, 16), int(rx, 16)
    return None


# ---- helpers shared by the file server tests (test_file_*.py) ----

def read_line(sock, limit=65536):
    """Reads one reply line byte by byte (so nothing after it is consumed); returns it
    with its '\\n', or whatever arrived before EOF (b'' at once on EOF)."""
    buf = bytearray()
    while len(buf) < limit:
        c = sock.recv(1)
        if not c:
            break
        buf += c
        if c == b"\n":
            break
    return bytes(buf)


def file_put(sock, name, data):
    """PUT `data` as `name` (bytes or str) on a connected socket; returns the reply line."""
    if isinstance(name, str):
        name = name.encode()
    sock.sendall(b"PUT %s %d\n" % (name, len(data)) + data)
    return read_line(sock)


def file_get(sock, name):
    """GET `name`; returns (reply line, body or None when the reply is not 'OK <size>')."""
    if isinstance(name, str):
        name = name.encode()
    sock.sendall(b"GET %s\n" % name)
    line = read_line(sock)
    m = _re.fullmatch(rb"OK (\d+)\n", line)
    if not m:
        return line, None
    return line, recv_exact(sock, int(m.group(1)))


def tmp_files(root):
    """Names of the server's temporary files (.ringlab-tmp-*) in `root`."""
    return sorted(n for n in os.listdir(root) if n.startswith(".ringlab-tmp-"))


def run_load(args, timeout=60):
    """Runs ringlab-load with --json; returns (status, stdout, stderr, json or None, secs)."""
    fd, path = tempfile.mkstemp(prefix="ringlab-load-", suffix=".json")
    os.close(fd)
    t0 = time.monotonic()
    try:
        p = subprocess.run([LOAD] + list(args) + ["--json", path], capture_output=True,
                           text=True, timeout=timeout)
        try:
            with open(path) as f:
                doc = json.load(f)
        except (OSError, ValueError):
            doc = None
        return p.returncode, p.stdout, p.stderr, doc, time.monotonic() - t0
    finally:
        os.unlink(path)


class UdpPeer:
    """A UDP server on 127.0.0.1:0 in a thread, standing in for a misbehaving one:
    answer(data, n) gives the datagrams to send back for the n-th datagram received (1,
    2, ...).  .port is its port; close() stops it."""

    def __init__(self, answer):
        self.answer = answer
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.1)
        self.port = self.sock.getsockname()[1]
        self.stop = threading.Event()
        self.n = 0
        self.t = threading.Thread(target=self.loop, daemon=True)
        self.t.start()

    def loop(self):
        while not self.stop.is_set():
            try:
                data, addr = self.sock.recvfrom(65536)
            except socket.timeout:
                continue
            self.n += 1
            for out in self.answer(data, self.n):
                self.sock.sendto(out, addr)

    def close(self):
        self.stop.set()
        self.t.join(5)
        self.sock.close()


def load_diag(rc, out, err, secs):
    """Diagnostics for a failed check on a run_load() result."""
    return "status %d after %.1fs\nstdout:\n%s\nstderr:\n%s" % (rc, secs, out, err[-3000:])


def finished_in_window(doc):
    """What an open-loop run finished in its window, in the unit of its --rate, and the
    rate it published for it: (count, per second).  chat: lines; udp: datagrams answered
    or counted lost; greeting: connections; otherwise requests."""
    if "chat" in doc:
        return doc["chat"]["lines"], doc["chat"]["lines_per_s"]
    t = doc["totals"]
    if "datagrams" in doc:
        return doc["datagrams"]["answered"] + doc["datagrams"]["lost"], t["requests_per_s"]
    return t["requests"], t.get("connections_per_s", t["requests_per_s"])


def kept_up(doc, rate, tol):
    """True when an open-loop run finished its window's edges: at the start and at the end
    at most 40% of the rate bound (tol x rate x window) was unfinished.  Only the edges
    move completions into or out of the window, so only then can the achieved rate be
    expected within tol of --rate; a busy machine (late sender, descheduled server) makes
    them larger, the pacer does not."""
    t = doc["totals"]
    margin = 0.4 * tol * rate * t["elapsed_s"]
    return t["behind_at_start"] <= margin and t["behind_at_end"] <= margin


def check_schedule(tap, name, doc, rate, senders, tol=0.05):
    """Checks an open-loop run (--rate `rate` shared by `senders` connections) against its
    schedule, in a way machine load cannot fail (docs/loadgen.md, "The schedule and the
    window").  Returns whether the run kept up (kept_up)."""
    t = doc["totals"]
    w = t["elapsed_s"]
    want = rate * w
    sched, sent = t["scheduled"], t["sent"]
    start, end, late = t["behind_at_start"], t["behind_at_end"], t["send_late_max_s"]
    done, per_s = finished_in_window(doc)
    summary = json.dumps({k: t[k] for k in ("elapsed_s", "scheduled", "sent", "behind_at_start",
                                            "behind_at_end", "send_late_max_s")})
    # The schedule itself: a connection's intended times are evenly spaced, so a window of
    # w seconds holds floor or ceil of w x rate / senders of them whatever its phase, and
    # all together rate x w within one per connection.  No timing moves this count; a
    # pacer at the wrong rate cannot meet it.
    tap.ok(sched is not None and abs(sched - want) <= senders,
           "%s: %s intended in the %.3f s window (rate x window %.1f, +-%d)" % (
               name, sched, w, want, senders), summary)
    if sched is None:
        return False
    # Every request is accounted for: each one finished in the window was scheduled in it
    # or was unfinished when it started; each one scheduled finished in it or is unfinished
    # at its end.  Exact, loaded machine or not (a lost or dropped request breaks it).
    tap.ok(done == sched + start - end,
           "%s: %d finished = %d scheduled + %d unfinished at the start - %d at the end" % (
               name, done, sched, start, end), summary)
    # What the sender had not sent by the end is unfinished, and the requests it still
    # owed (senders / rate seconds apart on each connection) make it that late: the
    # lateness it reports covers its backlog.
    tap.ok(sent <= sched and sched - sent <= end and late >= (sched - sent - senders) / rate,
           "%s: %d of them sent in the window, the sender at most %.1f ms late" % (
               name, sent, late * 1000.0), summary)
    if kept_up(doc, rate, tol):
        # The edges were (nearly) clear: the achieved rate must then be the rate.
        tap.ok(abs(per_s - rate) <= tol * rate + senders / w,
               "%s: achieved %.1f/s, within %g%% of --rate %g" % (name, per_s, 100 * tol, rate),
               summary)
        return True
    # The run fell behind at an edge (a busy machine): the published rate may miss by
    # more than tol, but only by what the run reports as unfinished at the edges.
    tap.diag("%s: fell behind at an edge of the window: %s" % (name, summary))
    tap.ok(abs(per_s * w - want) <= abs(start - end) + senders + 1e-9 * want,
           "%s: achieved %.1f/s for --rate %g, off by no more than the %d/%d unfinished at "
           "the window's start/end" % (name, per_s, rate, start, end), summary)
    return False
