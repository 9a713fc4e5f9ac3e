# The co-process (--pipe) and HTTP (--http) handlers end to end on the stdio transport:
# the shipped example co-processes in Python and shell, and a local HTTP endpoint.
source "$(dirname "$0")/lib.sh"

EXAMPLES="$SOURCE_DIR/packaging/examples"
{
  evt-emit --type server.backup.requested --id ok1 --field server=srv-a
  evt-emit --type server.backup.requested --id ok2 --field server=srv-b
  evt-emit --type server.backup.requested --id bad1
  evt-emit --type server.backup.requested --id busy1 --field server=srv-c --field simulate=busy
} > "$TMP/events.ndjson"

# pipe_results NAME COMMAND...: runs the events through evt-work --pipe -- COMMAND.
pipe_run() {
  local name=$1; shift
  set +e
  timeout 60 evt-work -v --pipe --concurrency 2 --max-retries 1 --backoff-base 50ms \
    --backoff-max 100ms --timeout 20s --dlq "$TMP/$name.dlq" -- "$@" \
    < "$TMP/events.ndjson" > "$TMP/$name.results" 2> "$TMP/$name.log"
  rc=$?
  set -e
  R="$TMP/$name.results"
  expect_eq "$name: dead letters, so exit 123" 123 "$rc"
  expect_eq "$name: one result per event" 4 "$(count_lines "$R")"
  expect_eq "$name: ok1 done" done "$(result_field "$R" ok1 status)"
  expect_eq "$name: ok2 done" done "$(result_field "$R" ok2 status)"
  expect_eq "$name: bad1 failed" failed "$(result_field "$R" bad1 status)"
  expect_eq "$name: bad1 permanent" permanent "$(result_field "$R" bad1 reason)"
  expect_eq "$name: bad1 category" data "$(result_field "$R" bad1 category)"
  expect_eq "$name: bad1 error from the reply" "payload.server missing" \
    "$(result_field "$R" bad1 error)"
  expect_eq "$name: busy1 retried, then exhausted" retries_exhausted \
    "$(result_field "$R" busy1 reason)"
  expect_eq "$name: busy1 attempts" 2 "$(result_field "$R" busy1 attempts)"
  expect_eq "$name: busy1 category" dependency "$(result_field "$R" busy1 category)"
  expect_contains "$name: co-process stderr is logged with the event" "backed up srv-a" \
    "$TMP/$name.log"
  expect_eq "$name: two dead letters" 2 "$(count_lines "$TMP/$name.dlq")"
}

pipe_run python python3 "$EXAMPLES/pipe_handler.py"
pipe_run shell sh "$EXAMPLES/pipe_handler.sh"

# One long-lived process serves many events: 200 events, concurrency 1, one process.
for i in $(seq 1 200); do
  printf '{"event_type":"t.many","event_id":"m%d","payload":{"server":"s%d"}}\n' "$i" "$i"
done > "$TMP/many.ndjson"
set +e
timeout 60 evt-work -v --pipe -- python3 "$EXAMPLES/pipe_handler.py" < "$TMP/many.ndjson" \
  > "$TMP/many.results" 2> "$TMP/many.log"
rc=$?
set -e
expect_eq "pipe: 200 events, exit 0" 0 "$rc"
expect_eq "pipe: 200 done" 200 "$(jq -r 'select(.status == "done") | .event_id' "$TMP/many.results" | grep -c .)"
expect_contains "pipe: one warm process served all 200" "(event 200 of this process)" "$TMP/many.log"
expect_eq "pipe: no co-process left" "" "$(pgrep -f "$EXAMPLES/pipe_handler.py" || true)"

# A co-process that hangs: the event times out and the process is replaced.
set +e
evt-emit --type t.hang --id hang1 | timeout 30 evt-work --pipe --timeout 300ms --kill-after 100ms \
  --max-retries 0 -- sh -c 'read -r line; sleep 100' > "$TMP/hang.results" 2> "$TMP/hang.log"
rc=$?
set -e
expect_eq "hang: a dead letter, so exit 123" 123 "$rc"
expect_eq "hang: timeout category" timeout "$(result_field "$TMP/hang.results" hang1 category)"

# --- HTTP -----------------------------------------------------------------------------
python3 "$HANDLERS/http_server.py" "$TMP/port" "$TMP/requests.ndjson" &
server_pid=$!
trap 'kill $server_pid 2>/dev/null || true; rm -rf "$TMP"' EXIT
for _ in $(seq 1 100); do [[ -s $TMP/port ]] && break; sleep 0.1; done
port=$(cat "$TMP/port")
URL="http://127.0.0.1:$port/hook"
printf 'Authorization: Bearer t0ken-from-file\n# a comment\nX-Team: backups\n' > "$TMP/headers"
printf 's3cret\n' > "$TMP/secret"
chmod 600 "$TMP/headers" "$TMP/secret"
{
  evt-emit --type order.created --id h_ok --key order-1 --field mode=ok
  evt-emit --type order.created --id h_fail --field mode=fail
  evt-emit --type order.created --id h_auth --field mode=auth
  evt-emit --type order.created --id h_flaky --field mode=flaky
} > "$TMP/http-events.ndjson"
set +e
timeout 60 evt-work --http "$URL" --header-file "$TMP/headers" --header 'X-Extra: 1' \
  --hmac-secret-file "$TMP/secret" --max-retries 2 --backoff-base 50ms --backoff-max 100ms \
  --timeout 5s --dlq "$TMP/http.dlq" < "$TMP/http-events.ndjson" > "$TMP/http.results" \
  2> "$TMP/http.log"
rc=$?
set -e
R="$TMP/http.results"
expect_eq "http: dead letters, so exit 123" 123 "$rc"
expect_eq "http: 2xx done" done "$(result_field "$R" h_ok status)"
expect_eq "http: 422 permanent data" "permanent data" \
  "$(jq -r 'select(.event_id=="h_fail") | "\(.reason) \(.category)"' "$R")"
expect_eq "http: the body is the error" "HTTP 422: order 42 is unknown" "$(result_field "$R" h_fail error)"
expect_eq "http: 401 permanent auth" "permanent auth" \
  "$(jq -r 'select(.event_id=="h_auth") | "\(.reason) \(.category)"' "$R")"
expect_eq "http: 503 then 200" "done 2" \
  "$(jq -r 'select(.event_id=="h_flaky") | "\(.status) \(.attempts)"' "$R")"
REQ="$TMP/requests.ndjson"
expect_eq "http: requests seen" 5 "$(count_lines "$REQ")"
first=$(jq -c 'select(.headers["X-Evt-Event-Id"] == "h_ok")' "$REQ")
expect_eq "http: Idempotency-Key" order-1 "$(jq -r '.headers["Idempotency-Key"]' <<<"$first")"
expect_eq "http: X-Evt-Event-Type" order.created "$(jq -r '.headers["X-Evt-Event-Type"]' <<<"$first")"
expect_eq "http: X-Evt-Attempt" 1 "$(jq -r '.headers["X-Evt-Attempt"]' <<<"$first")"
expect_eq "http: Content-Type" application/json "$(jq -r '.headers["Content-Type"]' <<<"$first")"
expect_eq "http: header from the file" "Bearer t0ken-from-file" \
  "$(jq -r '.headers["Authorization"]' <<<"$first")"
expect_eq "http: header from --header" 1 "$(jq -r '.headers["X-Extra"]' <<<"$first")"
expect_eq "http: retry carries attempt 2" 2 \
  "$(jq -r 'select(.headers["X-Evt-Event-Id"] == "h_flaky") | .headers["X-Evt-Attempt"]' "$REQ" | tail -1)"
# The signature, computed here independently over the bytes the server received.
sig_ok=$(python3 -c '
import hashlib, hmac, json, sys
bad = 0
for line in open(sys.argv[1]):
    r = json.loads(line)
    want = "sha256=" + hmac.new(b"s3cret", r["body"].encode(), hashlib.sha256).hexdigest()
    bad += r["headers"].get("X-Evt-Signature") != want
print(bad)' "$REQ")
expect_eq "http: every X-Evt-Signature is HMAC-SHA256 of the body" 0 "$sig_ok"
expect_eq "http: one connection reused for every request" 1 \
  "$(jq -r '.client_port' "$REQ" | sort -u | grep -c .)"
expect_not_contains "http: the token is never logged" "t0ken" "$TMP/http.log"

# A slow endpoint: --timeout per request.
set +e
evt-emit --type order.created --id h_slow --field mode=slow |
  timeout 30 evt-work --http "$URL" --timeout 500ms --max-retries 0 > "$TMP/slow.results" 2>/dev/null
set -e
expect_eq "http: slow reply is a timeout" timeout "$(result_field "$TMP/slow.results" h_slow category)"

# Nothing listening: a network failure.
set +e
evt-emit --type order.created --id h_down |
  timeout 30 evt-work --http "http://127.0.0.1:1/hook" --max-retries 0 > "$TMP/down.results" 2>/dev/null
set -e
expect_eq "http: connection refused is network" network "$(result_field "$TMP/down.results" h_down category)"

# Contradictory options are usage errors; a missing co-process command is a config error.
code() { set +e; "$@" < /dev/null > /dev/null 2> "$TMP/err"; echo $?; set -e; }
expect_eq "--http with a command: 64" 64 "$(code evt-work --http "$URL" -- /bin/true)"
expect_eq "--http with --pipe: 64" 64 "$(code evt-work --http "$URL" --pipe)"
expect_eq "--header without --http: 64" 64 "$(code evt-work --header 'X-A: 1' -- /bin/true)"
expect_eq "--http with a bad URL: 78" 78 "$(code evt-work --http 'ftp://x/')"
expect_eq "--hmac-secret-file missing: 78" 78 \
  "$(code evt-work --http "$URL" --hmac-secret-file "$TMP/nonexistent")"
expect_eq "--pipe without a command: 78" 78 "$(code evt-work --pipe)"
expect_contains "error names the problem" "--pipe" "$TMP/err"
expect_eq "--pipe with a missing command: 78" 78 "$(code evt-work --pipe -- /nonexistent/h)"

finish
