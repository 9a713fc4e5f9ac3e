# Operations without a broker: --listen answers /healthz and /metrics (promtool accepts
# the text), a bad address is a usage error and a port in use a clear start-up error,
# --metrics-file is written at start and at exit, a readable env file is named once, and
# under systemd's journal (JOURNAL_STREAM) the log lines are JSON with the event's fields.
source "$(dirname "$0")/lib.sh"

event='{"event_type":"t.ops","event_id":"o1","payload":{}}'

# http_get URL OUT: writes the body to OUT, prints the status code.
http_get() {
  python3 - "$1" "$2" <<'PY'
import sys, urllib.request, urllib.error
try:
    r = urllib.request.urlopen(sys.argv[1], timeout=5)
    code, body = r.status, r.read()
except urllib.error.HTTPError as e:
    code, body = e.code, e.read()
open(sys.argv[2], "wb").write(body)
print(code)
PY
}

# --- a bad address: usage error before anything runs
set +e
evt-work --listen 9464 -- /bin/true < /dev/null > /dev/null 2> "$TMP/bad.err"
rc=$?
set -e
expect_eq "--listen without a port: exit 64" 64 "$rc"
expect_contains "--listen without a port: says what it expects" "--listen 9464: expected ADDR:PORT" "$TMP/bad.err"

# --- a worker that waits on its input, serving on a free port
mkfifo "$TMP/in"
( exec sleep 60 ) > "$TMP/in" &
holder=$!
evt-work -v --listen 127.0.0.1:0 --metrics-file "$TMP/evt.prom" --metrics-interval 200ms \
  -- /bin/true < "$TMP/in" > /dev/null 2> "$TMP/serve.err" &
worker=$!
port=""
for _ in $(seq 1 100); do
  # serve.err exists once the worker's shell has opened the fifo (slow on a busy machine)
  port=$(sed -n 's/.*serving \/healthz and \/metrics listen=127\.0\.0\.1:\([0-9]*\).*/\1/p' \
    "$TMP/serve.err" 2> /dev/null || true)
  [[ -n $port ]] && break
  sleep 0.1
done
if [[ -z $port ]]; then
  fail "the worker did not say where it listens"
  sed 's/^/    /' "$TMP/serve.err" >&2
else
  pass "the worker says where it listens (port $port)"
  code=$(http_get "http://127.0.0.1:$port/healthz" "$TMP/healthz")
  [[ $code == 200 || $code == 503 ]] && pass "/healthz answers ($code)" || fail "/healthz answered [$code]"
  jq -e '.status and .loop and .store' "$TMP/healthz" > /dev/null \
    && pass "/healthz body is JSON with status, loop, store" || fail "/healthz body: $(cat "$TMP/healthz")"
  code=$(http_get "http://127.0.0.1:$port/metrics" "$TMP/metrics")
  expect_eq "/metrics answers 200" 200 "$code"
  expect_contains "/metrics is the Prometheus text" "# TYPE evt_worker_events_total counter" "$TMP/metrics"
  if command -v promtool > /dev/null; then
    if promtool check metrics < "$TMP/metrics" > "$TMP/promtool" 2>&1; then
      pass "promtool check metrics accepts /metrics"
    else
      fail "promtool rejects /metrics: $(cat "$TMP/promtool")"
    fi
  else
    echo "skip: promtool not installed (Debian package prometheus)"
  fi

  # --- the same port again: a clear error at start-up
  set +e
  timeout 10 evt-work --listen "127.0.0.1:$port" -- /bin/true < /dev/null > /dev/null 2> "$TMP/busy.err"
  rc=$?
  set -e
  expect_eq "a port in use: exit 78" 78 "$rc"
  expect_contains "a port in use: named" "evt-work: error: --listen 127.0.0.1:$port: cannot listen there: Address already in use" "$TMP/busy.err"
fi
expect_contains "the metrics file is written at start" "# TYPE evt_worker_events_total counter" "$TMP/evt.prom"
expect_eq "the metrics file is mode 0644" 644 "$(stat -c %a "$TMP/evt.prom")"
rm "$TMP/evt.prom"
kill "$holder"
set +e
wait "$worker"
wait "$holder" 2> /dev/null
set -e
[[ -s "$TMP/evt.prom" ]] && pass "the metrics file is written again at exit" || fail "no metrics file after exit"
expect_eq "no temporary file is left" "evt.prom" "$(ls -A "$TMP" | grep "\.prom")"

# --- an env file others can read is named, once
printf 'EVT_REDIS_PASSWORD=secret\n' > "$TMP/work.env"
chmod 0644 "$TMP/work.env"
echo "$event" | EVT_ENV_FILE="$TMP/work.env" evt-work -- /bin/true > /dev/null 2> "$TMP/env.err"
expect_contains "a readable env file: named" "file=$TMP/work.env" "$TMP/env.err"
expect_eq "a readable env file: one warning" 1 "$(grep -c "work.env" "$TMP/env.err")"
chmod 0640 "$TMP/work.env"
echo "$event" | EVT_ENV_FILE="$TMP/work.env" evt-work -- /bin/true > /dev/null 2> "$TMP/env2.err"
expect_not_contains "a private env file: no warning" "work.env" "$TMP/env2.err"

# --- under the journal: JSON lines with the event's fields; text on a plain pipe or file
# (the default, so without lib.sh's EVT_LOG_FORMAT=text)
unset EVT_LOG_FORMAT
: > "$TMP/journal.err"
stream=$(stat -c '%d:%i' "$TMP/journal.err")
echo "$event" | JOURNAL_STREAM="$stream" evt-work -v -- /bin/true > /dev/null 2>> "$TMP/journal.err"
if jq -e -s 'length > 0' "$TMP/journal.err" > /dev/null 2>&1; then
  pass "under the journal every log line is JSON"
else
  fail "under the journal the log is not JSON:"
  sed 's/^/    /' "$TMP/journal.err" >&2
fi
expect_eq "a line about the event carries its fields" "o1 t.ops o1 1" \
  "$(jq -r -s 'map(select(.event_id == "o1"))[0] | "\(.event_id) \(.event_type) \(.correlation_id) \(.attempt)"' "$TMP/journal.err" 2> /dev/null)"
echo "$event" | JOURNAL_STREAM="1:1" evt-work -v -- /bin/true > /dev/null 2> "$TMP/text.err"
expect_contains "JOURNAL_STREAM naming another file: text" "evt-work: info: " "$TMP/text.err"
finish
