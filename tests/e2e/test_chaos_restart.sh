# Chaos: redis-server (appendonly, fsync always) is restarted while 2 workers run and a
# producer adds events. Every event Redis acknowledged ends done; no worker exits.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_redis.sh"
source "$(dirname "$0")/lib_work.sh"

N=400
redis_start --appendonly yes --appendfsync always
printf '#!/bin/sh\ncat > /dev/null\n' > "$TMP/ok.sh"
chmod +x "$TMP/ok.sh"

start_worker() {
  evt-work -v --broker "$REDIS_URL" --queue rs --consumer "$1" --concurrency 2 --timeout 5s \
    --claim-after 6s --backoff-base 50ms --heartbeat 500ms -- "$TMP/ok.sh" 2> "$TMP/$1.log" &
}
start_worker w1; w1=$!
start_worker w2; w2=$!

# The producer: one XADD per event; an event counts as acknowledged once Redis returned its
# entry id. A refused XADD is tried again until it is acknowledged.
(
  for i in $(seq 1 "$N"); do
    ev="{\"event_type\":\"t.restart\",\"event_id\":\"r$i\",\"payload\":{}}"
    for _ in $(seq 400); do
      id=$(redis_cli XADD 'evt:{rs}:stream' '*' event "$ev" 2>/dev/null || true)
      if [[ "$id" =~ ^[0-9]+-[0-9]+$ ]]; then echo "r$i" >> "$TMP/acked"; break; fi
      sleep 0.05
    done
    sleep 0.005
  done
) &
producer=$!

sleep 1.5
redis_stop
pass "redis-server stopped mid-run"
sleep 1
redis_start
pass "redis-server started again"
wait "$producer"
nacked=$(count_lines "$TMP/acked")
expect_eq "every event acknowledged in the end" "$N" "$nacked"

all_done() { (( $(count_status rs r "$N" done) == nacked )); }
wait_until 40 all_done || fail "only $(count_status rs r "$N" done) of $nacked acknowledged events done"
missing=0
while read -r id; do
  [[ "$(redis_cli HGET "evt:{rs}:ev:$id" status)" == done ]] || missing=$((missing + 1))
done < "$TMP/acked"
expect_eq "no acknowledged event lost" 0 "$missing"
expect_eq "nothing pending" 0 "$(pending rs)"
for w in "$w1" "$w2"; do alive "$w" && pass "worker $w survived" || fail "worker $w exited"; done
expect_contains "w1 saw the outage" "redis unreachable" "$TMP/w1.log"
expect_contains "w1 saw it back" "redis reachable again" "$TMP/w1.log"
kill -TERM "$w1" "$w2"
set +e; wait "$w1"; rc1=$?; wait "$w2"; rc2=$?; set -e
expect_eq "workers exit 0 on SIGTERM" "0 0" "$rc1 $rc2"
finish
