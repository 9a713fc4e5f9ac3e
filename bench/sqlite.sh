#!/usr/bin/env bash
# Benchmarks of evt on one SQLite file (no server), figures against a reference on the
# same machine (ratios, never timed assertions):
#   1. bulk evt-emit --stdin into a fresh file  vs  a bare prepared INSERT loop of the same
#      rows in one transaction (bench/sqlite_insert_loop.cc)               (aim: >= 0.5)
#   2. evt-work --pipe (a no-op co-process) with all bookkeeping: lease, status, metrics,
#      outcome journal, commit                                               (aim: 10,000/s)
#   3. the same worker with --concurrency 1 and 4, and two worker processes on one file
# Where fdatasync is slow, the outcome journal (one fdatasync per outcome, as with Redis)
# bounds 2 and 3; 2b shows the figure with the journal on tmpfs.
# Usage: bench/sqlite.sh [BUILD_DIR]   (default: build)
set -euo pipefail
cd "$(dirname "$0")/.."
build="${1:-build}"
bin="$build/tools"
tmp="$(mktemp -d /tmp/evt-bench-sqlite.XXXXXX)"
trap 'rm -rf "$tmp"' EXIT
now() { date +%s%N; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
echo "machine: $(nproc) cores, sqlite $(sqlite3 --version | cut -d' ' -f1), $(df -T "$tmp" | awk 'NR == 2 { print $2 }') under $tmp"

# 1. Bulk emit.
N=${EVT_BENCH_EVENTS:-200000}
"$bin/evt-emit" --type bench.seed --source bench --field server=srv-a --field bucket=backup-prod-a \
  --field 'size:=123456' > "$tmp/one.ndjson"
seed_id=$(jq -r .event_id "$tmp/one.ndjson")
awk -v n="$N" -v id="$seed_id" '{ for (i = 0; i < n; i++) { l = $0; gsub(id, "evt_bench_" i, l); print l } }' \
  "$tmp/one.ndjson" > "$tmp/events.ndjson"
"$bin/evt-emit" --type x.y --broker "sqlite://$tmp/ref.db" > /dev/null  # the schema
sqlite3 "$tmp/ref.db" 'DELETE FROM stream'
ref=$("$build/bench/sqlite_insert_loop" "$tmp/ref.db" "$tmp/events.ndjson")
t=$(now)
"$bin/evt-emit" --stdin --broker "sqlite://$tmp/emit.db" < "$tmp/events.ndjson" > /dev/null
ms=$(( ($(now) - t) / 1000000 ))
rate=$(( N * 1000 / (ms > 0 ? ms : 1) ))
echo "1. bulk evt-emit --stdin: $N events in ${ms} ms = ${rate}/s; bare INSERT loop: ${ref}/s: $(ratio "$rate" "$ref") (aim >= 0.50)"

# 2./3. Worker throughput: the time from start until every event is done.
M=${EVT_BENCH_RUNS:-20000}
noop='while IFS= read -r line; do echo "{\"status\":\"ok\"}"; done'
work() {  # work NAME CONCURRENCY PROCESSES [STATE_BASE]
  local db="$tmp/$1.db" pids=() t ms done_n state="${4:-$tmp}/state-$1"
  head -n "$M" "$tmp/events.ndjson" | "$bin/evt-emit" --stdin --broker "sqlite://$db" > /dev/null
  t=$(now)
  for p in $(seq "$3"); do
    "$bin/evt-work" --broker "sqlite://$db" --state-dir "$state" --concurrency "$2" \
      --log-level warn --pipe -- sh -c "$noop" &
    pids+=($!)
  done
  for _ in $(seq 6000); do  # at most 10 minutes
    done_n=$(sqlite3 -cmd '.timeout 5000' "$db" "SELECT count(*) FROM events WHERE status = 'done'")
    (( done_n >= M )) && break
    sleep 0.1
  done
  ms=$(( ($(now) - t) / 1000000 ))
  kill -TERM "${pids[@]}"; wait "${pids[@]}" || true
  echo $(( M * 1000 / (ms > 0 ? ms : 1) ))
}
echo "2. evt-work --pipe --concurrency 2, $M events: $(work c2 2 1)/s (aim 10000/s)"
# The outcome journal's fdatasync per event bounds the figures above on a slow disk; with
# the journal on tmpfs (not durable: for the figure only) the rest of the path shows.
shm=$(mktemp -d /dev/shm/evt-bench.XXXXXX)
echo "2b. the same with the journal on tmpfs: $(work shm 2 1 "$shm")/s"
rm -rf "$shm"
echo "3. --concurrency 1: $(work c1 1 1)/s; --concurrency 4: $(work c4 4 1)/s; two processes x 2: $(work p2 2 2)/s"

# 4. The same two figures on Redis, side by side (a private redis-server, if installed).
if command -v redis-server > /dev/null; then
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  redis-server --port "$port" --bind 127.0.0.1 --dir "$tmp" --save '' --appendonly no \
    --logfile "$tmp/redis.log" --daemonize no &
  redis_pid=$!
  trap 'kill $redis_pid 2>/dev/null; wait $redis_pid 2>/dev/null; rm -rf "$tmp"' EXIT
  until [[ "$(redis-cli -p "$port" PING 2>/dev/null)" == PONG ]]; do sleep 0.05; done
  url="redis://127.0.0.1:$port"
  t=$(now)
  "$bin/evt-emit" --stdin --broker "$url" --queue bulk < "$tmp/events.ndjson" > /dev/null
  ms=$(( ($(now) - t) / 1000000 ))
  head -n "$M" "$tmp/events.ndjson" | "$bin/evt-emit" --stdin --broker "$url" --queue work > /dev/null
  t=$(now)
  "$bin/evt-work" --broker "$url" --queue work --state-dir "$tmp/state-redis" --concurrency 2 \
    --log-level warn --pipe -- sh -c "$noop" &
  w=$!
  for _ in $(seq 6000); do
    n=$(redis-cli -p "$port" EVAL "local n = 0 for _, k in ipairs(redis.call('KEYS', 'evt:{work}:ev:*')) do if redis.call('HGET', k, 'status') == 'done' then n = n + 1 end end return n" 0)
    (( n >= M )) && break
    sleep 0.1
  done
  wms=$(( ($(now) - t) / 1000000 ))
  kill -TERM $w; wait $w || true
  echo "4. Redis: bulk evt-emit $(( N * 1000 / (ms > 0 ? ms : 1) ))/s; evt-work --pipe --concurrency 2: $(( M * 1000 / (wms > 0 ? wms : 1) ))/s"
fi
