#!/usr/bin/env bash
# One benchmark run against a fresh server on this machine: what docs/benchmarks.md reports.
#
#   bench/run.sh NAME [livequiz serve options...] -- [livequiz bench options and scenario...]
#
# Starts `livequiz serve` on the embedded default (a SQLite journal in a fresh temporary data
# directory; add --memory to keep nothing on disk), with the per-address limits raised (every
# simulated player comes from 127.0.0.1), runs `livequiz bench` against it with --server-pid so
# the server's CPU and memory are measured, and stops the server. Results go to
# ${BENCH_OUT:-bench/results}/NAME.json, NAME.txt (the printed table), and the plots to
# ${BENCH_OUT:-bench/results}/NAME/*.png.
#
# Example: bench/run.sh big-10k -- one-big-quiz --players 10000 --questions 3
set -euo pipefail
name=${1:?usage: bench/run.sh NAME [serve options] -- [bench options] SCENARIO [scenario options]}
shift
serve=()
while [[ $# -gt 0 && $1 != "--" ]]; do serve+=("$1"); shift; done
[[ $# -gt 0 ]] && shift
cd "$(dirname "$0")/.."
out=${BENCH_OUT:-bench/results}
port=${BENCH_PORT:-8765}
mkdir -p "$out"
data=$(mktemp -d)
.venv/bin/livequiz serve --port "$port" --data-dir "$data" --log-level warning \
    --join-burst 100000 --join-rate 100000 --max-connections-per-address 20000 \
    --new-connection-burst 100000 --new-connection-rate 100000 \
    --max-http-connections-per-address 20000 \
    "${serve[@]}" > "$out/$name.server.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null; wait $server 2>/dev/null; rm -rf "$data"' EXIT
for _ in $(seq 100); do
    curl -fs "http://127.0.0.1:$port/readyz" > /dev/null && break
    sleep 0.1
done
.venv/bin/livequiz bench --server "http://127.0.0.1:$port" --server-pid "$server" \
    --json-out "$out/$name.json" --plots-dir "$out/$name" "$@" | tee "$out/$name.txt"
