#!/usr/bin/env bash
# The embedded backend as a user runs it: evt-emit --broker sqlite://FILE, then evt-work on
# the same file, with no server. Done, a retry that comes due in a later run, dead letters,
# an idempotency key that runs once across runs, two workers on one file without a double
# run, and clear errors (with their exit codes) for files evt cannot use.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_work.sh"

DB="$TMP/data/evt.db"
BROKER="sqlite://$DB"
export RUN_LOG="$TMP/runs.log"
: > "$RUN_LOG"
q() { sqlite3 -cmd '.timeout 5000' "$DB" "$1"; }
status_of() { q "SELECT status FROM events WHERE event_id = '$1'"; }

export EVT_BACKOFF_BASE=1s EVT_BACKOFF_MAX=2s EVT_JITTER=0
# start_worker LOG [OPTIONS...]: evt-work on the file in the background; sets WORKER.
start_worker() {
  local log=$1; shift
  evt-work --broker "$BROKER" --state-dir "$TMP/state" "$@" -- "$HANDLERS/scripted.sh" \
    2>> "$log" &
  WORKER=$!
}
# stop_worker PID: SIGTERM, then waits (bounded) and sets STOPPED_RC to its exit status.
stop_worker() {
  kill -TERM "$1" 2>/dev/null || true
  if ! wait_until 20 '! alive '"$1"; then fail "worker $1 did not stop"; kill -KILL "$1"; fi
  STOPPED_RC=0
  wait "$1" || STOPPED_RC=$?
}

# 1. Emit, then work: done, one run each, the file and folder private.
{ event ok1 k-ok1 ok; echo; event ok2 k-ok2 ok; echo; } |
  evt-emit --broker "$BROKER" --stdin > "$TMP/ids" 2> "$TMP/emit.err"
expect_eq "emit accepted both" 2 "$(count_lines "$TMP/ids")"
expect_eq "file is 0600" 600 "$(stat -c %a "$DB")"
expect_eq "folder is 0700" 700 "$(stat -c %a "$TMP/data")"
start_worker "$TMP/w1.err"
wait_until 20 '[[ $(status_of ok1)$(status_of ok2) == donedone ]]' || fail "ok events not done"
stop_worker "$WORKER"
expect_eq "worker exits 0 on SIGTERM" 0 "$STOPPED_RC"
expect_eq "each ran once" 2 "$(count_lines "$RUN_LOG")"
expect_eq "nothing pending" 0 "$(q 'SELECT count(*) FROM pending')"

# 2. A transient failure is retried by the next run, after its backoff.
mkdir -p "$TMP/once"
event tr1 k-tr1 transient_once "\"state_dir\":\"$TMP/once\"" |
  evt-emit --broker "$BROKER" --stdin > /dev/null
start_worker "$TMP/w2.err"
wait_until 20 '[[ $(status_of tr1) == retrying ]]' || fail "tr1 not retrying"
stop_worker "$WORKER"
expect_eq "the retry waits in the delayed table" 1 "$(q 'SELECT count(*) FROM delayed')"
start_worker "$TMP/w3.err"
wait_until 20 '[[ $(status_of tr1) == done ]]' || fail "tr1 not done in the next run"
stop_worker "$WORKER"
expect_eq "attempt 2 in the second run" "k-tr1 1,k-tr1 2" \
  "$(grep k-tr1 "$RUN_LOG" | paste -sd,)"
expect_eq "status records 2 attempts" 2 "$(q "SELECT attempts FROM events WHERE event_id='tr1'")"

# 3. Dead letters: permanent at once; transient until retries run out.
{ event bad1 k-bad1 permanent; echo; event tx1 k-tx1 always_transient; } |
  evt-emit --broker "$BROKER" --stdin > /dev/null
start_worker "$TMP/w4.err" --max-retries 1 --backoff-base 100ms
wait_until 20 '[[ $(status_of bad1)$(status_of tx1) == failedfailed ]]' || fail "no dead letters"
stop_worker "$WORKER"
expect_eq "dead letters with their reasons" "permanent data,retries_exhausted dependency" \
  "$(q "SELECT reason || ' ' || category FROM dlq ORDER BY id" | paste -sd,)"
expect_eq "the letter keeps the event" bad1 "$(q "SELECT json_extract(event, '$.event_id') \
  FROM dlq WHERE reason = 'permanent'")"

# 4. The daily key of the README's cron line runs once across runs.
for run in 1 2 3; do
  evt-emit --broker "$BROKER" --type t.work --key "backup_srv-a_day" --field mode=ok \
    --id "cron$run" > /dev/null
  start_worker "$TMP/w5.err"
  wait_until 20 '[[ -n $(status_of cron'$run') && $(status_of cron'$run') != running ]]' ||
    fail "cron$run not finished"
  stop_worker "$WORKER"
done
expect_eq "the key ran once" 1 "$(grep -c '^backup_srv-a_day ' "$RUN_LOG")"
expect_eq "later runs are duplicates" "done,duplicate,duplicate" \
  "$(for r in 1 2 3; do status_of cron$r; done | paste -sd,)"

# 5. Two evt-work processes on one file share the work without a double run.
: > "$RUN_LOG"
for i in $(seq 1 120); do event "two$i" "k-two$i" sleep '"seconds":0.01'; echo; done |
  evt-emit --broker "$BROKER" --stdin > /dev/null
start_worker "$TMP/w6.err" --concurrency 2 --consumer alpha
A=$WORKER
start_worker "$TMP/w7.err" --concurrency 2 --consumer beta
B=$WORKER
wait_until 60 '(( $(q "SELECT count(*) FROM events WHERE event_id LIKE '"'two%'"' AND status = '"'done'"'") == 120 ))' ||
  fail "not all 120 done"
stop_worker "$A"
stop_worker "$B"
expect_eq "120 runs" 120 "$(count_lines "$RUN_LOG")"
expect_eq "no key ran twice" 120 "$(cut -d' ' -f1 "$RUN_LOG" | sort -u | grep -c '')"
expect_eq "both workers took part" 2 \
  "$(q "SELECT count(DISTINCT consumer) FROM events WHERE event_id LIKE 'two%'")"

# 6. Files evt cannot use: clear one-line errors, exit 78; a bad URL is a usage error.
cp "$DB" "$TMP/newer.db"
sqlite3 "$TMP/newer.db" 'PRAGMA user_version = 99'
rc=0; evt-emit --broker "sqlite://$TMP/newer.db" -t a.b 2> "$TMP/newer.err" > /dev/null || rc=$?
expect_eq "newer schema: emit exits 78" 78 "$rc"
expect_contains "names the version" "schema version 99, newer than this evt knows" "$TMP/newer.err"
rc=0; timeout 20 evt-work --broker "sqlite://$TMP/newer.db" --state-dir "$TMP/state" -- true \
  2> "$TMP/newer_w.err" || rc=$?
expect_eq "newer schema: work exits 78" 78 "$rc"
head -c 20000 /dev/urandom > "$TMP/corrupt.db"
rc=0; evt-emit --broker "sqlite://$TMP/corrupt.db" -t a.b 2> "$TMP/corrupt.err" > /dev/null || rc=$?
expect_eq "not a database: exit 78" 78 "$rc"
expect_contains "says what is wrong" "not an evt database or it is damaged" "$TMP/corrupt.err"
expect_eq "one line" 1 "$(count_lines "$TMP/corrupt.err")"
rc=0; evt-emit --broker "sqlite://relative.db" -t a.b 2> "$TMP/url.err" > /dev/null || rc=$?
expect_eq "relative path: usage error" 64 "$rc"
# A read-only file (as another user when run as root: root writes through file modes).
mkdir -m 755 "$TMP/ro" && cp "$DB" "$TMP/ro/evt.db" && chmod 644 "$TMP/ro/evt.db"
chmod 755 "$TMP"
as_other=()
if (( EUID == 0 )); then as_other=(setpriv --reuid=65534 --regid=65534 --clear-groups); fi
rc=0
"${as_other[@]}" "$EVT_BIN_DIR/evt-emit" --broker "sqlite://$TMP/ro/evt.db" -t a.b \
  2> "$TMP/ro.err" > /dev/null || rc=$?
expect_eq "read-only file: exit 78" 78 "$rc"
expect_contains "says it is read-only" "read-only" "$TMP/ro.err"
expect_eq "integrity" ok "$(q 'PRAGMA integrity_check')"
finish
