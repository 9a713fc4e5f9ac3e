#!/usr/bin/env bash
# evt-work --burst, as cron runs it: on a real redis-server and on an SQLite file, process
# everything due (new entries, retries due within --burst-max-wait, entries of a dead
# worker) and exit with the stdio worker's status (0 all done, 123 any failed); an empty
# queue exits 0 at once; a daily key runs once across runs; the README's cron line works
# verbatim; --burst on the stdio transport is a usage error.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_redis.sh"
source "$(dirname "$0")/lib_work.sh"
redis_start

export XDG_STATE_HOME="$TMP/xdg" EVT_JITTER=0
SQLITE_BROKER="sqlite://$TMP/data/evt.db"
sq() { sqlite3 -cmd '.timeout 5000' "$TMP/data/evt.db" "$1"; }

# dead_letters BACKEND QUEUE: how many dead letters the queue holds.
dead_letters() {
  if [[ $1 == redis ]]; then redis_cli XLEN "evt:{$2}:dlq"
  else sq "SELECT count(*) FROM dlq JOIN queues ON queues.id = dlq.qid WHERE queues.name = '$2'"; fi
}
# burst BROKER QUEUE LOG [OPTIONS...] -- HANDLER...: one bounded burst run; sets RC and MS.
burst() {
  local broker=$1 queue=$2 log=$3; shift 3
  local start=$(date +%s%N)
  RC=0
  timeout 60 evt-work --broker "$broker" -q "$queue" "$@" 2>> "$log" || RC=$?
  MS=$((($(date +%s%N) - start) / 1000000))
}
# emit_n BROKER QUEUE N: N events of their own keys.
emit_n() {
  for i in $(seq "$3"); do
    evt-emit --broker "$1" -q "$2" --type t.burst --field n="$i" > /dev/null
  done
}

run_backend() {
  local name=$1 broker=$2
  local runs="$TMP/$name.runs" log="$TMP/$name.err"
  : > "$runs"

  # 1. Twenty events, four handlers: all done, then exit 0.
  emit_n "$broker" b20 20
  burst "$broker" b20 "$log" -c 4 --burst -- sh -c "echo \$EVT_EVENT_ID >> $runs"
  expect_eq "$name: 20 events: exit 0" 0 "$RC"
  expect_eq "$name: 20 events: each ran once" 20 "$(sort -u "$runs" | grep -c '')"
  echo "$name: 20 events in ${MS} ms"

  # 2. Nothing queued: exit 0 at once.
  burst "$broker" b20 "$log" --burst -- sh -c "echo again >> $runs"
  expect_eq "$name: empty queue: exit 0" 0 "$RC"
  expect_eq "$name: empty queue: nothing ran" 20 "$(count_lines "$runs")"
  ((MS < 3000)) && pass "$name: empty queue exits at once (${MS} ms)" ||
    fail "$name: empty queue took ${MS} ms"

  # 3. A failing handler: retried within the run (200ms backoff < 5s wait), then a dead
  #    letter and exit 123, long before the wait is over.
  local fails="$TMP/$name.fails"
  emit_n "$broker" bfail 1
  burst "$broker" bfail "$log" --burst --max-retries 1 --backoff-base 200ms \
    --burst-max-wait 5s -- sh -c "echo run >> $fails; exit 1"
  expect_eq "$name: failing: exit 123" 123 "$RC"
  expect_eq "$name: failing: ran twice (retried within the run)" 2 "$(count_lines "$fails")"
  expect_eq "$name: failing: one dead letter" 1 "$(dead_letters "$name" bfail)"
  ((MS < 5000)) && pass "$name: failing run ended when nothing was left (${MS} ms)" ||
    fail "$name: failing run took ${MS} ms"

  # 4. Without --burst-max-wait, a retry due later is left for the next run: exit 0 now,
  #    and the next run (after its backoff) runs it.
  local later="$TMP/$name.later"
  emit_n "$broker" blater 1
  burst "$broker" blater "$log" --burst --max-retries 1 --backoff-base 1s \
    -- sh -c "echo run >> $later; exit 1"
  expect_eq "$name: retry due later: exit 0" 0 "$RC"
  expect_eq "$name: retry due later: ran once" 1 "$(count_lines "$later")"
  sleep 1.2
  burst "$broker" blater "$log" --burst --max-retries 1 --backoff-base 1s \
    -- sh -c "echo run >> $later; exit 1"
  expect_eq "$name: next run after the backoff: retries exhausted, 123" 123 "$RC"
  expect_eq "$name: next run after the backoff: ran again" 2 "$(count_lines "$later")"

  # 5. A daily idempotency key runs once across two burst runs.
  local daily="$TMP/$name.daily" key="backup_srv-a_$(date +%F)"
  for _ in 1 2; do
    evt-emit --broker "$broker" -q bdaily --type server.backup.requested --key "$key" \
      --field server=srv-a > /dev/null
    burst "$broker" bdaily "$log" --burst -- sh -c "echo run >> $daily"
    expect_eq "$name: daily key: burst exit 0" 0 "$RC"
  done
  expect_eq "$name: daily key: ran once across two runs" 1 "$(count_lines "$daily")"

  # 6. An entry a dead worker left pending is claimed by a burst run (--claim-after).
  local claimed="$TMP/$name.claimed" hpid="$TMP/$name.hpid"
  emit_n "$broker" bdead 1
  # Its lease lives --timeout + --kill-after + 1s = 4s from the handler's start: while it
  # does, a claimer leaves the entry pending (the holder may still run it); after it, the
  # burst run claims (--claim-after 1s) and runs it.
  evt-work --broker "$broker" -q bdead --consumer dead --timeout 2s --kill-after 1s \
    -- sh -c "echo \$\$ > $hpid; exec sleep 30" 2>> "$log" &
  local dead=$!
  wait_until 20 "[[ -s $hpid ]]" || fail "$name: dead worker's handler did not start"
  kill -KILL "$dead"
  kill -KILL "$(cat "$hpid")" 2>/dev/null || true
  wait "$dead" 2>/dev/null || true
  sleep 4.5
  burst "$broker" bdead "$log" --burst --claim-after 1s -- sh -c "echo run >> $claimed"
  expect_eq "$name: dead worker's entry: exit 0" 0 "$RC"
  expect_eq "$name: dead worker's entry: claimed and run" 1 "$(count_lines "$claimed")"
}

run_backend redis "$REDIS_URL"
run_backend sqlite "$SQLITE_BROKER"

# 7. --burst on the stdio transport: a usage error, nothing read.
RC=0
echo '{"event_type":"t.x"}' | evt-work --burst -- true > /dev/null 2> "$TMP/stdio.err" || RC=$?
expect_eq "--burst with --broker -: exit 64" 64 "$RC"
expect_contains "--burst with --broker -: says why" "--burst" "$TMP/stdio.err"
RC=0
evt-work --broker "$REDIS_URL" --burst-max-wait 5s -- true 2> "$TMP/wait.err" || RC=$?
expect_eq "--burst-max-wait without --burst: exit 64" 64 "$RC"

# 8. The README's cron line, verbatim but for the file, the handler and cron's \%.
line=$(grep -m1 -- '--burst -- /usr/local/bin/backup.sh' "$SOURCE_DIR/README.md")
[[ -n $line ]] || fail "README: no cron line with --burst"
cmd=${line#\*/15 \* \* \* \* }
cmd=${cmd//\/var\/lib\/evt\/evt.db/$TMP/cron/evt.db}
cmd=${cmd//\/usr\/local\/bin\/backup.sh/$TMP/backup.sh}
cmd=${cmd//\\%/%}
mkdir -p "$TMP/cron"
printf '#!/bin/sh\necho "$EVT_IDEMPOTENCY_KEY" >> %s/backup.runs\n' "$TMP" > "$TMP/backup.sh"
chmod +x "$TMP/backup.sh"
for run in 1 2; do
  RC=0
  timeout 60 bash -c "$cmd" > /dev/null 2>> "$TMP/cron.err" || RC=$?
  expect_eq "README cron line: run $run exits 0" 0 "$RC"
done
expect_eq "README cron line: the day's backup ran once" "backup_srv-a_$(date +%F)" \
  "$(cat "$TMP/backup.runs" 2>/dev/null)"
finish
