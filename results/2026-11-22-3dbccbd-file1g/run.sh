#!/bin/bash
# 1 GiB single-stream file transfer on every engine, GET and PUT, against two ceilings
# measured in the same run: iperf3 (one TCP stream, the issue's reference) and dd writing
# 1 GiB to tmpfs (what storing an upload costs this machine before any network or
# hashing).  ROUNDS rounds, the engines' order rotated each round; servers on CPU 0,
# clients (ringlab-load, iperf3 -c) on CPU 1.  Run from anywhere; summary.txt is the result.
#
# This VM hands freed memory back to the host within seconds (virtio-balloon free page
# reporting), and touching such a page again costs a fault in the host: writing 1 GiB to
# tmpfs runs at 0.35-2.6 GB/s depending on how long ago memory was freed.  So every PUT
# run and the dd ceiling start from the same state: 3 GiB written to tmpfs and deleted
# just before (warm()).  Without it whichever engine ran first after the GETs was ~2x
# slower, whatever it was.
cd "$(dirname "$0")/../.."                 # the repository root
OUT=${OUT:-/tmp/ringlab-file1g}            # JSON and summaries
ROOT=${ROOT:-/dev/shm/ringlab-file1g}      # the server's file root (tmpfs)
ROUNDS=${ROUNDS:-3}
B=${BUILD:-build-bench}; S=$B/servers/ringlab-server; L=$B/loadgen/ringlab-load
mkdir -p "$OUT"
warm() { dd if=/dev/zero of="$ROOT/warm" bs=1M count=3072 status=none; rm -f "$ROOT/warm"; }
for rep in $(seq $ROUNDS); do
  taskset -c 0 iperf3 -s -1 -p 5299 > /dev/null 2>&1 & sleep 0.5
  taskset -c 1 iperf3 -c 127.0.0.1 -p 5299 -t 8 -J > "$OUT/iperf3-$rep.json"; wait
  rm -rf "$ROOT"; mkdir -p "$ROOT"; warm
  taskset -c 0 dd if=/dev/zero of="$ROOT/dd" bs=1M count=1024 2> "$OUT/dd-$rep.txt"
  order=(uring epoll blocking); k=$(( (rep - 1) % 3 ))
  order=("${order[@]:k}" "${order[@]:0:k}")
  for mode in get put; do for e in "${order[@]}"; do
    rm -rf "$ROOT"; mkdir -p "$ROOT"; [ $mode = put ] && warm
    taskset -c 0 $S file --root "$ROOT" --engine $e --listen 127.0.0.1:0 > "$OUT/srv.out" 2>/dev/null &
    spid=$!; for i in $(seq 50); do grep -q listening "$OUT/srv.out" && break; sleep 0.1; done
    addr=$(awk '/listening on/{print $3}' "$OUT/srv.out")
    taskset -c 1 $L file --target $addr -c 1 -s 1GiB --mode $mode -d 10s --warmup 3s \
      --timeout 60s --quiet --json "$OUT/$e-$mode-$rep.json" > "$OUT/$e-$mode-$rep.txt" 2>&1
    echo "round $rep: $e $mode rc=$?"; kill -TERM $spid; wait $spid
  done; done
done
rm -rf "$ROOT"
python3 - "$OUT" "$ROUNDS" <<'PY' | tee "$OUT/summary.txt"
import json, re, statistics as st, sys
out, rounds = sys.argv[1], int(sys.argv[2])
gib = 8 * 2**30 / 1e9                                   # Gbit in 1 GiB
def med(xs): return f"{st.median(xs):5.2f} [{min(xs):.2f}-{max(xs):.2f}]"
iperf = [json.load(open(f"{out}/iperf3-{r}.json"))["end"]["sum_received"]["bits_per_second"] / 1e9
         for r in range(1, rounds + 1)]
dd = []
for r in range(1, rounds + 1):
    m = re.search(r"copied, ([0-9.]+) s", open(f"{out}/dd-{r}.txt").read())
    dd.append(gib / float(m.group(1)))
print(f"iperf3 one stream, Gbit/s          {med(iperf)}")
print(f"dd 1 GiB to tmpfs, Gbit/s          {med(dd)}")
print("transfer Gbit/s = 1 GiB / p50 transfer time; ratios per round, median [min-max]")
for mode in ("get", "put"):
    for e in ("uring", "epoll", "blocking"):
        g, n = [], []
        for r in range(1, rounds + 1):
            d = json.load(open(f"{out}/{e}-{mode}-{r}.json"))
            assert d["exit_status"] == 0 and d["errors"]["total"] == 0, (e, mode, r)
            g.append(gib / (d["latency_us"]["uncorrected"]["p50"] / 1e6))
            n.append(d["file"]["transfers"])
        vs_i = [a / b for a, b in zip(g, iperf)]
        vs_d = [a / b for a, b in zip(g, dd)]
        print(f"{mode} {e:8s} {med(g)} Gbit/s  vs iperf3 {med(vs_i)}"
              + (f"  vs dd {med(vs_d)}" if mode == "put" else "") + f"  transfers {n}")
PY
