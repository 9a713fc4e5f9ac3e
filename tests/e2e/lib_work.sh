# Helpers of the Redis worker tests: source after lib.sh and lib_redis.sh.

# xadd QUEUE JSON: adds one event as evt-emit does; prints the entry id (empty on failure).
xadd() { redis_cli XADD "evt:{$1}:stream" '*' event "$2" 2>/dev/null || true; }
# ev_field QUEUE EVENT_ID FIELD: a field of an event's status hash.
ev_field() { redis_cli HGET "evt:{$1}:ev:$2" "$3"; }
# pending QUEUE: entries delivered and not acknowledged (group workers).
pending() { redis_cli XPENDING "evt:{$1}:stream" workers | head -1; }
# wait_until SECONDS COMMAND...: evaluates COMMAND (a shell string, quoted once, so that
# it is expanded anew each time) every 0.1 s; false when time runs out.
wait_until() {
  local deadline=$((SECONDS + $1)); shift
  until eval "$*"; do
    ((SECONDS < deadline)) || return 1
    sleep 0.1
  done
}
# event ID KEY MODE [EXTRA_PAYLOAD_JSON]: one event line for handlers/scripted.sh.
event() {
  printf '{"event_type":"t.work","event_id":"%s","idempotency_key":"%s","payload":{"mode":"%s"%s}}' \
    "$1" "$2" "$3" "${4:+,$4}"
}
# bulk_xadd QUEUE PREFIX COUNT: adds events PREFIX1..PREFIXCOUNT in one pipe (RESP through
# redis-cli --pipe), each with its own idempotency key.
bulk_xadd() {
  python3 - "$1" "$2" "$3" <<'PY' | redis_cli --pipe > /dev/null
import sys
queue, prefix, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
out = sys.stdout.buffer
for i in range(1, count + 1):
    ev = ('{"event_type":"t.chaos","event_id":"%s%d","payload":{}}' % (prefix, i)).encode()
    args = [b"XADD", ("evt:{%s}:stream" % queue).encode(), b"*", b"event", ev]
    out.write(b"*%d\r\n" % len(args))
    for a in args:
        out.write(b"$%d\r\n%s\r\n" % (len(a), a))
PY
}
# count_final QUEUE PREFIX COUNT STATUS...: how many of the events have one of the statuses.
count_status() {
  local queue=$1 prefix=$2 count=$3; shift 3
  redis_cli EVAL "local n = 0
    for i = 1, tonumber(ARGV[1]) do
      local s = redis.call('HGET', 'evt:{' .. ARGV[2] .. '}:ev:' .. ARGV[3] .. i, 'status')
      for j = 4, #ARGV do if s == ARGV[j] then n = n + 1 end end
    end
    return n" 0 "$count" "$queue" "$prefix" "$@"
}
