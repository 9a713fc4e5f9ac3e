# evt-work on Redis, as a user runs it: outcomes, retries, duplicates, dead letters, poison
# entries, a broker that is down at start, and SIGTERM.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_redis.sh"
source "$(dirname "$0")/lib_work.sh"

export RUN_LOG="$TMP/runs.log"
: > "$RUN_LOG"
mkdir -p "$TMP/state"
W=(evt-work --broker "$REDIS_URL" --backoff-base 100ms --backoff-max 200ms --heartbeat 500ms)

# --- Redis down at start: the worker waits for it instead of exiting 69. ---
"${W[@]}" -v --queue boot -- "$HANDLERS/scripted.sh" > "$TMP/boot.out" 2> "$TMP/boot.log" &
boot=$!
sleep 1
if alive "$boot"; then pass "still running while Redis refuses connections"; else fail "exited early"; fi
expect_contains "says Redis is unreachable" "redis unreachable" "$TMP/boot.log"
redis_start
xadd boot "$(event b1 b1 ok)" > /dev/null
wait_until 15 '[[ "$(ev_field boot b1 status)" == done ]]' && pass "processed once Redis came up" \
  || fail "b1 not done: $(ev_field boot b1 status)"
expect_contains "says Redis is back" "redis reachable again" "$TMP/boot.log"
expect_eq "unreachable said once" 1 "$(grep -c 'redis unreachable' "$TMP/boot.log")"
kill -TERM "$boot"
set +e; wait "$boot"; rc=$?; set -e
expect_eq "exit 0 after SIGTERM" 0 "$rc"
expect_eq "nothing on stdout" "" "$(cat "$TMP/boot.out")"

# --- Outcomes: ok, transient then ok, permanent, and a duplicate key. ---
xadd main "$(event ok1 ok1 ok)" > /dev/null
xadd main "$(event tr1 tr1 transient_once "\"state_dir\":\"$TMP/state\"")" > /dev/null
xadd main "$(event perm1 perm1 permanent)" > /dev/null
xadd main "$(event dupA same-key ok)" > /dev/null
xadd main "$(event dupB same-key ok)" > /dev/null
xadd main "not an event" > /dev/null
"${W[@]}" --queue main --concurrency 2 --max-retries 3 -- "$HANDLERS/scripted.sh" 2> "$TMP/main.log" &
worker=$!
final() {
  local s
  for id in ok1 tr1 perm1 dupA dupB; do
    s=$(ev_field main "$id" status)
    [[ "$s" == done || "$s" == failed || "$s" == duplicate ]] || return 1
  done
}
wait_until 20 final || fail "not every event finished"
expect_eq "ok: done" "done 1" "$(ev_field main ok1 status) $(ev_field main ok1 attempts)"
expect_eq "transient then ok: done on attempt 2" "done 2" \
  "$(ev_field main tr1 status) $(ev_field main tr1 attempts)"
expect_eq "permanent: failed" failed "$(ev_field main perm1 status)"
expect_eq "duplicate key: one done, one duplicate" "done duplicate" \
  "$(printf '%s\n' "$(ev_field main dupA status)" "$(ev_field main dupB status)" | sort | xargs)"
expect_eq "duplicate key: the handler ran once" 1 "$(grep -c '^same-key ' "$RUN_LOG")"
expect_eq "the done record" done "$(redis_cli GET 'evt:{main}:idem:same-key')"
redis_cli XRANGE 'evt:{main}:dlq' - + > "$TMP/dlq.txt"
expect_eq "two dead letters" 2 "$(redis_cli XLEN 'evt:{main}:dlq')"
expect_contains "permanent dead letter" '"event_id":"perm1"' "$TMP/dlq.txt"
expect_contains "its reason" permanent "$TMP/dlq.txt"
expect_contains "the invalid entry kept whole" "not an event" "$TMP/dlq.txt"
expect_contains "its reason" invalid "$TMP/dlq.txt"
expect_eq "nothing pending" 0 "$(pending main)"
expect_contains "log carries the event fields" \
  "attempt failed event_id=tr1 idempotency_key=tr1 event_type=t.work" "$TMP/main.log"
expect_contains "heartbeat" "$(hostname)" <(redis_cli HGET "evt:{main}:worker:$(hostname):$worker" host)
# metrics FIELD: summed over the minute hashes (the run may straddle a minute).
metric() {
  local k v n=0
  for k in $(redis_cli --raw KEYS 'evt:{main}:m:*'); do
    v=$(redis_cli HGET "$k" "$1"); n=$((n + ${v:-0}))
  done
  echo "$n"
}
expect_eq "metrics: done count" 3 "$(metric 't.work|outcome:done')"
expect_eq "metrics: one retry" 1 "$(metric 't.work|outcome:retry')"
expect_eq "metrics: one duplicate" 1 "$(metric 't.work|outcome:duplicate')"

# --- SIGTERM: in-flight handlers finish and commit; the rest stays queued, not lost. ---
for i in 1 2 3 4 5 6; do
  xadd main "$(event slow$i slow$i sleep '"seconds":1')" > /dev/null
done
sleep 0.5
kill -TERM "$worker"
set +e; wait "$worker"; rc=$?; set -e
expect_eq "exit 0 after SIGTERM" 0 "$rc"
ndone=0
for i in 1 2 3 4 5 6; do [[ "$(ev_field main slow$i status)" == done ]] && ndone=$((ndone + 1)); done
expect_eq "the two running events finished" 2 "$ndone"
expect_eq "nothing left pending" 0 "$(pending main)"
expect_eq "worker left the heartbeat set" "" "$(redis_cli ZSCORE 'evt:{main}:workers' "$(hostname):$worker")"
"${W[@]}" --queue main --concurrency 4 -- "$HANDLERS/scripted.sh" 2> "$TMP/main2.log" &
worker=$!
all_slow_done() {
  for i in 1 2 3 4 5 6; do [[ "$(ev_field main slow$i status)" == done ]] || return 1; done
}
wait_until 15 all_slow_done && pass "the next worker finished the rest" || fail "slow events lost"
kill -TERM "$worker"; wait "$worker" || true

# --- Grace over: the running handler is stopped; its entry stays pending for a claim. ---
xadd grace "$(event long1 long1 sleep '"seconds":30')" > /dev/null
"${W[@]}" --queue grace --shutdown-grace 300ms --kill-after 200ms -- "$HANDLERS/scripted.sh" \
  2> "$TMP/grace.log" &
worker=$!
wait_until 10 '[[ "$(ev_field grace long1 status)" == running ]]' || fail "long1 never ran"
start=$(date +%s%N)
kill -TERM "$worker"
set +e; wait "$worker"; rc=$?; set -e
elapsed_ms=$(( ($(date +%s%N) - start) / 1000000 ))
expect_eq "exit 0" 0 "$rc"
((elapsed_ms < 5000)) && pass "grace enforced (${elapsed_ms} ms)" || fail "stop took ${elapsed_ms} ms"
expect_eq "entry left pending" 1 "$(pending grace)"
expect_eq "lease released" 0 "$(redis_cli EXISTS 'evt:{grace}:idem:long1')"

# --- Poison: an entry whose handler started max_retries + 1 times without an outcome (its
# workers died) goes to the DLQ unrun. Only handler starts count (evt:{q}:run:<id>), not
# deliveries: a lease Redis refused is no start. ---
redis_cli XGROUP CREATE 'evt:{poison}:stream' workers 0 MKSTREAM > /dev/null
id=$(xadd poison "$(event p1 p1 ok)")
redis_cli XREADGROUP GROUP workers ghost COUNT 1 STREAMS 'evt:{poison}:stream' '>' > /dev/null
redis_cli SET "evt:{poison}:run:$id" 2 > /dev/null  # the ghost's two starts
"${W[@]}" --queue poison --max-retries 1 --claim-after 200ms -- "$HANDLERS/scripted.sh" \
  2> "$TMP/poison.log" &
worker=$!
wait_until 10 '[[ "$(redis_cli XLEN "evt:{poison}:dlq")" == 1 ]]' || { fail "no dead letter"; cat "$TMP/poison.log" >&2; }
expect_contains "reason poison" poison <(redis_cli XRANGE 'evt:{poison}:dlq' - +)
expect_eq "status failed" failed "$(ev_field poison p1 status)"
expect_eq "handler never ran" 0 "$(grep -c '^p1 ' "$RUN_LOG" || true)"
expect_eq "nothing pending" 0 "$(pending poison)"
kill -TERM "$worker"; wait "$worker" || true

# --- Usage: --dlq belongs to the stdio transport. ---
set +e
evt-work --broker "$REDIS_URL" --dlq "$TMP/x" -- true 2> "$TMP/usage.err"; rc=$?
set -e
expect_eq "--dlq with Redis: exit 64" 64 "$rc"
finish
