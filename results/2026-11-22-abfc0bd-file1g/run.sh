#!/bin/bash
# 1 GiB single-stream file transfer, every engine, GET and PUT, 2 rounds interleaved;
# server on CPU 0 with its root on tmpfs, ringlab-load on CPU 1.  Run from anywhere.
cd "$(dirname "$0")/../.."                 # the repository root
OUT=${OUT:-/tmp/ringlab-file1g}            # JSON and summaries
ROOT=${ROOT:-/dev/shm/ringlab-file1g}      # the server's file root (tmpfs)
S=build-bench/servers/ringlab-server; L=build-bench/loadgen/ringlab-load
mkdir -p "$OUT"
for rep in 1 2; do for mode in get put; do for e in uring epoll blocking; do
  rm -rf "$ROOT"; mkdir -p "$ROOT"
  taskset -c 0 $S file --root "$ROOT" --engine $e --listen 127.0.0.1:0 > "$OUT/srv.out" 2>/dev/null &
  spid=$!; for i in $(seq 50); do grep -q listening "$OUT/srv.out" && break; sleep 0.1; done
  addr=$(awk '/listening on/{print $3}' "$OUT/srv.out")
  taskset -c 1 $L file --target $addr -c 1 -s 1GiB --mode $mode -d 8s --warmup 0 --timeout 60s \
    --quiet --json "$OUT/$e-$mode-$rep.json" > "$OUT/$e-$mode-$rep.txt" 2>&1
  echo "$e $mode $rep rc=$?"; kill -TERM $spid; wait $spid
done; done; done
rm -rf "$ROOT"
