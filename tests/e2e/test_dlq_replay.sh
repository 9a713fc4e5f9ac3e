# The incident of issue 9, as the person on call runs it: a handler fails during a
# downstream outage and 50 events are dead-lettered; evt-dlq finds them, evt-replay dry-runs
# and replays them (retry_count reset, paced), a fixed handler drains them; purge refuses
# without --yes and no terminal; the same on files: stdio --dlq file -> evt-replay
# --from-file -> stdio evt-work, and evt-dlq --file purge rewrites the file.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_redis.sh"
source "$(dirname "$0")/lib_work.sh"

redis_start
B=(--broker "$REDIS_URL")
DLQ='evt:{default}:dlq'
printf '#!/bin/sh\necho "payments API: 503 Service Unavailable" >&2\nexit 75\n' > "$TMP/down.sh"
printf '#!/bin/sh\ncat > /dev/null\nexit 0\n' > "$TMP/fixed.sh"
chmod +x "$TMP/down.sh" "$TMP/fixed.sh"

# --- The outage: 50 events, every attempt fails, all 50 end in the DLQ. ---
seq 50 | sed 's/.*/{"event_type":"billing.invoice.created","idempotency_key":"inv-&","payload":{"n":&}}/' |
  evt-emit --stdin "${B[@]}" > "$TMP/ids"
printf '{"event_type":"mail.send","payload":{}}\n' | evt-emit --stdin "${B[@]}" > /dev/null
evt-work "${B[@]}" --max-retries 1 --backoff-base 10ms --backoff-max 20ms --concurrency 4 \
  -- "$TMP/down.sh" 2> "$TMP/down.log" &
worker=$!
wait_until 30 '(( $(redis_cli XLEN "$DLQ") >= 51 ))' || fail "not all dead-lettered: $(redis_cli XLEN "$DLQ")"
kill -TERM "$worker"; wait "$worker" || true

# --- Find the failing type and read the errors. ---
evt-dlq "${B[@]}" stats > "$TMP/stats"
expect_contains "stats: total" "total     51" "$TMP/stats"
expect_contains "stats: the failing type" "billing.invoice.created  50" "$TMP/stats"
expect_contains "stats: the reason" "retries_exhausted" "$TMP/stats"
evt-dlq "${B[@]}" list --type 'billing.*' > "$TMP/list"
expect_eq "list --type: one line each" 50 "$(count_lines "$TMP/list")"
expect_contains "list: the first line of the error" "503 Service Unavailable" "$TMP/list"
expect_eq "list --limit" 3 "$(evt-dlq "${B[@]}" list --limit 3 | wc -l)"
expect_eq "list --category dependency --since 1h" 51 \
  "$(evt-dlq "${B[@]}" list --category dependency --since 1h | wc -l)"
expect_eq "list --reason permanent: none" 0 "$(evt-dlq "${B[@]}" list --reason permanent | wc -l)"
first=$(head -1 "$TMP/ids")
evt-dlq "${B[@]}" show "$first" > "$TMP/show"
expect_contains "show: the event, pretty-printed" "\"event_id\": \"$first\"" "$TMP/show"
expect_contains "show: the consumer" "consumer:" "$TMP/show"
set +e; evt-dlq "${B[@]}" show evt_nope > /dev/null 2> "$TMP/err"; rc=$?; set -e
expect_eq "show: unknown id exits 66" 66 "$rc"
evt-dlq "${B[@]}" export --type 'billing.*' > "$TMP/export.ndjson"
expect_eq "export: 50 records in the --dlq format" 50 \
  "$(jq -c 'select(.failed_at and .reason and .category and .attempts and .error and .event_id and .event_type and .event)' "$TMP/export.ndjson" | wc -l)"
expect_eq "export: retry_count as it died" 1 "$(jq '.event.retry_count' "$TMP/export.ndjson" | sort -u)"

# --- Dry run: what would be replayed; one key already done is marked; nothing changes. ---
redis_cli SET 'evt:{default}:idem:inv-7' done > /dev/null
evt-replay "${B[@]}" --dry-run --type 'billing.*' > "$TMP/dry" 2> "$TMP/dry.err"
expect_eq "dry run: one line per event" 50 "$(count_lines "$TMP/dry")"
expect_contains "dry run: the done key is marked" "key inv-7 is done" "$TMP/dry"
expect_contains "dry run: summary" "dry run: would replay 49, skipped 1, failed 0" "$TMP/dry.err"
expect_eq "dry run: nothing changed" 51 "$(redis_cli XLEN "$DLQ")"

# --- Replay at a rate: retries reset, moved out of the DLQ, audited. ---
start=$(date +%s%N)
evt-replay "${B[@]}" --type 'billing.*' --rate 100/s > "$TMP/replayed" 2> "$TMP/replay.err"
ms=$(( ($(date +%s%N) - start) / 1000000 ))
expect_eq "replay: the ids on stdout" 49 "$(count_lines "$TMP/replayed")"
expect_contains "replay: summary line" "replayed 49, skipped 1, failed 0, replay id rpl_" "$TMP/replay.err"
((ms >= 400)) && pass "--rate 100/s paced 49 writes ($ms ms)" || fail "--rate 100/s took only $ms ms"
rid=$(grep -o 'rpl_[0-9A-Z]*' "$TMP/replay.err")
expect_eq "no progress display when stderr is not a terminal" 0 "$(grep -c $'\r' "$TMP/replay.err" || true)"

expect_eq "left in the DLQ: the done key and mail.send" 2 "$(redis_cli XLEN "$DLQ")"
evt-replay "${B[@]}" --from-stream --type 'billing.*' --since 1h --dry-run 2> /dev/null |
  wc -l > "$TMP/hist" || true
expect_eq "from-stream: one copy of each event (not its retries, not the replays)" 50 "$(cat "$TMP/hist")"
copies=$(redis_cli XRANGE 'evt:{default}:stream' - + | grep -F "\"replay_id\":\"$rid\"" || true)
expect_eq "the copies carry the replay id" 49 "$(grep -c . <<<"$copies")"
expect_eq "and retry_count 0" 0 "$(grep -c '"retry_count":1' <<<"$copies" || true)"
redis_cli XRANGE 'evt:{default}:audit' - + > "$TMP/audit"
expect_contains "audit: the replay id" "$rid" "$TMP/audit"
expect_contains "audit: the filters" "--type 'billing.*'" "$TMP/audit"
expect_contains "audit: the user" "$(id -un)" "$TMP/audit"

# --- The fixed handler drains them. ---
evt-work "${B[@]}" -- "$TMP/fixed.sh" 2> "$TMP/fixed.log" &
worker=$!
drained() {
  local n=0 id
  for id in $(cat "$TMP/replayed"); do [[ "$(ev_field default "$id" status)" == done ]] && n=$((n + 1)); done
  ((n == 49))
}
wait_until 30 drained && pass "the fixed handler drained all 49" || fail "not drained"
kill -TERM "$worker"; wait "$worker" || true
expect_eq "none went back to the DLQ" 2 "$(redis_cli XLEN "$DLQ")"

# --- --force runs the done key again under a derived key. ---
evt-replay "${B[@]}" --force --type 'billing.*' > /dev/null 2> "$TMP/force.err"
expect_contains "force: summary names the derived key" "1 done key(s) run again as KEY#replay-rpl_" "$TMP/force.err"
expect_eq "force: the copy's key" 1 \
  "$(redis_cli XRANGE 'evt:{default}:stream' - + | grep -c '"idempotency_key":"inv-7#replay-rpl_' || true)"

# --- On a terminal, a paced replay shows its progress on stderr (script(1) gives a pty). ---
for i in 1 2 3 4 5 6; do
  printf '{"event_type":"tty.check","event_id":"tty%s"}\n' "$i"
done > "$TMP/tty.ndjson"
timeout 20 script -qec "evt-replay --broker $REDIS_URL --queue tty --from-file $TMP/tty.ndjson --rate 10/s > /dev/null" \
  "$TMP/tty.typescript" < /dev/null > /dev/null 2>&1 || true
grep -qE 'replayed [1-5]/6  [-0-9.]+/s  [0-9]+s left' "$TMP/tty.typescript" &&
  pass "progress on a terminal: count, rate, time left" ||
  fail "no progress on a terminal: $(cat -v "$TMP/tty.typescript")"
expect_eq "the paced replay went through" 6 "$(redis_cli XLEN 'evt:{tty}:stream')"

# --- Purge: refused without --yes and no terminal; then with --yes, audited. ---
set +e; evt-dlq "${B[@]}" purge < /dev/null > /dev/null 2> "$TMP/purge.err"; rc=$?; set -e
expect_eq "purge without --yes and no terminal: exit 64" 64 "$rc"
expect_contains "purge: says why" "without --yes: standard input is not a terminal" "$TMP/purge.err"
expect_eq "purge refused: nothing deleted" 1 "$(redis_cli XLEN "$DLQ")"
evt-dlq "${B[@]}" purge --yes --type 'mail.*' < /dev/null 2> "$TMP/purge.err"
expect_contains "purge --yes: count" "purged 1 dead letter(s)" "$TMP/purge.err"
expect_eq "purged" 0 "$(redis_cli XLEN "$DLQ")"
redis_cli XRANGE 'evt:{default}:audit' - + > "$TMP/audit"
expect_contains "audit: the purge" "purge" "$TMP/audit"
expect_contains "audit: its filters" "--type 'mail.*'" "$TMP/audit"

# --- Files: stdio --dlq file -> evt-replay --from-file --to - -> stdio evt-work. ---
seq 5 | sed 's/.*/{"event_type":"report.build","payload":{"n":&}}/' > "$TMP/in.ndjson"
set +e
evt-work --dlq "$TMP/dlq.ndjson" --max-retries 1 --backoff-base 10ms --backoff-max 20ms \
  -- "$TMP/down.sh" < "$TMP/in.ndjson" > /dev/null 2>&1
rc=$?
set -e
expect_eq "stdio worker: failures exit 123" 123 "$rc"
expect_eq "stdio worker: 5 dead letters" 5 "$(count_lines "$TMP/dlq.ndjson")"
expect_eq "evt-dlq --file list" 5 "$(evt-dlq --file "$TMP/dlq.ndjson" list | wc -l)"
evt-replay --from-file "$TMP/dlq.ndjson" --to - 2> "$TMP/file.err" > "$TMP/replay.ndjson"
expect_eq "from-file: 5 events" 5 "$(count_lines "$TMP/replay.ndjson")"
expect_eq "from-file: retry_count reset" 0 "$(jq '.retry_count' "$TMP/replay.ndjson" | sort -u)"
evt-work -- "$TMP/fixed.sh" < "$TMP/replay.ndjson" > "$TMP/results" 2> /dev/null
expect_eq "stdio evt-work: all 5 done" 5 "$(jq -r 'select(.status == "done") | .event_id' "$TMP/results" | wc -l)"
evt-replay --from-file - --to - --limit 2 < "$TMP/dlq.ndjson" 2> /dev/null > "$TMP/two"
expect_eq "from-file - reads stdin, --limit" 2 "$(count_lines "$TMP/two")"
set +e; evt-dlq --file "$TMP/dlq.ndjson" purge < /dev/null 2> /dev/null; rc=$?; set -e
expect_eq "file purge without --yes: exit 64" 64 "$rc"
evt-dlq --file "$TMP/dlq.ndjson" purge --yes --limit 3 2> /dev/null
expect_eq "file purge rewrote the file" 2 "$(count_lines "$TMP/dlq.ndjson")"
expect_eq "the file's audit record" 3 "$(jq 'select(.action == "purge") | .count' "$TMP/dlq.ndjson.audit")"
set +e; evt-dlq --file "$TMP/missing.ndjson" list 2> /dev/null; rc=$?; set -e
expect_eq "missing file: exit 66" 66 "$rc"
set +e; evt-replay --from-file "$TMP/dlq.ndjson" 2> "$TMP/err"; rc=$?; set -e
expect_eq "from-file without a target: exit 64" 64 "$rc"

set +e; evt-replay "${B[@]}" --to-queue 'bad{name}' 2> "$TMP/err"; rc=$?; set -e
expect_eq "a bad --to-queue: exit 64" 64 "$rc"
expect_contains "a bad --to-queue: named" "--to-queue" "$TMP/err"
set +e; evt-replay "${B[@]}" --from-stream --category data 2> "$TMP/err"; rc=$?; set -e
expect_eq "--category with --from-stream: exit 64" 64 "$rc"
set +e; evt-dlq "${B[@]}" list --category nope 2> "$TMP/err"; rc=$?; set -e
expect_eq "an unknown --category: exit 64" 64 "$rc"
expect_contains "an unknown --category: the names it takes" "dependency" "$TMP/err"

finish
