set terminal pngcairo size 960,600 enhanced font 'DejaVu Sans,11'
set output 'file-put-throughput.png'
set title "file-put: throughput vs connections"
set logscale x
set xrange [40:250]
set xtics ("100" 100)
set yrange [0:*]
set format y "%.1s%c"
set xlabel "connections (log scale)"
set ylabel "files/s (median, min-max bars)"
set grid
set key outside right top
plot 'data/file-put-throughput-uring.dat' using ($1*0.9346):2:3:4 with yerrorlines lc rgb '#1f77b4' lw 2 pt 7 ps 0.8 title 'uring', 'data/file-put-throughput-epoll.dat' using ($1*1.0000):2:3:4 with yerrorlines lc rgb '#ff7f0e' lw 2 pt 7 ps 0.8 title 'epoll', 'data/file-put-throughput-blocking.dat' using ($1*1.0700):2:3:4 with yerrorlines lc rgb '#7f7f7f' lw 2 pt 7 ps 0.8 title 'blocking'
