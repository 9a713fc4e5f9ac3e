# The default --log-format as users meet it (issue 10): evt-work on a durable broker, with
# stderr to a file (a service whose log a collector reads), writes one JSON object per line,
# and every line about an event carries the correlation fields of DESIGN.md; --log-format
# text still gives text. evt-work --burst, the stdio pipeline and evt-emit (cron's
# commands, read in a mail) keep text. lib.sh sets EVT_LOG_FORMAT=text for the other tests;
# this one unsets it.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_redis.sh"
source "$(dirname "$0")/lib_work.sh"
unset EVT_LOG_FORMAT JOURNAL_STREAM

redis_start
mkdir -p "$TMP/state"
W=(evt-work --broker "$REDIS_URL" --state-dir "$TMP/state" --backoff-base 50ms
  --backoff-max 100ms --heartbeat 500ms --max-retries 1)
emit() { evt-emit --broker "$REDIS_URL" "$@" > /dev/null; }

# Events that log: one done (info), one retried then dead (warn, error), a duplicate.
emit --type t.log --id ok1 --key k-ok --correlation-id corr-7 --field mode=ok
emit --type t.log --id tr1 --key k-tr --field mode=always_transient
emit --type t.log --id perm1 --key k-perm --field mode=permanent
emit --type t.log --id dup1 --key k-ok --field mode=ok
"${W[@]}" -v -- "$HANDLERS/scripted.sh" > "$TMP/work.out" 2> "$TMP/work.err" &
worker=$!
final() {
  for id in ok1 tr1 perm1 dup1; do
    case "$(ev_field default "$id" status)" in done | failed | duplicate) ;; *) return 1 ;; esac
  done
}
wait_until 20 final || fail "not every event finished"
kill -TERM "$worker"
wait_until 20 '! alive '"$worker" || { fail "worker did not stop"; kill -KILL "$worker"; }
wait "$worker" || true

lines=$(count_lines "$TMP/work.err")
((lines >= 8)) && pass "the worker logged $lines lines" || fail "only $lines log lines"
bad=$(jq -R 'fromjson? // "not json" | select(type != "object")' "$TMP/work.err" | head -3)
expect_eq "every line is one JSON object" "" "$bad"
expect_eq "each names the tool, the level and the message" "" \
  "$(jq -c 'select(.tool != "evt-work" or (.level | type) != "string" or (.msg | type) != "string" or (.ts | type) != "string")' "$TMP/work.err")"
about=$(jq -c 'select(.event_id != null)' "$TMP/work.err" | grep -c '' || true)
((about >= 6)) && pass "$about lines are about an event" || fail "only $about lines about an event"
expect_eq "every line about an event carries event_id, idempotency_key, event_type, consumer, attempt, correlation_id" "" \
  "$(jq -c 'select(.event_id != null) | select([.idempotency_key, .event_type, .consumer, .correlation_id] | map(type == "string" and length > 0) | all | not) , select(.event_id != null and (.attempt | type) != "number")' "$TMP/work.err")"
expect_eq "the event's own correlation_id" "corr-7" \
  "$(jq -r 'select(.event_id == "ok1") | .correlation_id' "$TMP/work.err" | sort -u | xargs)"
expect_eq "none given: the event_id" "perm1" \
  "$(jq -r 'select(.event_id == "perm1") | .correlation_id' "$TMP/work.err" | sort -u | xargs)"
expect_eq "a finished attempt: duration_ms and outcome" "true done" \
  "$(jq -r 'select(.event_id == "ok1" and .msg == "attempt finished") | "\(.duration_ms | type == "number") \(.outcome)"' "$TMP/work.err")"
expect_eq "a failed attempt: outcome and category" "permanent data" \
  "$(jq -r 'select(.event_id == "perm1" and .msg == "attempt failed") | "\(.outcome) \(.category)"' "$TMP/work.err")"
expect_eq "the duplicate line is about its event (attempt 0: nothing ran)" "k-ok 0" \
  "$(jq -r 'select(.event_id == "dup1" and (.msg | startswith("duplicate"))) | "\(.idempotency_key) \(.attempt)"' "$TMP/work.err")"

# --log-format text (or EVT_LOG_FORMAT=text) is text, whatever stderr is.
emit --type t.log --id perm2 --field mode=permanent
"${W[@]}" --log-format text -- "$HANDLERS/scripted.sh" > /dev/null 2> "$TMP/text.err" &
worker=$!
wait_until 20 '[[ "$(ev_field default perm2 status)" == failed ]]' || fail "perm2 not failed"
kill -TERM "$worker"; wait "$worker" || true
expect_contains "--log-format text: text lines" "evt-work: warn: attempt failed event_id=perm2" "$TMP/text.err"
emit --type t.log --id perm3 --field mode=permanent
EVT_LOG_FORMAT=text "${W[@]}" -- "$HANDLERS/scripted.sh" > /dev/null 2> "$TMP/env.err" &
worker=$!
wait_until 20 '[[ "$(ev_field default perm3 status)" == failed ]]' || fail "perm3 not failed"
kill -TERM "$worker"; wait "$worker" || true
expect_contains "EVT_LOG_FORMAT=text: text lines" "evt-work: warn: attempt failed event_id=perm3" "$TMP/env.err"

# --burst runs from cron: text for the mail, as the stdio pipeline and evt-emit.
emit --type t.log --id perm4 --field mode=permanent
set +e
"${W[@]}" --burst -- "$HANDLERS/scripted.sh" > /dev/null 2> "$TMP/burst.err"
set -e
expect_contains "--burst: text lines" "evt-work: warn: attempt failed event_id=perm4" "$TMP/burst.err"
set +e
evt-emit --type t.log --field mode=permanent | evt-work -- "$HANDLERS/scripted.sh" > /dev/null 2> "$TMP/stdio.err"
set -e
expect_contains "stdio pipeline: text lines" "evt-work: warn: attempt failed" "$TMP/stdio.err"
set +e
echo '{"event_type":"Bad Type"}' | evt-emit --stdin > /dev/null 2> "$TMP/emit.err"
set -e
expect_contains "evt-emit: text" "evt-emit: error: line 1" "$TMP/emit.err"
# A usage error stays one plain line for the worker too.
set +e
evt-work --broker "$REDIS_URL" --concurrency abc -- true 2> "$TMP/usage.err"
rc=$?
set -e
expect_eq "usage error: exit 64" 64 "$rc"
expect_eq "usage error: plain text" "evt-work: error: --concurrency: abc is not a number" \
  "$(head -1 "$TMP/usage.err")"
finish
