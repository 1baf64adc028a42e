set terminal svg size 960,600 dynamic enhanced font 'DejaVu Sans,11'
set output 'curves-udp-64-cpu.svg'
set title "udp-64: server CPU per operation vs achieved rate"
set logscale x
set yrange [0:*]
set format x "%.1s%c"
set xlabel "achieved rate per s (log)"
set ylabel "server CPU µs per operation"
set grid
set key outside right top
plot 'data/curves-udp-64-cpu-uring.dat' using 1:2 with linespoints lc rgb '#1f77b4' lw 2 pt 7 ps 0.8 title 'uring', 'data/curves-udp-64-cpu-epoll.dat' using 1:2 with linespoints lc rgb '#ff7f0e' lw 2 pt 7 ps 0.8 title 'epoll', 'data/curves-udp-64-cpu-blocking.dat' using 1:2 with linespoints lc rgb '#7f7f7f' lw 2 pt 7 ps 0.8 title 'blocking', 'data/curves-udp-64-cpu-sockperf-sr.dat' using 1:2 with linespoints lc rgb '#9467bd' lw 2 pt 7 ps 0.8 title 'sockperf-sr'
