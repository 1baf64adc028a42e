set terminal svg size 960,600 dynamic enhanced font 'DejaVu Sans,11'
set output 'greeting-cpu.svg'
set title "greeting: server CPU per request vs connections"
set logscale x
set xrange [40:2500]
set xtics ("100" 100, "1000" 1000)
set yrange [0:*]

set xlabel "connections (log scale)"
set ylabel "server CPU µs per request (median, min-max bars)"
set grid
set key outside right top
plot 'data/greeting-cpu-uring.dat' using ($1*0.9035):2:3:4 with yerrorlines lc rgb '#1f77b4' lw 2 pt 7 ps 0.8 title 'uring', 'data/greeting-cpu-epoll.dat' using ($1*0.9667):2:3:4 with yerrorlines lc rgb '#ff7f0e' lw 2 pt 7 ps 0.8 title 'epoll', 'data/greeting-cpu-blocking.dat' using ($1*1.0344):2:3:4 with yerrorlines lc rgb '#7f7f7f' lw 2 pt 7 ps 0.8 title 'blocking', 'data/greeting-cpu-nginx.dat' using ($1*1.1068):2:3:4 with yerrorlines lc rgb '#2ca02c' lw 2 pt 7 ps 0.8 title 'nginx'
