#!/usr/bin/env python3
"""udp: each datagram is echoed to its sender, or answered with --reply TEXT.

Checks, per engine: 1 B, 64 B, 1400 B and 65507 B datagrams echoed exactly; a 0-byte
datagram answered with a 0-byte one; --reply answering every datagram with exactly its
text; 100 client sockets each getting only their own reply; --max-datagram 100 dropping a
200-byte datagram (counted as truncated) while smaller ones are echoed; junk and vanished
senders not hurting the server; SIGTERM -> exit 0; IPv6 [::1]:0; a unix listener refused
with exit status 1 and a clear error.  --sockperf: a crafted sockperf ping (client and
pong-request flags, big-endian) comes back whole with the client flag cleared, anything
else gets no reply; and `sockperf ping-pong` itself, when installed, measures the server."""
import os
import re
import shutil
import socket
import struct
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

MAX_UDP = 65507


def client(srv, timeout=5.0):
    s = socket.socket(srv.family, socket.SOCK_DGRAM)
    s.settimeout(timeout)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
    s.bind(("::1", 0) if srv.family == socket.AF_INET6 else ("127.0.0.1", 0))
    return s


def exchange(s, srv, payload, timeout=5.0):
    """Sends one datagram; returns (reply, sender address) or (None, None) on timeout."""
    s.settimeout(timeout)
    s.sendto(payload, srv.addr)
    try:
        data, addr = s.recvfrom(70000)
    except socket.timeout:
        return None, None
    return data, addr


def no_reply(s, wait):
    """True when nothing arrives on `s` within `wait` seconds."""
    s.settimeout(wait)
    try:
        data = s.recvfrom(70000)
    except socket.timeout:
        return True, None
    return False, data


def same_endpoint(a, b):
    return a[0] == b[0] and a[1] == b[1]


def stop_checks(tap, srv, what, checks=None):
    rc, err = srv.stop()
    tap.ok(rc == 0, "%s: SIGTERM -> exit status 0" % what, "rc %r, stderr:\n%s" % (rc, err))
    c = harness.parse_counters(err)
    if checks:
        for desc, pred in checks:
            tap.ok(c is not None and pred(c), "%s: final counters: %s" % (what, desc),
                   "counters %r, stderr:\n%s" % (c, err))
    return c


def echo_sizes(tap, engine):
    with harness.Server("udp", engine) as srv:
        s = client(srv)
        sent = 0
        for size in (1, 64, 1400, MAX_UDP):
            payload = os.urandom(size)
            got, addr = exchange(s, srv, payload)
            sent += 1
            tap.ok(got == payload and addr is not None and same_endpoint(addr, srv.addr),
                   "%d B datagram echoed exactly, from the server's address" % size,
                   "got %s from %r" % ("nothing" if got is None else "%d bytes" % len(got), addr))
        got, addr = exchange(s, srv, b"")
        sent += 1
        tap.ok(got == b"", "0-byte datagram answered with a 0-byte datagram",
               "got %r" % (got if got is None or len(got) < 40 else "%d bytes" % len(got)))

        # Several datagrams in flight at once come back intact (order on loopback kept).
        payloads = [os.urandom(100 + i * 97) for i in range(50)]
        for p in payloads:
            s.sendto(p, srv.addr)
        sent += len(payloads)
        got = []
        try:
            for _ in payloads:
                got.append(s.recvfrom(70000)[0])
        except socket.timeout:
            pass
        tap.ok(sorted(got) == sorted(payloads), "50 datagrams sent back to back: 50 exact echoes",
               "got %d echoes, %d match" % (len(got), len(set(got) & set(payloads))))
        s.close()
        stop_checks(tap, srv, "echo", [
            ("requests %d" % sent, lambda c: c.get("requests") == sent),
            ("truncated 0, errors 0", lambda c: c.get("truncated") == 0 and c.get("errors") == 0),
        ])


def fixed_reply(tap, engine):
    text = "Hello UDP Client"
    with harness.Server("udp", engine, args=["--reply", text]) as srv:
        s = client(srv)
        outs = []
        for payload in (b"hi", b"", os.urandom(3000), b"Hello UDP Client", os.urandom(MAX_UDP)):
            got, _ = exchange(s, srv, payload)
            outs.append(got)
        tap.ok(all(o == text.encode() for o in outs),
               "--reply 'Hello UDP Client' answers every datagram (0 B .. 65507 B) with exactly it",
               "got %r" % [o if o is None or len(o) < 40 else "%d bytes" % len(o) for o in outs])
        ok, extra = no_reply(s, 0.3)
        tap.ok(ok, "--reply: exactly one answer per datagram", "extra %r" % (extra,))
        s.close()
        stop_checks(tap, srv, "--reply")


def long_reply(tap, engine):
    """--max-datagram limits what is received, not what --reply sends."""
    text = "R" * 150
    with harness.Server("udp", engine, args=["--max-datagram", "64", "--reply", text]) as srv:
        s = client(srv)
        got, _ = exchange(s, srv, b"x" * 10, timeout=2.0)
        tap.ok(got == text.encode(),
               "--reply of 150 B with --max-datagram 64: a 10-byte datagram gets the whole 150-byte reply",
               "got %s" % ("nothing" if got is None else "%d bytes" % len(got)))
        s.close()
        stop_checks(tap, srv, "long --reply", [
            ("errors 0", lambda c: c.get("errors") == 0)])


def many_clients(tap, engine):
    n = 100
    with harness.Server("udp", engine) as srv:
        socks = [client(srv) for _ in range(n)]
        ports = {s.getsockname()[1] for s in socks}
        payloads = [("client %d of %d: " % (i, n)).encode() + os.urandom(64) for i in range(n)]
        for s, p in zip(socks, payloads):
            s.sendto(p, srv.addr)
        bad = []
        for i, s in enumerate(socks):
            s.settimeout(5)
            try:
                data, _ = s.recvfrom(70000)
            except socket.timeout:
                data = None
            if data != payloads[i]:
                bad.append((i, data[:20] if data else data))
        tap.ok(len(ports) == n and not bad,
               "%d sockets (different source ports) each get their own datagram back" % n,
               "%d distinct ports; wrong/missing: %r" % (len(ports), bad[:5]))
        extra = [i for i, s in enumerate(socks) if not no_reply(s, 0.01 if i else 0.3)[0]]
        tap.ok(not extra, "no socket gets a second (cross-talk) datagram", "extra on %r" % extra[:10])
        for s in socks:
            s.close()
        tap.ok(srv.alive(), "server still running after %d clients" % n)
        stop_checks(tap, srv, "many clients")


def max_datagram(tap, engine):
    with harness.Server("udp", engine, args=["--max-datagram", "100"]) as srv:
        s = client(srv)
        s.sendto(os.urandom(200), srv.addr)
        ok, extra = no_reply(s, 0.5)
        tap.ok(ok, "--max-datagram 100: a 200-byte datagram gets no reply",
               "got %r" % (extra and len(extra[0]),))
        p = os.urandom(50)
        got, _ = exchange(s, srv, p)
        tap.ok(got == p, "--max-datagram 100: a 50-byte datagram is still echoed",
               "got %r" % (got and len(got),))
        p = os.urandom(100)
        got, _ = exchange(s, srv, p)
        tap.ok(got == p, "--max-datagram 100: a datagram of exactly 100 bytes is echoed whole",
               "got %r" % (got and len(got),))
        s.sendto(os.urandom(MAX_UDP), srv.addr)
        s.sendto(os.urandom(101), srv.addr)
        ok, extra = no_reply(s, 0.5)
        tap.ok(ok, "--max-datagram 100: 101-byte and 65507-byte datagrams get no reply either",
               "got %r" % (extra and len(extra[0]),))
        p = b"still here"
        got, _ = exchange(s, srv, p)
        tap.ok(got == p, "--max-datagram 100: echo still works after dropped datagrams",
               "got %r" % (got,))
        s.close()
        stop_checks(tap, srv, "--max-datagram", [
            ("truncated 3", lambda c: c.get("truncated") == 3),
            ("requests 3 (only the echoed ones)", lambda c: c.get("requests") == 3),
        ])


def robustness(tap, engine):
    with harness.Server("udp", engine) as srv:
        # Junk: random binary of many sizes, from many sockets, without reading replies.
        junk = []
        for i in range(20):
            j = socket.socket(srv.family, socket.SOCK_DGRAM)
            for k in range(10):
                j.sendto(os.urandom((i * 997 + k * 131) % 9000), srv.addr)
            junk.append(j)
        # Senders that are gone before their reply arrives (ICMP port unreachable back).
        for j in junk:
            j.close()
        for _ in range(20):
            g = socket.socket(srv.family, socket.SOCK_DGRAM)
            g.sendto(b"\xff\x00" * 700, srv.addr)
            g.close()
        time.sleep(0.3)
        tap.ok(srv.alive(), "junk datagrams and vanished senders do not kill the server")
        s = client(srv)
        p = b"normal echo after junk"
        got, _ = exchange(s, srv, p)
        tap.ok(got == p, "a normal echo still works after junk and vanished senders", "got %r" % (got,))
        s.close()
        stop_checks(tap, srv, "after junk")


def ipv6(tap, engine):
    try:
        srv = harness.Server("udp", engine, listen="[::1]:0")
    except RuntimeError as e:
        tap.ok(False, "IPv6 [::1]:0 listener starts", e)
        return
    with srv:
        tap.ok(srv.family == socket.AF_INET6 and srv.addr[0] == "::1" and srv.addr[1] > 0,
               "IPv6 [::1]:0: 'listening on [::1]:PORT' with the picked port", srv.spec)
        s = client(srv)
        p = os.urandom(1400)
        got, addr = exchange(s, srv, p)
        tap.ok(got == p, "IPv6: a 1400 B datagram is echoed exactly", "got %r" % (got and len(got),))
        got, _ = exchange(s, srv, b"")
        tap.ok(got == b"", "IPv6: a 0-byte datagram is answered with a 0-byte datagram", "got %r" % (got,))
        s.close()
        stop_checks(tap, srv, "IPv6")


def unix_refused(tap, engine):
    path = os.path.join("/tmp", "ringlab-udp-test-%d.sock" % os.getpid())
    try:
        p = subprocess.run([harness.SERVER, "udp", "--engine", engine, "--listen", "unix:" + path],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=10)
    except subprocess.TimeoutExpired:
        tap.ok(False, "udp on a unix listener is refused (exit 1)", "still running after 10 s")
        tap.ok(False, "udp on a unix listener: a clear error on stderr")
        return
    tap.ok(p.returncode == 1 and "listening on" not in p.stdout,
           "udp on a unix listener is refused with exit status 1",
           "rc %r, stdout %r, stderr %r" % (p.returncode, p.stdout, p.stderr))
    err = p.stderr.strip()
    tap.ok(err and path in err and ("not supported" in err.lower() or "unix" in err.lower()),
           "udp on a unix listener: a clear error naming the address on stderr", "stderr %r" % err)
    tap.ok(not os.path.exists(path), "udp on a unix listener: no socket file left behind")
    if os.path.exists(path):
        os.unlink(path)


SP_CLIENT, SP_PONG_REQ, SP_WARMUP = 0x0001, 0x0002, 0x0004


def sockperf_msg(seq, flags, payload=b"", flags_fmt=">H"):
    """A sockperf message: sequence (u64), flags (u16), length (u32), then payload."""
    return (struct.pack(">Q", seq) + struct.pack(flags_fmt, flags) +
            struct.pack(">I", 14 + len(payload)) + payload)


def sockperf_crafted(tap, engine):
    with harness.Server("udp", engine, args=["--sockperf"]) as srv:
        s = client(srv)
        answered = 0
        for what, payload in (("a 14-byte ping", b""), ("a 1000-byte ping", os.urandom(986))):
            ping = sockperf_msg(0x0102030405060708, SP_CLIENT | SP_PONG_REQ, payload)
            want = sockperf_msg(0x0102030405060708, SP_PONG_REQ, payload)
            got, _ = exchange(s, srv, ping)
            answered += len(want)
            tap.ok(got == want, "--sockperf: %s (flags 0x0003) comes back whole with flags 0x0002"
                   % what, "sent %s\ngot  %s" % (ping[:20].hex(), got and got[:20].hex()))
        other = sockperf_msg(7, 0x8100 | SP_CLIENT | SP_PONG_REQ)
        got, _ = exchange(s, srv, other)
        answered += len(other)
        tap.ok(got == sockperf_msg(7, 0x8100 | SP_PONG_REQ),
               "--sockperf: flag bits other than the client bit are sent back as they came",
               "got %r" % (got and got.hex()))
        silent = [
            ("10 bytes (shorter than the header)", sockperf_msg(1, 3)[:10]),
            ("0 bytes", b""),
            ("no pong request (flags 0x0001)", sockperf_msg(2, SP_CLIENT)),
            ("a pong, not from a client (flags 0x0002)", sockperf_msg(3, SP_PONG_REQ)),
            ("warm-up (flags 0x0007)", sockperf_msg(4, SP_CLIENT | SP_PONG_REQ | SP_WARMUP)),
            ("flags little-endian (bytes 03 00)", sockperf_msg(5, 3, flags_fmt="<H")),
        ]
        for what, dgram in silent:
            s.sendto(dgram, srv.addr)
            ok, extra = no_reply(s, 0.3)
            tap.ok(ok, "--sockperf: no reply to %s" % what, "got %r" % (extra,))
        got, _ = exchange(s, srv, sockperf_msg(9, 3))
        answered += 14
        tap.ok(got == sockperf_msg(9, 2),
               "--sockperf: pings still answered after ignored datagrams",
               "got %r" % (got,))
        s.close()
        sent = 4 + len(silent)
        stop_checks(tap, srv, "--sockperf", [
            ("requests %d (ignored datagrams counted too)" % sent,
             lambda c: c.get("requests") == sent),
            ("bytes out %d (the answers only), errors 0" % answered,
             lambda c: c.get("bytes out") == answered and c.get("errors") == 0),
        ])


def sockperf_pingpong(tap, engine):
    name = "sockperf ping-pong -t 1 against --sockperf: runs clean with observations"
    sockperf = shutil.which("sockperf")
    if not sockperf:
        tap.ok(True, name + " # SKIP no sockperf")
        return
    with harness.Server("udp", engine, args=["--sockperf"]) as srv:
        try:
            p = subprocess.run([sockperf, "ping-pong", "-i", srv.addr[0], "-p", str(srv.addr[1]),
                                "-t", "1"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               timeout=30)
            out = p.stdout.decode(errors="replace")
            rc = p.returncode
        except subprocess.TimeoutExpired:
            out, rc = "still running after 30 s", None
        m = re.search(r"Total (\d+) observations", out)
        tap.ok(rc == 0 and m and int(m.group(1)) > 0, "%s (%s)" % (name, m and m.group(0)),
               "rc %r, output:\n%s" % (rc, out[-2000:]))
        stop_checks(tap, srv, "after sockperf", [
            ("errors 0", lambda c: c.get("errors") == 0)])


def sockperf_with_reply(tap, engine):
    p = subprocess.run([harness.SERVER, "udp", "--engine", engine, "--listen", "127.0.0.1:0",
                        "--sockperf", "--reply", "x"], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True, timeout=10)
    tap.ok(p.returncode == 2 and "--sockperf" in p.stderr,
           "--sockperf with --reply is bad usage: exit status 2 naming --sockperf",
           "rc %r, stderr %r" % (p.returncode, p.stderr))


def main():
    args = harness.parse_args()
    tap = harness.Tap()
    for fn in (echo_sizes, fixed_reply, long_reply, many_clients, max_datagram, robustness, ipv6,
               unix_refused, sockperf_crafted, sockperf_pingpong, sockperf_with_reply):
        harness.guard(tap, fn.__name__, fn, tap, args.engine)
    return tap.done()


if __name__ == "__main__":
    sys.exit(main())
