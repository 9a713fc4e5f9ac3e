# The queue as last seen, in the worker's metrics (issue 10): evt_queue_depth (entries not yet
# handed to the group), evt_queue_pending and evt_queue_delayed, counted by the housekeeper
# with every heartbeat, on Redis and on SQLite, in --metrics-file (the same text as
# /metrics), accepted by promtool; the stdio transport counts nothing and shows none.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_redis.sh"
source "$(dirname "$0")/lib_work.sh"

redis_start
# A handler that holds its event until the test is done: the rest stay queued.
printf '#!/bin/sh\ncat > /dev/null\nsleep 30\n' > "$TMP/slow.sh"
chmod +x "$TMP/slow.sh"

# gauge FILE NAME: the value of the one sample of NAME in FILE ("" when absent).
gauge() { awk -v n="$2" '$1 ~ "^" n "(\\{|$)" { print $2 }' "$1" 2> /dev/null | head -1; }

# check_broker NAME URL: 6 events queued and 1 delayed, one worker that holds what it takes.
check_broker() {
  local name=$1 url=$2 metrics="$TMP/$1.prom"
  for i in 1 2 3 4 5 6; do
    evt-emit --broker "$url" --queue deep --type t.depth --field "n=$i" > /dev/null
  done
  evt-emit --broker "$url" --queue deep --type t.depth --delay 1h > /dev/null
  evt-work --broker "$url" --queue deep --state-dir "$TMP/state-$name" --concurrency 1 \
    --timeout 60s --shutdown-grace 100ms --heartbeat 200ms --metrics-file "$metrics" \
    --metrics-interval 100ms -- "$TMP/slow.sh" 2> "$TMP/$name.err" &
  local worker=$!
  wait_until 15 "[[ -n \"\$(gauge '$metrics' evt_queue_depth)\" && \$(gauge '$metrics' evt_queue_pending) -ge 1 ]]" ||
    fail "$name: no queue gauges in $metrics: $(grep evt_queue "$metrics" 2> /dev/null)"
  cp "$metrics" "$TMP/$name.seen"
  local depth pending delayed
  depth=$(gauge "$TMP/$name.seen" evt_queue_depth)
  pending=$(gauge "$TMP/$name.seen" evt_queue_pending)
  delayed=$(gauge "$TMP/$name.seen" evt_queue_delayed)
  expect_eq "$name: queued + in flight = the 6 events" 6 "$((depth + pending))"
  ((depth >= 1)) && pass "$name: some still queued ($depth)" || fail "$name: depth $depth"
  expect_eq "$name: the delayed event" 1 "$delayed"
  expect_contains "$name: labelled with queue and group" \
    'evt_queue_depth{queue="deep",group="workers"}' "$TMP/$name.seen"
  expect_contains "$name: when it was counted" 'evt_queue_depth_timestamp_seconds{queue="deep"' \
    "$TMP/$name.seen"
  if command -v promtool > /dev/null; then
    if promtool check metrics < "$TMP/$name.seen" > "$TMP/promtool" 2>&1; then
      pass "$name: promtool check metrics accepts the metrics"
    else
      fail "$name: promtool rejects the metrics: $(cat "$TMP/promtool")"
    fi
  else
    echo "skip: promtool not installed (Debian package prometheus)"
  fi
  kill -TERM "$worker"
  wait_until 20 '! alive '"$worker" || { fail "$name: worker did not stop"; kill -KILL "$worker"; }
  wait "$worker" || true
}

check_broker redis "$REDIS_URL"
check_broker sqlite "sqlite://$TMP/evt.db"

# stdio: a stream of lines read once has no depth to count.
set +e
evt-emit --type t.depth | evt-work --heartbeat 200ms --metrics-file "$TMP/stdio.prom" -- /bin/true \
  > /dev/null 2>&1
set -e
[[ -s "$TMP/stdio.prom" ]] && pass "stdio: the metrics file is written" || fail "stdio: no metrics file"
expect_not_contains "stdio: no queue gauges" "evt_queue_" "$TMP/stdio.prom"
finish
