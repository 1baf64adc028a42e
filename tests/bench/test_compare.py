"""bench/compare's judging on fixed comparisons (fixtures/compare/*, made of 5 pairs
each, see fixtures/README.md): `bench/compare --judge DIR` must pass when NEW is faster
or within the noise, fail when NEW is slower beyond a threshold -- throughput is higher-
is-better, server CPU per request and p99 lower-is-better -- report a change only the
median shows without failing, fail closed when too few pairs succeeded or the machine
was busy, and move its verdict with --threshold-*.  Then the verdict function itself,
and the unpaired mode on two result directories."""
import re
import sys

from benchtest import FIXTURES, Tap, bench

import gate  # noqa: E402  (bench/, on the path through benchtest)


def verdicts(stdout):
    """{(conns, metric key): verdict} from the comparison table."""
    keys = {"throughput": "throughput", "server": "cpu", "p99": "p99"}
    out = {}
    for line in stdout.splitlines():
        m = re.match(r"^(\d+)\s+(throughput|server|p99)\b.*\s(\S+)$", line)
        if m:
            out[(int(m.group(1)), keys[m.group(2)])] = m.group(3)
    return out


# fixture, extra options, exit status, {(conns, metric): verdict}, what it shows
CASES = (
    ("aa-noise", (), 0, {(100, "throughput"): "same", (100, "cpu"): "same",
                         (100, "p99"): "same", (1000, "throughput"): "same"},
     "A/A within the noise passes"),
    ("new-faster", (), 0, {(100, "throughput"): "better", (100, "cpu"): "better",
                           (100, "p99"): "better"},
     "NEW faster: more req/s, less CPU and p99 -- better on all three, passes"),
    ("new-slower", (), 1, {(100, "throughput"): "worse", (100, "cpu"): "same",
                           (100, "p99"): "worse"},
     "NEW 30% slower and p99 +45%: worse, fails"),
    ("new-slower", ("--threshold-throughput", "40", "--threshold-p99", "70"), 0,
     {(100, "throughput"): "same", (100, "p99"): "same"},
     "the same change passes under thresholds above it"),
    ("cpu-worse", (), 1, {(100, "throughput"): "same", (100, "cpu"): "worse"},
     "server CPU/request +20% (lower is better): worse, fails"),
    ("cpu-worse", ("--threshold-cpu", "25"), 0, {(100, "cpu"): "same"},
     "CPU +20% passes under a 25% threshold"),
    ("median-only", (), 0, {(100, "throughput"): "worse?"},
     "median -12% but two pairs near 0: only 'worse?', which does not fail"),
    ("busy", (), 3, {(100, "throughput"): "busy"},
     "4 of 5 pairs disturbed by other processes: inconclusive, exit 3"),
    ("two-pairs", (), 1, {(100, "throughput"): "n/a"},
     "only 2 pairs: n/a, and a gate that could not measure fails"),
    ("new-crashes", (), 1, {(100, "throughput"): "n/a", (100, "p99"): "n/a"},
     "NEW's server fails in every pair: a failure, not a busy machine"),
)


def main():
    t = Tap()
    for name, opts, status, want, what in CASES:
        r = bench("compare", "--judge", FIXTURES / "compare" / name, *opts)
        got = verdicts(r.stdout)
        wrong = {k: (got.get(k), v) for k, v in want.items() if got.get(k) != v}
        t.ok(r.returncode == status and not wrong, "%s%s: %s" % (
            name, " " + " ".join(opts) if opts else "", what),
            "exit %d (want %d), verdicts %s\n%s" % (r.returncode, status, wrong,
                                                    r.stdout + r.stderr))
    # The verdict function: direction by metric, thresholds, too few pairs.
    v = lambda ratios, higher, thr=0.10: gate.verdict(ratios, higher, thr)[0]  # noqa: E731
    t.ok(v([1.2] * 5, True) == "better", "+20% of a higher-is-better metric is better")
    t.ok(v([1.2] * 5, False) == "worse", "+20% of a lower-is-better metric is worse")
    t.ok(v([0.8] * 5, False) == "better", "-20% of a lower-is-better metric is better")
    t.ok(v([0.8] * 5, True) == "worse", "-20% of a higher-is-better metric is worse")
    t.ok(v([1.08, 1.09, 1.07, 1.08, 1.09], False) == "same", "+8% within a 10% threshold")
    t.ok(v([1.08, 1.09, 1.07, 1.08, 1.09], False, 0.05) == "worse",
         "the same +8% is worse under a 5% threshold")
    t.ok(v([1.0, 1.0], True) == "n/a", "fewer than 3 pairs: n/a")
    med = gate.verdict([0.9, 1.1, 1.0, 1.3, 0.7], True, 0.1)[1]
    t.ok(med == 1.0, "the change is the median of the pair ratios", med)
    # Two result directories: cross ratios, weaker, but a 30% loss still shows.
    r = bench("compare", FIXTURES / "run-a", FIXTURES / "run-b-slower")
    got = verdicts(r.stdout)
    t.ok(r.returncode == 1 and got.get((1000, "throughput")) == "worse" and
         got.get((100, "cpu")) == "same", "result directories: uring 30% slower fails",
         r.stdout + r.stderr)
    r = bench("compare", FIXTURES / "run-a", FIXTURES / "run-a")
    t.ok(r.returncode == 0, "result directories: a run against itself passes",
         r.stdout + r.stderr)
    return t.done()


if __name__ == "__main__":
    sys.exit(main())
