#!/usr/bin/env python3
"""udp: each datagram is echoed to its sender, or answered with --reply TEXT.

Checks, per engine: 1 B, 64 B, 1400 B and 65507 B datagrams echoed exactly; a 0-byte
datagram answered with a 0-byte one; --reply answering every datagram with exactly its
text; 100 client sockets each getting only their own reply; --max-datagram 100 dropping a
200-byte datagram (counted as truncated) while smaller ones are echoed; junk and vanished
senders not hurting the server; SIGTERM -> exit 0; IPv6 [::1]:0; a unix listener refused
with exit status 1 and a clear error."""
import os
import socket
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


def main():
    args = harness.parse_args()
    tap = harness.Tap()
    for fn in (echo_sizes, fixed_reply, long_reply, many_clients, max_datagram, robustness, ipv6, unix_refused):
        harness.guard(tap, fn.__name__, fn, tap, args.engine)
    return tap.done()


if __name__ == "__main__":
    sys.exit(main())
