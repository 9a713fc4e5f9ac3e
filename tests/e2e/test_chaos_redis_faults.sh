# Chaos: Redis refuses what evt-work writes. A dead-letter stream that is not a stream (a
# key made into a list) must leave the entry pending, with a log that says so, and the dead
# letter lands once the key is fixed. A Redis over maxmemory (noeviction) refuses writes:
# workers wait (none exits 70), nothing becomes a `poison` dead letter, and once memory is
# freed every event runs exactly once (issue 6, items 1 and 2).
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_redis.sh"
source "$(dirname "$0")/lib_work.sh"

export RUN_LOG="$TMP/runs.log"
: > "$RUN_LOG"
# Workers still running when the test ends (a failed check) are stopped with it.
PIDS=()
trap 'for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null || true; done; redis_stop --crash; rm -rf "$TMP"' EXIT
redis_start
W=(evt-work --broker "$REDIS_URL" --backoff-base 100ms --backoff-max 200ms --heartbeat 500ms)

# runs KEY: how many times the handler started for an idempotency key.
runs() { grep -c "^$1 " "$RUN_LOG" || true; }

# --- The dlq key is a list: exit 65 cannot be recorded; the entry stays pending. ---
redis_cli RPUSH 'evt:{dq}:dlq' "not a stream" > /dev/null
xadd dq "$(event perm1 perm1 permanent)" > /dev/null
"${W[@]}" --queue dq --claim-after 1s -- "$HANDLERS/scripted.sh" 2> "$TMP/dq.log" &
worker=$!
PIDS+=("$worker")
wait_until 15 '[[ $(runs perm1) -ge 1 ]] && grep -q "evt:{dq}:dlq" "$TMP/dq.log"' \
  || fail "the failed commit was not logged"
sleep 0.3
expect_eq "entry still pending" 1 "$(pending dq)"
expect_eq "the list is untouched" 1 "$(redis_cli LLEN 'evt:{dq}:dlq')"
expect_eq "status not failed" running "$(ev_field dq perm1 status)"
expect_contains "the log says it stays pending" "pending" "$TMP/dq.log"
expect_contains "the log names the key" "evt:{dq}:dlq" "$TMP/dq.log"
redis_cli DEL 'evt:{dq}:dlq' > /dev/null
wait_until 20 '[[ "$(redis_cli XLEN "evt:{dq}:dlq")" == 1 && "$(pending dq)" == 0 ]]' \
  || { fail "no dead letter after the key was fixed"; tail -20 "$TMP/dq.log" >&2; }
sleep 1.5  # a second claim period: nothing more may land
expect_eq "the dead letter landed once" 1 "$(redis_cli XLEN 'evt:{dq}:dlq')"
expect_eq "its reason" permanent "$(redis_cli XRANGE 'evt:{dq}:dlq' - + | sed -n 5p)"
expect_eq "status failed" failed "$(ev_field dq perm1 status)"
expect_eq "nothing pending" 0 "$(pending dq)"
alive "$worker" && pass "the worker kept running" || fail "the worker exited"
kill -TERM "$worker"; wait "$worker" || true

# --- Redis over maxmemory with noeviction. ---
N=10
# Queue oom1: a worker started before Redis fills up; events that reach the stream while
# it refuses writes are read (XREADGROUP is allowed) but their leases are refused.
"${W[@]}" --queue oom1 --concurrency 2 --max-retries 1 --claim-after 300ms \
  -- "$HANDLERS/scripted.sh" 2> "$TMP/oom1.log" &
w1=$!
PIDS+=("$w1")
wait_until 10 '[[ "$(redis_cli EXISTS "evt:{oom1}:stream")" == 1 ]]' || fail "w1 did not start"
# Queue oom2: a backlog waiting for a worker that starts while Redis refuses writes.
redis_cli XGROUP CREATE 'evt:{oom2}:stream' workers 0 MKSTREAM > /dev/null
for i in $(seq "$N"); do xadd oom2 "$(event b$i b$i ok)" > /dev/null; done

redis_cli CONFIG SET maxmemory-policy noeviction > /dev/null
head -c 2000000 /dev/zero | tr '\0' x | redis_cli -x SET filler > /dev/null
redis_cli CONFIG SET maxmemory 1mb > /dev/null
[[ "$(redis_cli SET probe 1)" == OOM* ]] && pass "Redis refuses writes" || fail "not out of memory"

"${W[@]}" --queue oom2 --concurrency 2 --max-retries 1 --claim-after 300ms \
  -- "$HANDLERS/scripted.sh" 2> "$TMP/oom2.log" &
w2=$!
PIDS+=("$w2")
# Events that got in before the limit: one script whose first write frees nothing but is
# allowed (PEXPIRE), after which Redis lets it finish (how a producer's last batch lands).
args=()
for i in $(seq "$N"); do args+=("$(event a$i a$i ok)"); done
redis_cli EVAL "redis.call('PEXPIRE', 'filler', 3600000)
  for i = 1, #ARGV do redis.call('XADD', KEYS[1], '*', 'event', ARGV[i]) end
  return #ARGV" 1 'evt:{oom1}:stream' "${args[@]}" > /dev/null
expect_eq "the events are in the stream" "$N" "$(redis_cli XLEN 'evt:{oom1}:stream')"

sleep 4  # many claim periods (300 ms): the old rule made poison of them here
alive "$w1" && pass "w1 waits while Redis refuses writes" || fail "w1 exited"
if alive "$w2"; then pass "w2, started during OOM, waits (no exit 70)"; else
  set +e; wait "$w2"; fail "w2 exited with $?"; set -e; sed 's/^/    /' "$TMP/oom2.log" >&2
fi
expect_eq "no dead letter on oom1" 0 "$(redis_cli XLEN 'evt:{oom1}:dlq')"
expect_eq "no dead letter on oom2" 0 "$(redis_cli XLEN 'evt:{oom2}:dlq')"
expect_eq "no handler ran during OOM" 0 "$(grep -c '^[ab][0-9]' "$RUN_LOG" || true)"
expect_not_contains "nothing called poison" poison "$TMP/oom1.log"
expect_contains "w1 says why it waits" "OOM" "$TMP/oom1.log"

redis_cli CONFIG SET maxmemory 0 > /dev/null
redis_cli DEL filler > /dev/null
all_done() {
  (($(count_status oom1 a "$N" done) == N)) && (($(count_status oom2 b "$N" done) == N))
}
wait_until 30 all_done || fail "not all done: oom1 $(count_status oom1 a "$N" done), oom2 $(count_status oom2 b "$N" done)"
twice=0
for i in $(seq "$N"); do
  [[ $(runs a$i) == 1 ]] || twice=$((twice + 1))
  [[ $(runs b$i) == 1 ]] || twice=$((twice + 1))
done
expect_eq "every event ran exactly once" 0 "$twice"
((twice == 0)) || grep '^[ab][0-9]' "$RUN_LOG" | sort | uniq -c | awk '$1 != 1' >&2
expect_eq "no dead letter on oom1" 0 "$(redis_cli XLEN 'evt:{oom1}:dlq')"
expect_eq "no dead letter on oom2" 0 "$(redis_cli XLEN 'evt:{oom2}:dlq')"
expect_eq "nothing pending" "0 0" "$(pending oom1) $(pending oom2)"
kill -TERM "$w1" "$w2"
set +e; wait "$w1"; rc1=$?; wait "$w2"; rc2=$?; set -e
expect_eq "workers exit 0 on SIGTERM" "0 0" "$rc1 $rc2"
finish
