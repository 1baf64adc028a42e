#!/bin/bash
# chat fan-out: 1000 clients, 10 senders, 1000 lines/s (the issue's point) and 100 lines/s;
# engines interleaved, 3 reps, server CPU 0, load CPU 1.
cd "$(dirname "$0")/../.."   # the repository root
OUT=${OUT:-/tmp/ringlab-chat}   # where the raw JSON goes (then copied to raw/)
S=build-bench/servers/ringlab-server; L=build-bench/loadgen/ringlab-load
mkdir -p "$OUT"
for rate in 1000 100; do
 for rep in 1 2 3; do
  for e in uring epoll blocking; do
    taskset -c 0 $S chat --engine $e --listen 127.0.0.1:0 > $OUT/srv.out 2>$OUT/srv.err &
    spid=$!
    for i in $(seq 50); do grep -q listening $OUT/srv.out && break; sleep 0.1; done
    addr=$(awk '/listening on/{print $3}' $OUT/srv.out)
    t0=$(awk '{print $14+$15}' /proc/$spid/stat)
    taskset -c 1 $L chat --target $addr -c 1000 --senders 10 --rate $rate -d 5s --warmup 1s --quiet --json $OUT/$e-r$rate-$rep.json > $OUT/$e-r$rate-$rep.txt 2>&1
    rc=$?
    t1=$(awk '{print $14+$15}' /proc/$spid/stat)
    kill -TERM $spid; wait $spid
    echo "$e rate=$rate rep=$rep rc=$rc server_cpu_ticks=$((t1-t0))"
  done
 done
done
