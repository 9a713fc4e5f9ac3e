# evt-status against real emits and works on a private redis-server: the queue table,
# --types percentiles (end-to-end latency of a known distribution, within 10%), EVENT_ID,
# --key, --wait (done, failed, timeout), --json, --format prometheus (promtool), --watch,
# --check crossing each level of each threshold, --summary of a stdio run, sparklines.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_redis.sh"
source "$(dirname "$0")/lib_work.sh"
redis_start
B=(--broker "$REDIS_URL")
SCRIPTED="$HANDLERS/scripted.sh"

# run_rc OUT ERR CMD...: runs CMD with stdout and stderr to files; prints its exit status.
run_rc() {
  local out=$1 err=$2; shift 2
  set +e
  "$@" > "$out" 2> "$err"
  echo $?
  set -e
}

# --- One event before any worker: queued, found by id and by key; unknown ids exit 1. ---
id=$(evt-emit "${B[@]}" --queue mail --type mail.sent --key order-1)
expect_eq "no status record at emit" 0 "$(redis_cli EXISTS "evt:{mail}:ev:$id")"
expect_eq "EVENT_ID: queued, exit 0" 0 "$(run_rc "$TMP/ev" "$TMP/err" evt-status "${B[@]}" "$id")"
expect_contains "EVENT_ID: the status line" "queued" "$TMP/ev"
expect_contains "EVENT_ID: its type" "mail.sent" "$TMP/ev"
expect_eq "--json EVENT_ID: status" queued "$(evt-status "${B[@]}" --json "$id" | jq -r .status)"
expect_eq "--key: the event of the key" "$id" \
  "$(evt-status "${B[@]}" --json --key order-1 | jq -r .event_id)"
expect_eq "unknown EVENT_ID: exit 1" 1 "$(run_rc "$TMP/out" "$TMP/err" evt-status "${B[@]}" evt_01ARZ3NDEKTSV4RRFFQ69G5FAV)"
expect_contains "unknown EVENT_ID: a message" "no event evt_01ARZ3NDEKTSV4RRFFQ69G5FAV" "$TMP/err"
expect_eq "unknown --key: exit 1" 1 "$(run_rc "$TMP/out" "$TMP/err" evt-status "${B[@]}" --key nope)"
expect_eq "--wait with no worker: timeout, exit 75" 75 \
  "$(run_rc "$TMP/out" "$TMP/err" evt-status "${B[@]}" --wait "$id" --wait-timeout 1s)"
expect_contains "--wait timeout: says so" "still queued" "$TMP/err"
expect_eq "--window below 1m: usage" 64 "$(run_rc "$TMP/out" "$TMP/err" evt-status "${B[@]}" --window 30s)"
expect_eq "--max-dlq without --check: usage" 64 \
  "$(run_rc "$TMP/out" "$TMP/err" evt-status "${B[@]}" --max-dlq 3)"

# --- A known distribution of end-to-end latency: occurred_at 20 s .. 199 s ago. ---
python3 - > "$TMP/lat.ndjson" <<'PY'
import datetime, time
now = time.time()
for i in range(200):
    at = datetime.datetime.fromtimestamp(now - (20 + 0.9 * i), datetime.timezone.utc)
    print('{"event_type":"t.lat","event_id":"lat%d","occurred_at":"%s"}'
          % (i, at.strftime('%Y-%m-%dT%H:%M:%S.%f')[:-3] + 'Z'))
PY
evt-emit "${B[@]}" --queue lat --stdin < "$TMP/lat.ndjson" > /dev/null
started=$(date +%s)
evt-work "${B[@]}" --queue lat --concurrency 4 -- /bin/true 2> "$TMP/work-lat.err" &
wlat=$!
wait_until 60 '[[ $(evt-status "${B[@]}" --queue lat --json | jq ".queues[0].done") == 200 ]]' ||
  fail "200 latency events done"
offset=$(($(date +%s) - started))  # the most any event waited in the queue, seconds
evt-status "${B[@]}" --queue lat --types --json > "$TMP/types.json"
for p in 50 95 99; do
  # The exact percentile of the ages (the ceil(q*n)-th smallest), plus the wait.
  exact=$(python3 -c "import math; v=sorted(20+0.9*i for i in range(200)); print(v[math.ceil($p/100*200)-1]*1000)")
  got=$(jq -r ".types[0].latency_ms.p$p" "$TMP/types.json")
  ok=$(python3 -c "print(abs($got - $exact - $offset*500) <= 0.10 * $exact + $offset*500)")
  expect_eq "--types: end-to-end p$p ($got ms) within 10% of $exact ms" True "$ok"
done
expect_eq "--types: duration percentiles measured" true \
  "$(jq '.types[0].duration_ms.p50 >= 0' "$TMP/types.json")"
evt-status "${B[@]}" --queue lat --types > "$TMP/types.txt"
expect_contains "--types table: the type" "t.lat" "$TMP/types.txt"
expect_contains "--types table: the header" "E2E P99" "$TMP/types.txt"

# --- Outcomes: done, failed (dead letters), retried; --wait both ways. ---
evt-work "${B[@]}" --queue mix --max-retries 1 --backoff-base 100ms --backoff-max 200ms \
  -- "$SCRIPTED" 2> "$TMP/work-mix.err" &
wmix=$!
ok_id=$(evt-emit "${B[@]}" --queue mix --type t.work --field mode=ok)
bad_id=$(evt-emit "${B[@]}" --queue mix --type t.work --field mode=permanent)
expect_eq "--wait: done exits 0" 0 \
  "$(run_rc "$TMP/w1" "$TMP/err" evt-status "${B[@]}" --wait "$ok_id" --wait-timeout 60s)"
expect_contains "--wait: prints the final status" "done" "$TMP/w1"
expect_eq "--wait: failed exits 1" 1 \
  "$(run_rc "$TMP/w2" "$TMP/err" evt-status "${B[@]}" --wait "$bad_id" --wait-timeout 60s)"
expect_contains "--wait failed: the category" "data" "$TMP/w2"
flaky=$(evt-emit "${B[@]}" --queue mix --type t.flaky --field mode=always_transient)
evt-status "${B[@]}" --wait "$flaky" --wait-timeout 60s > /dev/null || true
expect_eq "EVENT_ID after work: failed after 2 attempts" "failed 2" \
  "$(evt-status "${B[@]}" --json "$flaky" | jq -r '"\(.status) \(.attempts)"')"
expect_eq "--key after work: done" done "$(evt-status "${B[@]}" --json --key "$ok_id" | jq -r .status)"
evt-status "${B[@]}" --json --queue mix > "$TMP/mix.json"
expect_eq "--json: done, failed, retried of the queue" "1 2 1" \
  "$(jq -r '.queues[0] | "\(.done) \(.failed) \(.retried)"' "$TMP/mix.json")"
expect_eq "--json: dlq and its growth" "2 2" \
  "$(jq -r '.queues[0] | "\(.dlq) \(.dlq_growth)"' "$TMP/mix.json")"
expect_eq "--json: one live consumer" 1 "$(jq '.queues[0].consumers' "$TMP/mix.json")"
expect_eq "--json: the dominant category" dependency "$(jq -r '.queues[0].dominant_category' "$TMP/mix.json")"

# --- The queue table: every queue, aligned; a sparkline only on a terminal. ---
evt-status "${B[@]}" > "$TMP/table"
expect_eq "table: a header and one row per queue" "QUEUE lat mail mix" \
  "$(awk '{ print $1 }' "$TMP/table" | xargs)"
col=$(head -1 "$TMP/table" | awk '{ print index($0, "DEPTH") }')
expect_eq "table: depth of mail under DEPTH" 1 "$(awk -v c="$col" '$1 == "mail" { print substr($0, c, 1) }' "$TMP/table")"
expect_not_contains "table: no sparkline into a pipe" "▁" "$TMP/table"
script -qec "evt-status --broker $REDIS_URL" /dev/null > "$TMP/tty" 2>&1 || true
expect_contains "table on a terminal: the sparkline column" "EVENTS/MIN" "$TMP/tty"
expect_contains "table on a terminal: block characters" "▁" "$TMP/tty"
evt-status "${B[@]}" --window 1h --json | jq -e '.window_seconds == 3600' > /dev/null &&
  pass "--window 1h" || fail "--window 1h"

# --- Prometheus. ---
evt-status "${B[@]}" --format prometheus > "$TMP/metrics.prom"
expect_contains "prometheus: depth of mail" 'evt_queue_depth{namespace="evt",queue="mail"} 1' "$TMP/metrics.prom"
if command -v promtool > /dev/null; then
  expect_eq "promtool check metrics accepts the output" "0 " \
    "$(set +e; out=$(promtool check metrics < "$TMP/metrics.prom" 2>&1); echo "$? $out")"
else
  echo "skip: promtool not installed (Debian package prometheus, packaging/install-deps.sh)"
fi

# --- --watch redraws until interrupted, then exits 0. ---
set +e
timeout -s INT --preserve-status 10 evt-status "${B[@]}" --watch 1s --queue mail > "$TMP/watch" &
wpid=$!
sleep 2.5
kill -INT $wpid
wait $wpid
rc=$?
set -e
expect_eq "--watch: exit 0 on SIGINT" 0 "$rc"
n=$(grep -c '^QUEUE' "$TMP/watch" || true)
((n >= 2)) && pass "--watch: printed $n times" || fail "--watch: printed $n times"
expect_not_contains "--watch into a pipe: no terminal control" $'\x1b[' "$TMP/watch"
script -qec "timeout -s INT --preserve-status 3 evt-status --broker $REDIS_URL --watch 1s" \
  /dev/null > "$TMP/watch-tty" 2>&1 || true
n=$(grep -o $'\x1b\\[H' "$TMP/watch-tty" | wc -l)
((n >= 2)) && pass "--watch on a terminal: redrawn in place $n times" ||
  fail "--watch on a terminal: redrawn $n times"
expect_contains "--watch on a terminal: the sparkline" "EVENTS/MIN" "$TMP/watch-tty"

# --- --check: each threshold, each level. ---
check() { run_rc "$TMP/check" "$TMP/err" evt-status "${B[@]}" --check "$@"; }
expect_eq "check OK" 0 "$(check --queue mix --max-dlq 5)"
expect_contains "check OK: the line" "EVT OK - 1 queue, dlq 2" "$TMP/check"
expect_eq "check --max-dlq-warn: WARNING" 1 "$(check --queue mix --max-dlq-warn 1 --max-dlq 5)"
expect_contains "WARNING line names the breach" "EVT WARNING - mix: dlq 2 > 1" "$TMP/check"
expect_eq "check --max-dlq: CRITICAL" 2 "$(check --queue mix --max-dlq-warn 0 --max-dlq 1)"
expect_contains "CRITICAL line" "EVT CRITICAL - mix: dlq 2 > 1" "$TMP/check"
expect_eq "check --max-dlq-growth: OK" 0 "$(check --queue mix --max-dlq-growth 2)"
expect_eq "check --max-dlq-growth-warn: WARNING" 1 "$(check --queue mix --max-dlq-growth-warn 1)"
expect_eq "check --max-dlq-growth: CRITICAL" 2 "$(check --queue mix --max-dlq-growth 1)"
expect_eq "check --max-failure-ratio: OK" 0 "$(check --queue mix --max-failure-ratio 0.9)"
expect_eq "check --max-failure-ratio-warn: WARNING" 1 "$(check --queue mix --max-failure-ratio-warn 0.5 --max-failure-ratio 0.9)"
expect_eq "check --max-failure-ratio: CRITICAL" 2 "$(check --queue mix --max-failure-ratio 0.5)"
expect_eq "check --min-consumers: OK with a worker" 0 "$(check --queue mix --min-consumers 1)"
kill -TERM $wmix $wlat
wait $wmix $wlat || true
expect_eq "check --min-consumers-warn: WARNING without" 1 "$(check --queue mix --min-consumers-warn 1)"
expect_eq "check --min-consumers: CRITICAL without" 2 "$(check --queue mix --min-consumers 1)"
# Lag: the lat queue's group has read everything; two new events wait unread.
evt-emit "${B[@]}" --queue lat --type t.lat > /dev/null
sleep 2
expect_eq "check --max-lag: OK" 0 "$(check --queue lat --max-lag 1h)"
expect_eq "check --max-lag-warn: WARNING" 1 "$(check --queue lat --max-lag-warn 1s --max-lag 1h)"
expect_contains "lag breach named" "lat: lag" "$TMP/check"
expect_eq "check --max-lag: CRITICAL" 2 "$(check --queue lat --max-lag 1s)"
expect_eq "check: unreachable broker is UNKNOWN" 3 \
  "$(run_rc "$TMP/check" "$TMP/err" evt-status --broker redis://127.0.0.1:1 --check --max-dlq 1)"
expect_contains "UNKNOWN line" "EVT UNKNOWN - " "$TMP/check"
expect_eq "check without --broker: UNKNOWN" 3 "$(run_rc "$TMP/check" "$TMP/err" evt-status --check)"
expect_eq "no --broker: usage" 64 "$(run_rc "$TMP/out" "$TMP/err" evt-status)"
expect_contains "no --broker: says what to do" "evt-status reads a durable broker" "$TMP/err"

# --- --summary: the per-type table of a stdio run. ---
{
  event s1 s1 ok; echo
  event s2 s2 ok; echo
  event s3 s3 permanent; echo
} | evt-work --max-retries 0 -- "$SCRIPTED" 2> /dev/null > "$TMP/results" || true
evt-status --summary < "$TMP/results" > "$TMP/summary"
expect_contains "--summary: the type" "t.work" "$TMP/summary"
expect_eq "--summary --json: done and failed" "2 1" \
  "$(evt-status --summary --json < "$TMP/results" | jq -r '.types[0] | "\(.done) \(.failed)"')"

finish
