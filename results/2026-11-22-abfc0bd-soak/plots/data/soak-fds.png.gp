set terminal pngcairo size 960,600 enhanced font 'DejaVu Sans,11'
set output 'soak-fds.png'
set title "soak: open descriptors of each server (warm-up ends at the dashed line)"
set xlabel "minutes since the servers started"
set ylabel "open descriptors"
set yrange [0:*]
set grid
set key outside right top
set arrow from 1.13552, graph 0 to 1.13552, graph 1 nohead dt 2 lc rgb '#444444'
plot 'data/soak-fds-echo.dat' using 1:2 with lines lc rgb '#d62728' lw 2 title 'echo', 'data/soak-fds-greeting.dat' using 1:2 with lines lc rgb '#8c564b' lw 2 title 'greeting', 'data/soak-fds-udp.dat' using 1:2 with lines lc rgb '#e377c2' lw 2 title 'udp'
