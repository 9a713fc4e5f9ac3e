# SIGTERM mid-run: evt-work stops reading, lets running handlers finish, records what it read
# but did not finish as interrupted dead letters, exits 123 (as xargs: some events did not
# finish; evt-work(1) EXIT STATUS). Every emitted event is accounted for.
source "$(dirname "$0")/lib.sh"

for i in $(seq 1 40); do echo "{\"event_type\":\"t.sleep\",\"event_id\":\"s$i\",\"payload\":{\"mode\":\"sleep\",\"seconds\":0.3}}"; done > "$TMP/events.ndjson"

# A slow producer, so there is unread input when the signal comes.
mkfifo "$TMP/in1"
( cat "$TMP/events.ndjson"; exec sleep 30 ) > "$TMP/in1" &
producer=$!
evt-work --concurrency 4 --shutdown-grace 5s --dlq "$TMP/dlq.ndjson" -- "$HANDLERS/scripted.sh" \
  < "$TMP/in1" > "$TMP/results.ndjson" 2> "$TMP/log" &
worker=$!
sleep 1
kill -TERM "$worker"
set +e
wait "$worker"; rc=$?
set -e
expect_eq "exit 123 after SIGTERM interrupted events" 123 "$rc"
expect_contains "said it is stopping" "stopping: SIGTERM" "$TMP/log"
done_ids=$(jq -r 'select(.status=="done") | .event_id' "$TMP/results.ndjson" | sort)
dead_ids=$(jq -r '.event_id' "$TMP/dlq.ndjson" 2>/dev/null | sort)
ndone=$(printf '%s\n' "$done_ids" | grep -c . || true)
ndead=$(printf '%s\n' "$dead_ids" | grep -c . || true)
((ndone > 0)) && pass "some events finished ($ndone)" || fail "nothing finished"
((ndead > 0)) && pass "unfinished events recorded ($ndead)" || fail "nothing recorded as interrupted"
expect_eq "every event done or dead-lettered, none twice" 40 \
  "$(printf '%s\n%s\n' "$done_ids" "$dead_ids" | grep . | sort -u | wc -l)"
expect_eq "no event both done and dead" "$((ndone + ndead))" \
  "$(printf '%s\n%s\n' "$done_ids" "$dead_ids" | grep -c .)"
expect_eq "dead letters say interrupted" interrupted "$(jq -r .reason "$TMP/dlq.ndjson" | sort -u | xargs)"
kill "$producer" 2>/dev/null || true

# A grace period too short for running handlers: they are stopped and recorded too.
for i in 1 2; do echo "{\"event_type\":\"t.sleep\",\"event_id\":\"long$i\",\"payload\":{\"mode\":\"sleep\",\"seconds\":30}}"; done > "$TMP/long.ndjson"
mkfifo "$TMP/in2"
( cat "$TMP/long.ndjson"; exec sleep 30 ) > "$TMP/in2" &
producer=$!
evt-work --concurrency 2 --shutdown-grace 300ms --kill-after 200ms --dlq "$TMP/dlq2.ndjson" \
  -- "$HANDLERS/scripted.sh" < "$TMP/in2" > /dev/null 2> "$TMP/log2" &
worker=$!
sleep 0.7
start=$(date +%s%N)
kill -INT "$worker"
set +e
wait "$worker"; rc=$?
set -e
elapsed_ms=$(( ($(date +%s%N) - start) / 1000000 ))
expect_eq "exit 123 after SIGINT interrupted events" 123 "$rc"
((elapsed_ms < 5000)) && pass "grace enforced (${elapsed_ms} ms)" || fail "stop took ${elapsed_ms} ms"
expect_eq "both running events recorded" "long1 long2" "$(jq -r .event_id "$TMP/dlq2.ndjson" | sort | xargs)"
kill "$producer" 2>/dev/null || true

# A stop with nothing read and unfinished: every event read is done, so exit 0.
mkfifo "$TMP/in3"
( exec sleep 30 ) > "$TMP/in3" &
producer=$!
evt-work --dlq "$TMP/dlq3.ndjson" -- "$HANDLERS/scripted.sh" < "$TMP/in3" > /dev/null 2> "$TMP/log3" &
worker=$!
sleep 0.5
kill -TERM "$worker"
set +e
wait "$worker"; rc=$?
set -e
expect_eq "exit 0 after SIGTERM with nothing interrupted" 0 "$rc"
kill "$producer" 2>/dev/null || true
finish
