#!/usr/bin/env bash
# Benchmarks of evt on this machine, each against a reference run in the same script:
#   1. evt-emit --stdin on 200k events   vs  jq -c . on the same file     (aim: >= 2x jq)
#   2. evt-work -- /bin/true             vs  posix_spawn+wait loop         (aim: >= 80%)
#   3. one evt-emit --type x.y process: wall time and peak RSS            (aim: < 5 ms, < 8 MB)
#   4. parsing MB/s of a wide (100k keys) and a deep (128 levels) event  vs  a 1 MB string
#                                                                         (aim: ratios >= 0.1)
# Usage: bench/run.sh [BUILD_DIR]   (default: build; build it first with the default preset)
set -euo pipefail
cd "$(dirname "$0")/.."
build="${1:-build}"
bin="$build/tools"
tmp="$(mktemp -d /tmp/evt-bench.XXXXXX)"
trap 'rm -rf "$tmp"' EXIT
now() { date +%s%N; }
ms_since() { echo $(( ($(now) - $1) / 1000000 )); }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }

N=${EVT_BENCH_EVENTS:-200000}
echo "machine: $(nproc) cores, $(uname -r)"

# 1. Bulk emit throughput.
"$bin/evt-emit" --type bench.seed --source bench --field server=srv-a --field bucket=backup-prod-a \
  --field 'size:=123456' --field 'tags:=["nightly","full"]' > "$tmp/one.ndjson"
# Distinct events: the seed's id (also its idempotency_key and correlation_id) made unique.
seed_id=$(jq -r .event_id "$tmp/one.ndjson")
awk -v n="$N" -v id="$seed_id" '{ for (i = 0; i < n; i++) { l = $0; gsub(id, "evt_bench_" i, l); print l } }' \
  "$tmp/one.ndjson" > "$tmp/events.ndjson"
bytes=$(stat -c %s "$tmp/events.ndjson")
t=$(now); jq -c . < "$tmp/events.ndjson" > /dev/null; jq_ms=$(ms_since "$t")
t=$(now); "$bin/evt-emit" --stdin < "$tmp/events.ndjson" > /dev/null; emit_ms=$(ms_since "$t")
jq_rate=$(( N * 1000 / (jq_ms > 0 ? jq_ms : 1) ))
emit_rate=$(( N * 1000 / (emit_ms > 0 ? emit_ms : 1) ))
echo "1. evt-emit --stdin: $N events ($((bytes / 1048576)) MiB): evt-emit ${emit_ms} ms (${emit_rate}/s), jq -c . ${jq_ms} ms (${jq_rate}/s): $(ratio "$emit_rate" "$jq_rate")x jq (aim >= 2x)"

# 2. Worker throughput against the spawn-and-wait limit, one and two in flight.
M=${EVT_BENCH_RUNS:-3000}
head -n "$M" "$tmp/events.ndjson" > "$tmp/work.ndjson"
for c in 1 2; do
  ref=$("$build/bench/spawn_loop" "$M" "$c" /bin/true)
  t=$(now)
  "$bin/evt-work" --concurrency "$c" --log-level warn -- /bin/true < "$tmp/work.ndjson" > /dev/null
  work_ms=$(ms_since "$t")
  work_rate=$(( M * 1000 / (work_ms > 0 ? work_ms : 1) ))
  echo "2. evt-work --concurrency $c -- /bin/true: ${work_rate}/s, spawn loop with $c in flight: ${ref}/s: $(ratio "$work_rate" "$ref") of the limit (aim >= 0.80)"
done

# 3. One cron-style process.
best=999999
for _ in $(seq 20); do
  t=$(now); "$bin/evt-emit" --type x.y > /dev/null; us=$(( ($(now) - t) / 1000 ))
  (( us < best )) && best=$us
done
t=$(now); for _ in $(seq 20); do /bin/true; done; true_us=$(( ($(now) - t) / 20000 ))
rss=$(/usr/bin/time -f %M "$bin/evt-emit" --type x.y 2>&1 > /dev/null | tail -1)
true_rss=$(/usr/bin/time -f %M /bin/true 2>&1 | tail -1)
echo "3. evt-emit --type x.y: best of 20 ${best} us wall (/bin/true: ${true_us} us), peak RSS ${rss} KiB (/bin/true: ${true_rss} KiB) (aim < 5000 us, < 8192 KiB)"

# 4. Parsing by shape: a parser linear in its input keeps wide and deep near the string.
"$build/bench/parse_bench" | sed 's/^/4. parse: /'
