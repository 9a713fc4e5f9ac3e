# Chaos: the consumer group is deleted (XGROUP DESTROY) while two workers run 300 events,
# 30 of which fail for good. The workers create it again at the start of the stream, so
# every entry is handed out again: outcomes already recorded are acknowledged only, the
# ones in flight still land, and nothing runs twice (issue 6, item 5).
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_redis.sh"
source "$(dirname "$0")/lib_work.sh"

export RUN_LOG="$TMP/runs.log"
: > "$RUN_LOG"
PIDS=()
trap 'for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null || true; done; redis_stop --crash; rm -rf "$TMP"' EXIT
redis_start

N=300
redis_cli XGROUP CREATE 'evt:{gd}:stream' workers 0 MKSTREAM > /dev/null
python3 - "$N" <<'PY' | redis_cli --pipe > /dev/null
import sys
out = sys.stdout.buffer
for i in range(1, int(sys.argv[1]) + 1):
    mode = '"mode":"permanent"' if i % 10 == 0 else '"mode":"sleep","seconds":0.05'
    ev = ('{"event_type":"t.gd","event_id":"g%d","idempotency_key":"g%d","payload":{%s}}'
          % (i, i, mode)).encode()
    args = [b"XADD", b"evt:{gd}:stream", b"*", b"event", ev]
    out.write(b"*%d\r\n" % len(args))
    for a in args:
        out.write(b"$%d\r\n%s\r\n" % (len(a), a))
PY
for w in w1 w2; do
  evt-work --broker "$REDIS_URL" --queue gd --consumer "$w" --concurrency 4 --heartbeat 500ms \
    --claim-after 5s -- "$HANDLERS/scripted.sh" 2> "$TMP/$w.log" &
  PIDS+=("$!")
done

finished() { count_status gd g "$N" done failed; }
wait_until 30 '(( $(finished) >= 100 ))' || fail "the workers did not get going"
redis_cli XGROUP DESTROY 'evt:{gd}:stream' workers > /dev/null
pass "group deleted after $(finished) events finished"
wait_until 60 '(( $(finished) == N ))' || fail "only $(finished) of $N finished"
wait_until 10 '[[ "$(pending gd)" == 0 ]]' || fail "left pending: $(pending gd)"

twice=$(cut -d' ' -f1 "$RUN_LOG" | sort | uniq -d | wc -l)
expect_eq "every key ran once" "0 $N" "$twice $(cut -d' ' -f1 "$RUN_LOG" | sort -u | wc -l)"
expect_eq "one dead letter per failing event" 30 "$(redis_cli XLEN 'evt:{gd}:dlq')"
expect_eq "done records" $((N - 30)) "$(count_status gd g "$N" done)"
expect_eq "nothing pending" 0 "$(pending gd)"
warned=$(cat "$TMP/w1.log" "$TMP/w2.log" | grep -c 'consumer group was deleted' || true)
((warned >= 1 && warned <= 2)) && pass "the re-creation is logged once per worker ($warned)" \
  || fail "re-creation logged $warned times"
for p in "${PIDS[@]}"; do alive "$p" && pass "worker $p survived" || fail "worker $p exited"; done
kill -TERM "${PIDS[@]}"
set +e; wait "${PIDS[0]}"; rc1=$?; wait "${PIDS[1]}"; rc2=$?; set -e
expect_eq "workers exit 0 on SIGTERM" "0 0" "$rc1 $rc2"
finish
