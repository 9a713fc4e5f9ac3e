#!/usr/bin/env bash
# The migration path of issue 12: a queue's dead letters and its history move from a SQLite
# file to Redis with evt-replay --to redis://... (and back: Redis to a new SQLite file).
# The dead letters arrive with retry_count reset and leave the file; history whose key is
# done on the old store is not run again on the new one; the audit record names the
# target (its password hidden) on both stores; the Redis password comes from
# EVT_REDIS_PASSWORD as for --broker; a bad --to URL is a one-line usage error (exit 64).
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_redis.sh"
source "$(dirname "$0")/lib_work.sh"

PW='s3cret-migrate'
export REDISCLI_AUTH=$PW  # redis_cli's password; never on a command line
redis_start --requirepass "$PW"
export EVT_JITTER=0 XDG_STATE_HOME="$TMP/xdg"
DB="$TMP/data/evt.db"
S=(--broker "sqlite://$DB")
sq() { sqlite3 -cmd '.timeout 5000' "$DB" "$1"; }
rc_of() {
  local out=$1 err=$2; shift 2
  set +e
  timeout 60 "$@" > "$out" 2> "$err"
  echo $?
  set -e
}
# The handler records each key it runs; fail-* keys fail (transient) until $TMP/fixed exists.
cat > "$TMP/handler.sh" <<SH
#!/bin/sh
cat > /dev/null
echo "\$EVT_IDEMPOTENCY_KEY" >> "$TMP/ran"
case "\$EVT_IDEMPOTENCY_KEY" in fail-*) [ -e "$TMP/fixed" ] || exit 75 ;; esac
exit 0
SH
chmod +x "$TMP/handler.sh"

# --- On the SQLite file: 3 events done, 4 dead letters after one retry each. ---
for k in ok-1 ok-2 ok-3 fail-1 fail-2 fail-3 fail-4; do
  evt-emit "${S[@]}" --type billing.invoice --key "$k" --field key="$k" >> "$TMP/ids"
done
rc=$(rc_of /dev/null "$TMP/burst.err" evt-work "${S[@]}" --burst --burst-max-wait 5s \
  --max-retries 1 --backoff-base 10ms --backoff-max 20ms --state-dir "$TMP/state" -- "$TMP/handler.sh")
expect_eq "sqlite burst: some failed (123)" 123 "$rc"
expect_eq "sqlite: 4 dead letters" 4 "$(sq 'SELECT count(*) FROM dlq')"
expect_eq "sqlite: they died after a retry" 1 \
  "$(sq 'SELECT DISTINCT json_extract(event, "$.retry_count") FROM dlq')"

# --- The password of a Redis --to comes from EVT_REDIS_PASSWORD, as --broker's does. ---
export EVT_REDIS_PASSWORD=$PW
rc=$(rc_of "$TMP/dry" "$TMP/dry.err" evt-replay "${S[@]}" --to "$REDIS_URL" --dry-run)
expect_eq "dry run into Redis: exit 0" 0 "$rc"
expect_contains "dry run: the plan" "would replay 4, skipped 0, failed 0" "$TMP/dry.err"
expect_eq "dry run: the file keeps its dead letters" 4 "$(sq 'SELECT count(*) FROM dlq')"

# --- The DLQ moves: into the Redis stream, retries reset; the file's DLQ is empty. ---
rc=$(rc_of "$TMP/moved" "$TMP/move.err" evt-replay "${S[@]}" --from-dlq --to "$REDIS_URL")
expect_eq "DLQ to Redis: exit 0" 0 "$rc"
expect_contains "DLQ to Redis: summary" "replayed 4, skipped 0, failed 0, replay id rpl_" "$TMP/move.err"
expect_eq "DLQ to Redis: the ids on stdout" 4 "$(count_lines "$TMP/moved")"
expect_eq "the Redis stream got them" 4 "$(redis_cli XLEN 'evt:{default}:stream')"
redis_cli XRANGE 'evt:{default}:stream' - + | grep -F '"event_type"' > "$TMP/stream"
expect_eq "each with retry_count 0" 4 "$(jq -s 'map(select(.retry_count == 0)) | length' "$TMP/stream")"
expect_eq "each with the replay id" 4 "$(jq -s 'map(select(.replay_id | startswith("rpl_"))) | length' "$TMP/stream")"
expect_eq "the fail-* keys" "fail-1 fail-2 fail-3 fail-4" \
  "$(jq -r .idempotency_key "$TMP/stream" | sort | xargs)"
expect_eq "the file's DLQ is empty" 0 "$(sq 'SELECT count(*) FROM dlq')"
evt-status --broker "$REDIS_URL" --json > "$TMP/status.json"
expect_eq "evt-status on Redis: the queue holds 4" 4 "$(jq '.queues[] | select(.queue == "default") | .depth' "$TMP/status.json")"
redis_cli XRANGE 'evt:{default}:audit' - + > "$TMP/audit.redis"
expect_contains "Redis audit: the target store and queue" "$REDIS_URL queue:default" "$TMP/audit.redis"
expect_contains "Redis audit: the source store" "sqlite://$DB dlq:default" "$TMP/audit.redis"
sq 'SELECT detail FROM audit' > "$TMP/audit.sqlite"
expect_contains "SQLite audit: the target" "$REDIS_URL queue:default" "$TMP/audit.sqlite"
expect_not_contains "no password in the audit" "$PW" "$TMP/audit.redis"

# --- History: done keys (on either store) are not run again on the new broker. ---
redis_cli SET 'evt:{history}:idem:fail-4' done > /dev/null  # done on the target already
rc=$(rc_of "$TMP/hist" "$TMP/hist.err" evt-replay "${S[@]}" --from-stream --to "$REDIS_URL" \
  --to-queue history)
expect_eq "history to Redis: exit 0" 0 "$rc"
expect_contains "history: the done keys skipped (3 on the file, 1 on Redis)" \
  "replayed 3, skipped 4, failed 0" "$TMP/hist.err"
expect_eq "history: the Redis queue got 3" 3 "$(redis_cli XLEN 'evt:{history}:stream')"
: > "$TMP/ran"
touch "$TMP/fixed"
rc=$(rc_of /dev/null "$TMP/burst2.err" evt-work --broker "$REDIS_URL" -q history --burst \
  --state-dir "$TMP/state2" -- "$TMP/handler.sh")
expect_eq "the Redis worker: all done" 0 "$rc"
expect_eq "it ran only what was not done" "fail-1 fail-2 fail-3" "$(sort "$TMP/ran" | xargs)"

# --- A password in the --to URL is never shown; the URL's own is used. ---
unset EVT_REDIS_PASSWORD
rc=$(rc_of "$TMP/out" "$TMP/err" evt-replay "${S[@]}" --from-stream --id "$(head -1 "$TMP/ids")" \
  --to "redis://:$PW@127.0.0.1:$REDIS_PORT" --to-queue pw --force)
expect_eq "--to with the password in the URL: exit 0" 0 "$rc"
expect_eq "and wrote it" 1 "$(redis_cli XLEN 'evt:{pw}:stream')"
redis_cli XRANGE 'evt:{pw}:audit' - + > "$TMP/audit.pw"
expect_contains "the audit names the URL redacted" "redis://:***@127.0.0.1:$REDIS_PORT queue:pw" "$TMP/audit.pw"
expect_not_contains "and not the password" "$PW" "$TMP/audit.pw"
rc=$(rc_of "$TMP/out" "$TMP/err" evt-replay "${S[@]}" --to "$REDIS_URL")
expect_eq "no password at all: the server refuses (78)" 78 "$rc"

# --- A bad --to URL: one line, exit 64, no password. ---
rc=$(rc_of "$TMP/out" "$TMP/err" evt-replay "${S[@]}" --to "redis://u:$PW@127.0.0.1:notaport")
expect_eq "bad --to URL: exit 64" 64 "$rc"
expect_eq "bad --to URL: one line" 1 "$(count_lines "$TMP/err")"
expect_contains "bad --to URL: names --to" "evt-replay: error: --to redis://u:***@127.0.0.1:notaport" "$TMP/err"
expect_not_contains "bad --to URL: no password" "$PW" "$TMP/err"
rc=$(rc_of "$TMP/out" "$TMP/err" evt-replay "${S[@]}" --to "http://example.com")
expect_eq "--to http://: exit 64" 64 "$rc"
expect_eq "--to http://: one line" 1 "$(count_lines "$TMP/err")"

# --- --to equal to --broker is the normal replay (nothing left in the DLQ to move). ---
rc=$(rc_of "$TMP/out" "$TMP/err" evt-replay "${S[@]}" --to "sqlite://$DB")
expect_eq "--to the source itself: exit 0" 0 "$rc"
expect_contains "--to the source itself: the normal replay" "replayed 0, skipped 0" "$TMP/err"

# --- Back: Redis history into a new SQLite file (created as evt-emit creates it). ---
# Queue default on Redis holds the 4 moved dead letters, not run yet; queue history ran its 3.
export EVT_REDIS_PASSWORD=$PW
NEW="$TMP/new/evt.db"
rc=$(rc_of "$TMP/out" "$TMP/err" evt-replay --broker "$REDIS_URL" --from-stream --to "sqlite://$NEW")
expect_eq "Redis to a new SQLite file: exit 0" 0 "$rc"
expect_contains "Redis to SQLite: the 4 queued events" "replayed 4, skipped 0, failed 0" "$TMP/err"
expect_eq "the new file's stream holds them" 4 \
  "$(sqlite3 -cmd '.timeout 5000' "$NEW" 'SELECT count(*) FROM stream')"
expect_eq "the new file is private" 600 "$(stat -c %a "$NEW")"
rc=$(rc_of "$TMP/out" "$TMP/err" evt-replay --broker "$REDIS_URL" -q history --from-stream \
  --to "sqlite://$NEW")
expect_contains "Redis to SQLite: keys done on Redis are skipped" "replayed 0, skipped 3" "$TMP/err"
finish
