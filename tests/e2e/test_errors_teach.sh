# Errors that teach: each common mistake gets one message that names it and the fix, with
# the usage exit status (64), or 78 for credentials Redis refuses.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_redis.sh"

# run NAME CMD...: runs CMD with stdin from /dev/null; its stderr in $TMP/NAME.err, its exit
# status in RC.
run() {
  local name=$1
  shift
  set +e
  "$@" < /dev/null > "$TMP/$name.out" 2> "$TMP/$name.err"
  RC=$?
  set -e
}
first_line() { head -1 "$TMP/$1.err"; }

# An unknown option names itself and the nearest one.
run tpye evt-emit --tpye a.b
expect_eq "unknown option: exit 64" 64 "$RC"
expect_eq "unknown option: suggestion" "evt-emit: error: unknown option --tpye (did you mean --type?)" \
  "$(first_line tpye)"
run tmeout evt-work --tmeout=5s -- true
expect_eq "unknown option=value: exit 64" 64 "$RC"
expect_eq "unknown option=value: suggestion" \
  "evt-work: error: unknown option --tmeout (did you mean --timeout?)" "$(first_line tmeout)"
run far evt-emit --type a.b --frobnicate
expect_eq "nothing near: exit 64" 64 "$RC"
expect_eq "nothing near: no suggestion" "evt-emit: error: unknown option --frobnicate" "$(first_line far)"

# A bad value from the environment names the variable.
run env_conc env EVT_CONCURRENCY=abc evt-work -- true
expect_eq "bad EVT_CONCURRENCY: exit 64" 64 "$RC"
expect_eq "bad EVT_CONCURRENCY: named" "evt-work: error: EVT_CONCURRENCY=abc: not a number" \
  "$(first_line env_conc)"
run env_retries env EVT_MAX_RETRIES=5000 evt-work -- true
expect_eq "EVT_MAX_RETRIES out of range: named" \
  "evt-work: error: EVT_MAX_RETRIES=5000: not in range 0 to 1000" "$(first_line env_retries)"
run env_timeout env EVT_TIMEOUT=5parsecs evt-work -- true
expect_eq "bad EVT_TIMEOUT: exit 64" 64 "$RC"
expect_contains "bad EVT_TIMEOUT: named" "evt-work: error: EVT_TIMEOUT=5parsecs: invalid duration" \
  "$TMP/env_timeout.err"
run env_flag env EVT_CONCURRENCY=abc evt-work -c 2 -- true
expect_eq "the flag wins over a bad variable" 0 "$RC"
run flag_conc evt-work --concurrency abc -- true
expect_eq "bad flag value: said as a value" "evt-work: error: --concurrency: abc is not a number" \
  "$(first_line flag_conc)"

# A handler without -- whose options collide with evt-work's.
run nodd evt-work sh -c 'exit 0'
expect_eq "handler without --: exit 64" 64 "$RC"
expect_contains "handler without --: the line to type" \
  "evt-work: put the handler after --: evt-work -- sh -c 'exit 0'" "$TMP/nodd.err"
run nodd2 evt-work --timeout 5s grep -x it
expect_contains "handler without --, after options: the line to type" \
  "evt-work: put the handler after --: evt-work --timeout 5s -- grep -x it" "$TMP/nodd2.err"

# --payload FILE instead of --payload @FILE.
echo '{"a":1}' > "$TMP/payload.json"
run payload evt-emit --type a.b --payload "$TMP/payload.json"
expect_eq "--payload FILE: exit 64" 64 "$RC"
expect_eq "--payload FILE: hint @FILE" \
  "evt-emit: error: --payload $TMP/payload.json: not JSON, but a file of that name exists: to read it, write --payload @$TMP/payload.json" \
  "$(first_line payload)"
run payload_ok evt-emit --type a.b --payload "@$TMP/payload.json"
expect_eq "--payload @FILE works" 1 "$(jq .payload.a "$TMP/payload_ok.out")"

# --dlq into a missing folder: created 0700, as --spool's folder is.
evt-emit --type a.b --id d1 > "$TMP/one.ndjson"
set +e
evt-work --max-retries 0 --dlq "$TMP/new/sub/dlq.ndjson" -- false < "$TMP/one.ndjson" > /dev/null 2>&1
RC=$?
set -e
expect_eq "--dlq in a missing folder: the event fails (123)" 123 "$RC"
expect_eq "--dlq in a missing folder: dead letter written" d1 "$(jq -r .event_id "$TMP/new/sub/dlq.ndjson")"
expect_eq "--dlq folder is 0700" "700 700" "$(stat -c %a "$TMP/new" "$TMP/new/sub" | xargs)"
: > "$TMP/afile"
run dlq_bad evt-work --dlq "$TMP/afile/sub/dlq.ndjson" -- true
expect_eq "--dlq under a file: exit 74" 74 "$RC"
expect_eq "--dlq under a file: the --spool wording" \
  "evt-work: error: --dlq $TMP/afile/sub/dlq.ndjson: $TMP/afile is not a folder" "$(first_line dlq_bad)"
redis_start
run spool_bad evt-emit --broker "$REDIS_URL" --spool "$TMP/afile/sub" --type a.b
expect_contains "--spool under a file: the same wording" \
  "--spool $TMP/afile/sub: $TMP/afile is not a folder" "$TMP/spool_bad.err"

# Redis wants a password: one line that names where it goes; a wrong one: one line too.
redis_cli CONFIG SET requirepass s3cret-pw > /dev/null
run noauth evt-emit --broker "$REDIS_URL" --type a.b
expect_eq "NOAUTH: exit 78" 78 "$RC"
expect_eq "NOAUTH: names the fix" \
  "evt-emit: error: redis $REDIS_URL: the server wants a password (NOAUTH Authentication required); give it with --broker redis://user:pass@host, EVT_REDIS_PASSWORD or --redis-password-file" \
  "$(cat "$TMP/noauth.err")"
set +e
EVT_REDIS_PASSWORD=wrong timeout 20 evt-work --broker "$REDIS_URL" --concurrency 4 -- true \
  < /dev/null > /dev/null 2> "$TMP/wrongpass.err"
RC=$?
set -e
expect_eq "wrong password, worker: exit 78" 78 "$RC"
expect_eq "wrong password, worker: one line" 1 "$(count_lines "$TMP/wrongpass.err")"
expect_contains "wrong password, worker: names the fix" \
  "AUTH: WRONGPASS invalid username-password pair or user is disabled; check the user and password given with --broker redis://user:pass@host, EVT_REDIS_PASSWORD or --redis-password-file" \
  "$TMP/wrongpass.err"
grep -q "EVT_REDIS_PASSWORD=wrong\|:wrong@" "$TMP/wrongpass.err" && fail "password shown" || pass "password not shown"
finish
