# Chaos: a handler finishes while Redis is down, then its worker is stopped (SIGTERM with
# --shutdown-grace 2s) or killed (SIGKILL) before the outcome could be committed. The
# outcome waits in the local outcome journal (--state-dir); the next worker started on
# this host for the same queue commits it before reading new work: the handler ran once.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_redis.sh"
source "$(dirname "$0")/lib_work.sh"

export RUN_LOG="$TMP/runs.log"
: > "$RUN_LOG"
export EVT_STATE_DIR="$TMP/state"
redis_start --appendonly yes --appendfsync always
# --claim-after 1s: an outcome that was lost would be claimed and run again at once.
W=(evt-work --broker "$REDIS_URL" --timeout 3s --kill-after 500ms --claim-after 1s
  --backoff-base 100ms --heartbeat 500ms)

# wait_exit PID SECONDS: sets RC to the exit status of PID; SIGKILL when it outlives SECONDS.
wait_exit() {
  local deadline=$((SECONDS + $2))
  while alive "$1" && ((SECONDS < deadline)); do sleep 0.1; done
  if alive "$1"; then fail "pid $1 still running after $2 s"; kill -KILL "$1"; fi
  RC=0
  wait "$1" || RC=$?
}
runs() { grep -c "^$1 " "$RUN_LOG" || true; }
journals() { find "$EVT_STATE_DIR" -name '*.journal' -size +0 2>/dev/null | wc -l; }

# --- SIGTERM during the outage: exit 0, one line naming what was left and where. ---
xadd jt "$(event t1 t1 sleep '"seconds":1')" > /dev/null
"${W[@]}" --queue jt --shutdown-grace 2s -- "$HANDLERS/scripted.sh" 2> "$TMP/t1.log" &
w=$!
wait_until 10 '[[ "$(ev_field jt t1 status)" == running ]]' || fail "t1 never ran"
redis_stop
sleep 1.8  # the handler (1 s) finishes; its commit waits for Redis
start=$(date +%s%N)
kill -TERM "$w"
wait_exit "$w" 15
elapsed_ms=$((($(date +%s%N) - start) / 1000000))
expect_eq "SIGTERM in an outage: exit 0" 0 "$RC"
((elapsed_ms < 6000)) && pass "stopped in ${elapsed_ms} ms" || fail "stop took ${elapsed_ms} ms"
expect_contains "one line says what waits in the journal" "left 1 outcome(s) in the journal" \
  "$TMP/t1.log"
expect_contains "and where" "$EVT_STATE_DIR" "$TMP/t1.log"
expect_not_contains "no lost outcome" "could not record the outcome" "$TMP/t1.log"
expect_eq "the journal holds it" 1 "$(journals)"
redis_start

# A worker of another queue on this host leaves that journal alone.
xadd jx "$(event x1 x1 ok)" > /dev/null
"${W[@]}" --queue jx -- "$HANDLERS/scripted.sh" 2> "$TMP/x.log" &
wx=$!
wait_until 10 '[[ "$(ev_field jx x1 status)" == done ]]' || fail "x1 not done"
expect_eq "another queue's worker did not commit it" running "$(ev_field jt t1 status)"
kill -TERM "$wx"
wait_exit "$wx" 10
expect_eq "that worker exits 0" 0 "$RC"
expect_eq "the journal still holds it" 1 "$(journals)"

"${W[@]}" --queue jt -- "$HANDLERS/scripted.sh" 2> "$TMP/t2.log" &
w=$!
wait_until 10 '[[ "$(ev_field jt t1 status)" == done ]]' || fail "t1 not done: $(ev_field jt t1 status)"
sleep 2.5  # time enough for a claim (--claim-after 1s) if the entry were still pending
expect_eq "SIGTERM in an outage: the handler ran once" 1 "$(runs t1)"
expect_eq "nothing pending" 0 "$(pending jt)"
expect_eq "the done record" done "$(redis_cli GET 'evt:{jt}:idem:t1')"
expect_eq "the replayed journal is gone" 0 "$(journals)"
kill -TERM "$w"
wait_exit "$w" 10
expect_eq "exit 0" 0 "$RC"
expect_eq "no journal file left after a clean exit" 0 \
  "$(find "$EVT_STATE_DIR" -name '*.journal' | wc -l)"
expect_eq "state dir mode 0700" 700 "$(stat -c %a "$EVT_STATE_DIR")"

# --- SIGKILL after the handler's exit: the dead worker's journal is replayed. ---
xadd jk "$(event k1 k1 sleep '"seconds":1')" > /dev/null
"${W[@]}" --queue jk -- "$HANDLERS/scripted.sh" 2> "$TMP/k1.log" &
w=$!
wait_until 10 '[[ "$(ev_field jk k1 status)" == running ]]' || fail "k1 never ran"
redis_stop
sleep 1.8
kill -KILL "$w"
wait_exit "$w" 5
redis_start
"${W[@]}" --queue jk -- "$HANDLERS/scripted.sh" 2> "$TMP/k2.log" &
w=$!
wait_until 10 '[[ "$(ev_field jk k1 status)" == done ]]' || fail "k1 not done: $(ev_field jk k1 status)"
sleep 2.5
expect_eq "SIGKILL after the handler's exit: the handler ran once" 1 "$(runs k1)"
expect_eq "nothing pending" 0 "$(pending jk)"
kill -TERM "$w"
wait_exit "$w" 10
expect_eq "exit 0" 0 "$RC"

# --- A state dir that cannot be created: one line, exit 78. ---
: > "$TMP/file"
set +e
"${W[@]}" --queue jz --state-dir "$TMP/file/sub" -- true 2> "$TMP/bad.err"
rc=$?
set -e
expect_eq "unusable --state-dir: exit 78" 78 "$rc"
expect_eq "one line" 1 "$(count_lines "$TMP/bad.err")"
expect_contains "it names the folder" "$TMP/file/sub" "$TMP/bad.err"
finish
