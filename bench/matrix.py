"""What a benchmark run measures, and in which order.

A *workload* is a protocol and a request shape (echo-64: echo, 64 B, closed loop,
pipeline 1).  A *block* is one workload at one connection count, measured on every
engine (uring, epoll, blocking) and on the peers that speak the same protocol; the
block's trials run interleaved -- A B C A B C ... -- so that the ratios between targets
come from runs taken moments apart.  Two blocks need no mode of ringlab-load:
udp-pingpong (sockperf pp as a second client) and bulk-tcp (iperf3).

A workload is only planned when `ringlab-load --help` lists its protocol; the options
each one passes are in WORKLOADS below."""
import math
import re
import subprocess
from dataclasses import dataclass, field, replace

ENGINES = ("uring", "epoll", "blocking")
HEADLINE = ("echo-64", 1000)
PER_PROCESS_CONNS = 10000          # --full splits larger counts over load processes
SOURCE_RANGE = (2, 50)             # 127.0.0.2 .. 127.0.0.50, split between processes


@dataclass(frozen=True)
class Workload:
    name: str
    server_proto: str
    load_proto: str
    summary: str
    size: str = None               # ringlab-load --size
    pipeline: int = None           # ringlab-load --pipeline
    load_args: tuple = ()
    server_args: tuple = ()        # "{root}" is replaced by a fresh directory
    root_parent: str = None        # where that directory goes (None: $TMPDIR or /tmp)
    peers: tuple = ()              # peer targets measured in the same block
    # (peer, ringlab-load options): what the load adds to load_args against that peer
    peer_load_args: tuple = ()
    unit: str = "req/s"


WORKLOADS = {w.name: w for w in (
    Workload("echo-64", "echo", "echo", "echo, 64 B requests, closed loop, pipeline 1",
             size="64", pipeline=1),
    Workload("echo-4k", "echo", "echo", "echo, 4 KiB requests, closed loop, pipeline 1",
             size="4KiB", pipeline=1),
    Workload("echo-pipelined", "echo", "echo",
             "echo, 64 B requests, closed loop, 16 in flight per connection",
             size="64", pipeline=16),
    # ringlab-load greeting expects "Hello from ringlab\n" by default: the server's
    # default --message, and what the nginx peer returns.  Tens of thousands of
    # connections a second exhaust one source address's ports (the server closes first
    # and keeps TIME_WAIT): rotate the source addresses.
    Workload("greeting", "greeting", "greeting",
             "connect, read the greeting to EOF, close, again (N connectors at once)",
             load_args=("--source", "127.0.0.2-127.0.0.50"), peers=("nginx",),
             unit="conn/s"),
    # sockperf sr only answers datagrams that carry sockperf's header: against it the
    # load runs `ringlab-load udp --sockperf` (same sockets, size and rate; the engines get
    # plain echo datagrams of the same size).
    Workload("udp", "udp", "udp", "UDP echo, 64 B datagrams, one in flight per socket",
             size="64", pipeline=1, peers=("sockperf-sr",),
             peer_load_args=(("sockperf-sr", ("--sockperf",)),), unit="dgram/s"),
    Workload("chat", "chat", "chat",
             "chat room, 64 B lines, each fanned out to every other client",
             size="64", unit="lines/s"),
    # Uploads cost different things on different filesystems (io_uring punts every buffered
    # write to io-wq on tmpfs and ext4, not on XFS): file-put writes under $TMPDIR or /tmp
    # (this machine's disk filesystem), file-put-tmpfs under /dev/shm.  The report names
    # neither filesystem; bench/scratchfs runs bench/opcount on a chosen one.
    Workload("file-put", "file", "file", "file upload (PUT), 1 MiB files, root in /tmp",
             size="1MiB", load_args=("--mode", "put"), server_args=("--root", "{root}"),
             unit="files/s"),
    Workload("file-put-tmpfs", "file", "file",
             "file upload (PUT), 1 MiB files, root on tmpfs (/dev/shm)", size="1MiB",
             load_args=("--mode", "put"), server_args=("--root", "{root}"),
             root_parent="/dev/shm", unit="files/s"),
    Workload("file-get", "file", "file", "file download (GET), 1 MiB files", size="1MiB",
             load_args=("--mode", "get"), server_args=("--root", "{root}"),
             unit="files/s"),
)}

# Blocks that need no load mode of ours.
EXTRA_BLOCKS = {
    "udp-pingpong": "sockperf pp (UDP ping-pong, 64 B, one socket) against each UDP "
                    "server, next to ringlab-load udp -c 1",
    "bulk-tcp": "iperf3, one TCP stream: the bulk throughput ceiling of this loopback",
}


@dataclass(frozen=True)
class Preset:
    name: str
    matrix: dict                   # workload -> connection counts
    duration: float = 3.0          # measured window, s
    warmup: float = 1.0
    reps: int = 5
    peer_secs: float = 3.0         # sockperf pp / iperf3 length
    budget_s: float = None         # shorten non-headline blocks past this estimate
    extras: tuple = ("udp-pingpong", "bulk-tcp")
    peers: bool = True             # False: no peer programs (and nothing to install)
    quiet_wait_s: float = 2.0      # between trials: wait this long at most for calm
    summary: str = ""              # one line for --help and --plan


_DEFAULT_MATRIX = {
    "echo-64": [1, 100, 1000, 10000],
    "echo-4k": [1, 100, 1000],
    "echo-pipelined": [1, 100, 1000],
    "greeting": [100, 1000],
    "udp": [1, 64],
    "chat": [10, 100],
    "file-put": [16, 100],
    "file-put-tmpfs": [100],
    "file-get": [1, 16],
}
PRESETS = {
    # CI keeps the harness from rotting: one short trial per engine, in seconds.
    "smoke": Preset("smoke", {"echo-64": [10]}, duration=1, warmup=0, reps=1, extras=(),
                    peers=False, quiet_wait_s=0,
                    summary="one 1 s echo-64 trial per engine at 10 connections"),
    "quick": Preset("quick", {"echo-64": [1000]}, duration=3, warmup=1, reps=5,
                    peer_secs=1, summary="the headline: echo-64, 1000 connections, 5 reps"),
    # Pull-request CI: the headline workloads, 3 reps of 2 s, no peers; bench/compare
    # then gates on a paired run of its own.
    "ci": Preset("ci", {"echo-64": [100, 1000], "echo-4k": [100], "echo-pipelined": [100],
                        "greeting": [100], "udp": [100]},
                 duration=2, warmup=0.5, reps=3, extras=(), peers=False, budget_s=5 * 60,
                 summary="headline workloads, 3 reps of 2 s, no peers (pull requests)"),
    "default": Preset("default", _DEFAULT_MATRIX, duration=3, warmup=1, reps=5,
                      budget_s=15 * 60, summary="the matrix below, engines and peers"),
    "full": Preset("full", dict(_DEFAULT_MATRIX, **{"echo-64": [1, 100, 1000, 10000, 20000,
                                                                30000]}),
                   duration=5, warmup=2, reps=5, peer_secs=5,
                   summary="the matrix plus 20k and 30k connections over several load "
                           "processes"),
    # The reliability soak (soak.py): duration/warmup are the load's, the matrix unused.
    "soak": Preset("soak", {}, duration=540, warmup=60, reps=1, extras=(), peers=False,
                   summary="10 minutes of mixed load over 20k descriptors: server RSS, "
                           "fds, CPU over time"),
}
@dataclass
class Block:
    key: str                       # "echo-64/c1000", "udp-pingpong", "bulk-tcp"
    workload: str
    conns: int
    targets: list
    reps: int
    duration: float
    warmup: float
    kind: str = "load"             # load | pingpong | iperf3
    notes: list = field(default_factory=list)


@dataclass
class Trial:
    block: Block
    target: str
    rep: int
    est_s: float


def load_protocols(load_bin):
    """The protocols `ringlab-load --help` lists, and the whole help text."""
    r = subprocess.run([str(load_bin), "--help"], capture_output=True, text=True, timeout=10)
    text = r.stdout + r.stderr
    protos, inside = set(), False
    for line in text.splitlines():
        if line.strip() == "Protocols:":
            inside = True
        elif inside:
            m = re.match(r"^\s{2,}(\S+)\s{2,}\S", line)
            if not m:
                break
            protos.add(m.group(1))
    return protos, text


def split_connections(conns):
    """Connections per load process and their --source ranges (None: one process, no
    --source).  One process holds <= 20k descriptors and one source address <= ~28k
    ports, so past PER_PROCESS_CONNS the load is spread over several processes, each
    rotating through its own slice of 127.0.0.2-127.0.0.50."""
    if conns <= PER_PROCESS_CONNS:
        return [(conns, None)]
    n = math.ceil(conns / PER_PROCESS_CONNS)
    lo, hi = SOURCE_RANGE
    per_addr = (hi - lo + 1) // n
    out = []
    for i in range(n):
        c = conns // n + (1 if i < conns % n else 0)
        a = lo + i * per_addr
        b = hi if i == n - 1 else a + per_addr - 1
        out.append((c, "127.0.0.%d-127.0.0.%d" % (a, b)))
    return out


QUIET_CHECK_S = 0.25               # procs.wait_quiet's shortest look between trials


def estimate(block):
    """Seconds one trial of this block takes: the load generator starts its window on
    the first whole second after ramp-up + warm-up, then measures; plus start/stop and
    the look at the machine's load before the next trial."""
    if block.kind in ("iperf3", "pingpong"):
        return block.duration + 1.0 + QUIET_CHECK_S
    ramp = 0.05 + block.conns / 8000.0
    return math.ceil(ramp + block.warmup) + block.duration + 0.8 + QUIET_CHECK_S


COUNT_WINDOW_S = 1.0               # a counting pass (counting.py): 1 s window
COUNT_WARMUP_S = 0.5


def count_block(block):
    """The block as its counting passes run it: one per target after the block's trials,
    a COUNT_WINDOW_S window; None for blocks that get none (sockperf, iperf3)."""
    if block.kind != "load":
        return None
    return replace(block, duration=min(block.duration, COUNT_WINDOW_S),
                   warmup=min(block.warmup, COUNT_WARMUP_S), reps=1)


def count_estimate(block):
    cb = count_block(block)
    return estimate(cb) * len(cb.targets) if cb else 0.0


def total_estimate(blocks):
    return sum(estimate(b) * b.reps * len(b.targets) + count_estimate(b) for b in blocks)


def plan(preset, load_protos, peers_ok, only=None, no_peers=False, sockperf_client_ok=False):
    """Blocks to run (preset: after with_overrides), and notes about what was left out
    and why."""
    notes, blocks = [], []
    reps, duration, warmup = preset.reps, preset.duration, preset.warmup
    wanted = set(only) if only else None
    for name, conns_list in preset.matrix.items():
        if wanted is not None and name not in wanted:
            continue
        w = WORKLOADS[name]
        if w.load_proto not in load_protos:
            notes.append("%s: skipped, ringlab-load has no '%s' mode yet" % (name, w.load_proto))
            continue
        for conns in conns_list:
            targets = list(ENGINES)
            for peer in w.peers:
                reason = peer_reason(peer, peers_ok, no_peers)
                if reason:
                    notes.append("%s: peer %s skipped: %s" % (name, peer, reason))
                else:
                    targets.append(peer)
            blocks.append(Block("%s/c%d" % (name, conns), name, conns, targets, reps,
                                duration, warmup))
    for extra in preset.extras:
        if wanted is not None and extra not in wanted and not _extra_follows(extra, wanted):
            continue
        if no_peers:
            notes.append("%s: skipped (--no-peers)" % extra)
            continue
        b = _extra_block(extra, preset, reps, duration, load_protos, peers_ok,
                         sockperf_client_ok, notes)
        if b:
            blocks.append(b)
    # The headline first: an interrupted run still has it.
    blocks.sort(key=lambda b: 0 if (b.workload, b.conns) == HEADLINE else 1)
    notes += _dedupe([n for b in blocks for n in b.notes])
    return blocks, _dedupe(notes)


def _extra_follows(extra, wanted):
    return (extra == "udp-pingpong" and "udp" in wanted) or \
           (extra == "bulk-tcp" and wanted & {"file-put", "file-get"})


def for_target(workload, target):
    """The workload as ringlab-load runs it against `target`: with the options the
    workload gives that peer (peer_load_args) added to load_args."""
    extra = dict(workload.peer_load_args).get(target)
    if not extra:
        return workload
    return replace(workload, load_args=tuple(workload.load_args) + tuple(extra))


def peer_reason(peer, peers_ok, no_peers):
    if no_peers:
        return "--no-peers"
    pkg = {"nginx": "nginx", "sockperf-sr": "sockperf"}.get(peer, peer)
    return peers_ok.get(pkg)


def _extra_block(extra, preset, reps, duration, load_protos, peers_ok, sockperf_client_ok,
                 notes):
    secs = min(preset.peer_secs, duration)
    if extra == "bulk-tcp":
        if peers_ok.get("iperf3"):
            notes.append("bulk-tcp: skipped: %s" % peers_ok["iperf3"])
            return None
        return Block("bulk-tcp", "bulk-tcp", 1, ["iperf3"], reps, secs, 0, kind="iperf3")
    if peers_ok.get("sockperf"):
        notes.append("udp-pingpong: skipped: %s" % peers_ok["sockperf"])
        return None
    targets = ["sockperf-sr"]
    b = Block("udp-pingpong", "udp-pingpong", 1, targets, reps, secs, 0, kind="pingpong")
    if sockperf_client_ok:
        targets[:0] = ["pp:" + e for e in ENGINES]
    else:
        b.notes.append("udp-pingpong: sockperf pp cannot measure ringlab-server udp yet: "
                       "sockperf's client only accepts replies whose header has its client "
                       "flag cleared, and the server has no option that answers that way; "
                       "sockperf pp measures sockperf sr instead, as a reference")
    if "udp" in load_protos:
        targets[:0] = ["load:" + e for e in ENGINES]
    else:
        b.notes.append("udp-pingpong: ringlab-load has no 'udp' mode: the 15% p50 "
                       "cross-check against sockperf pp cannot be made")
    return b


def _dedupe(items):
    seen, out = set(), []
    for i in items:
        if i not in seen:
            seen.add(i)
            out.append(i)
    return out


def fit_budget(blocks, preset, notes):
    """Past the preset's time budget, shorten the non-headline blocks step by step --
    2 s windows, then 0.5 s warm-ups, then 3 repetitions -- until the plan fits (the
    headline block is never shortened).  A 0.5 s warm-up costs little: ringlab-load
    starts its window on the first whole second after ramp-up and warm-up, so below
    1000 connections the traffic before the window still lasts about a second."""
    if not preset.budget_s:
        return blocks
    limit = preset.budget_s * 1.05
    others = [b for b in blocks if (b.workload, b.conns) != HEADLINE]
    steps = (
        ("non-headline blocks measure 2 s windows",
         lambda b: b.kind == "load" and b.duration > 2, lambda b: setattr(b, "duration", 2.0)),
        ("non-headline blocks warm up for 0.5 s",
         lambda b: b.kind == "load" and b.warmup > 0.5, lambda b: setattr(b, "warmup", 0.5)),
        ("non-headline blocks run 3 repetitions instead of %d" % preset.reps,
         lambda b: b.reps > 3, lambda b: setattr(b, "reps", 3)),
    )
    done = []
    for what, applies, apply in steps:
        if total_estimate(blocks) <= limit:
            break
        hit = [b for b in others if applies(b)]
        for b in hit:
            apply(b)
        if hit:
            done.append(what)
    if done:
        notes.append("to fit about %d minutes, %s" % (preset.budget_s // 60, "; ".join(done)))
    return blocks


def trials(blocks):
    """Every trial in run order: block after block, and inside a block rep after rep of
    all its targets (A B C A B C ...)."""
    out = []
    for b in blocks:
        est = estimate(b)
        for rep in range(1, b.reps + 1):
            for t in b.targets:
                out.append(Trial(b, t, rep, est))
    return out


def with_overrides(preset, duration=None, warmup=None, reps=None, conns=None, size=None):
    """The preset with the command line's overrides.  `conns` (a list) replaces every
    workload's connection counts; `size` replaces the request size of every workload
    that has one (WORKLOADS is changed in place, its summary saying so)."""
    kw = {}
    if conns:
        kw["matrix"] = {name: list(conns) for name in preset.matrix}
    if size:
        for name, w in list(WORKLOADS.items()):
            if w.size:
                WORKLOADS[name] = replace(w, size=size,
                                          summary="%s [--size %s]" % (w.summary, size))
    if duration:
        kw["duration"] = duration
    if warmup is not None:
        kw["warmup"] = warmup
    if reps:
        kw["reps"] = reps
    return replace(preset, **kw)

# Issue 13 (the cheapest engine): the blocks its table needs, on their own so that the
# default matrix keeps its time budget.  file-put's {root} is the harness's temporary
# directory (on this machine ext4); bench/opcount --root measures tmpfs (see
# results/*-cheapest/README.md).
PRESETS["cheapest"] = Preset(
    "cheapest", {"echo-64": [1000], "echo-4k": [100], "udp": [64], "chat": [100],
                 "file-put": [100], "file-put-tmpfs": [100]},
    duration=3, warmup=1, reps=5, extras=(), peers=False, budget_s=15 * 60,
    summary="issue 13's table: echo 64 B @1000, 4 KiB @100, udp @64, chat @100, PUT @100 "
            "(/tmp and tmpfs)")
