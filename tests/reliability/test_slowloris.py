#!/usr/bin/env python3
"""slowloris at a fixed offered load: the echo server with --max-conns-per-source 64,
attacked by `ringlab-load slowloris` (one byte per connection per second, reconnecting
when cut) from 127.0.0.2 upwards, while 32 active clients from 127.0.0.1 run open loop at
20% of the closed-loop capacity measured at the start of the same test.  Runs alternate
without and with the attack.

CI size (default): 2 pairs, 1,000 attacker connections from 10 sources (100 each, so the
cap of 64 bites; under a sanitizer 1 pair, 300 from 3 sources); it asserts what a loaded
2-core machine can hold: 0 errors on the active clients, every request accounted for, the
achieved rate within 10% of the offered one in every run whose load generator kept up at
the window's edges, attackers capped (source-refused > 0, held <= 64 per source), the
server alive.
Full size (RINGLAB_SLOWLORIS_FULL=1): 10 pairs, 5,000 attacker connections from
127.0.0.2-127.0.0.50; it asserts 0 errors, the achieved rate within 1% of the offered one,
and the corrected p99 under attack at most 2x the no-attack p99 in at least 9 of 10 pairs.
RINGLAB_SLOWLORIS_N, RINGLAB_SLOWLORIS_PAIRS and RINGLAB_SLOWLORIS_SECS (each run's
window) override the sizes; RINGLAB_SLOWLORIS_PIN=1 pins the server to CPU 0 and both load
generators to CPU 1; RINGLAB_SLOWLORIS_SERVER_ARGS adds server options (e.g.
--no-source-filter, for an A/B of the SYN filter).  RINGLAB_SLOWLORIS_CONTROL=1 is the A/A
control: the same alternation and timing with no attacker at all, to show how many pairs
land within 2x on this machine by noise alone (the attack checks are then skipped; the
p99 criterion is printed, not asserted).  For experiments, RINGLAB_SLOWLORIS_INTERVAL sets
the attacker's --interval (default 1s) and RINGLAB_SLOWLORIS_SETTLE the seconds between
the attacker's start and the measured run (default 2).  Every pair is printed with the
server's CPU and RSS, and the attacker's held connections, cuts/s and CPU."""
import json
import os
import shlex
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import rel  # noqa: E402

CAP = 64
ACTIVE_CONNS = 32
TICK = os.sysconf("SC_CLK_TCK")


def cpu_s(pid):
    """User + system CPU seconds of process `pid`."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def server_side_open(port, peer="0100007F"):
    """Server-side TCP sockets on `port` whose peer is 127.0.0.1, not yet closed by the
    server (ESTABLISHED or CLOSE_WAIT): they still count against its per-source cap."""
    n = 0
    with open("/proc/net/tcp") as f:
        next(f)
        for line in f:
            fields = line.split()
            local, remote, st = fields[1], fields[2], fields[3]
            if int(local.split(":")[1], 16) == port and remote.split(":")[0] == peer \
                    and st in ("01", "08"):
                n += 1
    return n


def settle(port):
    """Waits (up to 5 s) until the last run's clients are gone from the server."""
    deadline = time.monotonic() + 5
    while server_side_open(port) and time.monotonic() < deadline:
        time.sleep(0.05)


def pinned(cmd, cpu):
    return ["taskset", "-c", str(cpu)] + cmd if cpu is not None else cmd


class Attacker:
    """ringlab-load slowloris in the background until .stop(); .stop() returns its JSON."""

    def __init__(self, addr, n, sources, cpu):
        fd, self.path = tempfile.mkstemp(prefix="ringlab-slowloris-", suffix=".json")
        os.close(fd)
        cmd = [rel.harness.LOAD, "slowloris", "--target", "%s:%d" % addr, "-c", str(n),
               "--interval", os.environ.get("RINGLAB_SLOWLORIS_INTERVAL", "1s"), "--source", sources, "--json", self.path, "--quiet"]
        self.proc = subprocess.Popen(pinned(cmd, cpu), stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            out, _ = self.proc.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            out, _ = self.proc.communicate()
        try:
            with open(self.path) as f:
                doc = json.load(f)
        except (OSError, ValueError):
            doc = None
        os.unlink(self.path)
        return doc, out


class NoAttacker:
    """The A/A control's stand-in: nothing runs."""

    def stop(self):
        return None, ""


def active(addr, rate, secs, cpu):
    """One open-loop run of the active clients: (doc, rc, out)."""
    args = ["-c", ACTIVE_CONNS, "-d", "%gs" % secs, "--warmup", "500ms"]
    if rate:
        args += ["--rate", "%d" % rate]
    if cpu is None:
        rc, doc, out = rel.run_load("echo", addr, args, timeout=secs + 60)
    else:
        fd, path = tempfile.mkstemp(prefix="ringlab-rel-", suffix=".json")
        os.close(fd)
        cmd = pinned(rel.load_cmd("echo", addr, args, path), cpu)
        p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                           timeout=secs + 60)
        rc, out = p.returncode, p.stdout
        try:
            with open(path) as f:
                doc = json.load(f)
        except (OSError, ValueError):
            doc = None
        os.unlink(path)
    if doc is None:
        raise RuntimeError("ringlab-load gave no JSON: %s" % out)
    return doc, rc, out


def measured(srv, addr, rate, secs, cpu):
    """An active run with the server's CPU share and RSS over it."""
    settle(addr[1])
    c0, t0 = cpu_s(srv.pid), time.monotonic()
    doc, rc, out = active(addr, rate, secs, cpu)
    share = (cpu_s(srv.pid) - c0) / (time.monotonic() - t0)
    return {"doc": doc, "rc": rc, "p99": rel.p99_of(doc),
            "achieved": doc["totals"]["requests_per_s"],
            "errors": rel.errors_of(doc).get("total", 1),
            "server_cpu": share, "rss_kib": rel.rss_kib(srv.pid)}


def main():
    args = rel.parse_args()
    tap = rel.Tap()
    full = os.environ.get("RINGLAB_SLOWLORIS_FULL") == "1"
    n = int(os.environ.get("RINGLAB_SLOWLORIS_N", "5000" if full else "1000"))
    pairs = int(os.environ.get("RINGLAB_SLOWLORIS_PAIRS", "10" if full else "2"))
    nsrc = 49 if full else 10
    if rel.sanitizer() and not full:
        # The ThreadSanitizer run of the blocking engine: one thread per held connection
        # under TSan; a third of the size keeps it bounded (100 per source still > cap).
        n, nsrc, pairs = min(n, 300), 3, 1
    sources = "127.0.0.2-127.0.0.%d" % (1 + nsrc)
    secs = float(os.environ.get("RINGLAB_SLOWLORIS_SECS", "3" if full else "2"))
    pin = os.environ.get("RINGLAB_SLOWLORIS_PIN") == "1"
    control = os.environ.get("RINGLAB_SLOWLORIS_CONTROL") == "1"
    load_cpu = 1 if pin else None
    rate_tol = 0.01 if full else 0.10
    srv_args = ["--idle-timeout", "10s", "--max-conns-per-source", str(CAP)]
    srv_args += shlex.split(os.environ.get("RINGLAB_SLOWLORIS_SERVER_ARGS", ""))
    preexec = (lambda: os.sched_setaffinity(0, {0})) if pin else None
    tap.diag("%s size: %d pairs, %d attacker connections from %s, cap %d per source%s; server %s"
             % ("full" if full else "CI", pairs, n, sources, CAP, ", pinned" if pin else "",
                " ".join(srv_args)))
    if control:
        tap.diag("A/A CONTROL: no attacker runs; the second run of each pair is a clean one")
    with rel.LogServer("echo", engine=args.engine, args=srv_args, preexec_fn=preexec) as srv:
        cap_doc, _, _ = active(srv.addr, None, 2, load_cpu)
        capacity = cap_doc["totals"]["requests_per_s"]
        rate = int(capacity * 0.2)
        tap.diag("closed-loop capacity %.0f req/s; offered open-loop rate %d req/s"
                 % (capacity, rate))
        runs = []
        for i in range(pairs):
            base = measured(srv, srv.addr, rate, secs, load_cpu)
            a = NoAttacker() if control else Attacker(srv.addr, n, sources, load_cpu)
            # Every attacker has connected once, the excess been refused.
            time.sleep(float(os.environ.get("RINGLAB_SLOWLORIS_SETTLE", "2")))
            att = measured(srv, srv.addr, rate, secs, load_cpu)
            att["attacker"], att["attacker_out"] = a.stop()
            runs.append((base, att))
            ad = att["attacker"] or {}
            tap.diag("pair %2d: p99 %7.0f / %7.0f us (%.2fx); achieved %.0f / %.0f req/s; "
                     "server CPU %.0f%% / %.0f%%, RSS %d / %d KiB; attacker: held %s "
                     "(mean %.0f), cuts %.0f/s, reconnects %s, CPU %.0f%%"
                     % (i + 1, base["p99"], att["p99"], att["p99"] / base["p99"],
                        base["achieved"], att["achieved"], 100 * base["server_cpu"],
                        100 * att["server_cpu"], base["rss_kib"] or 0, att["rss_kib"] or 0,
                        ad.get("held"), ad.get("held_mean", 0), ad.get("cuts_per_s", 0),
                        ad.get("reconnects"), 100 * ad.get("cpu_share", 0)))
        alive = srv.alive()
        code, serr = srv.stop()
    every = [r for p in runs for r in p]
    errs = sum(r["errors"] for r in every)
    tap.ok(errs == 0, "active clients: 0 errors in all %d runs (%d)" % (len(every), errs))
    worst = max(abs(r["achieved"] - rate) / rate for r in every)
    if full:
        tap.ok(worst <= rate_tol, "achieved rate within %.0f%% of the offered %d req/s in "
               "every run (worst %.2f%%)" % (100 * rate_tol, rate, 100 * worst))
    else:
        # CI size, on a machine other jobs may load: a run whose load generator reports it
        # fell behind at the window's edges is excused from the rate bound (the full-size
        # run never is), but every request of every run must still be accounted for.
        kept = [r for r in every if rel.harness.kept_up(r["doc"], rate, rate_tol)]
        worst_kept = max([abs(r["achieved"] - rate) / rate for r in kept] or [0.0])
        tap.ok(worst_kept <= rate_tol, "achieved rate within %.0f%% of the offered %d req/s "
               "in every run that kept up (%d of %d; worst %.2f%%, worst of all %.2f%%)"
               % (100 * rate_tol, rate, len(kept), len(every), 100 * worst_kept,
                  100 * worst))
        unaccounted = []
        for r in every:
            t = r["doc"]["totals"]
            if t["requests"] != t["scheduled"] + t["behind_at_start"] - t["behind_at_end"]:
                unaccounted.append(t)
        tap.ok(not unaccounted, "every request accounted for: finished = scheduled + "
               "unfinished at the start - unfinished at the end, in every run",
               json.dumps(unaccounted[:2]))
    within = sum(1 for b, a in runs if a["p99"] <= 2 * b["p99"])
    ratios = ["%.2f" % (a["p99"] / b["p99"]) for b, a in runs]
    if control:
        tap.diag("A/A control: second run's p99 <= 2x the first's in %d of %d pairs: %s"
                 % (within, pairs, ratios))
        tap.ok(alive and code == 0, "server alive, exit 0 (got %s)" % code)
        return tap.done()
    held = [(p[1]["attacker"] or {}).get("held", 10 ** 9) for p in runs]
    # The attacker counts a connection as held from its connect until it sees the
    # server's close: one being refused at the moment it stops is counted, hence 2%.
    tap.ok(max(held) <= CAP * nsrc * 1.02, "attackers capped: at most %d held (%d per source "
           "x %d, +2%% mid-refusal); held at the end of each attack: %s"
           % (CAP * nsrc, CAP, nsrc, held))
    if full:
        tap.ok(within >= pairs - pairs // 10, "corrected p99 under attack <= 2x the no-attack "
               "p99 in %d of %d pairs (need %d): %s" % (within, pairs, pairs - pairs // 10,
                                                         ratios))
    else:
        tap.diag("p99 ratios (not asserted at CI size): %s" % ratios)
    tap.ok(alive, "server alive after the attacks")
    c = rel.parse_counters(serr) or {}
    tap.ok(code == 0, "server exit 0 (got %s)" % code, rel.counters_diag(serr))
    # Over-cap sources are refused at SYN by the listener's filter (source-blocked) or,
    # until it is attached and under --no-source-filter, accepted and reset.
    tap.ok(c.get("source-refused", 0) + c.get("source-blocked", 0) > 0,
           "counters: source-refused %s + source-blocked %s > 0"
           % (c.get("source-refused"), c.get("source-blocked")))
    tap.diag("counters: %s" % c)
    return tap.done()


if __name__ == "__main__":
    sys.exit(main())
