"""Peers: well-known programs measured in the same run, under the same pinning.

  nginx        stream module, `return "...";` -- a greeting server (worker_processes 1)
  sockperf sr  a UDP echo server (the sockperf protocol: it answers sockperf clients)
  sockperf pp  a second UDP ping-pong client: the latency cross-check of our UDP path
  iperf3       one bulk TCP stream: the throughput ceiling next to file transfer

Servers go on the server CPU, clients on the load CPU, like ours.  sockperf and iperf3
report their own numbers; the harness adds the server's CPU from /proc."""
import json
import os
import re
import subprocess
import tempfile
import time

from env import stream_module
from measure import Server, TrialError
from procs import (LOAD_CPU, SERVER_CPU, CpuSampler, command_line, free_port, pinned, process_tree,
                   spawn, stop, tail, wait_listening)

GREETING = "Hello from ringlab\n"      # ringlab-server greeting's default --message
SOCKPERF_PCT = {"p50": "50.000", "p90": "90.000", "p99": "99.000", "p99.9": "99.900",
                "p99.99": "99.990"}


def start_nginx(rawdir, label, conns):
    """nginx -g 'daemon off;' with a minimal stream config on a free loopback port."""
    module = stream_module()
    if not module:
        raise TrialError("nginx stream module not found")
    tmp = tempfile.mkdtemp(prefix="ringlab-nginx-")
    port = free_port()
    conf = os.path.join(tmp, "nginx.conf")
    err = os.path.abspath(os.path.join(rawdir, label + ".server.stderr"))  # nginx -p: relative is under the prefix
    with open(conf, "w") as f:
        f.write("""load_module %(module)s;
worker_processes 1;
worker_rlimit_nofile %(nofile)d;
pid %(tmp)s/nginx.pid;
error_log %(err)s warn;
events { worker_connections %(wc)d; }
stream {
    server {
        listen 127.0.0.1:%(port)d backlog=4096;
        return "%(msg)s";
    }
}
""" % {"module": module, "nofile": conns * 2 + 1024, "tmp": tmp, "err": err,
       "wc": conns + 512, "port": port, "msg": GREETING.replace("\n", "\\n")})
    cmd = pinned(SERVER_CPU, ["nginx", "-p", tmp, "-c", conf, "-e", err, "-g", "daemon off;"])
    proc = spawn(cmd, stderr=open(err, "a"), nofile=conns * 2 + 1024)
    if not wait_listening(port, "tcp", 10, proc):
        stop(proc, timeout=2)
        raise TrialError("nginx did not start: %s" % tail(err))
    time.sleep(0.1)  # the worker is forked after the listener exists

    def cleanup():
        for name in os.listdir(tmp):
            os.unlink(os.path.join(tmp, name))
        os.rmdir(tmp)
    return Server("nginx", proc, "127.0.0.1:%d" % port, cmd, err,
                  pids=process_tree(proc.pid), cleanup=cleanup)


def start_sockperf_sr(rawdir, label):
    port = free_port("udp")
    err = os.path.join(rawdir, label + ".server.stderr")
    cmd = pinned(SERVER_CPU, ["sockperf", "sr", "-i", "127.0.0.1", "-p", port])
    proc = spawn(cmd, stdout=open(err, "w"), stderr=subprocess.STDOUT)
    if not wait_listening(port, "udp", 10, proc):
        stop(proc, timeout=2)
        raise TrialError("sockperf sr did not start: %s" % tail(err))
    return Server("sockperf-sr", proc, "127.0.0.1:%d" % port, cmd, err)


def server_sockperf_option(help_text):
    """The ringlab-server option that makes the udp protocol answer sockperf clients
    (clears sockperf's client flag in the reply), if the server has one."""
    m = re.search(r"^\s*(?:-\w,\s*)?(--[\w-]*sockperf[\w-]*)\b", help_text, re.M | re.I)
    return m.group(1) if m else None


def sockperf_pp(server, secs, size, rawdir, label):
    """sockperf pp against `server` (ping-pong, one socket, full round-trip times)."""
    host, port = server.addr.rsplit(":", 1)
    out = os.path.join(rawdir, label + ".sockperf.txt")
    cmd = pinned(LOAD_CPU, ["sockperf", "pp", "-i", host, "-p", port, "-t", "%d" % max(1, secs),
                            "-m", size, "--full-rtt"])
    sampler = CpuSampler(server.pids)
    sampler.start()
    proc = spawn(cmd, stdout=open(out, "w"), stderr=subprocess.STDOUT)
    try:
        status = proc.wait(timeout=secs + 30)
    except subprocess.TimeoutExpired:
        status = stop(proc, timeout=2)
    finally:
        sampler.finish()
    text = open(out, errors="replace").read()
    text = re.sub(r"\x1b\[[0-9;]*m", "", text)
    rec = {"commands": {"load": [command_line(cmd)]}, "files": [
        {"stdout": os.path.basename(out)}], "load_exit": [status], "problems": []}
    lat = {}
    for name, key in SOCKPERF_PCT.items():
        m = re.search(r"percentile %s =\s*([\d.]+)" % re.escape(key), text)
        lat[name] = float(m.group(1)) if m else None
    m = re.search(r"<MAX> observation =\s*([\d.]+)", text)
    lat["max"] = float(m.group(1)) if m else None
    valid = re.search(r"\[Valid Duration\] RunTime=([\d.]+) sec; SentMessages=(\d+); "
                      r"ReceivedMessages=(\d+)", text)
    total = re.search(r"\[Total Run\] RunTime=([\d.]+) sec;.*?ReceivedMessages=(\d+)", text)
    rec["latency_us"] = lat
    rec["throughput"] = int(valid.group(3)) / float(valid.group(1)) if valid and \
        float(valid.group(1)) > 0 else None
    rec["ok"] = status == 0 and lat["p50"] is not None
    if not rec["ok"]:
        last = [l for l in text.splitlines() if l.strip()][-1:] or ["no output"]
        rec["problems"].append("sockperf pp: %s (exit %s)" % (last[0].strip(), status))
    cpu = sampler.at(sampler.samples[-1][0]) - sampler.at(sampler.samples[0][0])
    if total and int(total.group(2)):
        rec["server_cpu"] = {"method": "whole sockperf run", "seconds": cpu,
                             "us_per_request": cpu * 1e6 / int(total.group(2)),
                             "percent_of_core": cpu / float(total.group(1)) * 100}
    return rec


def iperf3(secs, rawdir, label):
    """One iperf3 TCP stream over loopback: server on the server CPU, client on the load
    CPU; the first second is omitted from the result."""
    port = free_port()
    err = os.path.join(rawdir, label + ".server.stderr")
    out = os.path.join(rawdir, label + ".iperf3.json")
    scmd = pinned(SERVER_CPU, ["iperf3", "-s", "-1", "-B", "127.0.0.1", "-p", port])
    ccmd = pinned(LOAD_CPU, ["iperf3", "-c", "127.0.0.1", "-p", port, "-t", "%g" % secs,
                             "-O", "1", "-J"])
    srv = spawn(scmd, stdout=open(err, "w"), stderr=subprocess.STDOUT)
    rec = {"commands": {"server": command_line(scmd),
                        "load": [command_line(ccmd)]},
           "files": [{"json": os.path.basename(out)}], "problems": []}
    try:
        if not wait_listening(port, "tcp", 10, srv):
            raise TrialError("iperf3 -s did not start: %s" % tail(err))
        cli = spawn(ccmd, stdout=open(out, "w"), stderr=subprocess.STDOUT)
        try:
            status = cli.wait(timeout=secs + 30)
        except subprocess.TimeoutExpired:
            status = stop(cli, timeout=2)
    finally:
        stop(srv, timeout=5)
    rec["load_exit"] = [status]
    try:
        doc = json.load(open(out))
        end = doc["end"]
        rec["gbit_s"] = end["sum_received"]["bits_per_second"] / 1e9
        rec["throughput"] = rec["gbit_s"]
        cpu = end.get("cpu_utilization_percent", {})
        rec["server_cpu"] = {"percent_of_core": cpu.get("remote_total"),
                             "method": "iperf3 remote_total"}
        rec["client_cpu"] = {"percent_of_core": cpu.get("host_total")}
        rec["retransmits"] = end.get("sum_sent", {}).get("retransmits")
        rec["ok"] = status == 0
    except (OSError, ValueError, KeyError) as e:
        rec["ok"] = False
        rec["problems"].append("iperf3 gave no result (%s; exit %s)" % (e, status))
    return rec
