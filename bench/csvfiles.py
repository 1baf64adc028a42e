"""results.csv and summary.csv of a result directory: the numbers of runs.jsonl and
report.md as flat tables for spreadsheets, pandas or `bench/compare`-like scripts.

results.csv has one row per trial, summary.csv one row per block and target (a block
is one workload at one connection count).  The columns, their units and their meaning
are listed here, in RESULT_COLUMNS and SUMMARY_COLUMNS, and documented in
docs/results.md; a test checks that the two agree.  Empty cell: not measured (None).
Numbers are plain decimals with at most 6 digits after the point; flags are 1/0."""
import csv
from pathlib import Path

import matrix
from measure import dig as _dig
from report import group_records, summarize

ENGINE_SET = set(matrix.ENGINES)


def server_client(rec):
    """(what served the trial, what loaded it): 'load:uring' is uring under ringlab-load,
    'pp:uring' uring under sockperf pp, 'sockperf-sr' sockperf's server under its pp."""
    target, kind = rec.get("target", ""), rec.get("kind", "load")
    if kind == "iperf3":
        return "iperf3", "iperf3"
    if kind == "pingpong":
        client, _, server = target.rpartition(":")
        return server, {"load": "ringlab-load"}.get(client, "sockperf-pp")
    return target, "ringlab-load"


def unit_of(rec):
    kind = rec.get("kind", "load")
    if kind == "iperf3":
        return "Gbit/s"
    if kind == "pingpong":
        return "round trips/s"
    w = matrix.WORKLOADS.get(rec.get("workload"))
    return w.unit if w else "req/s"


def _lat(name):
    return lambda r: _dig(r, "latency_us", name)


def _flag(v):
    return None if v is None else int(bool(v))


def _exit(v):
    if isinstance(v, list):
        return " ".join(str(x) for x in v)
    return v


# name, unit, meaning, value of a runs.jsonl record
RESULT_COLUMNS = (
    ("run", "", "result directory name", None),
    ("seq", "", "trial number in run order, from 1", lambda r: r.get("seq")),
    ("block", "", "workload/c<connections>, or udp-pingpong, bulk-tcp, soak/<workload>",
     lambda r: r.get("block")),
    ("workload", "", "workload name (bench/matrix.py WORKLOADS)", lambda r: r.get("workload")),
    ("kind", "", "load, pingpong, iperf3 or soak", lambda r: r.get("kind")),
    ("target", "", "what the trial measured, as in runs.jsonl (uring, epoll, blocking, "
     "nginx, sockperf-sr, load:ENGINE, pp:ENGINE, iperf3)", lambda r: r.get("target")),
    ("server", "", "the server under test: an engine or a peer program",
     lambda r: server_client(r)[0]),
    ("server_type", "", "engine (ringlab-server) or peer",
     lambda r: "engine" if server_client(r)[0] in ENGINE_SET else "peer"),
    ("client", "", "ringlab-load, sockperf-pp or iperf3", lambda r: server_client(r)[1]),
    ("connections", "count", "connections (sockets) the load generator held",
     lambda r: r.get("conns")),
    ("rep", "", "repetition within the block, from 1", lambda r: r.get("rep")),
    ("ok", "1/0", "the trial produced a measurement", lambda r: _flag(r.get("ok"))),
    ("duration_s", "s", "nominal measured window", lambda r: r.get("duration")),
    ("warmup_s", "s", "nominal warm-up before the window", lambda r: r.get("warmup")),
    ("unit", "", "unit of throughput: req/s, conn/s, dgram/s, lines/s, files/s, round "
     "trips/s or Gbit/s", unit_of),
    ("throughput", "per s", "requests (or the unit's items) per second of the measured "
     "window", lambda r: r.get("throughput")),
    ("requests", "count", "requests completed in the window", lambda r: r.get("requests")),
    ("elapsed_s", "s", "measured window length as the load generator measured it",
     lambda r: r.get("elapsed_s")),
    ("gbit_s", "Gbit/s", "iperf3 only: received bits per second / 1e9",
     lambda r: r.get("gbit_s")),
    ("server_us_per_req", "µs", "server CPU (utime+stime) per request over the window",
     lambda r: _dig(r, "server_cpu", "us_per_request")),
    ("server_cpu_pct", "% of a core", "server CPU over the window",
     lambda r: _dig(r, "server_cpu", "percent_of_core")),
    ("cpu_method", "", "how the window was located for server CPU (runs.jsonl "
     "server_cpu.method)", lambda r: _dig(r, "server_cpu", "method")),
    ("client_cpu_pct", "% of a core", "load generator worker threads' CPU",
     lambda r: _dig(r, "client_cpu", "percent_of_core")),
    ("client_us_per_req", "µs", "load generator CPU per request",
     lambda r: _dig(r, "client_cpu", "us_per_request")),
    ("client_bound", "1/0", "load generator above 90% of its core",
     lambda r: _flag(_dig(r, "client_cpu", "bound"))),
    ("other_cpu_pct", "% of a core", "CPU of other processes on the machine during the "
     "window", lambda r: _dig(r, "server_cpu", "foreign_percent")),
    ("p50_us", "µs", "latency median (closed loop: service time)", _lat("p50")),
    ("p90_us", "µs", "latency 90th percentile", _lat("p90")),
    ("p99_us", "µs", "latency 99th percentile", _lat("p99")),
    ("p99_9_us", "µs", "latency 99.9th percentile", _lat("p99.9")),
    ("p99_99_us", "µs", "latency 99.99th percentile", _lat("p99.99")),
    ("max_us", "µs", "largest latency", _lat("max")),
    ("errors", "count", "client-side errors (ringlab-load errors.total)",
     lambda r: r.get("errors")),
    ("connections_reached", "count", "connections established",
     lambda r: r.get("connections_reached")),
    ("load_exit", "", "exit status of each load process, space-separated",
     lambda r: _exit(r.get("load_exit"))),
    ("server_exit", "", "server exit status after SIGTERM (0 is clean)",
     lambda r: r.get("server_exit")),
    ("problems", "", "what went wrong or is doubtful, '; '-separated",
     lambda r: "; ".join(r.get("problems") or [])),
)


def _ratio(name, key, which):
    i = {"median": 0, "min": 1, "max": 2}[which]
    return lambda s: ((s["ratios"].get(name) or {}).get(key) or (None,) * 3)[i]


def _spread(key, which):
    i = {"median": 0, "min": 1, "max": 2}[which]
    return lambda s: s[key][i]


# name, unit, meaning, value of the report's summary of one target in one block
SUMMARY_COLUMNS = (
    ("run", "", "result directory name", None),
    ("block", "", "as in results.csv", None),
    ("workload", "", "as in results.csv", None),
    ("connections", "count", "as in results.csv", None),
    ("target", "", "as in results.csv", None),
    ("server", "", "as in results.csv", None),
    ("client", "", "as in results.csv", None),
    ("unit", "", "unit of the throughput columns", None),
    ("n", "count", "trials", lambda s: s["n"]),
    ("n_ok", "count", "trials that produced a measurement", lambda s: s["n_ok"]),
    ("throughput_median", "per s", "median over the successful repetitions",
     _spread("throughput", "median")),
    ("throughput_min", "per s", "smallest", _spread("throughput", "min")),
    ("throughput_max", "per s", "largest", _spread("throughput", "max")),
    ("server_us_per_req_median", "µs", "server CPU per request, median",
     _spread("server_us_per_request", "median")),
    ("server_us_per_req_min", "µs", "smallest", _spread("server_us_per_request", "min")),
    ("server_us_per_req_max", "µs", "largest", _spread("server_us_per_request", "max")),
    ("server_cpu_pct", "% of a core", "median", lambda s: s["server_cpu_percent"]),
    ("p50_us", "µs", "median over repetitions of each trial's p50", lambda s: s["p50"]),
    ("p90_us", "µs", "the same for p90", lambda s: s["p90"]),
    ("p99_us", "µs", "the same for p99", lambda s: s["p99"]),
    ("p99_9_us", "µs", "the same for p99.9", lambda s: s["p99.9"]),
    ("max_us", "µs", "the same for the maximum", lambda s: s["max"]),
    ("client_cpu_pct", "% of a core", "median", lambda s: s["client_cpu_percent"]),
    ("client_bound", "count", "repetitions where the load generator was client-bound",
     lambda s: s["client_bound"]),
    ("other_cpu_pct", "% of a core", "median CPU of other processes",
     lambda s: s["foreign_cpu_percent"]),
    ("errors", "count", "client errors, summed over repetitions", None),
    ("throughput_vs_blocking", "ratio", "median of per-repetition ratios this/blocking "
     "(> 1: more throughput than blocking)", _ratio("blocking", "throughput", "median")),
    ("throughput_vs_blocking_min", "ratio", "smallest per-repetition ratio",
     _ratio("blocking", "throughput", "min")),
    ("throughput_vs_blocking_max", "ratio", "largest", _ratio("blocking", "throughput", "max")),
    ("throughput_vs_epoll", "ratio", "the same against epoll",
     _ratio("epoll", "throughput", "median")),
    ("throughput_vs_epoll_min", "ratio", "", _ratio("epoll", "throughput", "min")),
    ("throughput_vs_epoll_max", "ratio", "", _ratio("epoll", "throughput", "max")),
    ("us_per_req_vs_blocking", "ratio", "median of per-repetition ratios of server CPU per "
     "request this/blocking (< 1: cheaper than blocking)",
     _ratio("blocking", "server_us_per_request", "median")),
    ("us_per_req_vs_blocking_min", "ratio", "",
     _ratio("blocking", "server_us_per_request", "min")),
    ("us_per_req_vs_blocking_max", "ratio", "",
     _ratio("blocking", "server_us_per_request", "max")),
    ("us_per_req_vs_epoll", "ratio", "the same against epoll",
     _ratio("epoll", "server_us_per_request", "median")),
    ("us_per_req_vs_epoll_min", "ratio", "", _ratio("epoll", "server_us_per_request", "min")),
    ("us_per_req_vs_epoll_max", "ratio", "", _ratio("epoll", "server_us_per_request", "max")),
)


def cell(v):
    if v is None:
        return ""
    if isinstance(v, bool):
        return int(v)
    if isinstance(v, float):
        if v != v:  # NaN
            return ""
        text = ("%.6f" % v).rstrip("0").rstrip(".")
        return "0" if text in ("", "-0") else text
    return v


def result_rows(records, run):
    for r in records:
        yield [cell(run if get is None else get(r)) for _, _, _, get in RESULT_COLUMNS]


def summary_rows(blocks, records, run):
    """One row per block and target, blocks in report order, targets in run order."""
    groups = group_records(records)
    for b in blocks:
        targets = groups.get(b.key)
        if not targets:
            continue
        refs = {n: targets[n] for n in ("blocking", "epoll") if n in targets}
        for name, recs in targets.items():
            s = summarize(recs, refs)
            server, client = server_client(recs[0])
            fixed = {"run": run, "block": b.key, "workload": b.workload,
                     "connections": b.conns, "target": name, "server": server,
                     "client": client, "unit": unit_of(recs[0]),
                     "errors": sum(r.get("errors") or 0 for r in recs)}
            yield [cell(fixed[n] if get is None else get(s))
                   for n, _, _, get in SUMMARY_COLUMNS]


def _write(path, columns, rows):
    with open(path, "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow([c[0] for c in columns])
        w.writerows(rows)


def write(out, blocks, records):
    """Writes results.csv and summary.csv into the result directory `out`."""
    out = Path(out)
    _write(out / "results.csv", RESULT_COLUMNS, result_rows(records, out.name))
    _write(out / "summary.csv", SUMMARY_COLUMNS, summary_rows(blocks, records, out.name))
