"""Shared helpers for ringlab's integration tests: start the real binaries on port 0,
find the address they print, stop them with a signal and collect what they said.

Every test script takes `--engine ENGINE` and the build directory via the environment
(RINGLAB_BUILD, set by meson), prints TAP, and exits non-zero on any failure.
"""
import argparse
import os
import signal
import socket
import subprocess
import sys
import time

BUILD = os.environ.get("RINGLAB_BUILD", os.path.join(os.path.dirname(__file__), "..", "..", "build"))
SERVER = os.path.join(BUILD, "servers", "ringlab-server")
LOAD = os.path.join(BUILD, "loadgen", "ringlab-load")


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
        line = self.proc.stdout.readline().strip()
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

    def connect(self, timeout=10.0):
        s = socket.socket(self.family, socket.SOCK_STREAM)
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
            _, err = self.proc.communicate()
            err += "\n[harness: killed after %ss]" % timeout
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


def proc_cpu_seconds(pid):
    """utime + stime of a process, in seconds, from /proc/PID/stat."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks


def fd_count(pid):
    return len(os.listdir("/proc/%d/fd" % pid))
