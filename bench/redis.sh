#!/usr/bin/env bash
# Benchmarks of evt on Redis Streams, one private redis-server, figures side by side with
# a reference run on the same server and machine (ratios, never timed assertions):
#   1. bulk evt-emit --stdin          vs  redis-benchmark -P 64 XADD        (aim: >= 40%)
#   2. evt-work --concurrency 4 -- /bin/true  vs  spawn loop, 2 in flight  (aim: >= 70%)
#   3. peak RSS of an idle evt-work, and at --concurrency 50 under load    (aim: 8 / 16 MB)
#   4. one cron-style evt-emit        vs  redis-cli XADD: wall time, RSS   (aim: <= redis-cli)
# Usage: bench/redis.sh [BUILD_DIR]   (default: build)
set -euo pipefail
cd "$(dirname "$0")/.."
build="${1:-build}"
bin="$build/tools"
tmp="$(mktemp -d /tmp/evt-bench-redis.XXXXXX)"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
redis-server --port "$port" --bind 127.0.0.1 --dir "$tmp" --save '' --appendonly no \
  --logfile "$tmp/redis.log" --daemonize no &
redis_pid=$!
trap 'kill $redis_pid 2>/dev/null; wait $redis_pid 2>/dev/null; rm -rf "$tmp"' EXIT
until [[ "$(redis-cli -p "$port" PING 2>/dev/null)" == PONG ]]; do sleep 0.05; done
url="redis://127.0.0.1:$port"
now() { date +%s%N; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
peak_kib() { awk '/VmHWM/ { print $2 }' "/proc/$1/status"; }
echo "machine: $(nproc) cores, $(redis-server --version | cut -d' ' -f3)"

# 1. Bulk emit.
N=${EVT_BENCH_EVENTS:-200000}
"$bin/evt-emit" --type bench.seed --source bench --field server=srv-a --field bucket=backup-prod-a \
  --field 'size:=123456' > "$tmp/one.ndjson"
seed_id=$(jq -r .event_id "$tmp/one.ndjson")
awk -v n="$N" -v id="$seed_id" '{ for (i = 0; i < n; i++) { l = $0; gsub(id, "evt_bench_" i, l); print l } }' \
  "$tmp/one.ndjson" > "$tmp/events.ndjson"
ref=$(redis-benchmark -p "$port" -P 64 -n "$N" -q XADD bench:ref '*' event "$(cat "$tmp/one.ndjson")" \
  | tr '\r' '\n' | sed -nE 's/.*[: ]([0-9.]+) requests per second.*/\1/p' | tail -1 | cut -d. -f1)
t=$(now)
"$bin/evt-emit" --stdin --broker "$url" --queue bench < "$tmp/events.ndjson" > /dev/null
ms=$(( ($(now) - t) / 1000000 ))
rate=$(( N * 1000 / (ms > 0 ? ms : 1) ))
echo "1. bulk evt-emit --stdin: $N events in ${ms} ms = ${rate}/s; redis-benchmark -P 64 XADD: ${ref}/s: $(ratio "$rate" "$ref") (aim >= 0.40)"
redis-cli -p "$port" FLUSHALL > /dev/null

# 2. Worker throughput against the spawn-and-wait limit with two in flight.
M=${EVT_BENCH_RUNS:-3000}
head -n "$M" "$tmp/events.ndjson" | "$bin/evt-emit" --stdin --broker "$url" --queue work > /dev/null
limit=$("$build/bench/spawn_loop" "$M" 2 /bin/true)
"$bin/evt-work" --broker "$url" --queue work --concurrency 4 --log-level warn -- /bin/true &
w=$!
t=$(now)
while :; do
  left=$(redis-cli -p "$port" XINFO GROUPS 'evt:{work}:stream' 2>/dev/null | awk 'f { print; exit } /^lag$/ { f = 1 }')
  pending=$(redis-cli -p "$port" XPENDING 'evt:{work}:stream' workers 2>/dev/null | head -1)
  [[ "${left:-1}" == 0 && "${pending:-1}" == 0 ]] && break
  sleep 0.02
done
ms=$(( ($(now) - t) / 1000000 ))
kill -TERM $w; wait $w || true
rate=$(( M * 1000 / (ms > 0 ? ms : 1) ))
echo "2. evt-work --concurrency 4 -- /bin/true: ${rate}/s; spawn loop with 2 in flight: ${limit}/s: $(ratio "$rate" "$limit") (aim >= 0.70)"

# 3. Memory: idle, then --concurrency 50 under load.
"$bin/evt-work" --broker "$url" --queue idle --log-level warn -- /bin/true &
w=$!; sleep 3; idle=$(peak_kib $w); kill -TERM $w; wait $w || true
head -n "$M" "$tmp/events.ndjson" | "$bin/evt-emit" --stdin --broker "$url" --queue load > /dev/null
"$bin/evt-work" --broker "$url" --queue load --concurrency 50 --log-level warn -- sh -c 'sleep 0.05' &
w=$!; sleep 6; busy=$(peak_kib $w); kill -TERM $w; wait $w || true
echo "3. peak RSS: idle evt-work ${idle} KiB (aim 8192); --concurrency 50 under load ${busy} KiB (aim 16384)"

# 4. One cron-style write.
best_emit=999999; best_cli=999999
for _ in $(seq 20); do
  t=$(now); "$bin/evt-emit" --type x.y --broker "$url" --queue cron > /dev/null; us=$(( ($(now) - t) / 1000 ))
  (( us < best_emit )) && best_emit=$us
  t=$(now); redis-cli -p "$port" XADD 'evt:{cron}:stream' '*' event '{"x":1}' > /dev/null; us=$(( ($(now) - t) / 1000 ))
  (( us < best_cli )) && best_cli=$us
done
rss_emit=$(/usr/bin/time -f %M "$bin/evt-emit" --type x.y --broker "$url" --queue cron 2>&1 >/dev/null | tail -1)
rss_cli=$(/usr/bin/time -f %M redis-cli -p "$port" XADD 'evt:{cron}:stream' '*' event '{"x":1}' 2>&1 >/dev/null | tail -1)
echo "4. one write: evt-emit ${best_emit} us, ${rss_emit} KiB; redis-cli XADD ${best_cli} us, ${rss_cli} KiB: time $(ratio "$best_emit" "$best_cli")x, RSS $(ratio "$rss_emit" "$rss_cli")x (aim <= 1)"
