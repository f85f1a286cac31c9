#!/usr/bin/env bash
# The runs behind docs/benchmarks.md, one after another (~12 minutes on a 2-core machine).
# Results: ${BENCH_OUT:-bench/results}/ (JSON, printed tables, plots). Nothing else may run.
set -euo pipefail
cd "$(dirname "$0")"
# the issue's targets, checked in each table and drawn in the plots
big=(--target ack=50 --target board_all=300)
small=(--target ack=100)
./run.sh big-1k -- "${big[@]}" one-big-quiz --players 1000 --questions 3
./run.sh big-3k -- "${big[@]}" one-big-quiz --players 3000 --questions 3
./run.sh big-5k -- "${big[@]}" one-big-quiz --players 5000 --questions 3
for n in 1 2 3; do
    ./run.sh "big-10k-$n" -- "${big[@]}" one-big-quiz --players 10000 --questions 3
done
./run.sh big-10k-memory --memory -- "${big[@]}" one-big-quiz --players 10000 --questions 3
./run.sh small-200x50 -- "${small[@]}" many-small-quizzes --quizzes 200 --players-per-quiz 50 \
    --questions 10 --window-s 0.3
# the same with answers spread over 6 s: the rate at which the ack p99 stays within 100 ms
./run.sh small-200x50-w6 -- "${small[@]}" many-small-quizzes --quizzes 200 \
    --players-per-quiz 50 --questions 10 --window-s 6
./run.sh idle-10k -- idle --players 10000 --hold-s 10
./run.sh storm-10k -- join-storm --players 10000
