#!/usr/bin/env bash
# One benchmark run against PROCESSES fresh `livequiz serve` processes on PostgreSQL and NATS.
#
#   bench/run-cluster.sh NAME PROCESSES [livequiz serve options...] -- [livequiz bench options and scenario...]
#
# The scale-out counterpart of bench/run.sh: creates a fresh PostgreSQL schema (bench_<random>,
# in ${BENCH_DATABASE:-postgresql://postgres@127.0.0.1:5432/test}), starts PROCESSES servers on
# ports ${BENCH_PORT:-8765}, +1, … sharing that schema and the NATS at
# ${BENCH_BUS:-nats://127.0.0.1:4222}, with run.sh's per-address limits raised (every simulated
# player comes from 127.0.0.1), waits for /readyz on each, runs `livequiz bench` with every
# --server and --server-pid (players round-robin over the processes, quiz i created on process
# i mod PROCESSES; CPU and RSS per process and summed), stops the servers and drops the schema.
# PROCESSES=1 is one process on PostgreSQL + NATS, to set against the embedded default of run.sh.
# Results as with run.sh: ${BENCH_OUT:-bench/results}/NAME.json, NAME.txt, NAME/*.png, and each
# server's log in NAME.server-<i>.log.
#
# No CPU pinning: this machine has 2 cores for the servers, the generator's 2 workers and its
# runner, PostgreSQL and NATS. Pinning each server to a core would stop the kernel from moving
# work to whichever core is idle at the moment and make one run depend on how the pinned sets
# happened to collide; run.sh does not pin either, so the embedded and the cluster figures are
# taken the same way.
#
# Example: bench/run-cluster.sh pg2-big-1k 2 -- one-big-quiz --players 1000 --questions 3
set -euo pipefail
usage="usage: bench/run-cluster.sh NAME PROCESSES [serve options] -- [bench options] SCENARIO [scenario options]"
name=${1:?$usage}
count=${2:?$usage}
shift 2
[[ $count =~ ^[1-9][0-9]*$ ]] || { echo "$usage" >&2; exit 2; }
serve=()
while [[ $# -gt 0 && $1 != "--" ]]; do serve+=("$1"); shift; done
[[ $# -gt 0 ]] && shift
cd "$(dirname "$0")/.."
out=${BENCH_OUT:-bench/results}
port=${BENCH_PORT:-8765}
database=${BENCH_DATABASE:-postgresql://postgres@127.0.0.1:5432/test}
bus=${BENCH_BUS:-nats://127.0.0.1:4222}
schema="bench_$(od -An -N4 -tx4 /dev/urandom | tr -d ' ')"
mkdir -p "$out"
data=$(mktemp -d)

sql() {  # one statement on the benchmark database (asyncpg: a dependency of the server)
    .venv/bin/python - "$database" "$1" <<'EOF'
import asyncio, sys
import asyncpg

async def main(url: str, statement: str) -> None:
    connection = await asyncpg.connect(url, timeout=10)
    try:
        await connection.execute(statement)
    finally:
        await connection.close()

asyncio.run(main(*sys.argv[1:3]))
EOF
}

pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
    sql "DROP SCHEMA IF EXISTS \"$schema\" CASCADE" || echo "could not drop schema $schema" >&2
    rm -rf "$data"
}
trap cleanup EXIT

sql "CREATE SCHEMA \"$schema\""
servers=()
for i in $(seq 0 $((count - 1))); do
    .venv/bin/livequiz serve --port $((port + i)) --data-dir "$data/$i" --log-level warning \
        --database "$database" --database-schema "$schema" --bus "$bus" \
        --join-burst 100000 --join-rate 100000 --max-connections-per-address 20000 \
        --new-connection-burst 100000 --new-connection-rate 100000 \
        --max-http-connections-per-address 20000 \
        "${serve[@]}" > "$out/$name.server-$i.log" 2>&1 &
    pids+=($!)
    servers+=(--server "http://127.0.0.1:$((port + i))" --server-pid "$!")
done
for i in $(seq 0 $((count - 1))); do
    for attempt in $(seq 300); do
        curl -fs "http://127.0.0.1:$((port + i))/readyz" > /dev/null && break
        if ! kill -0 "${pids[$i]}" 2>/dev/null || [[ $attempt == 300 ]]; then
            echo "server $i (port $((port + i))) did not become ready:" >&2
            tail -n 20 "$out/$name.server-$i.log" >&2
            exit 1
        fi
        sleep 0.1
    done
done
.venv/bin/livequiz bench "${servers[@]}" \
    --json-out "$out/$name.json" --plots-dir "$out/$name" "$@" | tee "$out/$name.txt"
