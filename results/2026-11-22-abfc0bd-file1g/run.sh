# 1 GiB single stream, direct: 2 reps per engine, interleaved
mkdir -p /tmp/bench/f1g; rm -rf /dev/shm/rlf; 
for rep in 1 2; do for mode in get put; do for e in uring epoll blocking; do
  rm -rf /dev/shm/rlf; mkdir -p /dev/shm/rlf
  taskset -c 0 build-bench/servers/ringlab-server file --root /dev/shm/rlf --engine $e --listen 127.0.0.1:0 > /tmp/bench/f1g/srv.out 2>/dev/null &
  spid=$!; for i in $(seq 50); do grep -q listening /tmp/bench/f1g/srv.out && break; sleep 0.1; done
  addr=$(awk '/listening on/{print $3}' /tmp/bench/f1g/srv.out)
  taskset -c 1 build-bench/loadgen/ringlab-load file --target $addr -c 1 -s 1GiB --mode $mode -d 8s --warmup 0 --timeout 60s --quiet --json /tmp/bench/f1g/$e-$mode-$rep.json > /tmp/bench/f1g/$e-$mode-$rep.txt 2>&1
  echo "$e $mode $rep rc=$?"; kill -TERM $spid; wait $spid
done; done; done > /tmp/bench/f1g.log 2>&1
rm -rf /dev/shm/rlf
echo "f1g done $(date)" >> /tmp/bench/progress
bench/run --soak --no-build --out results/$D-soak2 > /tmp/bench/soak2.log 2>&1; echo "soak2 rc=$? $(date)" >> /tmp/bench/progress
