# evt-emit builds one event from flags; the output validates against the shipped schema.
source "$(dirname "$0")/lib.sh"

evt-emit --type server.backup.requested --source cron --key backup_srvA_2026-02-27 \
  --field server=srv-a --field 'retries:=3' > "$TMP/one.ndjson"
expect_eq "one line written" 1 "$(count_lines "$TMP/one.ndjson")"
expect_eq "event_type" server.backup.requested "$(jq -r .event_type "$TMP/one.ndjson")"
expect_eq "typed field" 3 "$(jq -r .payload.retries "$TMP/one.ndjson")"
expect_eq "string field" srv-a "$(jq -r .payload.server "$TMP/one.ndjson")"
expect_eq "key" backup_srvA_2026-02-27 "$(jq -r .idempotency_key "$TMP/one.ndjson")"
id=$(jq -r .event_id "$TMP/one.ndjson")
[[ "$id" =~ ^evt_[0-9A-HJKMNP-TV-Z]{26}$ ]] && pass "ULID event id" || fail "event id $id"
[[ "$(jq -r .occurred_at "$TMP/one.ndjson")" =~ ^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}\.[0-9]{3}Z$ ]] \
  && pass "occurred_at in UTC ms" || fail "occurred_at"
expect_eq "field order" \
  "schema_version,event_id,event_type,occurred_at,source,idempotency_key,correlation_id,retry_count,payload" \
  "$(jq -r 'keys_unsorted | join(",")' "$TMP/one.ndjson")"

echo '{"ticket":42}' > "$TMP/payload.json"
evt-emit --type a.b --payload "@$TMP/payload.json" >> "$TMP/one.ndjson"
echo '{"from":"stdin"}' | evt-emit --type a.b --payload - >> "$TMP/one.ndjson"
evt-emit --type a.b --id my-id-1 --correlation-id corr-9 >> "$TMP/one.ndjson"
python3 "$E2E_DIR/validate_schema.py" "$SOURCE_DIR/schema/event-v1.schema.json" < "$TMP/one.ndjson" \
  && pass "evt-emit output validates against schema/event-v1.schema.json" || fail "schema validation"
expect_eq "payload from file" 42 "$(sed -n 2p "$TMP/one.ndjson" | jq -r .payload.ticket)"
expect_eq "payload from stdin" stdin "$(sed -n 3p "$TMP/one.ndjson" | jq -r .payload.from)"
expect_eq "correlation id" corr-9 "$(sed -n 4p "$TMP/one.ndjson" | jq -r .correlation_id)"

evt-emit --type a.b --format cloudevents > "$TMP/ce.json"
expect_eq "cloudevents specversion" 1.0 "$(jq -r .specversion "$TMP/ce.json")"
expect_eq "cloudevents type" a.b "$(jq -r .type "$TMP/ce.json")"
evt-emit --stdin < "$TMP/ce.json" > "$TMP/back.json"
expect_eq "cloudevents read back" "$(jq -r .id "$TMP/ce.json")" "$(jq -r .event_id "$TMP/back.json")"

# Errors: one line on stderr, sysexits codes, nothing on stdout.
set +e
evt-emit --type 'Bad Type' > "$TMP/out" 2> "$TMP/err"; rc=$?
set -e
expect_eq "bad type exits 65" 65 "$rc"
expect_eq "nothing on stdout" 0 "$(count_lines "$TMP/out")"
expect_eq "one line on stderr" 1 "$(count_lines "$TMP/err")"
expect_contains "error names the field" "evt-emit: error: event_type: must match" "$TMP/err"

set +e
evt-emit > /dev/null 2> "$TMP/err"; rc=$?
set -e
expect_eq "no --type is a usage error" 64 "$rc"
expect_contains "usage error says what to do" "--type is required" "$TMP/err"

set +e
evt-emit --type a.b --no-such-flag > /dev/null 2> "$TMP/err"; rc=$?
set -e
expect_eq "unknown flag exits 64" 64 "$rc"

set +e
evt-emit --type a.b --payload @/nonexistent/file.json > /dev/null 2> "$TMP/err"; rc=$?
set -e
expect_eq "missing payload file exits 66" 66 "$rc"

set +e
evt-emit --type a.b --broker 'redis://user:s3cret@localhost:notaport' > /dev/null 2> "$TMP/err"; rc=$?
set -e
expect_eq "a malformed broker URL exits 64" 64 "$rc"
expect_not_contains "password never printed" "s3cret" "$TMP/err"
# A closed port (69) and the Redis transport itself: test_redis_emit.sh.

EVT_EMIT_SOURCE=from-env evt-emit --type a.b > "$TMP/env.json"
expect_eq "EVT_EMIT_SOURCE environment fallback" from-env "$(jq -r .source "$TMP/env.json")"
EVT_EMIT_SOURCE=from-env evt-emit --type a.b --source from-flag > "$TMP/env.json"
expect_eq "flag beats environment" from-flag "$(jq -r .source "$TMP/env.json")"
EVT_SOURCE=upstream evt-emit --type a.b > "$TMP/env.json"
expect_eq "a handler's EVT_SOURCE is not taken as --source" "$(hostname)" "$(jq -r .source "$TMP/env.json")"

evt-emit --help > "$TMP/help"
expect_contains "--help lists --type" "--type" "$TMP/help"
expect_eq "--version" "evt 0.1.0" "$(evt-emit --version)"
finish
