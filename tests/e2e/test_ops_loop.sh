# Operations fed by the real worker loop (not by calls made in a unit test): /healthz turns
# 503 when redis-server stops and 200 when it is back; /metrics counts what the loop did;
# sd_notify sends READY=1 once consuming, WATCHDOG=1 while the loop is alive, STOPPING=1 on
# SIGTERM, read from a NOTIFY_SOCKET this test creates.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_redis.sh"
source "$(dirname "$0")/lib_work.sh"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
# http_code URL: the status code of a GET (000 when nothing answers).
http_code() { curl -s -o /dev/null -m 3 -w '%{http_code}' "$1" || true; }

redis_start
port=$(free_port)
sock="$TMP/notify.sock"
# The listener of sd_notify datagrams: one line per message, until killed.
python3 - "$sock" > "$TMP/notify.log" <<'PY' &
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
while True:
    msg = s.recv(4096).decode()
    print(msg.replace("\n", " "), flush=True)
PY
listener=$!
wait_until 5 "[[ -S '$sock' ]]" || fail "notify socket not created"

NOTIFY_SOCKET="$sock" WATCHDOG_USEC=1000000 evt-work --broker "$REDIS_URL" --queue ops \
  --state-dir "$TMP/state" --listen "127.0.0.1:$port" -- /bin/true 2> "$TMP/work.err" &
worker=$!
wait_until 10 "grep -q 'READY=1' '$TMP/notify.log'" && pass "READY=1 sent once consuming" ||
  fail "no READY=1: $(cat "$TMP/notify.log")"
wait_until 10 "[[ \$(http_code http://127.0.0.1:$port/healthz) == 200 ]]" &&
  pass "/healthz 200 while the loop runs and Redis answers" || fail "/healthz not 200"

for i in 1 2 3; do xadd ops "$(event "o$i" "k$i" ok)" > /dev/null; done
wait_until 10 "curl -s -m 3 http://127.0.0.1:$port/metrics | grep -q 'evt_worker_events_total{event_type=\"t.work\",outcome=\"done\"} 3'" &&
  pass "/metrics counts the 3 events the loop finished" ||
  fail "/metrics: $(curl -s -m 3 "http://127.0.0.1:$port/metrics" | grep events_total)"

wait_until 10 "[[ \$(grep -c 'WATCHDOG=1' '$TMP/notify.log') -ge 3 ]]" &&
  pass "WATCHDOG=1 sent repeatedly (every half of WATCHDOG_USEC)" ||
  fail "watchdog pings: $(grep -c 'WATCHDOG=1' "$TMP/notify.log")"

redis_stop
wait_until 20 "[[ \$(http_code http://127.0.0.1:$port/healthz) == 503 ]]" &&
  pass "/healthz 503 while redis-server is down" || fail "/healthz not 503 with Redis down"
redis_start
wait_until 30 "[[ \$(http_code http://127.0.0.1:$port/healthz) == 200 ]]" &&
  pass "/healthz 200 again once Redis is back" || fail "/healthz not back to 200"

kill -TERM "$worker"
wait_until 20 "! alive $worker" || fail "evt-work did not stop on SIGTERM"
wait "$worker" 2>/dev/null || true
wait_until 5 "grep -q 'STOPPING=1' '$TMP/notify.log'" && pass "STOPPING=1 sent on SIGTERM" ||
  fail "no STOPPING=1: $(tail -3 "$TMP/notify.log")"
kill "$listener" 2>/dev/null || true
wait "$listener" 2>/dev/null || true
finish
