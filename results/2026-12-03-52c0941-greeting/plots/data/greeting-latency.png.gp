set terminal pngcairo size 960,600 enhanced font 'DejaVu Sans,11'
set output 'greeting-latency.png'
set title "greeting, 1000 connections: latency by percentile (median run by p99)"
set logscale x
set logscale y
set xrange [1:1e+06]
set yrange [1.3824:432.931]
set xtics ("0%%" 1, "90%%" 10, "99%%" 100, "99.9%%" 1000, "99.99%%" 10000, "99.999%%" 100000, "99.9999%%" 1e+06)
set xlabel "percentile"
set ylabel "latency (ms, log scale)"
set grid xtics ytics mytics
set key top left
plot 'data/greeting-c1000-uring.hgrm.dat' using 1:($2/1000) with lines lc rgb '#1f77b4' lw 2 title 'uring', 'data/greeting-c1000-epoll.hgrm.dat' using 1:($2/1000) with lines lc rgb '#ff7f0e' lw 2 title 'epoll', 'data/greeting-c1000-blocking.hgrm.dat' using 1:($2/1000) with lines lc rgb '#7f7f7f' lw 2 title 'blocking', 'data/greeting-c1000-nginx.hgrm.dat' using 1:($2/1000) with lines lc rgb '#2ca02c' lw 2 title 'nginx'
