"""Processes the harness starts and what it reads about them from /proc.

Every process is started pinned (`taskset -c CPU`) in a session of its own and is
registered, so that `REGISTRY.cleanup()` -- called from a `finally`, and reached on
Ctrl-C or SIGTERM too -- stops each group the harness started, and nothing else.

CPU time comes from /proc/PID/stat (utime + stime, which includes the process's threads,
live and exited); `CpuSampler` reads it for a set of PIDs periodically and whenever it is
asked to, and interpolates between samples."""
import os
import re
import resource
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

CLK_TCK = os.sysconf("SC_CLK_TCK")
SERVER_CPU = 0
LOAD_CPU = 1


_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_TMPDIR_RE = re.compile(re.escape(os.path.join(tempfile.gettempdir(), "ringlab-")) + r"[\w-]+?-\w{8}")


def scrub_paths(text):
    """`text` without this machine's paths, for what goes into results/: the repository
    root dropped (paths become relative to it), a temporary directory of ours shown as
    <tmp>, the home directory as ~."""
    text = text.replace(_ROOT + os.sep, "").replace(_ROOT, ".")
    text = _TMPDIR_RE.sub("<tmp>", text)
    home = os.path.expanduser("~")
    return text.replace(home + os.sep, "~" + os.sep) if home not in ("", os.sep) else text


def command_line(cmd):
    """`cmd` as one line for the records, through scrub_paths()."""
    return scrub_paths(" ".join(str(c) for c in cmd))


def pinning():
    """{"server_cpu": 0, "load_cpu": 1} when both CPUs can be used and taskset exists;
    else None CPUs and the reason (processes then run where the scheduler puts them)."""
    try:
        allowed = os.sched_getaffinity(0)
    except OSError:
        allowed = set()
    if not shutil.which("taskset"):
        why = "taskset not found (util-linux)"
    elif not {SERVER_CPU, LOAD_CPU} <= allowed:
        why = "CPUs %d and %d are not both available (allowed: %s)" % (
            SERVER_CPU, LOAD_CPU, ",".join(map(str, sorted(allowed))) or "?")
    else:
        return {"server_cpu": SERVER_CPU, "load_cpu": LOAD_CPU}
    return {"server_cpu": None, "load_cpu": None, "unpinned_because": why}


_PINNING = pinning()


def pinned(cpu, cmd):
    cmd = [str(c) for c in cmd]
    return ["taskset", "-c", str(cpu)] + cmd if _PINNING["server_cpu"] is not None else cmd


class Registry:
    """The process groups this harness started."""

    def __init__(self):
        self.procs = []
        self.lock = threading.Lock()

    def add(self, proc):
        with self.lock:
            self.procs.append(proc)

    def cleanup(self):
        with self.lock:
            procs, self.procs = self.procs, []
        for p in procs:
            stop(p, timeout=3)


REGISTRY = Registry()


def _raise_to_interrupt(signum, frame):
    raise KeyboardInterrupt("signal %d" % signum)


def install_signal_handlers():
    """SIGINT, SIGTERM and SIGHUP unwind through every `finally` (SIGINT too when the
    shell started us in the background with SIGINT ignored)."""
    signal.signal(signal.SIGINT, signal.default_int_handler)
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, _raise_to_interrupt)


def _preexec(nofile):
    def setup():
        if nofile:
            soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
            want = max(nofile, soft)
            try:
                resource.setrlimit(resource.RLIMIT_NOFILE, (want, max(want, hard)))
            except (ValueError, OSError):
                resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return setup


def spawn(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, nofile=None, cwd=None,
          text=True):
    """Starts cmd in its own session (so its whole group can be stopped), registered."""
    p = subprocess.Popen([str(c) for c in cmd], stdin=subprocess.DEVNULL, stdout=stdout,
                         stderr=stderr, cwd=cwd, start_new_session=True,
                         preexec_fn=_preexec(nofile), text=text)
    REGISTRY.add(p)
    return p


def stop(proc, sig=signal.SIGTERM, timeout=10.0):
    """Signals the process (a clean exit first); if it is still there after `timeout`,
    kills its whole group (the group is its own: it was started in a new session).
    Returns the exit status (negative: killed by that signal)."""
    if proc.poll() is None:
        try:
            proc.send_signal(sig)
        except ProcessLookupError:
            pass
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            proc.wait(timeout=10)
    with REGISTRY.lock:
        if proc in REGISTRY.procs:
            REGISTRY.procs.remove(proc)
    return proc.returncode


def read_line(stream, timeout):
    """One line from a pipe within `timeout` seconds, or None."""
    end = time.monotonic() + timeout
    buf = ""
    fd = stream.fileno()
    while time.monotonic() < end:
        r, _, _ = select.select([fd], [], [], max(0.0, end - time.monotonic()))
        if not r:
            break
        ch = os.read(fd, 1).decode(errors="replace")
        if not ch:
            break
        if ch == "\n":
            return buf
        buf += ch
    return buf or None


def cpu_seconds(pid):
    """utime + stime of a process (all its threads), seconds; None if it is gone."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # fields 14, 15 of stat(5)


def memory_and_threads(pid):
    """(VmRSS in KiB, thread count) from /proc/PID/status; (None, None) if it is gone."""
    rss = threads = None
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    rss = int(line.split()[1])
                elif line.startswith("Threads:"):
                    threads = int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return rss, threads


def fd_count(pid):
    """Open descriptors of a process (entries of /proc/PID/fd), None if unreadable."""
    try:
        return len(os.listdir("/proc/%d/fd" % pid))
    except OSError:
        return None


def children(pid):
    kids = []
    try:
        for tid in os.listdir("/proc/%d/task" % pid):
            with open("/proc/%d/task/%s/children" % (pid, tid)) as f:
                kids += [int(x) for x in f.read().split()]
    except OSError:
        pass
    return kids


def process_tree(pid):
    """pid and its descendants (nginx: master and workers; taskset exec()s in place)."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo += children(p)
    return out


def machine_busy_seconds():
    """CPU seconds all CPUs spent not idle (user, nice, system, irq, softirq, steal)."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    return (v[0] + v[1] + v[2] + v[5] + v[6] + v[7]) / CLK_TCK


def wait_quiet(max_wait, max_percent=25.0, step=0.25):
    """Waits (at most max_wait seconds) until the machine's busy time over `step` is below
    max_percent of one core -- called between trials, when nothing of ours runs.
    Returns the seconds waited."""
    start = time.monotonic()
    while True:
        t0, b0 = time.monotonic(), machine_busy_seconds()
        time.sleep(step)
        pct = (machine_busy_seconds() - b0) / (time.monotonic() - t0) * 100.0
        waited = time.monotonic() - start
        if pct < max_percent or waited >= max_wait:
            return waited


class CpuSampler(threading.Thread):
    """Samples the summed CPU seconds of `pids`, the machine's busy seconds and the CPU
    seconds of `helpers` (processes started with the server, e.g. the hog of `procs.py
    steal`) every `period` seconds and on mark().  at(t, column) interpolates linearly."""

    def __init__(self, pids, period=0.1, helpers=()):
        super().__init__(daemon=True)
        self.pids = list(pids)
        self.helpers = list(helpers)
        self.period = period
        self.samples = []  # (monotonic s, process CPU s, machine busy s, helpers CPU s)
        self.lock = threading.Lock()
        self.halt = threading.Event()
        self.base = {}

    def mark(self, t=None):
        t = time.monotonic() if t is None else t
        total = self._sum(self.pids)
        busy = machine_busy_seconds()
        helpers = self._sum(self.helpers)
        with self.lock:
            self.samples.append((t, total, busy, helpers))

    def _sum(self, pids):
        total = 0.0
        for pid in pids:
            c = cpu_seconds(pid)
            if c is None:  # exited: keep its last value, time stops there
                c = self.base.get(pid, 0.0)
            self.base[pid] = c
            total += c
        return total

    def run(self):
        while not self.halt.wait(self.period):
            self.mark()

    def start(self):
        self.mark()
        super().start()

    def finish(self):
        self.halt.set()
        self.join()
        self.mark()

    def at(self, t, column=1):
        with self.lock:
            s = sorted(self.samples)
        if not s:
            return None
        if t <= s[0][0]:
            return s[0][column]
        for a, b in zip(s, s[1:]):
            if a[0] <= t <= b[0]:
                if b[0] == a[0]:
                    return b[column]
                return a[column] + (b[column] - a[column]) * (t - a[0]) / (b[0] - a[0])
        return s[-1][column]


def _listening_ports(proto):
    """Local ports in LISTEN state (tcp) or bound (udp), from /proc/net."""
    ports = set()
    for name in (proto, proto + "6"):
        try:
            with open("/proc/net/" + name) as f:
                next(f)
                for line in f:
                    parts = line.split()
                    local, state = parts[1], parts[3]
                    if proto == "tcp" and state != "0A":
                        continue
                    ports.add(int(local.rsplit(":", 1)[1], 16))
        except OSError:
            pass
    return ports


def wait_listening(port, proto="tcp", timeout=10.0, proc=None):
    """Waits until something listens on `port` without connecting to it (an iperf3 -1
    server would take a probe for its one test).  False on timeout or if proc died."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if port in _listening_ports(proto):
            return True
        if proc is not None and proc.poll() is not None:
            return False
        time.sleep(0.02)
    return False


def free_port(kind="tcp"):
    """A port that was free a moment ago on 127.0.0.1."""
    import socket
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM if kind == "tcp" else socket.SOCK_DGRAM)
    try:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
    finally:
        s.close()


# --- the CPU-stealing wrapper ---------------------------------------------------------
#
#     python3 bench/procs.py steal PERCENT -- COMMAND [ARGS...]
#
# Used by `bench/compare --steal-new PERCENT` to prove the regression gate: the NEW side's
# server runs under this wrapper, so NEW is measurably slower while its code is the same.
# The wrapper forks a hog and then exec()s COMMAND, so COMMAND keeps the wrapper's PID
# (signals, /proc/PID/stat and the 'listening on' line all stay the server's).  The hog
# inherits the CPU affinity (under `taskset -c 0`, the server's CPU) and, in every 10 ms
# period, spins for PERCENT% of it and sleeps the rest; it exits as soon as its parent --
# the server -- is gone.  When the server wants the whole CPU, the scheduler shares it
# with the hog during the hog's busy slices: the server loses up to PERCENT% of its CPU
# time and waits behind the hog, which shows in throughput and tail latency.  The
# server's own CPU per request is not what this changes, and the hog is not counted as
# an "other process" (measure.py: a child of the server is a helper).

STEAL_PERIOD_S = 0.010


def _hog(percent, parent):
    busy = STEAL_PERIOD_S * percent / 100.0
    while True:
        start = time.monotonic()
        while time.monotonic() - start < busy:
            pass
        if os.getppid() != parent:
            os._exit(0)
        rest = STEAL_PERIOD_S - (time.monotonic() - start)
        if rest > 0:
            time.sleep(rest)


def steal_main(argv):
    if len(argv) < 5 or argv[1] != "steal" or argv[3] != "--":
        sys.stderr.write("usage: procs.py steal PERCENT -- COMMAND [ARGS...]\n")
        return 2
    try:
        percent = float(argv[2])
    except ValueError:
        percent = -1
    if not 0 < percent < 100:
        sys.stderr.write("procs.py steal: PERCENT must be between 0 and 100\n")
        return 2
    parent = os.getpid()
    if os.fork() == 0:
        _hog(percent, parent)
    os.execvp(argv[4], argv[4:])
    return 127


def tail(path, lines=5):
    try:
        with open(path, errors="replace") as f:
            return "".join(f.readlines()[-lines:]).strip()
    except OSError:
        return ""


if __name__ == "__main__":
    sys.exit(steal_main(sys.argv))
