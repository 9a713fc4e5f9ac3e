# An entry written by another producer without event_id (redis-cli XADD, as evt(7)'s
# stream layout allows) keeps one identity: its event_id is derived from the stream entry
# id, the same on every attempt and every delivery, with the default idempotency key and
# occurred_at that follow from it.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_redis.sh"
source "$(dirname "$0")/lib_work.sh"

redis_start
W=(evt-work --broker "$REDIS_URL" --backoff-base 100ms --backoff-max 200ms --heartbeat 500ms)

# expected_id ENTRY_ID: "evt_" + the ULID of the entry's milliseconds and sequence.
expected_id() {
  python3 - "$1" <<'PY'
import sys
ms, seq = (int(x) for x in sys.argv[1].split("-"))
abc = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
enc = lambda v, n: "".join(abc[(v >> (5 * (n - 1 - i))) & 31] for i in range(n))
print("evt_" + enc(ms, 10) + enc(seq, 16))
PY
}
# expected_time ENTRY_ID: the entry's milliseconds as occurred_at.
expected_time() {
  python3 -c 'import sys, datetime as d; ms = int(sys.argv[1].split("-")[0]); print(d.datetime.fromtimestamp(ms // 1000, d.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S") + ".%03dZ" % (ms % 1000))' "$1"
}

# --- A transient failure, then success: both attempts see the same identity. ---
cat > "$TMP/once.sh" <<EOF
#!/bin/sh
event=\$(cat)
echo "\$EVT_EVENT_ID \$EVT_IDEMPOTENCY_KEY \$EVT_ATTEMPT \$(printf '%s' "\$event" | jq -r .occurred_at)" >> "$TMP/once.log"
[ "\$EVT_ATTEMPT" = 1 ] && exit 75
exit 0
EOF
chmod +x "$TMP/once.sh"
entry=$(redis_cli XADD 'evt:{foreign}:stream' '*' event '{"event_type":"x.y","payload":{}}')
id=$(expected_id "$entry")
"${W[@]}" --queue foreign -- "$TMP/once.sh" 2> "$TMP/foreign.log" &
worker=$!
wait_until 20 '[[ "$(count_lines "$TMP/once.log")" -ge 2 ]]' || fail "two attempts did not run"
wait_until 10 '[[ "$(ev_field foreign "$id" status)" == done ]]' || fail "not done: $(ev_field foreign "$id" status)"
kill -TERM "$worker"; wait "$worker" || true
expect_eq "attempt 1 and 2 ran" "1 2" "$(awk '{print $3}' "$TMP/once.log" | xargs)"
expect_eq "the event id comes from the entry id, on both attempts" "$id $id" "$(awk '{print $1}' "$TMP/once.log" | xargs)"
expect_eq "the idempotency key too" "$id $id" "$(awk '{print $2}' "$TMP/once.log" | xargs)"
t=$(expected_time "$entry")
expect_eq "occurred_at is the entry's time" "$t $t" "$(awk '{print $4}' "$TMP/once.log" | xargs)"
expect_eq "done on attempt 2" "done 2" "$(ev_field foreign "$id" status) $(ev_field foreign "$id" attempts)"

# --- A worker killed mid-handler: the next worker runs the same event again. ---
cat > "$TMP/crash.sh" <<EOF
#!/bin/sh
echo "\$EVT_EVENT_ID \$EVT_IDEMPOTENCY_KEY" >> "$TMP/crash.log"
if [ ! -e "$TMP/crashed" ]; then
  : > "$TMP/crashed"
  echo \$\$ > "$TMP/handler.pid"
  exec sleep 60
fi
exit 0
EOF
chmod +x "$TMP/crash.sh"
entry=$(redis_cli XADD 'evt:{crash}:stream' '*' event '{"event_type":"x.y","payload":{}}')
id=$(expected_id "$entry")
"${W[@]}" --queue crash --timeout 2s --kill-after 200ms -- "$TMP/crash.sh" 2> "$TMP/crash1.log" &
w1=$!
wait_until 10 '[[ -s "$TMP/handler.pid" ]]' || fail "the first handler did not start"
kill -KILL "$w1"; wait "$w1" 2>/dev/null || true
kill -KILL "$(cat "$TMP/handler.pid")" 2>/dev/null || true
"${W[@]}" --queue crash --timeout 2s --kill-after 200ms --claim-after 1s -- "$TMP/crash.sh" \
  2> "$TMP/crash2.log" &
w2=$!
wait_until 30 '[[ "$(ev_field crash "$id" status)" == done ]]' || fail "not done after the crash: $(ev_field crash "$id" status)"
kill -TERM "$w2"; wait "$w2" || true
expect_eq "both deliveries saw the entry's id and key" "$id $id|$id $id" "$(paste -sd'|' "$TMP/crash.log")"
expect_eq "ran twice, once per delivery" 2 "$(count_lines "$TMP/crash.log")"
finish
