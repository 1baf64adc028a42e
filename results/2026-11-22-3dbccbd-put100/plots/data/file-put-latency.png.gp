set terminal pngcairo size 960,600 enhanced font 'DejaVu Sans,11'
set output 'file-put-latency.png'
set title "file-put, 100 connections: latency by percentile (median run by p99)"
set logscale x
set logscale y
set xrange [1:10000]
set yrange [9.89594:2386.03]
set xtics ("0%%" 1, "90%%" 10, "99%%" 100, "99.9%%" 1000, "99.99%%" 10000)
set xlabel "percentile"
set ylabel "latency (ms, log scale)"
set grid xtics ytics mytics
set key top left
plot 'data/file-put-c100-uring.hgrm.dat' using 1:($2/1000) with lines lc rgb '#1f77b4' lw 2 title 'uring', 'data/file-put-c100-epoll.hgrm.dat' using 1:($2/1000) with lines lc rgb '#ff7f0e' lw 2 title 'epoll', 'data/file-put-c100-blocking.hgrm.dat' using 1:($2/1000) with lines lc rgb '#7f7f7f' lw 2 title 'blocking'
