# evt-emit --spool on a full disk or an unusable folder: a batch the spool cannot hold is
# not kept at all (a retry does not double it), and with Redis up the spool is not needed:
# the run publishes straight to Redis and warns once.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_redis.sh"

SPOOL="$TMP/spool"
stream_ids() { redis_cli --raw XRANGE 'evt:{default}:stream' - + | grep '^{' | jq -r .event_id | xargs; }
size() { stat -c %s "$1"; }

# full_disk BLOCKS OUT ERR CMD...: runs CMD as if the disk filled up after BLOCKS KiB of any
# file it writes (RLIMIT_FSIZE; SIGXFSZ ignored, so a write fails with EFBIG instead of
# killing it). Its stdout and stderr go through pipes, which the limit does not touch. Sets RC.
full_disk() {
  local blocks=$1 out=$2 err=$3
  shift 3
  set +e
  {
    (
      trap '' XFSZ
      ulimit -f "$blocks"
      exec "$@" 2>&3 3>&-
    ) | cat > "$out"
    echo "${PIPESTATUS[0]}" > "$TMP/rc"
  } 3>&1 | cat > "$err"
  set -e
  RC=$(cat "$TMP/rc")
}

for i in $(seq 1 2); do echo "{\"event_type\":\"spool.early\",\"event_id\":\"early$i\"}"; done > "$TMP/early.ndjson"
for i in $(seq 1 40); do echo "{\"event_type\":\"spool.batch\",\"event_id\":\"b$i\"}"; done > "$TMP/batch.ndjson"

# 1. Redis is down (its port is closed): two events are spooled.
evt-emit --broker "$REDIS_URL" --spool "$SPOOL" --wait-timeout 1s --stdin < "$TMP/early.ndjson" \
  > "$TMP/ids1" 2> "$TMP/err1"
expect_eq "two events spooled" 2 "$(count_lines "$SPOOL/spool.ndjson")"
before=$(size "$SPOOL/spool.ndjson")

# 2. Still down, and the disk fills up in the middle of the next batch: nothing of it is kept.
full_disk 2 "$TMP/ids2" "$TMP/err2" evt-emit --broker "$REDIS_URL" --spool "$SPOOL" \
  --wait-timeout 1s --stdin < "$TMP/batch.ndjson"
((RC != 0)) && pass "a batch the disk cannot hold fails (exit $RC)" || fail "exit 0 on a full disk"
expect_contains "it says nothing was accepted" "0 event(s) were accepted" "$TMP/err2"
expect_eq "no id printed" 0 "$(count_lines "$TMP/ids2")"
expect_eq "the spool file is back at its size" "$before" "$(size "$SPOOL/spool.ndjson")"
expect_eq "the spool holds only the two" "early1 early2" \
  "$(jq -r .event_id "$SPOOL/spool.ndjson" | xargs)"
expect_not_contains "nothing called moved" "moved to" "$TMP/err2"

# 3. The producer retries as told, Redis back: each event arrives once.
redis_start
evt-emit --broker "$REDIS_URL" --spool "$SPOOL" --stdin < "$TMP/batch.ndjson" > "$TMP/ids3" 2> "$TMP/err3"
expect_eq "the retry prints 40 ids" 40 "$(count_lines "$TMP/ids3")"
expect_eq "the spooled two, then the batch once" \
  "early1 early2 $(seq 1 40 | sed 's/^/b/' | xargs)" "$(stream_ids)"
redis_cli DEL 'evt:{default}:stream' > /dev/null

# 4. Redis up, the spool folder unusable: publish straight to Redis, one warning.
if touch /sys/evt-probe 2> /dev/null; then
  rm -f /sys/evt-probe
  unusable="$TMP/ro"
  mkdir -m 0500 "$unusable"
else
  unusable=/sys  # exists, and not even root may create files in it
fi
if touch "$unusable/evt-probe" 2> /dev/null; then
  echo "skip: no folder this user cannot write to"
else
  set +e
  evt-emit --broker "$REDIS_URL" --spool "$unusable" --stdin < "$TMP/batch.ndjson" \
    > "$TMP/ids4" 2> "$TMP/err4"
  rc=$?
  set -e
  expect_eq "unusable spool, redis up: exit 0" 0 "$rc"
  expect_eq "unusable spool, redis up: 40 ids" 40 "$(count_lines "$TMP/ids4")"
  expect_eq "unusable spool, redis up: published" 40 "$(stream_ids | wc -w | tr -d ' ')"
  expect_eq "unusable spool, redis up: one warning line" 1 "$(count_lines "$TMP/err4")"
  expect_contains "the warning names the spool" "spool not usable, publishing straight to redis" "$TMP/err4"
  expect_contains "the warning says why" "$unusable/lock" "$TMP/err4"
  redis_cli DEL 'evt:{default}:stream' > /dev/null

  # Redis down as well: nothing published, and the message names both.
  redis_stop --crash
  set +e
  evt-emit --broker "$REDIS_URL" --spool "$unusable" --wait-timeout 1s --type a.b \
    > "$TMP/ids5" 2> "$TMP/err5"
  rc=$?
  set -e
  expect_eq "unusable spool, redis down: exit 69" 69 "$rc"
  expect_contains "names the spool problem" "the spool cannot be used" "$TMP/err5"
  redis_start
fi

# 5. Redis up, a full disk: the waiting spool is sent, the run's own events go straight on.
redis_stop --crash
evt-emit --broker "$REDIS_URL" --spool "$SPOOL" --wait-timeout 1s --type spool.waiting --id w1 \
  > /dev/null 2>&1
redis_start
redis_cli DEL 'evt:{default}:stream' > /dev/null
full_disk 0 "$TMP/ids6" "$TMP/err6" evt-emit --broker "$REDIS_URL" --spool "$SPOOL" \
  --stdin < "$TMP/early.ndjson"
expect_eq "full disk, redis up: exit 0" 0 "$RC"
expect_eq "full disk, redis up: both ids" "early1 early2" "$(xargs < "$TMP/ids6")"
expect_eq "full disk, redis up: spool first, then the run's own" "w1 early1 early2" "$(stream_ids)"
expect_eq "full disk, redis up: silent" "" "$(cat "$TMP/err6")"
finish
