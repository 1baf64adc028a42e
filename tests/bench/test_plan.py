"""bench/run --plan for every preset: runs nothing, installs and builds nothing, and
prints the preset's trials and every preset's estimated time -- the default about 19-20
minutes (timed trials, and a counting pass per block and target), --ci under 5, --smoke
seconds, --soak about 10.  Argument: the meson build root (default: build/ of the checkout), whose ringlab-load decides which modes exist."""
import os
import re
import sys

from benchtest import ROOT, Tap, bench


def seconds(text):
    m = re.match(r"^(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$", text)
    h, mi, s = (int(x or 0) for x in m.groups())
    return h * 3600 + mi * 60 + s


def estimates(stdout):
    """{preset: seconds} from the 'every preset' list."""
    out, inside = {}, False
    for line in stdout.splitlines():
        if line.startswith("every preset"):
            inside = True
        elif inside:
            m = re.match(r"^\s+\*?\s+(\w+)\s+~(\S+)\s", line)
            if m:
                out[m.group(1)] = seconds(m.group(2))
    return out


# preset option, lower and upper bound of its estimate (s)
BOUNDS = {"": (13 * 60, 20.5 * 60), "--ci": (60, 5 * 60), "--smoke": (3, 30),
          "--quick": (60, 4 * 60), "--soak": (9 * 60, 11 * 60), "--full": (40 * 60, 70 * 60),
          "--cheapest": (5 * 60, 10 * 60)}


def main():
    build = sys.argv[1] if len(sys.argv) > 1 else str(ROOT / "build")
    t = Tap()
    r = bench("run", "--help")
    t.ok(r.returncode == 0 and all(o in r.stdout for o in (
        "--smoke", "--ci", "--soak", "--quick", "--full", "--build-dir", "--plan",
        "--report", "--no-install")), "--help lists the presets and options")
    seen = {}
    for opt, (lo, hi) in BOUNDS.items():
        r = bench("run", "--plan", "--build-dir", build, *([opt] if opt else []))
        est = estimates(r.stdout)
        seen[opt] = est
        name = opt.lstrip("-") or "default"
        t.ok(r.returncode == 0 and lo <= est.get(name, -1) <= hi,
             "--plan %s: estimate %s s within %d..%d s" % (opt or "(default)", est.get(name),
                                                           lo, hi), r.stdout + r.stderr)
        t.ok(set(est) == {"smoke", "quick", "ci", "default", "full", "soak",
                               "cheapest"},
             "--plan %s lists every preset's estimate" % (opt or "(default)"), est)
        if opt == "--soak":
            t.ok("20000 descriptors" in r.stdout and "127.0.0.2-" in r.stdout,
                 "--plan --soak shows the load processes and their source ranges")
        elif opt:
            t.ok(re.search(r"^plan: \d+ blocks, \d+ trials, about ", r.stdout, re.M),
                 "--plan %s shows its trials" % opt)
    t.ok(len({tuple(sorted(e.items())) for e in seen.values()}) == 1,
         "every preset's estimate is the same whichever preset is planned")
    sys.path.insert(0, str(ROOT / "bench"))
    import dataclasses  # noqa: E402
    import matrix  # noqa: E402
    import measure  # noqa: E402
    import runner  # noqa: E402
    w = matrix.WORKLOADS["file-put-tmpfs"]
    if os.path.isdir("/dev/shm"):
        d = runner.upload_root(w)
        t.ok(d.startswith("/dev/shm/"), "file-put-tmpfs uploads under /dev/shm (%s)" % d)
        os.rmdir(d)
    try:
        runner.upload_root(dataclasses.replace(w, root_parent="/nonexistent-ringlab"))
        t.ok(False, "a missing upload parent is a trial error")
    except measure.TrialError as e:
        t.ok("/nonexistent-ringlab" in str(e), "a missing upload parent is a trial error: %s" % e)
    t.ok(runner.upload_root(matrix.WORKLOADS["echo-64"]) is None, "echo takes no upload root")
    r = bench("run", "--plan", "--build-dir", build, "--ci")
    t.ok("echo-64/c1000" in r.stdout and "peer" not in r.stdout.split("plan:")[1].split(
        "every preset")[0], "--ci: the headline block, no peers")
    return t.done()


if __name__ == "__main__":
    sys.exit(main())
