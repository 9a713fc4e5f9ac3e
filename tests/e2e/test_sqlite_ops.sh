#!/usr/bin/env bash
# The operator tools on a SQLite file, with no server (issue 12): a handler fails, the
# events end in the file's DLQ; evt-status shows the queue and one event, evt-dlq lists,
# counts and exports them, evt-replay dry-runs and replays them, a fixed handler drains
# them; evt-dlq purge --yes deletes the rest, and replay and purge leave audit rows.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_work.sh"

DB="$TMP/data/evt.db"
B=(--broker "sqlite://$DB")
q() { sqlite3 -cmd '.timeout 5000' "$DB" "$1"; }
run_rc() {
  local out=$1 err=$2; shift 2
  set +e
  "$@" > "$out" 2> "$err"
  echo $?
  set -e
}
printf '#!/bin/sh\necho "payments API: 503 Service Unavailable" >&2\nexit 75\n' > "$TMP/down.sh"
printf '#!/bin/sh\ncat > /dev/null\nexit 0\n' > "$TMP/fixed.sh"
chmod +x "$TMP/down.sh" "$TMP/fixed.sh"
export EVT_JITTER=0

# --- Before any file exists, the tools say so and create nothing. ---
expect_eq "evt-status on a missing file: exit 69" 69 \
  "$(run_rc "$TMP/out" "$TMP/err" evt-status "${B[@]}")"
expect_contains "and says why" "no such file" "$TMP/err"
[[ ! -e "$DB" ]] && pass "no file created" || fail "evt-status created $DB"

# --- The outage: 10 events, every attempt fails, all end in the DLQ. ---
seq 10 | sed 's/.*/{"event_type":"billing.invoice.created","idempotency_key":"inv-&","payload":{"n":&}}/' |
  evt-emit --stdin "${B[@]}" > "$TMP/ids"
printf '{"event_type":"mail.send","payload":{}}\n' | evt-emit --stdin "${B[@]}" > "$TMP/mail_id"
first=$(head -1 "$TMP/ids")
expect_eq "before work: EVENT_ID is queued" queued \
  "$(evt-status "${B[@]}" --json "$first" | jq -r .status)"
expect_eq "before work: --key finds it" "$first" \
  "$(evt-status "${B[@]}" --json --key inv-1 | jq -r .event_id)"
evt-work "${B[@]}" --max-retries 1 --backoff-base 10ms --backoff-max 20ms --concurrency 2 \
  --state-dir "$TMP/state" -- "$TMP/down.sh" 2> "$TMP/down.log" &
worker=$!
wait_until 30 '(( $(q "SELECT count(*) FROM dlq") >= 11 ))' ||
  fail "not all dead-lettered: $(q 'SELECT count(*) FROM dlq')"
# While it runs: one live consumer.
expect_eq "evt-status: the live consumer" 1 \
  "$(evt-status "${B[@]}" --json | jq '.queues[0].consumers')"
kill -TERM "$worker"
wait_until 20 '! alive '"$worker" || { fail "worker did not stop"; kill -KILL "$worker"; }
wait "$worker" || true

# --- evt-status: the table, and one event. ---
expect_eq "evt-status: exit 0" 0 "$(run_rc "$TMP/table" "$TMP/err" evt-status "${B[@]}")"
expect_contains "evt-status: the queue" "default" "$TMP/table"
evt-status "${B[@]}" --json > "$TMP/status.json"
expect_eq "evt-status --json: dlq size and growth" "11 11" \
  "$(jq -r '.queues[0] | "\(.dlq) \(.dlq_growth)"' "$TMP/status.json")"
expect_eq "evt-status --json: the minute metrics (11 failed, 11 retried)" "11 11" \
  "$(jq -r '.queues[0] | "\(.failed) \(.retried)"' "$TMP/status.json")"
expect_eq "EVENT_ID: failed, exit 0" 0 "$(run_rc "$TMP/ev" "$TMP/err" evt-status "${B[@]}" "$first")"
expect_contains "EVENT_ID: the status" "failed" "$TMP/ev"
expect_contains "EVENT_ID: its type" "billing.invoice.created" "$TMP/ev"
expect_eq "--json EVENT_ID: attempts" "failed 2" \
  "$(evt-status "${B[@]}" --json "$first" | jq -r '"\(.status) \(.attempts)"')"
expect_eq "unknown EVENT_ID: exit 1" 1 \
  "$(run_rc "$TMP/out" "$TMP/err" evt-status "${B[@]}" evt_01ARZ3NDEKTSV4RRFFQ69G5FAV)"

# --- evt-dlq: stats, list, export. ---
evt-dlq "${B[@]}" stats > "$TMP/stats"
expect_contains "stats: total" "total     11" "$TMP/stats"
expect_contains "stats: the failing type" "billing.invoice.created  10" "$TMP/stats"
evt-dlq "${B[@]}" list --type 'billing.*' > "$TMP/list"
expect_eq "list --type: one line each" 10 "$(count_lines "$TMP/list")"
expect_contains "list: the error" "503 Service Unavailable" "$TMP/list"
expect_eq "list --limit" 3 "$(evt-dlq "${B[@]}" list --limit 3 | wc -l)"
evt-dlq "${B[@]}" show "$first" > "$TMP/show"
expect_contains "show: the event" "\"event_id\": \"$first\"" "$TMP/show"
evt-dlq "${B[@]}" export --type 'billing.*' > "$TMP/export.ndjson"
expect_eq "export: 10 records in the --dlq format" 10 \
  "$(jq -c 'select(.failed_at and .reason and .category and .attempts and .event_id and .event)' "$TMP/export.ndjson" | wc -l)"

# --- Replay: dry run, then for real; a fixed handler drains them. ---
# One key is already done (as if a worker had run it meanwhile): replay skips it.
q "INSERT INTO idem SELECT id, 'inv-7', 'done', '', 9999999999999 FROM queues WHERE name = 'default'"
evt-replay "${B[@]}" --dry-run --type 'billing.*' > "$TMP/dry" 2> "$TMP/dry.err"
expect_eq "dry run: one line per event" 10 "$(count_lines "$TMP/dry")"
expect_contains "dry run: the done key is marked" "key inv-7 is done" "$TMP/dry"
expect_contains "dry run: summary" "dry run: would replay 9, skipped 1, failed 0" "$TMP/dry.err"
expect_eq "dry run: nothing changed" 11 "$(q 'SELECT count(*) FROM dlq')"
evt-replay "${B[@]}" --type 'billing.*' > "$TMP/replayed" 2> "$TMP/replay.err"
expect_contains "replay: summary" "replayed 9, skipped 1, failed 0, replay id rpl_" "$TMP/replay.err"
expect_eq "replay: moved out of the DLQ (the done key and mail.send stay)" 2 "$(q 'SELECT count(*) FROM dlq')"
evt-work "${B[@]}" --state-dir "$TMP/state" -- "$TMP/fixed.sh" 2> "$TMP/fixed.log" &
worker=$!
drained() {
  local n=0 id
  for id in $(cat "$TMP/replayed"); do
    [[ "$(q "SELECT status FROM events WHERE event_id = '$id'")" == done ]] && n=$((n + 1))
  done
  ((n == 9))
}
wait_until 30 drained && pass "the fixed handler drained all 9" || fail "not drained"
kill -TERM "$worker"
wait_until 20 '! alive '"$worker" || { fail "worker did not stop"; kill -KILL "$worker"; }
wait "$worker" || true
expect_eq "evt-status EVENT_ID after the replay: done" done \
  "$(evt-status "${B[@]}" --json "$first" | jq -r .status)"
expect_eq "none went back to the DLQ" 2 "$(q 'SELECT count(*) FROM dlq')"

# --- Purge: with --yes, audited. ---
evt-dlq "${B[@]}" purge --yes --type 'mail.*' < /dev/null 2> "$TMP/purge.err"
expect_contains "purge --yes: count" "purged 1 dead letter(s)" "$TMP/purge.err"
expect_eq "purged" 1 "$(q 'SELECT count(*) FROM dlq')"
expect_eq "audit: a replay and a purge" "replay,purge" "$(q 'SELECT action FROM audit ORDER BY id' | paste -sd,)"
expect_contains_text() { grep -qF -- "$2" <<<"$3" && pass "$1" || fail "$1: [$2] not in [$3]"; }
expect_contains_text "audit: the purge's filters" "--type 'mail.*'" \
  "$(q "SELECT detail FROM audit WHERE action = 'purge'")"
expect_contains_text "audit: the user" "$(id -un)@" "$(q "SELECT actor FROM audit WHERE action = 'purge'")"

finish
