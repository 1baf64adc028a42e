set terminal pngcairo size 960,600 enhanced font 'DejaVu Sans,11'
set output 'curves-udp-64-p99.png'
set title "udp-64: corrected p99 latency vs achieved rate"
set logscale x
set logscale y
set format x "%.1s%c"
set xlabel "achieved rate per s (log)"
set ylabel "corrected p99 (µs, log)"
set grid
set key outside right top
plot 'data/curves-udp-64-p99-uring.dat' using 1:2 with linespoints lc rgb '#1f77b4' lw 2 pt 7 ps 0.8 title 'uring', 'data/curves-udp-64-p99-epoll.dat' using 1:2 with linespoints lc rgb '#ff7f0e' lw 2 pt 7 ps 0.8 title 'epoll', 'data/curves-udp-64-p99-blocking.dat' using 1:2 with linespoints lc rgb '#7f7f7f' lw 2 pt 7 ps 0.8 title 'blocking', 'data/curves-udp-64-p99-sockperf-sr.dat' using 1:2 with linespoints lc rgb '#9467bd' lw 2 pt 7 ps 0.8 title 'sockperf-sr', 1000 with lines dt 2 lc rgb '#d62728' title 'target 1.00 ms'
