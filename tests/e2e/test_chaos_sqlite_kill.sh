#!/usr/bin/env bash
# Chaos on one SQLite file: 3 workers and a random handler; one worker SIGKILLed
# mid-handler, a producer SIGKILLed mid-stream, then every process SIGKILLed at once (a
# power cut for the processes). Afterwards the file passes PRAGMA integrity_check, fresh
# workers (replaying the outcome journals) finish everything: lost 0, nothing pending, and
# a side effect twice only in the documented window (a handler that had exited when its
# worker was killed, before its outcome was journaled).
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_work.sh"

N=400
DB="$TMP/evt.db"
BROKER="sqlite://$DB"
export SIDE_EFFECTS="$TMP/side_effects.log"
: > "$SIDE_EFFECTS"
q() { sqlite3 -cmd '.timeout 10000' "$DB" "$1"; }
gen() { for i in $(seq "$2" "$3"); do printf '{"event_type":"t.chaos","event_id":"%s%d"}\n' "$1" "$i"; done; }

gen a 1 "$N" | evt-emit --broker "$BROKER" --stdin > "$TMP/accepted"
expect_eq "events queued" "$N" "$(count_lines "$TMP/accepted")"

WORKERS=()
start_worker() {
  evt-work --broker "$BROKER" --consumer "$1" --concurrency 2 --state-dir "$TMP/state" \
    --timeout 2s --kill-after 500ms --claim-after 3s --backoff-base 50ms --backoff-max 400ms \
    --heartbeat 500ms --log-level warn -- "$HANDLERS/chaos.sh" 2> "$TMP/$1.log" &
  WORKERS+=($!)
}
CHAOS_FREEZE="$TMP/freeze" start_worker w1; w1=$!
start_worker w2
start_worker w3

# A producer that is killed mid-stream: what it printed was accepted and must not be lost.
gen b 1 5000 | while IFS= read -r line; do echo "$line"; sleep 0.002; done |
  evt-emit --broker "$BROKER" --stdin >> "$TMP/accepted" 2> "$TMP/emit.log" &
emitter=$!

# w1 is killed while both its handlers run (they die with it); none had exited, so its
# entries are claimed and run once by the others.
sleep 1.5
touch "$TMP/freeze"
wait_until 10 '(( $(pgrep -c -P '"$w1"' || true) == 2 ))' || fail "w1 never had 2 handlers running"
kill -KILL "$w1"
pass "w1 killed mid-handler"
sleep 1
pkill -KILL -P "$emitter" 2>/dev/null || true
kill -KILL "$emitter" 2>/dev/null || true
pass "producer killed mid-stream ($(grep -c '^b' "$TMP/accepted" || true) of its events accepted)"

# The power cut: every worker at once, mid-handler and mid-transaction.
sleep 1.5
kill -KILL "${WORKERS[@]}" 2>/dev/null || true
for p in "${WORKERS[@]}"; do wait "$p" 2>/dev/null || true; done
wait "$emitter" 2>/dev/null || true
expect_eq "integrity after SIGKILL" ok "$(q 'PRAGMA integrity_check')"

WORKERS=()
start_worker w4
start_worker w5
accepted=$(count_lines "$TMP/accepted")
final() {
  q "SELECT event_id FROM events WHERE status IN ('done', 'failed')" | sort > "$TMP/final"
  (( $(sort "$TMP/accepted" | comm -23 - "$TMP/final" | grep -c '') == 0 ))
}
wait_until 120 final || fail "not all accepted events finished"
lost=$(sort "$TMP/accepted" | comm -23 - "$TMP/final" | grep -c '' || true)
ndone=$(q "SELECT count(*) FROM events WHERE status = 'done'")
nfailed=$(q "SELECT count(*) FROM events WHERE status = 'failed'")
twice=$(sort "$SIDE_EFFECTS" | uniq -d | grep -c '' || true)
echo "accepted=$accepted done=$ndone failed=$nfailed twice=$twice"
expect_eq "lost" 0 "$lost"
expect_eq "each failed event is in the DLQ" "$nfailed" "$(q 'SELECT count(*) FROM dlq')"
expect_eq "one side effect per done key" "$ndone" "$(sort -u "$SIDE_EFFECTS" | grep -c '')"
# The documented window: at most the handlers running at the power cut (3 workers x 2).
((twice <= 6)) && pass "side effects twice only in the window ($twice)" ||
  fail "$twice side effects twice"
wait_until 20 '(( $(q "SELECT count(*) FROM pending") == 0 ))' || fail "entries left pending"
expect_eq "no retry left waiting" 0 "$(q 'SELECT count(*) FROM delayed')"
kill -TERM "${WORKERS[@]}"
set +e; wait "${WORKERS[0]}"; rc1=$?; wait "${WORKERS[1]}"; rc2=$?; set -e
expect_eq "survivors exit 0 on SIGTERM" "0 0" "$rc1 $rc2"
expect_eq "integrity at the end" ok "$(q 'PRAGMA integrity_check')"
finish
