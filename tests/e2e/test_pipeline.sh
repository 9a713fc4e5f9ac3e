# evt-emit | evt-work: ok, transient-then-ok, permanent, retries exhausted, duplicates.
source "$(dirname "$0")/lib.sh"

mkdir -p "$TMP/state"
export RUN_LOG="$TMP/runs.log"
{
  evt-emit --type job.ok --id ok1 --field mode=ok
  evt-emit --type job.flaky --id flaky1 --field mode=transient_once --field "state_dir=$TMP/state"
  evt-emit --type job.bad --id bad1 --field mode=permanent
  evt-emit --type job.down --id down1 --field mode=always_transient
  evt-emit --type job.ok --id dup1 --key same-key --field mode=ok
  evt-emit --type job.ok --id dup2 --key same-key --field mode=ok
} > "$TMP/events.ndjson"

set +e
evt-work --concurrency 3 --max-retries 2 --backoff-base 50ms --backoff-max 200ms \
  --dlq "$TMP/dlq.ndjson" -- "$HANDLERS/scripted.sh" \
  < "$TMP/events.ndjson" > "$TMP/results.ndjson" 2> "$TMP/log"
rc=$?
set -e
expect_eq "exit 123: every event has an outcome, and two of them failed (as xargs)" 123 "$rc"
expect_eq "one result per event" 6 "$(count_lines "$TMP/results.ndjson")"
R="$TMP/results.ndjson"
expect_eq "ok: done" done "$(result_field "$R" ok1 status)"
expect_eq "ok: one attempt" 1 "$(result_field "$R" ok1 attempts)"
expect_eq "transient then ok: done" done "$(result_field "$R" flaky1 status)"
expect_eq "transient then ok: two attempts" 2 "$(result_field "$R" flaky1 attempts)"
expect_eq "permanent: failed" failed "$(result_field "$R" bad1 status)"
expect_eq "permanent: reason" permanent "$(result_field "$R" bad1 reason)"
expect_eq "permanent: category data" data "$(result_field "$R" bad1 category)"
expect_eq "permanent: stderr in error" "exit 65: bad record for bad1" "$(result_field "$R" bad1 error)"
expect_eq "exhausted: reason" retries_exhausted "$(result_field "$R" down1 reason)"
expect_eq "exhausted: 1 + max-retries attempts" 3 "$(result_field "$R" down1 attempts)"
expect_eq "exhausted: category dependency" dependency "$(result_field "$R" down1 category)"
statuses=$(jq -r 'select(.idempotency_key == "same-key") | .status' "$R" | sort | xargs)
expect_eq "same key: one done, one duplicate" "done duplicate" "$statuses"
expect_eq "same key: handler ran once" 1 "$(grep -c '^same-key ' "$RUN_LOG")"

expect_eq "two dead letters" 2 "$(count_lines "$TMP/dlq.ndjson")"
expect_eq "dead letters" "bad1 permanent|down1 retries_exhausted" \
  "$(jq -r '"\(.event_id) \(.reason)"' "$TMP/dlq.ndjson" | sort | paste -sd'|')"
expect_eq "dead letter keeps the event" job.down "$(jq -r 'select(.event_id=="down1") | .event.event_type' "$TMP/dlq.ndjson")"
expect_eq "retry_count raised on retries" 2 "$(jq -r 'select(.event_id=="down1") | .event.retry_count' "$TMP/dlq.ndjson")"
expect_eq "attempt numbers seen by the handler" "1 2 3" "$(grep '^down1 ' "$RUN_LOG" | cut -d' ' -f2 | xargs)"

expect_contains "log carries event fields" "event_id=flaky1" "$TMP/log"
expect_contains "log carries outcome" "outcome=transient" "$TMP/log"
expect_contains "handler stderr is logged" "temporary failure, try again" "$TMP/log"
expect_contains "summary logged" "summary events=6 done=3 failed=2 duplicate=1" "$TMP/log"

# JSON logs parse as JSON, one object per line.
evt-emit --type job.ok --field mode=ok | evt-work -v --log-format json -- "$HANDLERS/scripted.sh" \
  > /dev/null 2> "$TMP/jsonlog"
jq -e 'has("event_id") or has("events")' "$TMP/jsonlog" > /dev/null && pass "json log lines" || fail "json logs"

# Without --dlq, dead letters go to stderr as records, never silently dropped.
evt-emit --type job.bad --id bad2 --field mode=permanent \
  | evt-work -- "$HANDLERS/scripted.sh" > /dev/null 2> "$TMP/stderr" || true
expect_contains "dead letter on stderr" '"reason":"permanent"' "$TMP/stderr"

# The handler's exit sets can be overridden.
evt-emit --type job.bad --id bad3 --field mode=permanent \
  | evt-work --transient-exit 65 --max-retries 1 --backoff-base 10ms --dlq "$TMP/dlq2.ndjson" \
      -- "$HANDLERS/scripted.sh" > "$TMP/r3" 2>/dev/null || true
expect_eq "--transient-exit makes 65 retryable" retries_exhausted "$(result_field "$TMP/r3" bad3 reason)"

# Invalid input lines become dead letters and the exit code says so.
{ echo 'garbage'; evt-emit --type job.ok --id ok9 --field mode=ok; } \
  | { set +e; evt-work --dlq "$TMP/dlq3.ndjson" -- "$HANDLERS/scripted.sh" > "$TMP/r4" 2> "$TMP/e4"; echo $? > "$TMP/rc4"; }
expect_eq "invalid line: exit 65" 65 "$(cat "$TMP/rc4")"
expect_eq "invalid line: good event still done" done "$(result_field "$TMP/r4" ok9 status)"
expect_eq "invalid line: dead letter with raw text" garbage "$(jq -r .raw "$TMP/dlq3.ndjson")"

# Configuration errors: missing handler command, bad duration.
set +e
evt-work -- /nonexistent/handler < /dev/null > /dev/null 2> "$TMP/e5"; rc=$?
set -e
expect_eq "missing handler exits 78" 78 "$rc"
expect_contains "says which command" "/nonexistent/handler" "$TMP/e5"
set +e
evt-work --timeout 5parsecs -- /bin/true < /dev/null > /dev/null 2> "$TMP/e6"; rc=$?
set -e
expect_eq "bad duration exits 64" 64 "$rc"
expect_contains "bad duration explained" "invalid duration" "$TMP/e6"
finish
