set terminal pngcairo size 960,600 enhanced font 'DejaVu Sans,11'
set output 'udp-cpu.png'
set title "udp: server CPU per request vs connections"
set logscale x
set xrange [25.6:160]
set xtics ("64" 64)
set yrange [0:*]

set xlabel "connections (log scale)"
set ylabel "server CPU µs per request (median, min-max bars)"
set grid
set key outside right top
plot 'data/udp-cpu-uring.dat' using ($1*0.9346):2:3:4 with yerrorlines lc rgb '#1f77b4' lw 2 pt 7 ps 0.8 title 'uring', 'data/udp-cpu-epoll.dat' using ($1*1.0000):2:3:4 with yerrorlines lc rgb '#ff7f0e' lw 2 pt 7 ps 0.8 title 'epoll', 'data/udp-cpu-blocking.dat' using ($1*1.0700):2:3:4 with yerrorlines lc rgb '#7f7f7f' lw 2 pt 7 ps 0.8 title 'blocking'
