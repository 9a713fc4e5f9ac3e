# evt-emit --stdin: bad lines are reported one by one, good lines go on, exit 65 at the end.
source "$(dirname "$0")/lib.sh"

{
  echo '{"event_type":"a.one","event_id":"e1","payload":{"n":1}}'
  echo 'this is not json'
  echo
  echo '{"event_type":"a.two","event_id":"e2","occurred_at":"2026-02-27T10:25:00+05:30","custom":{"x":1}}'
  head -c 70000 /dev/zero | tr '\0' 'x'; echo
  echo '{"event_type":"a.three","event_id":"e3","retry_count":-1}'
  echo '{"specversion":"1.0","id":"e4","type":"a.four","source":"ci","data":{"k":"v"},"idempotencykey":"K4"}'
  printf '{"event_type":"a.five","event_id":"e5"}'   # no final newline
} > "$TMP/in.ndjson"

set +e
evt-emit --stdin < "$TMP/in.ndjson" > "$TMP/out.ndjson" 2> "$TMP/err"; rc=$?
set -e
expect_eq "exit 65 when lines were rejected" 65 "$rc"
expect_eq "good lines in order" "e1 e2 e4 e5" "$(jq -r .event_id "$TMP/out.ndjson" | xargs)"
expect_contains "garbage line named" "line 2: invalid JSON" "$TMP/err"
expect_contains "over-long line named" "line 5: line is 70000 bytes, more than --max-event-bytes 65536" "$TMP/err"
expect_contains "rule broken named" "line 6: retry_count" "$TMP/err"
expect_contains "summary" "3 of 7 lines rejected" "$TMP/err"
expect_eq "one stderr line per rejected line plus summary" 4 "$(count_lines "$TMP/err")"
expect_eq "offset normalized" "2026-02-27T04:55:00.000Z" "$(result_field "$TMP/out.ndjson" e2 occurred_at)"
expect_eq "unknown field kept" 1 "$(result_field "$TMP/out.ndjson" e2 custom.x)"
expect_eq "cloudevents mapped" K4 "$(result_field "$TMP/out.ndjson" e4 idempotency_key)"
python3 "$E2E_DIR/validate_schema.py" "$SOURCE_DIR/schema/event-v1.schema.json" < "$TMP/out.ndjson" \
  && pass "stdin output validates against the schema" || fail "schema validation"

# Clean input exits 0, and output is idempotent: emitting emitted events changes nothing.
evt-emit --stdin < "$TMP/out.ndjson" > "$TMP/again.ndjson"
cmp -s "$TMP/out.ndjson" "$TMP/again.ndjson" && pass "re-emitting is a no-op" || fail "re-emit changed events"

# A larger --max-event-bytes lets the long line through the reader (and then fails as JSON).
set +e
evt-emit --stdin --max-event-bytes 100000 < "$TMP/in.ndjson" > /dev/null 2> "$TMP/err2"; rc=$?
set -e
expect_contains "bound is configurable" "line 5: invalid JSON" "$TMP/err2"

# Output as CloudEvents.
evt-emit --stdin --format cloudevents < "$TMP/out.ndjson" > "$TMP/ce.ndjson"
expect_eq "all written as cloudevents" "1.0 1.0 1.0 1.0" "$(jq -r .specversion "$TMP/ce.ndjson" | xargs)"
finish
