#!/usr/bin/env bash
# The SQLite file on a disk that fills up, with the real evt-emit and evt-work: a size
# limit on every file they write (RLIMIT_FSIZE, `ulimit -f`, with SIGXFSZ ignored so that a
# write fails with EFBIG) and, where root may mount one, a small tmpfs (ENOSPC). The
# transactions committed before the full point are kept and nothing is half-written; the
# command says so in one line and exits 69 (the store cannot take writes for now, as
# documented in evt(7), SQLITE FILE); once there is room again the rest goes through and no
# event runs twice.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_work.sh"

export EVT_BACKOFF_BASE=1s EVT_BACKOFF_MAX=2s EVT_JITTER=0
export RUN_LOG="$TMP/runs.log"
# The handler: counts its runs, quickly (hundreds of events, no jq).
HANDLER="$TMP/count.sh"
printf '#!/bin/sh\necho "$EVT_IDEMPOTENCY_KEY $EVT_ATTEMPT" >> "$RUN_LOG"\n' > "$HANDLER"
chmod +x "$HANDLER"
EVENTS=1200

# The events: 1.8 KB of payload each (two to a 4 KB page), so that a 256-event transaction
# takes about 0.5 MB and all of them 2.4 MB: more than the file and its WAL may hold
# together under the 700 KiB of step 1, whatever checkpoints do.
pad=$(head -c 1800 /dev/zero | tr '\0' x)
for i in $(seq 1 "$EVENTS"); do
  event "f$i" "k-f$i" ok "\"pad\":\"$pad\""
  echo
done > "$TMP/events.ndjson"

# room_for MODE KIB / room_again MODE: on a tmpfs, lets the file system hold about KIB KiB
# more than it does now, then makes it large again (ulimit needs neither).
room_for() {
  [[ $1 == tmpfs ]] || return 0
  mount -o remount,size=$(($(du -sk "$DISK" | cut -f1) + $2 + 64))k "$DISK"
}
room_again() { [[ $1 != tmpfs ]] || mount -o remount,size=256m "$DISK"; }

# limited MODE KIB OUT ERR CMD...: runs CMD with stdout to OUT and stderr to ERR (through
# pipes, which no limit touches) while its files may grow by about KIB KiB: in mode ulimit
# no file may grow past KIB KiB, in mode tmpfs DISK holds KIB KiB more. Sets RC.
limited() {
  local mode=$1 kib=$2 out=$3 err=$4
  shift 4
  room_for "$mode" "$kib"
  set +e
  {
    (
      trap '' XFSZ
      [[ $mode == ulimit ]] && ulimit -f "$kib"
      exec "$@" 2>&3 3>&-
    ) | cat > "$out"
    echo "${PIPESTATUS[0]}" > "$TMP/rc"
  } 3>&1 | cat > "$err"
  set -e
  RC=$(cat "$TMP/rc")
  room_again "$mode"
}

# The phases below share: mode (ulimit or tmpfs), db, broker, out (a folder for outputs).
q() { sqlite3 -cmd '.timeout 5000' "$db" "$1"; }

# emit_phase: evt-emit fills the disk, then sends the rest once there is room.
emit_phase() {
  # 1. evt-emit fills the disk: whole transactions are kept, their ids printed, one line.
  limited "$mode" 700 "$out/ids1" "$out/emit1.err" \
    evt-emit --broker "$broker" --wait-timeout 1s --stdin < "$TMP/events.ndjson"
  local kept
  kept=$(count_lines "$out/ids1")
  expect_eq "$mode: evt-emit on a full disk exits 69" 69 "$RC"
  ((kept > 0 && kept < EVENTS)) && pass "$mode: $kept of $EVENTS accepted before the disk was full" ||
    fail "$mode: $kept of $EVENTS accepted"
  expect_eq "$mode: whole transactions" 0 "$((kept % 256))"
  expect_eq "$mode: integrity" ok "$(q 'PRAGMA integrity_check')"
  expect_eq "$mode: the printed ids are the stored events" "$(paste -sd, "$out/ids1")" \
    "$(q "SELECT json_extract(event, '$.event_id') FROM stream WHERE json_extract(event, '$.event_id') != 'warmup' ORDER BY id" | paste -sd,)"
  local last
  last=$(tail -n 1 "$out/emit1.err")
  # Warnings while it retries (again after a checkpoint made room for a while), then the
  # one error: every line a whole message.
  expect_eq "$mode: one error line, last" "1 1" \
    "$(grep -c '^evt-emit: error: ' "$out/emit1.err") $(grep -c '^evt-emit: error: ' <(echo "$last"))"
  expect_eq "$mode: no other lines" 0 "$(grep -vc '^evt-emit: \(warn\|error\): ' "$out/emit1.err")"
  expect_not_contains "$mode: the error does not speak of redis" "redis" <(echo "$last")
  expect_contains "$mode: the error names the file" "$db" <(echo "$last")
  expect_contains "$mode: the error says the disk is full" "full" <(echo "$last")
  expect_contains "$mode: the error says where to go on" \
    "the events from line $((kept + 1)) on were not" <(echo "$last")

  # 2. Room again: the producer sends the rest, each event once.
  tail -n "+$((kept + 1))" "$TMP/events.ndjson" |
    evt-emit --broker "$broker" --stdin > "$out/ids2" 2> "$out/emit2.err"
  expect_eq "$mode: the rest accepted" "$((EVENTS - kept))" "$(count_lines "$out/ids2")"
  expect_eq "$mode: every event stored once" "$((EVENTS + 1)) $((EVENTS + 1))" \
    "$(q "SELECT count(*) || ' ' || count(DISTINCT json_extract(event, '$.event_id')) FROM stream")"

}

# work_phase: evt-work --burst fills the disk, then does the rest once there is room.
work_phase() {
  # 3. evt-work --burst fills the disk: it keeps retrying its commits, says so once, and on
  #    SIGTERM leaves what it could not record in its journal.
  room_for "$mode" 400
  (
    trap '' XFSZ
    [[ $mode == ulimit ]] && ulimit -f 400
    exec evt-work --broker "$broker" --state-dir "$TMP/state-$mode" --burst \
      --consumer "full-$mode" --shutdown-grace 1s -- "$HANDLER" > /dev/null 2> "$out/work1.err"
  ) &
  local worker=$!
  wait_until 30 'grep -qs "not usable for now" "$out/work1.err"' ||
    fail "$mode: the worker did not say the file is not usable"
  kill -TERM "$worker" 2> /dev/null || true
  if ! wait_until 20 '! alive '"$worker"; then
    fail "$mode: the worker did not stop"
    kill -KILL "$worker"
  fi
  RC=0
  wait "$worker" || RC=$?
  room_again "$mode"
  expect_eq "$mode: the stopped worker exits 0" 0 "$RC"
  # Once per outage, not once per try; a full disk still lets a write that needs no new page
  # through now and then (a lease renewal, a checkpoint), which ends one outage and may
  # start another: seen twice on a busy machine.
  local said
  said=$(grep -c 'not usable for now' "$out/work1.err" || true)
  ((said >= 1 && said <= 3)) && pass "$mode: the worker says it once per outage ($said)" ||
    fail "$mode: the worker said it $said times"
  local ran
  ran=$(count_lines "$RUN_LOG")
  ((ran > 0 && ran < EVENTS + 1)) && pass "$mode: $ran handler runs before the disk was full" ||
    fail "$mode: $ran handler runs"
  expect_contains "$mode: the worker says the disk is full" "full" "$out/work1.err"
  expect_eq "$mode: integrity after the worker" ok "$(q 'PRAGMA integrity_check')"

  # 4. Room again: the next run records the journaled outcomes and does the rest, each
  #    event once. Entries the stopped worker had received in its last batch but could not
  #    lease (the disk was full) are still pending under its consumer name: the next run,
  #    under the same name as the systemd unit gives, takes them up at once.
  set +e
  evt-work --broker "$broker" --state-dir "$TMP/state-$mode" --burst --consumer "full-$mode" \
    -- "$HANDLER" > /dev/null 2> "$out/work2.err"
  RC=$?
  set -e
  expect_eq "$mode: the next burst exits 0" 0 "$RC"
  expect_eq "$mode: every event done" "$((EVENTS + 1))" \
    "$(q "SELECT count(*) FROM events WHERE status = 'done'")"
  expect_eq "$mode: every event ran once" "$((EVENTS + 1)) $((EVENTS + 1))" \
    "$(cut -d' ' -f1 "$RUN_LOG" | sort | uniq | wc -l) $(count_lines "$RUN_LOG")"
  expect_eq "$mode: nothing pending" 0 "$(q 'SELECT count(*) FROM pending')"

}

# admin_phase: evt-replay and evt-dlq purge on a full disk, then with room.
admin_phase() {
  # 5. The operator's side: evt-replay and evt-dlq purge on a full disk stop with one line
  #    and exit 69; a dead letter is either replayed or still there, never both or neither.
  head -n 100 "$TMP/events.ndjson" |
    sed 's/"t.work"/"t.dead"/; s/"event_id":"f/"event_id":"d/; s/"k-f/"k-d/' |
    evt-emit --broker "$broker" --stdin > /dev/null
  evt-work --broker "$broker" --state-dir "$TMP/state-$mode" --burst --max-retries 0 \
    -- /bin/false > /dev/null 2>&1 || true
  expect_eq "$mode: 100 dead letters" 100 "$(q 'SELECT count(*) FROM dlq')"
  local stream_before
  stream_before=$(q 'SELECT count(*) FROM stream')
  limited "$mode" 100 /dev/null "$out/replay1.err" evt-replay --broker "$broker"
  expect_eq "$mode: evt-replay on a full disk exits 69" 69 "$RC"
  expect_contains "$mode: evt-replay says the disk is full" "the disk is full" "$out/replay1.err"
  expect_eq "$mode: evt-replay: one error line" 1 "$(grep -c '^evt-replay: error: ' "$out/replay1.err")"
  local moved
  moved=$(($(q 'SELECT count(*) FROM stream') - stream_before))
  ((moved < 100)) && pass "$mode: replay stopped after $moved" || fail "$mode: replay moved $moved"
  expect_eq "$mode: each dead letter replayed or kept" 100 "$(($(q 'SELECT count(*) FROM dlq') + moved))"
  limited "$mode" 0 /dev/null "$out/purge1.err" evt-dlq purge --broker "$broker" --yes
  expect_eq "$mode: evt-dlq purge on a full disk exits 69" 69 "$RC"
  expect_contains "$mode: evt-dlq says the disk is full" "the disk is full" "$out/purge1.err"
  expect_eq "$mode: the purge deleted nothing" "$((100 - moved))" "$(q 'SELECT count(*) FROM dlq')"
  evt-replay --broker "$broker" > /dev/null 2> "$out/replay2.err"
  expect_eq "$mode: with room, the rest is replayed" "0 $((stream_before + 100))" \
    "$(q 'SELECT count(*) FROM dlq') $(q 'SELECT count(*) FROM stream')"
}

# scenario MODE: all phases on a file of DISK under MODE's limit.
scenario() {
  mode=$1 db="$DISK/evt.db" out="$TMP/$1"
  broker="sqlite://$db"
  mkdir -p "$out"
  : > "$RUN_LOG"
  # The file exists and has its tables, as after an earlier run.
  evt-emit --broker "$broker" --type t.work --id warmup --key k-warmup > /dev/null
  emit_phase
  work_phase
  admin_phase
}

DISK="$TMP/disk-ulimit"
mkdir -p "$DISK"
scenario ulimit

DISK="$TMP/disk-tmpfs"
mkdir -p "$DISK"
if [[ $(id -u) == 0 ]] && mount -t tmpfs -o size=256m,mode=0700 tmpfs "$DISK" 2> /dev/null; then
  trap 'umount "$DISK" 2> /dev/null; rm -rf "$TMP"' EXIT
  scenario tmpfs
  umount "$DISK"
  trap 'rm -rf "$TMP"' EXIT
else
  echo "skip: tmpfs (mount needs root and CAP_SYS_ADMIN); the ulimit case ran"
fi
finish
