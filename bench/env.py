"""The environment of a benchmark: what must be installed, the release build that is
measured, and the description of machine, toolchain and source stored with every result.

Installing goes through `.ci/deps --bench` (build tools, gnuplot, taskset) and then the
peer packages one group at a time, so a peer that cannot be installed only costs that
peer.  Package scripts are kept from starting services (nginx would grab port 80)."""
import datetime
import json
import os
import platform
import shutil
import subprocess
import sys
from pathlib import Path

from procs import command_line, scrub_paths

ROOT = Path(__file__).resolve().parent.parent
# Version of the result files' layout (docs/results.md): bumped only when a field is
# renamed or removed or changes its unit or type; new fields do not bump it.
SCHEMA_VERSION = 1

# Peer name -> the Debian packages it needs.
PEER_PACKAGES = {
    "nginx": ["nginx", "libnginx-mod-stream"],
    "sockperf": ["sockperf"],
    "iperf3": ["iperf3"],
}
POLICY_RC_D = Path("/usr/sbin/policy-rc.d")


class SetupError(RuntimeError):
    """The harness cannot go on: a base package or the build failed."""


def _sudo():
    return [] if os.geteuid() == 0 else ["sudo"]


def _output(cmd):
    """(exit status, stdout) of a command, (None, "") when it cannot be run at all
    (no dpkg or lscpu on this system)."""
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        return None, ""
    return r.returncode, r.stdout


def _installed(pkg):
    rc, out = _output(["dpkg-query", "-W", "-f=${Status}", pkg])
    return rc == 0 and "install ok installed" in out


def _log_run(cmd, log, **kw):
    """Runs cmd with its output appended to the open file `log`; returns the exit code."""
    log.write("$ " + command_line(cmd) + "\n")
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                       errors="replace", **kw)
    log.write(scrub_paths(p.stdout))
    log.flush()
    return p.returncode


class _NoServiceStarts:
    """While installing, keep maintainer scripts from starting daemons (invoke-rc.d asks
    /usr/sbin/policy-rc.d; exit 101 means 'not allowed').  Only adds the file when none
    is there, and removes only what it added."""

    def __init__(self):
        self.added = False

    def __enter__(self):
        if not POLICY_RC_D.exists() and os.geteuid() == 0:
            POLICY_RC_D.write_text("#!/bin/sh\n# added by ringlab bench/run while installing\nexit 101\n")
            POLICY_RC_D.chmod(0o755)
            self.added = True
        return self

    def __exit__(self, *exc):
        if self.added:
            try:
                POLICY_RC_D.unlink()
            except OSError:
                pass


def install_base(log):
    """Build tools, gnuplot and taskset through .ci/deps --bench (idempotent)."""
    deps = ROOT / ".ci" / "deps"
    if _log_run(["bash", str(deps), "--bench"], log) != 0:
        raise SetupError(".ci/deps --bench failed (see setup.log)")
    for tool in ("meson", "ninja", "taskset", "gnuplot"):
        if not shutil.which(tool):
            raise SetupError("%s is still missing after .ci/deps --bench" % tool)


def install_peers(log):
    """Installs the peer packages that are missing.  Returns {peer: note or None}; a note
    says why that peer cannot run."""
    notes = {}
    missing = {peer: [p for p in pkgs if not _installed(p)]
               for peer, pkgs in PEER_PACKAGES.items()}
    if any(missing.values()):
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        _log_run(_sudo() + ["apt-get", "update", "-qq"], log, env=env)
        with _NoServiceStarts():
            for peer, pkgs in missing.items():
                if not pkgs:
                    continue
                rc = _log_run(_sudo() + ["apt-get", "install", "-y", "-qq",
                                         "--no-install-recommends"] + pkgs, log, env=env)
                if rc != 0:
                    notes[peer] = "apt-get install %s failed (exit %d)" % (" ".join(pkgs), rc)
    return peer_status(notes, "after installing")


def peer_status(notes=None, when="(nothing installed: --no-install)"):
    """{peer: None when it can run, else why not}, from what is on this machine now."""
    notes = dict(notes or {})
    for peer, binary in (("nginx", "nginx"), ("sockperf", "sockperf"), ("iperf3", "iperf3")):
        if peer not in notes and not shutil.which(binary):
            notes[peer] = "%s not found %s" % (binary, when)
    if "nginx" not in notes and not stream_module():
        notes["nginx"] = "nginx has no stream module (libnginx-mod-stream)"
    return {peer: notes.get(peer) for peer in PEER_PACKAGES}


def stream_module():
    """Path of nginx's dynamic stream module, or None."""
    for d in ("/usr/lib/nginx/modules", "/usr/share/nginx/modules"):
        p = Path(d) / "ngx_stream_module.so"
        if p.exists():
            return str(p)
    return None


def _buildtype(builddir):
    try:
        opts = json.loads((builddir / "meson-info" / "intro-buildoptions.json").read_text())
    except (OSError, ValueError):
        return None
    return {o["name"]: o["value"] for o in opts}


def build(builddir, log, srcdir=ROOT, cflags=None, targets=()):
    """Configures `builddir` as a release build of `srcdir` if it is not one yet, compiles
    `targets` (all when empty) and returns the build directory.  `cflags` go to both
    c_args and c_link_args, so that flags such as -fsanitize=address link too."""
    builddir = Path(builddir)
    want_args = cflags.split() if cflags else []
    opts = _buildtype(builddir) if (builddir / "build.ninja").exists() else None
    if opts is None:
        cmd = ["meson", "setup", str(builddir), str(srcdir), "--buildtype=release"]
        if want_args:
            cmd += ["-Dc_args=" + " ".join(want_args), "-Dc_link_args=" + " ".join(want_args)]
        if _log_run(cmd, log) != 0:
            raise SetupError("meson setup %s failed (see %s)" % (builddir, log.name))
    elif opts.get("buildtype") != "release" or list(opts.get("c_args", [])) != want_args:
        cmd = ["meson", "configure", str(builddir), "--buildtype=release",
               "-Dc_args=" + " ".join(want_args), "-Dc_link_args=" + " ".join(want_args)]
        if _log_run(cmd, log) != 0:
            raise SetupError("meson configure %s failed (see %s)" % (builddir, log.name))
    if _log_run(["meson", "compile", "-C", str(builddir)] + list(targets), log) != 0:
        raise SetupError("meson compile -C %s failed (see %s)" % (builddir, log.name))
    return builddir


def binaries(builddir):
    builddir = Path(builddir)
    return (builddir / "servers" / "ringlab-server", builddir / "loadgen" / "ringlab-load")


def git(*args, cwd=ROOT):
    rc, out = _output(["git", "-C", str(cwd)] + list(args))
    return out.strip() if rc == 0 else None


def git_info(cwd=ROOT):
    commit = git("rev-parse", "HEAD", cwd=cwd)
    status = git("status", "--porcelain", "--untracked-files=no", cwd=cwd)
    untracked = git("status", "--porcelain", cwd=cwd)
    return {
        "commit": commit,
        "short": git("rev-parse", "--short", "HEAD", cwd=cwd) or "nogit",
        "subject": git("log", "-1", "--format=%s", cwd=cwd),
        "dirty": bool(status),
        "untracked_or_modified": len(untracked.splitlines()) if untracked else 0,
    }


def _first_line(cmd):
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return None
    out = (r.stdout or r.stderr).strip().splitlines()
    return out[0].strip() if out else None


def _cpu_model():
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _hypervisor():
    rc, out = _output(["lscpu"])
    for line in out.splitlines():
        if line.startswith("Hypervisor vendor:"):
            return line.split(":", 1)[1].strip()
    return "none" if rc == 0 else None


def _compiler(builddir):
    """The compiler meson chose for the build, from its log; else cc --version."""
    try:
        for line in open(Path(builddir) / "meson-logs" / "meson-log.txt"):
            if line.startswith("C compiler for the host machine:"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return _first_line(["cc", "--version"])


def _sysctl(name):
    try:
        return Path("/proc/sys/" + name.replace(".", "/")).read_text().strip().replace("\t", " ")
    except OSError:
        return None


def _pkg_version(pkg):
    rc, out = _output(["dpkg-query", "-W", "-f=${Version}", pkg])
    return out.strip() if rc == 0 else None


def describe(builddir, server, load, argv):
    """Everything a reader needs to know where the numbers came from."""
    opts = _buildtype(builddir) or {}
    return {
        "schema_version": SCHEMA_VERSION,
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "hostname": platform.node(),
        "kernel": platform.release(),
        "kernel_version": platform.version(),
        "cpu_model": _cpu_model(),
        "cpus": os.cpu_count(),
        "memory_gib": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
        "virtualization": _hypervisor(),
        "liburing": _pkg_version("liburing-dev"),
        "compiler": _compiler(builddir),
        "build_dir": os.path.relpath(builddir, ROOT),
        "build_type": opts.get("buildtype"),
        "optimization": opts.get("optimization"),
        "c_args": opts.get("c_args"),
        "b_ndebug": opts.get("b_ndebug"),
        "server_version": _first_line([str(server), "--version"]),
        "load_version": _first_line([str(load), "--version"]),
        "git": git_info(),
        "python": sys.version.split()[0],
        "tools": {
            "nginx": _first_line(["nginx", "-v"]) if shutil.which("nginx") else None,
            "sockperf": _first_line(["sockperf", "--version"]) if shutil.which("sockperf") else None,
            "iperf3": _first_line(["iperf3", "--version"]) if shutil.which("iperf3") else None,
            "gnuplot": _first_line(["gnuplot", "--version"]) if shutil.which("gnuplot") else None,
        },
        "sysctl": {k: _sysctl(k) for k in ("net.ipv4.ip_local_port_range",
                                           "net.ipv4.tcp_tw_reuse", "net.core.somaxconn",
                                           "fs.nr_open", "kernel.pid_max")},
        "loadavg_at_start": list(os.getloadavg()),
        "harness_command": " ".join([os.path.relpath(argv[0], ROOT)] + argv[1:]),
    }
