# evt-emit --spool: with Redis down, 100 cron-style runs (10 groups of 10 sequential runs,
# the groups in parallel) spool their events and exit 0; with Redis back, the next run sends
# them all, once each, each group in its order, before its own. Then the same with several
# runs flushing at the same moment.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_redis.sh"

SPOOL="$TMP/state/spool"
emit() { evt-emit --broker "$REDIS_URL" --spool "$SPOOL" --type chaos.tick "$@"; }
stream_ids() { redis_cli --raw XRANGE 'evt:{default}:stream' - + | grep '^{' | jq -r .event_id; }

# Phase 1: Redis is down (never started: the port is closed).
for g in $(seq 0 9); do
  (
    for i in $(seq 0 9); do
      out=$(emit --id "g${g}_$i" 2>> "$TMP/warn.$g") || { echo "g${g}_$i exit $?"; continue; }
      [[ "$out" == "g${g}_$i" ]] || echo "g${g}_$i printed [$out]"
    done > "$TMP/bad.$g"
  ) &
  pids+=($!)
done
for p in "${pids[@]}"; do wait "$p"; done
cat "$TMP"/bad.* > "$TMP/bad"
expect_eq "every spooling run exits 0 and prints its id" 0 "$(count_lines "$TMP/bad")"
expect_eq "100 events spooled" 100 "$(count_lines "$SPOOL/spool.ndjson")"
expect_eq "spool folder is 0700" 700 "$(stat -c %a "$SPOOL")"
expect_eq "spool file is 0600" 600 "$(stat -c %a "$SPOOL/spool.ndjson")"
expect_contains "each spooling run warns" "redis unreachable" "$TMP/warn.0"

# Phase 2: Redis is back; one more run sends the spool first, then its own event.
redis_start
expect_eq "the next run prints only its own id" last "$(emit -v --id last 2> "$TMP/flush.err")"
expect_contains "it says it sent the spool" "sent 100 spooled event(s)" "$TMP/flush.err"
stream_ids > "$TMP/ids"
expect_eq "all 101 arrived" 101 "$(count_lines "$TMP/ids")"
expect_eq "each once" 101 "$(sort -u "$TMP/ids" | wc -l | tr -d " ")"
expect_eq "the new event comes after the spooled ones" last "$(tail -1 "$TMP/ids")"
for g in $(seq 0 9); do
  order=$(grep "^g${g}_" "$TMP/ids" | xargs)
  expect_eq "group $g in its order" "$(seq 0 9 | sed "s/^/g${g}_/" | xargs)" "$order"
done
[[ ! -e "$SPOOL/spool.ndjson" ]] && pass "the spool is empty" || fail "spool file left"

# Phase 3: down again, 50 more spooled; back, 5 runs flush at the same moment.
redis_stop --crash
redis_cli DEL 'evt:{default}:stream' > /dev/null 2>&1 || true
for g in $(seq 0 4); do
  ( for i in $(seq 0 9); do emit --id "h${g}_$i" > /dev/null 2>&1; done ) &
  pids2+=($!)
done
for p in "${pids2[@]}"; do wait "$p"; done
expect_eq "50 more spooled" 50 "$(count_lines "$SPOOL/spool.ndjson")"
redis_start
redis_cli DEL 'evt:{default}:stream' > /dev/null
for r in $(seq 0 4); do
  emit --id "r$r" > /dev/null 2>&1 &
  pids3+=($!)
done
for p in "${pids3[@]}"; do wait "$p" || fail "a concurrent flushing run failed"; done
stream_ids > "$TMP/ids2"
expect_eq "50 spooled + 5 new arrived" 55 "$(count_lines "$TMP/ids2")"
expect_eq "none twice" 55 "$(sort -u "$TMP/ids2" | wc -l | tr -d " ")"
for g in $(seq 0 4); do
  expect_eq "group h$g in its order" "$(seq 0 9 | sed "s/^/h${g}_/" | xargs)" \
    "$(grep "^h${g}_" "$TMP/ids2" | xargs)"
done
finish
