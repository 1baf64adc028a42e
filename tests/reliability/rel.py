"""Helpers shared by the reliability tests (tests/reliability/test_*.py): the integration
harness (Tap, Server, parse_counters, fd_count, ...) plus ringlab-load runs with --json,
RSS and resource-limit helpers."""
import json
import os
import resource
import signal
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
import harness  # noqa: E402,F401
from harness import *  # noqa: E402,F401,F403


def load_cmd(protocol, addr, args, json_path):
    return [harness.LOAD, protocol, "--target", "%s:%d" % addr, "--quiet",
            "--json", json_path] + [str(a) for a in args]


class Load:
    """ringlab-load running in the background; .wait() returns (rc, json doc or None,
    stdout+stderr text)."""

    def __init__(self, protocol, addr, args):
        fd, self.path = tempfile.mkstemp(prefix="ringlab-rel-", suffix=".json")
        os.close(fd)
        self.proc = subprocess.Popen(load_cmd(protocol, addr, args, self.path),
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)

    def wait(self, timeout=60):
        try:
            out, _ = self.proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            out, _ = self.proc.communicate()
            out += "\n[rel: ringlab-load killed after %ss]" % timeout
        try:
            with open(self.path) as f:
                doc = json.load(f)
        except (OSError, ValueError):
            doc = None
        try:
            os.unlink(self.path)
        except OSError:
            pass
        return self.proc.returncode, doc, out


def run_load(protocol, addr, args, timeout=60):
    return Load(protocol, addr, args).wait(timeout)


def errors_of(doc):
    return (doc or {}).get("errors") or {}


def p99_of(doc):
    return doc["latency_us"]["corrected"]["p99"]


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return None


def threads_of(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("Threads:"):
                return int(line.split()[1])
    return None


def rlimit(which, value):
    """A preexec_fn setting both soft and hard limit `which` to `value`."""
    def fn():
        resource.setrlimit(which, (value, value))
    return fn


def counters_diag(stderr):
    lines = [l for l in (stderr or "").splitlines() if l.strip()]
    return "\n".join(lines[-8:])


class LogServer(harness.Server):
    """A Server whose stderr goes to a temporary file instead of a pipe, so that a server
    logging a lot (--verbose under thousands of failing connections) can never block on
    a full pipe.  .log() reads what it wrote so far; .stop() as Server."""

    def __init__(self, protocol, engine="uring", listen="127.0.0.1:0", args=(), preexec_fn=None):
        import subprocess as sp
        self.errfile = tempfile.TemporaryFile(mode="w+")
        cmd = [harness.SERVER, protocol, "--engine", engine, "--listen", listen] + list(args)
        self.proc = sp.Popen(cmd, stdout=sp.PIPE, stderr=self.errfile, text=True,
                             preexec_fn=preexec_fn)
        line = self.proc.stdout.readline().strip()
        if not line.startswith("listening on "):
            self.proc.wait()
            raise RuntimeError("server did not start: %r %s" % (line, self.log()[-2000:]))
        host, port = line[len("listening on "):].rsplit(":", 1)
        self.family = socket.AF_INET
        self.addr = (host, int(port))
        self.stderr = None
        self.rc = None

    def log(self):
        self.errfile.seek(0)
        return self.errfile.read()

    def stop(self, sig=signal.SIGTERM, timeout=20):
        if self.rc is not None:
            return self.rc, self.stderr
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        note = ""
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            note = "\n[rel: killed after %ss]" % timeout
        self.rc, self.stderr = self.proc.returncode, self.log() + note
        return self.rc, self.stderr
