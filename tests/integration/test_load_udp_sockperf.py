#!/usr/bin/env python3
"""ringlab-load udp --sockperf: datagrams in sockperf's ping-pong format.

On every engine: against `ringlab-server udp --sockperf` a closed-loop and an open-loop run
end clean (every reply verified, zero errors, zero loss), also at the smallest --size (22);
against a plain `ringlab-server udp` (an echo: the client flag comes back set) every socket
fails with a mismatch at byte 9 and the run exits 1.  Once (uring): against a real
`sockperf sr` (skipped when sockperf is not installed), and against small Python
responders that answer like sockperf but spoil every 5th reply -- a payload byte, the
sequence number (one never sent), the length field -- each counted as a mismatch, exit 1."""
import json
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

SP_HEADER = struct.Struct(">QHI")  # sequence number, flags, length: sockperf's 14 bytes
SP_CLIENT, SP_PONG_REQ = 0x0001, 0x0002


def sp_ping(seq, size):
    """A sockperf ping-pong request of `size` bytes."""
    return SP_HEADER.pack(seq, SP_CLIENT | SP_PONG_REQ, size) + bytes(size - SP_HEADER.size)


def Responder(spoil):
    """A UDP peer in a thread (harness.UdpPeer) that answers like `sockperf sr` (the client
    flag cleared), spoiling every 5th reply: 'payload' flips byte 30, 'seq' adds 2**40 to
    the sequence number, 'length' adds 1 to the length field."""
    def answer(data, n):
        seq, flags, length = SP_HEADER.unpack_from(data)
        body = bytearray(data[SP_HEADER.size:])
        if n % 5 == 0:
            if spoil == "payload":
                body[30 - SP_HEADER.size] ^= 1
            elif spoil == "seq":
                seq += 1 << 40
            elif spoil == "length":
                length += 1
        return [SP_HEADER.pack(seq, flags & ~SP_CLIENT, length) + bytes(body)]
    return harness.UdpPeer(answer)


def clean(tap, what, res, conns, least=100):
    """Checks a run that must be clean: exit 0, every socket, zero errors and loss, and at
    least `least` datagrams answered (open-loop runs pass 1: how many were due is
    check_schedule's to judge, which a busy machine cannot fail)."""
    rc, out, err, doc, secs = res
    diag = harness.load_diag(rc, out, err, secs)
    if not tap.ok(rc == 0 and doc is not None, "%s: exit status 0" % what, diag):
        return None
    d = doc["datagrams"]
    tap.ok(doc["parameters"].get("sockperf") is True and "(sockperf ping-pong)" in out,
           "%s: the report says sockperf" % what, json.dumps(doc["parameters"]))
    tap.ok(doc["errors"]["total"] == 0 and doc["connections"]["reached"] == conns,
           "%s: zero errors, %d sockets" % (what, conns), json.dumps(doc["errors"]))
    tap.ok(d["answered"] >= least and d["lost"] == 0 and d["duplicates"] == 0 and d["late"] == 0,
           "%s: %d answered, none lost, duplicated or late" % (what, d["answered"]),
           json.dumps(d))
    return doc


def engine_runs(tap, engine):
    with harness.Server("udp", engine=engine, args=["--sockperf"]) as srv:
        base = ["udp", "--sockperf", "--target", srv.spec, "--warmup", "0.3"]
        clean(tap, "--sockperf, 50 sockets, pipeline 4",
              harness.run_load(base + ["-c", "50", "-p", "4", "-d", "1.5"]), 50)
        doc = clean(tap, "--sockperf --rate 4000, 20 sockets, 300 B",
                    harness.run_load(base + ["-c", "20", "--rate", "4000", "-d", "1.5",
                                             "-s", "300"]), 20, least=1)
        if doc:
            harness.check_schedule(tap, "--sockperf --rate 4000", doc, 4000, 20)
        clean(tap, "--sockperf --size 22 (the smallest)",
              harness.run_load(base + ["-c", "8", "-p", "2", "-d", "1", "-s", "22"]), 8)
    with harness.Server("udp", engine=engine) as srv:
        rc, out, err, doc, secs = harness.run_load(
            ["udp", "--sockperf", "--target", srv.spec, "-c", "8", "-d", "1", "--warmup", "0",
             "-q"])
        tap.ok(rc == 1 and doc is not None and doc["errors"]["mismatch"] == 8 and
               "reply byte 9: got 0x03, expected 0x02" in err,
               "--sockperf against a plain echo (client flag not cleared): 8 mismatches at "
               "byte 9, exit 1", harness.load_diag(rc, out, err, secs))


def free_udp_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def sockperf_answers(port, timeout):
    """True once a sockperf ping to 127.0.0.1:port gets its pong (within `timeout` s)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(0.1)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            s.sendto(sp_ping(1, 64), ("127.0.0.1", port))
            try:
                data = s.recv(65536)
            except (socket.timeout, ConnectionRefusedError):
                continue
            return data == SP_HEADER.pack(1, SP_PONG_REQ, 64) + bytes(64 - SP_HEADER.size)
        return False
    finally:
        s.close()


def real_sockperf(tap):
    name = "against sockperf sr: clean runs, closed and open loop"
    sockperf = shutil.which("sockperf")
    if not sockperf:
        tap.ok(True, name + " # SKIP no sockperf")
        return
    port = free_udp_port()
    proc = subprocess.Popen([sockperf, "sr", "-i", "127.0.0.1", "-p", str(port)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        if not tap.ok(sockperf_answers(port, 10), "sockperf sr answers a crafted ping with "
                      "the client flag cleared"):
            return
        base = ["udp", "--sockperf", "--target", "127.0.0.1:%d" % port, "--warmup", "0.3"]
        clean(tap, "sockperf sr, 32 sockets, pipeline 2",
              harness.run_load(base + ["-c", "32", "-p", "2", "-d", "1.5"]), 32)
        doc = clean(tap, "sockperf sr, --rate 3000, 1400 B",
                    harness.run_load(base + ["-c", "16", "--rate", "3000", "-d", "1.5",
                                             "-s", "1400"]), 16, least=1)
        if doc:
            harness.check_schedule(tap, "sockperf sr, --rate 3000", doc, 3000, 16)
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()


def spoiled(tap):
    for spoil, where in (("payload", "reply byte 30"), ("seq", "reply byte 0"),
                         ("length", "reply byte 13")):
        peer = Responder(spoil)
        try:
            rc, out, err, doc, secs = harness.run_load(
                ["udp", "--sockperf", "--target", "127.0.0.1:%d" % peer.port, "-q", "-c", "2",
                 "-d", "1", "--warmup", "0"], timeout=30)
        finally:
            peer.close()
        tap.ok(rc == 1 and doc is not None and doc["errors"]["mismatch"] == 2 and where in err,
               "responder spoiling the %s of every 5th reply: mismatches at %s, exit 1" % (
                   spoil, where), harness.load_diag(rc, out, err, secs))


def main():
    args = harness.parse_args()
    tap = harness.Tap()
    engine_runs(tap, args.engine)
    if args.engine == "uring":  # the peers below do not depend on the server engine
        real_sockperf(tap)
        spoiled(tap)
    return tap.done()


if __name__ == "__main__":
    sys.exit(main())
