# evt-emit --broker redis://...: ids on stdout, entries in the stream, bad lines, delays,
# backpressure, a closed port, and passwords that never show.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_redis.sh"
redis_start

# stream_ids QUEUE: the event_id of every entry of the queue's stream, in stream order.
stream_ids() { redis_cli --raw XRANGE "evt:{$1}:stream" - + | grep '^{' | jq -r .event_id | xargs; }

id=$(evt-emit --broker "$REDIS_URL" --type backup.requested --field server=srv-a)
[[ "$id" =~ ^evt_[0-9A-HJKMNP-TV-Z]{26}$ ]] && pass "one id printed" || fail "printed [$id]"
expect_eq "the event is in the stream" "$id" "$(stream_ids default)"
expect_eq "no status record at emit time (evt-status derives queued)" 0 "$(redis_cli EXISTS "evt:{default}:ev:$id")"
expect_eq "the queue is listed" default "$(redis_cli SMEMBERS evt:queues)"

# --stdin: one id per accepted line, bad lines reported as in stdio mode, exit 65.
{
  echo '{"event_type":"a.one","event_id":"e1"}'
  echo 'not json'
  echo '{"event_type":"a.two","event_id":"e2"}'
  echo '{"event_type":"Bad Type","event_id":"e3"}'
  echo '{"event_type":"a.four","event_id":"e4"}'
} > "$TMP/in.ndjson"
set +e
evt-emit --broker "$REDIS_URL" --queue bulk --stdin < "$TMP/in.ndjson" > "$TMP/ids" 2> "$TMP/err"; rc=$?
set -e
expect_eq "bad lines exit 65" 65 "$rc"
expect_eq "ids of the good lines, in order" "e1 e2 e4" "$(xargs < "$TMP/ids")"
expect_eq "the stream holds the good lines in order" "e1 e2 e4" "$(stream_ids bulk)"
expect_contains "bad JSON named by line" "line 2: invalid JSON" "$TMP/err"
expect_contains "broken rule named by line" "line 4: event_type: must match" "$TMP/err"
expect_contains "summary" "2 of 5 lines rejected" "$TMP/err"

# --delay and --at: into the delayed set, scored by the due time in ms.
before=$(($(date +%s%3N) + 600000))
id=$(evt-emit --broker "$REDIS_URL" --queue later --type a.b --delay 10m)
after=$(($(date +%s%3N) + 600000))
score=$(redis_cli ZRANGE 'evt:{later}:delayed' 0 -1 WITHSCORES | tail -1)
((score >= before && score <= after)) && pass "--delay 10m scores now + 10m" || fail "score $score not in [$before, $after]"
expect_eq "a delayed event is not in the stream yet" 0 "$(redis_cli EXISTS 'evt:{later}:stream')"
EVT_AT=2030-01-01T01:00:00+01:00 evt-emit --broker "$REDIS_URL" --queue at --type a.b > /dev/null
expect_eq "EVT_AT scores the instant in UTC ms" 1893456000000 \
  "$(redis_cli ZRANGE 'evt:{at}:delayed' 0 -1 WITHSCORES | tail -1)"
set +e
evt-emit --broker "$REDIS_URL" --type a.b --delay 1m --at 2030-01-01T00:00:00Z > /dev/null 2> "$TMP/err"; rc=$?
set -e
expect_eq "--delay with --at is a usage error" 64 "$rc"
set +e
evt-emit --type a.b --spool "$TMP/nospool" > /dev/null 2> "$TMP/err"; rc=$?
set -e
expect_eq "--spool without a broker is a usage error" 64 "$rc"

# Backpressure: 3 waiting events; --max-depth 3 refuses, a higher one accepts.
for i in 1 2 3; do evt-emit --broker "$REDIS_URL" --queue full --type a.b > /dev/null; done
set +e
evt-emit --broker "$REDIS_URL" --queue full --type a.b --max-depth 3 --on-full fail > "$TMP/out" 2> "$TMP/err"; rc=$?
set -e
expect_eq "a full queue exits 75" 75 "$rc"
expect_eq "no id printed when refused" 0 "$(count_lines "$TMP/out")"
expect_contains "says why" "queue is full: 3 events waiting or in progress, --max-depth 3" "$TMP/err"
expect_eq "nothing was added" 3 "$(redis_cli XLEN 'evt:{full}:stream')"
evt-emit --broker "$REDIS_URL" --queue full --type a.b --max-depth 4 > /dev/null \
  && pass "room below --max-depth" || fail "--max-depth 4 refused"
set +e
start=$(date +%s%3N)
EVT_ON_FULL=wait evt-emit --broker "$REDIS_URL" --queue full --type a.b --max-depth 4 \
  --wait-timeout 600ms > /dev/null 2> "$TMP/err"; rc=$?
waited=$(($(date +%s%3N) - start))
set -e
expect_eq "--on-full wait gives up with 75" 75 "$rc"
((waited >= 600)) && pass "waited --wait-timeout" || fail "waited only $waited ms"
(sleep 0.5; redis_cli DEL 'evt:{full}:stream' > /dev/null) &
drainer=$!
evt-emit --broker "$REDIS_URL" --queue full --type a.b --max-depth 4 --on-full wait \
  --wait-timeout 10s > "$TMP/out" && pass "--on-full wait goes on once there is room" \
  || fail "--on-full wait did not go on"
wait "$drainer"
expect_eq "the waiting event was published" "$(cat "$TMP/out")" "$(stream_ids full)"

# A closed port: one error line, exit 69, the password redacted.
closed=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
set +e
evt-emit --broker "redis://user:secretpw@127.0.0.1:$closed" --type a.b > "$TMP/out" 2> "$TMP/err"; rc=$?
set -e
expect_eq "connection refused exits 69" 69 "$rc"
expect_eq "one error line" 1 "$(count_lines "$TMP/err")"
expect_contains "says what failed" "evt-emit: error: redis redis://user:***@127.0.0.1:$closed: cannot connect" "$TMP/err"
expect_not_contains "the password is never printed" secretpw "$TMP/err"
expect_eq "no id printed" 0 "$(count_lines "$TMP/out")"

# Passwords from the environment or a file, never from the command line.
redis_cli CONFIG SET requirepass 'pw-from-env' > /dev/null
export REDISCLI_AUTH=pw-from-env
id=$(EVT_REDIS_PASSWORD=pw-from-env evt-emit --broker "$REDIS_URL" --queue auth --type a.b)
expect_eq "EVT_REDIS_PASSWORD authenticates" "$id" "$(stream_ids auth)"
printf 'pw-from-env\n' > "$TMP/pw"
chmod 600 "$TMP/pw"
evt-emit --broker "$REDIS_URL" --queue auth --type a.b --redis-password-file "$TMP/pw" > /dev/null \
  && pass "--redis-password-file authenticates" || fail "--redis-password-file"
set +e
EVT_REDIS_PASSWORD=wrong-pw evt-emit --broker "$REDIS_URL" --queue auth --type a.b > /dev/null 2> "$TMP/err"; rc=$?
set -e
expect_eq "a refused password exits 78" 78 "$rc"
expect_not_contains "the refused password is not printed" wrong-pw "$TMP/err"
finish
