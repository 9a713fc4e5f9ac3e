# Chaos: the idempotency lease of a finished handler lapses during a Redis outage (--timeout
# 4s --kill-after 500ms: a 5.5 s lease; an 8 s outage) while its outcome waits to be
# committed. When Redis is back, the waiting commit goes first: a second event with the same
# key, queued meanwhile, is a duplicate and never runs. While held, leases are renewed.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_redis.sh"
source "$(dirname "$0")/lib_work.sh"

export RUN_LOG="$TMP/runs.log"
: > "$RUN_LOG"
export EVT_STATE_DIR="$TMP/state"
redis_start --appendonly yes --appendfsync always
evt-work --broker "$REDIS_URL" --queue ls --concurrency 2 --timeout 4s --kill-after 500ms \
  --claim-after 60s --backoff-base 100ms --heartbeat 500ms -- "$HANDLERS/scripted.sh" \
  2> "$TMP/w.log" &
w=$!

# --- Renewal: a 5.5 s lease held by a 2.8 s handler stays well above what is left of it
#     (the 1.2 s margin to the timeout keeps a loaded machine from timing the handler out). ---
xadd ls "$(event r1 renew sleep '"seconds":2.8')" > /dev/null
wait_until 10 '[[ "$(ev_field ls r1 status)" == running ]]' || fail "r1 never ran"
sleep 2.2
pttl=$(redis_cli PTTL 'evt:{ls}:idem:renew')
echo "lease pttl after 2.2 s: $pttl ms"
((pttl > 4000)) && pass "the lease is renewed while the handler runs ($pttl ms left)" \
  || fail "lease not renewed: $pttl ms left after 2.2 s of 5.5 s"
wait_until 10 '[[ "$(ev_field ls r1 status)" == done ]]' || fail "r1 not done"

# --- The outage. ---
xadd ls "$(event a1 K sleep '"seconds":1')" > /dev/null
wait_until 10 '[[ "$(ev_field ls a1 status)" == running ]]' || fail "a1 never ran"
redis_stop
pass "redis-server stopped while a1 runs"
sleep 8
redis_start
pass "redis-server back after 8 s"
xadd ls "$(event b1 K ok)" > /dev/null
fin() {
  [[ "$(ev_field ls a1 status)" == done ]] || return 1
  local s; s=$(ev_field ls b1 status)
  [[ "$s" == done || "$s" == duplicate ]]
}
wait_until 30 fin || fail "a1/b1 not finished: $(ev_field ls a1 status) $(ev_field ls b1 status)"
expect_eq "key K ran once" 1 "$(grep -c '^K ' "$RUN_LOG" || true)"
expect_eq "b1 is a duplicate" duplicate "$(ev_field ls b1 status)"
expect_eq "nothing pending" 0 "$(pending ls)"
alive "$w" && pass "worker survived" || fail "worker exited"
kill -TERM "$w"
set +e; wait "$w"; rc=$?; set -e
expect_eq "exit 0" 0 "$rc"
finish
