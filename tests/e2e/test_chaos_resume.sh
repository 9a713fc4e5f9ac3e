# Chaos: a worker restarted under the same --consumer name resumes the entries it was
# running when it stopped at once (its own pending entries first), not after --claim-after
# (here 60 s); with --concurrency 2 each entry goes to one thread only.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_redis.sh"
source "$(dirname "$0")/lib_work.sh"

export RUN_LOG="$TMP/runs.log"
: > "$RUN_LOG"
export EVT_STATE_DIR="$TMP/state"
redis_start
W=(evt-work --broker "$REDIS_URL" --queue rs --consumer fixed-1 --concurrency 2 --timeout 30s
  --kill-after 500ms --backoff-base 100ms --heartbeat 500ms)
runs() { grep -c "^$1 " "$RUN_LOG" || true; }
both_done() {
  [[ "$(ev_field rs "$1" status)" == done && "$(ev_field rs "$2" status)" == done ]]
}

# --- SIGKILL mid-handler. ---
xadd rs "$(event r1 r1 sleep '"seconds":2')" > /dev/null
xadd rs "$(event r2 r2 sleep '"seconds":2')" > /dev/null
"${W[@]}" -- "$HANDLERS/scripted.sh" 2> "$TMP/w1.log" &
w=$!
wait_until 10 '(( $(count_lines "$RUN_LOG") == 2 ))' || fail "r1 and r2 never both ran"
kill -KILL "$w"
wait "$w" 2>/dev/null || true
expect_eq "both left pending" 2 "$(pending rs)"
start=$SECONDS
"${W[@]}" --shutdown-grace 300ms -- "$HANDLERS/scripted.sh" 2> "$TMP/w2.log" &
w=$!
wait_until 12 both_done r1 r2 || fail "not resumed: r1 $(ev_field rs r1 status), r2 $(ev_field rs r2 status)"
echo "resumed and finished in $((SECONDS - start)) s"
expect_eq "r1 ran once more" 2 "$(runs r1)"
expect_eq "r2 ran once more" 2 "$(runs r2)"
expect_eq "nothing pending" 0 "$(pending rs)"

# --- SIGTERM with a short grace: the cancelled attempt is resumed by the next start. ---
xadd rs "$(event r3 r3 sleep '"seconds":30')" > /dev/null
wait_until 10 '[[ "$(ev_field rs r3 status)" == running ]]' || fail "r3 never ran"
kill -TERM "$w"
set +e; wait "$w"; rc=$?; set -e
expect_eq "exit 0" 0 "$rc"
"${W[@]}" --shutdown-grace 300ms -- "$HANDLERS/scripted.sh" 2> "$TMP/w3.log" &
w=$!
wait_until 8 '(( $(runs r3) == 2 ))' || fail "r3 not resumed within 8 s: $(runs r3) run(s)"
kill -TERM "$w"
set +e; wait "$w"; rc=$?; set -e
expect_eq "exit 0" 0 "$rc"
finish
