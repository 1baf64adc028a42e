#!/usr/bin/env python3
"""LeakSanitizer at a clean shutdown: every protocol on every engine of an ASan build.

Usage: tests/sanitize/lsan_shutdown.py [BUILD_DIR]   (default: build-asan)

For each engine (uring, epoll, blocking) and protocol (echo, greeting, udp, chat, file) it
starts BUILD_DIR/servers/ringlab-server with ASAN_OPTIONS=detect_leaks=1, drives some
traffic, and sends SIGTERM in two situations:
  idle  - every client has finished and closed;
  busy  - clients are still connected, some mid-request (a partial chat line, a PUT whose
          body has not all arrived, echo data not yet read back),
then checks that the server exits 0 and that its stderr has no LeakSanitizer or other
sanitizer report.  uring and epoll also run with --threads 2 (not chat, which refuses it).  Prints TAP and a final
"N passed, N failed"; exit status 1 on any failure.
"""
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

BUILD = sys.argv[1] if len(sys.argv) > 1 else "build-asan"
SERVER = os.path.join(BUILD, "servers", "ringlab-server")
ENGINES = ["uring", "epoll", "blocking"]
PROTOCOLS = ["echo", "greeting", "udp", "chat", "file"]
REPORT = re.compile(r"(LeakSanitizer|AddressSanitizer|UndefinedBehaviorSanitizer|runtime error:)")

count = failed = 0


def ok(cond, name, diag=""):
    global count, failed
    count += 1
    if not cond:
        failed += 1
    print("%s %d - %s" % ("ok" if cond else "not ok", count, name))
    if not cond and diag:
        for line in diag.rstrip().splitlines()[-60:]:
            print("#   " + line)
    sys.stdout.flush()


def start(protocol, engine, extra):
    env = dict(os.environ)
    env["ASAN_OPTIONS"] = "detect_leaks=1:abort_on_error=0:exitcode=23"
    env["UBSAN_OPTIONS"] = "print_stacktrace=1:halt_on_error=1"
    proc = subprocess.Popen([SERVER, protocol, "--engine", engine, "--listen", "127.0.0.1:0",
                             "--drain-timeout", "2s"] + extra,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    line = proc.stdout.readline().strip()
    if not line.startswith("listening on "):
        proc.kill()
        raise RuntimeError("server did not start: %r %s" % (line, proc.stderr.read()))
    host, port = line[len("listening on "):].rsplit(":", 1)
    return proc, (host, int(port))


def tcp(addr):
    s = socket.create_connection(addr, timeout=10)
    s.settimeout(10)
    return s


def recv_exact(s, n):
    buf = b""
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        if not chunk:
            break
        buf += chunk
    return buf


def read_line(s):
    buf = b""
    while not buf.endswith(b"\n"):
        c = s.recv(1)
        if not c:
            break
        buf += c
    return buf


def drive(protocol, addr, busy, root):
    """Traffic; returns the sockets to keep open over the SIGTERM (busy) or []."""
    keep = []
    if protocol == "echo":
        for i in range(3):
            s = tcp(addr)
            msg = b"x" * (1000 * (i + 1))
            s.sendall(msg)
            assert recv_exact(s, len(msg)) == msg
            if busy:
                s.sendall(b"unread reply " * 5000)  # replies queued, never read
                keep.append(s)
            else:
                s.close()
    elif protocol == "greeting":
        for _ in range(3):
            s = tcp(addr)
            s.recv(4096)
            if busy:
                keep.append(s)
            else:
                s.close()
    elif protocol == "udp":
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        u.settimeout(5)
        for i in range(5):
            u.sendto(b"datagram %d" % i, addr)
            u.recvfrom(65536)
        if busy:
            for i in range(50):
                u.sendto(b"y" * 1200, addr)  # in flight at SIGTERM
        u.close()
    elif protocol == "chat":
        a, b = tcp(addr), tcp(addr)
        time.sleep(0.2)
        a.sendall(b"hello from a\n")
        assert b"hello from a" in read_line(b)
        if busy:
            a.sendall(b"a partial line with no newline")
            keep += [a, b]
        else:
            a.close()
            b.close()
    elif protocol == "file":
        s = tcp(addr)
        data = os.urandom(100000)
        s.sendall(b"PUT f.bin %d\n" % len(data) + data)
        line = read_line(s)
        assert line.startswith(b"OK"), line
        s.sendall(b"GET f.bin\n")
        line = read_line(s)
        assert line.startswith(b"OK"), line
        assert recv_exact(s, int(line.split()[1])) == data
        s.sendall(b"LIST\n")
        time.sleep(0.1)
        s.recv(65536)
        if busy:
            s.sendall(b"PUT partial.bin 1000000\n" + b"z" * 5000)  # body cut short
            keep.append(s)
            g = tcp(addr)
            g.sendall(b"GET f.bin\n")  # a download nobody reads
            keep.append(g)
        else:
            s.sendall(b"DEL f.bin\n")
            read_line(s)
            s.close()
    return keep


def one(protocol, engine, busy, extra):
    root = tempfile.mkdtemp(prefix="rl-lsan-")
    args = list(extra) + (["--root", root] if protocol == "file" else [])
    name = "%s on %s%s, SIGTERM %s" % (protocol, engine, " " + " ".join(extra) if extra else "",
                                       "with clients connected" if busy else "when idle")
    try:
        proc, addr = start(protocol, engine, args)
    except Exception as e:  # noqa: BLE001
        ok(False, name, "start: %r" % e)
        shutil.rmtree(root, ignore_errors=True)
        return
    keep = []
    err_traffic = ""
    try:
        keep = drive(protocol, addr, busy, root)
    except Exception as e:  # noqa: BLE001
        err_traffic = "traffic failed: %r" % e
    time.sleep(0.2)
    proc.send_signal(signal.SIGTERM)
    try:
        _, err = proc.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        _, err = proc.communicate()
        err += "\n[killed after 30s]"
    for s in keep:
        s.close()
    shutil.rmtree(root, ignore_errors=True)
    report = REPORT.search(err or "")
    ok(proc.returncode == 0 and not report and not err_traffic, name,
       "exit %s %s\n%s" % (proc.returncode, err_traffic, err))


def main():
    if not os.access(SERVER, os.X_OK):
        print("Bail out! no server binary at %s" % SERVER)
        return 1
    for engine in ENGINES:
        for protocol in PROTOCOLS:
            for busy in (False, True):
                one(protocol, engine, busy, [])
            if engine != "blocking" and protocol != "chat":  # chat is one loop by design
                one(protocol, engine, True, ["--threads", "2"])
    print("1..%d" % count)
    print("%d passed, %d failed" % (count - failed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
