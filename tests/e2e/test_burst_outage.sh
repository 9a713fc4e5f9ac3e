#!/usr/bin/env bash
# evt-work --burst when the broker is unreachable, as cron runs it: the run ends after
# --burst-store-wait with exit 69 and one line that says why (a burst that waited for ever
# would hide the failure from cron and pile up behind the next run); an outcome it could
# not commit stays in the journal, and the next run commits it without running the
# handler again.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_redis.sh"
source "$(dirname "$0")/lib_work.sh"
export XDG_STATE_HOME="$TMP/xdg" EVT_JITTER=0

# 1. Nothing listens on the port: exit 69 after about --burst-store-wait.
free=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
start=$SECONDS
rc=0
timeout 60 evt-work --broker "redis://127.0.0.1:$free" --burst --burst-store-wait 1s \
  -- /bin/true 2> "$TMP/down.err" || rc=$?
expect_eq "unreachable from the start: exit 69" 69 "$rc"
((SECONDS - start < 20)) && pass "it gave up after about 1s ($((SECONDS - start)) s)" ||
  fail "it took $((SECONDS - start)) s"
expect_contains "the last line says why" "unreachable for longer than --burst-store-wait (1s)" \
  "$TMP/down.err"
expect_eq "and it is one line" 1 "$(grep -c 'burst-store-wait' "$TMP/down.err")"

# 2. The server goes away while a handler runs: its outcome is journaled, the run ends
#    with 69; once the server is back, the next run commits it, and the handler ran once.
redis_start --appendonly yes
evt-emit --broker "$REDIS_URL" -q out --type t.out --id o1 > /dev/null
cat > "$TMP/handler.sh" <<SH
#!/bin/sh
echo run >> "$TMP/runs"
i=0
while [ ! -e "$TMP/go" ] && [ \$i -lt 300 ]; do sleep 0.05; i=\$((i + 1)); done
SH
chmod +x "$TMP/handler.sh"
rc=0
timeout 60 evt-work --broker "$REDIS_URL" -q out --burst --burst-store-wait 1s \
  --shutdown-grace 1s -- "$TMP/handler.sh" 2> "$TMP/mid.err" &
worker=$!
wait_until 20 '[[ -s $TMP/runs ]]' || fail "the handler did not start"
redis_stop
touch "$TMP/go"
wait "$worker" || rc=$?
expect_eq "the server gone mid-run: exit 69" 69 "$rc"
expect_contains "it says the outcome is in the journal" "1 outcome(s) left in the journal" \
  "$TMP/mid.err"
redis_start
rc=0
timeout 60 evt-work --broker "$REDIS_URL" -q out --burst -- "$TMP/handler.sh" \
  2> "$TMP/next.err" || rc=$?
expect_eq "the next run: exit 0" 0 "$rc"
expect_eq "the journaled outcome is committed" done "$(ev_field out o1 status)"
expect_eq "the handler ran once" 1 "$(count_lines "$TMP/runs")"
finish
