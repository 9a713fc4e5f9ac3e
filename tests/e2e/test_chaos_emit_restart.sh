# A bulk evt-emit --stdin while redis-server crashes and comes back (appendfsync always):
# every id it printed is in the stream (nothing acknowledged is lost), every line is sent.
# Then an outage longer than --wait-timeout: exit 69, saying how far it got.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_redis.sh"
redis_start --appendonly yes --appendfsync always

N=60000
seq 0 $((N - 1)) | awk '{ printf "{\"event_type\":\"chaos.bulk\",\"event_id\":\"b%d\"}\n", $1 }' > "$TMP/in.ndjson"
# A slow reader in front of evt-emit keeps it running long enough to crash Redis under it.
(while read -r l; do echo "$l"; done < "$TMP/in.ndjson") |
  evt-emit --broker "$REDIS_URL" --stdin --wait-timeout 20s > "$TMP/ids" 2> "$TMP/err" &
emitter=$!
for _ in $(seq 100); do [[ $(count_lines "$TMP/ids") -gt 1000 ]] && break; sleep 0.02; done
redis_stop --crash
sleep 0.5
redis_start
wait "$emitter" && pass "evt-emit rode out the restart (exit 0)" || fail "evt-emit exited $?"
expect_contains "it said so" "redis unreachable, retrying" "$TMP/err"
expect_eq "one id per line" "$N" "$(count_lines "$TMP/ids")"
redis_cli --raw XRANGE 'evt:{default}:stream' - + | grep '^{' | jq -r .event_id | sort -u > "$TMP/stream"
sort -u "$TMP/ids" > "$TMP/acked"
expect_eq "every acknowledged id survived the crash" 0 "$(comm -23 "$TMP/acked" "$TMP/stream" | wc -l)"
expect_eq "every line arrived (duplicates allowed, none missing)" "$N" "$(count_lines "$TMP/stream")"

# An outage that outlasts --wait-timeout, without --spool: exit 69 and an honest account.
(for i in $(seq 0 2999); do
  echo "{\"event_type\":\"chaos.bulk\",\"event_id\":\"c$i\"}"
  ((i == 1000)) && sleep 0.5
done) | evt-emit --broker "$REDIS_URL" --queue c --stdin --wait-timeout 500ms > "$TMP/ids2" 2> "$TMP/err2" &
emitter=$!
sleep 0.2
redis_stop --crash
set +e
wait "$emitter"; rc=$?
set -e
expect_eq "gives up with 69" 69 "$rc"
accepted=$(count_lines "$TMP/ids2")
expect_contains "says how many were accepted" "$accepted event(s) were accepted" "$TMP/err2"
expect_contains "and from which line on not" "the events from line $((accepted + 1)) on were not" "$TMP/err2"
redis_start
expect_eq "the accepted ones are in the stream" "$accepted" "$(redis_cli XLEN 'evt:{c}:stream')"
finish
