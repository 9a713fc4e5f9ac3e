# The rule of silence, and an exit status cron and chronic can read: a run that goes well
# prints nothing on stderr and exits 0; a failed event makes stderr speak and the exit 123.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_redis.sh"

size() { stat -c %s "$1"; }

# A successful stdio pipeline: evt-emit and evt-work print nothing on stderr.
set +e
evt-emit --type backup.requested --key k1 --field server=srv-a 2> "$TMP/emit.err" \
  | evt-work -- "$HANDLERS/scripted.sh" > "$TMP/out" 2> "$TMP/work.err"
rcs="${PIPESTATUS[*]}"
set -e
expect_eq "success: both exit 0" "0 0" "$rcs"
expect_eq "success: evt-emit stderr bytes" 0 "$(size "$TMP/emit.err")"
expect_eq "success: evt-work stderr bytes" 0 "$(size "$TMP/work.err")"
expect_eq "success: the result is on stdout" done "$(jq -r .status "$TMP/out")"

# evt-emit --stdin that accepts every line, and a duplicate: silent too.
{
  echo '{"event_type":"a.b","event_id":"q1","idempotency_key":"same","payload":{"mode":"ok"}}'
  echo '{"event_type":"a.b","event_id":"q2","idempotency_key":"same","payload":{"mode":"ok"}}'
} > "$TMP/two.ndjson"
set +e
evt-emit --stdin < "$TMP/two.ndjson" 2> "$TMP/emit2.err" \
  | evt-work -- "$HANDLERS/scripted.sh" > "$TMP/out2" 2> "$TMP/work2.err"
rcs="${PIPESTATUS[*]}"
set -e
expect_eq "done and duplicate: exit 0" "0 0" "$rcs"
expect_eq "done and duplicate: silent" "0 0" "$(size "$TMP/emit2.err") $(size "$TMP/work2.err")"

# -v (or --log-level info) brings every attempt and the summary back.
evt-emit --type a.b --field mode=ok | evt-work -v -- "$HANDLERS/scripted.sh" > /dev/null 2> "$TMP/v.err"
expect_contains "-v: the attempt" "evt-work: info: attempt finished" "$TMP/v.err"
expect_contains "-v: the summary" "evt-work: info: summary events=1 done=1" "$TMP/v.err"
evt-emit --type a.b --field mode=ok \
  | EVT_LOG_LEVEL=info evt-work -- "$HANDLERS/scripted.sh" > /dev/null 2> "$TMP/env.err"
expect_contains "EVT_LOG_LEVEL=info: the attempt" "attempt finished" "$TMP/env.err"

# A dead letter: exit 123, and stderr says it (the dead letter and the summary).
set +e
evt-emit --type a.b --id bad1 --field mode=permanent \
  | evt-work --dlq "$TMP/dlq.ndjson" -- "$HANDLERS/scripted.sh" > /dev/null 2> "$TMP/bad.err"
rc=$?
set -e
expect_eq "a dead letter: exit 123" 123 "$rc"
expect_contains "a dead letter: said" "evt-work: error: dead letter event_id=bad1" "$TMP/bad.err"
expect_contains "a dead letter: the summary" "evt-work: warn: summary events=1 done=0 failed=1" "$TMP/bad.err"

# Retries exhausted: 123 as well; a retry that then succeeds: 0, with the failed attempt said.
set +e
evt-emit --type a.b --id down1 --field mode=always_transient \
  | evt-work --max-retries 1 --backoff-base 10ms --dlq "$TMP/dlq.ndjson" -- "$HANDLERS/scripted.sh" \
    > /dev/null 2> /dev/null
rc=$?
set -e
expect_eq "retries exhausted: exit 123" 123 "$rc"
mkdir -p "$TMP/state"
set +e
evt-emit --type a.b --id flaky1 --field mode=transient_once --field "state_dir=$TMP/state" \
  | evt-work --backoff-base 10ms -- "$HANDLERS/scripted.sh" > /dev/null 2> "$TMP/flaky.err"
rc=$?
set -e
expect_eq "a retry that succeeds: exit 0" 0 "$rc"
expect_contains "a retry that succeeds: the failed attempt is said" "warn: attempt failed" "$TMP/flaky.err"

# Invalid input and a failed event: 65 wins (the producer needs fixing first).
{ echo 'garbage'; evt-emit --type a.b --id bad2 --field mode=permanent; } > "$TMP/mixed.ndjson"
set +e
evt-work --dlq "$TMP/dlq.ndjson" -- "$HANDLERS/scripted.sh" < "$TMP/mixed.ndjson" > /dev/null 2>&1
rc=$?
set -e
expect_eq "invalid and failed: exit 65" 65 "$rc"

# A dead letter that cannot be written: 74 wins over 123.
set +e
evt-emit --type a.b --id bad3 --field mode=permanent \
  | evt-work --dlq /dev/full -- "$HANDLERS/scripted.sh" > /dev/null 2> /dev/null
rc=$?
set -e
expect_eq "dead letter not written: exit 74" 74 "$rc"

# Redis: a successful evt-emit is silent as well.
redis_start
set +e
evt-emit --broker "$REDIS_URL" --type a.b > "$TMP/id" 2> "$TMP/redis.err"
rc=$?
set -e
expect_eq "redis emit: exit 0" 0 "$rc"
expect_eq "redis emit: stderr bytes" 0 "$(size "$TMP/redis.err")"
finish
