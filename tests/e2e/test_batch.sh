# Batches (--batch): a quick co-process handler on Redis gets many entries per read, and
# every event is still done exactly once; --batch 1 reads one entry at a time. The batch
# itself is timed by nothing here (bench/bullmq.sh measures the rate).
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_redis.sh"
source "$(dirname "$0")/lib_work.sh"

redis_start
N=3000
# A co-process that answers ok at once and logs each event it saw.
cat > "$TMP/noop.py" <<'PY'
import json, sys
log = open(sys.argv[1], "a")
for line in sys.stdin:
    log.write(json.loads(line)["event_id"] + "\n")
    log.flush()
    sys.stdout.write('{"status":"ok"}\n')
    sys.stdout.flush()
PY
reads() { redis_cli INFO commandstats | sed -n 's/^cmdstat_xreadgroup:calls=\([0-9]*\),.*/\1/p'; }

# run QUEUE ARGS...: N events in QUEUE, then evt-work --burst ARGS on them.
run() {
  local queue=$1
  shift
  bulk_xadd "$queue" e "$N"
  redis_cli CONFIG RESETSTAT > /dev/null
  : > "$TMP/$queue.log"
  set +e
  evt-work --broker "$REDIS_URL" --queue "$queue" --state-dir "$TMP/state" --burst \
    --log-level warn "$@" --pipe -c 2 -- python3 "$TMP/noop.py" "$TMP/$queue.log" \
    2> "$TMP/$queue.err"
  RC=$?
  set -e
}

run batched
expect_eq "batched: exit 0" 0 "$RC"
expect_eq "batched: every event done" "$N" "$(count_status batched e "$N" done)"
expect_eq "batched: each ran once" "$N $N" \
  "$(sort -u "$TMP/batched.log" | wc -l) $(count_lines "$TMP/batched.log")"
expect_eq "batched: nothing pending" 0 "$(pending batched)"
expect_eq "batched: nothing said" "" "$(cat "$TMP/batched.err")"
# Fewer reads than events: entries came in batches. How many fewer depends on how quick
# the handler looks (the batch size adapts to about 10 ms of handler time), so a loaded
# machine reads more often; --batch 1 below reads at least once per event.
r=$(reads)
((r < N)) && pass "batched: $r reads for $N events" || fail "batched: $r reads for $N events"

run single --batch 1
expect_eq "--batch 1: exit 0" 0 "$RC"
expect_eq "--batch 1: every event done" "$N" "$(count_status single e "$N" done)"
expect_eq "--batch 1: each ran once" "$N $N" \
  "$(sort -u "$TMP/single.log" | wc -l) $(count_lines "$TMP/single.log")"
r=$(reads)
((r >= N)) && pass "--batch 1: $r reads for $N events" || fail "--batch 1: $r reads for $N events"

# A value out of range is a usage error that names the option.
set +e
evt-work --broker "$REDIS_URL" --queue x --batch 0 -- /bin/true 2> "$TMP/usage.err"
RC=$?
set -e
expect_eq "--batch 0: exit 64" 64 "$RC"
expect_contains "--batch 0: names the option" "--batch" "$TMP/usage.err"

finish
