# Starts a private redis-server for one e2e test: on a free loopback port, data in $TMP,
# stopped by the EXIT trap. Source after lib.sh. Sets REDIS_PORT and REDIS_URL.
# redis_start [extra redis-server args...]; redis_stop [--crash]; redis_cli ARGS...
command -v redis-server > /dev/null || { echo "FAIL: redis-server not installed" >&2; exit 1; }

REDIS_PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
REDIS_URL="redis://127.0.0.1:$REDIS_PORT"
REDIS_PID=""
REDIS_ARGS=()

redis_cli() { redis-cli -p "$REDIS_PORT" "$@"; }

redis_start() {
  (($# > 0)) && REDIS_ARGS=("$@")
  redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --dir "$TMP" --save '' --daemonize no \
    --logfile "$TMP/redis.log" "${REDIS_ARGS[@]}" < /dev/null >> "$TMP/redis.out" 2>&1 &
  # Its own output file, not the test's pipes: a test killed before its exit trap would
  # otherwise leave CTest waiting on a pipe the server still holds.
  REDIS_PID=$!
  for _ in $(seq 200); do
    [[ "$(redis_cli PING 2>/dev/null)" == PONG ]] && return 0
    sleep 0.025
  done
  echo "FAIL: redis-server did not start on $REDIS_PORT" >&2
  exit 1
}

redis_stop() {
  [[ -n "$REDIS_PID" ]] || return 0
  if [[ "${1:-}" == --crash ]]; then kill -9 "$REDIS_PID"; else kill "$REDIS_PID"; fi
  wait "$REDIS_PID" 2>/dev/null || true
  REDIS_PID=""
}

trap 'redis_stop --crash; rm -rf "$TMP"' EXIT
