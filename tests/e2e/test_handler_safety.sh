# Handler safety: timeouts kill the whole process group, a handler that daemonizes leaves
# nothing behind, payload text never reaches a shell, a handler writing 100 MB neither
# blocks nor grows evt-work's memory nor floods the log, no credential reaches a handler.
source "$(dirname "$0")/lib.sh"

# Timeout with a grandchild: both must be gone afterwards.
cat > "$TMP/forker.sh" <<HANDLER
#!/bin/sh
sleep 300 &
echo \$! > "$TMP/grandchild.pid"
sleep 300
HANDLER
chmod +x "$TMP/forker.sh"
start=$(date +%s%N)
set +e
evt-emit --type t.slow --id slow1 \
  | evt-work --timeout 300ms --kill-after 200ms --max-retries 0 --dlq "$TMP/dlq.ndjson" \
      -- "$TMP/forker.sh" > "$TMP/r1" 2> "$TMP/log1"
rc=$?
set -e
expect_eq "timeout: a dead letter, so exit 123" 123 "$rc"
elapsed_ms=$(( ($(date +%s%N) - start) / 1000000 ))
expect_eq "timeout: failed" failed "$(result_field "$TMP/r1" slow1 status)"
expect_eq "timeout: category" timeout "$(result_field "$TMP/r1" slow1 category)"
gc=$(cat "$TMP/grandchild.pid")
sleep 0.2
if alive "$gc"; then fail "grandchild $gc survived the timeout"; kill -9 "$gc"; else pass "grandchild is gone"; fi
((elapsed_ms < 5000)) && pass "timeout enforced (${elapsed_ms} ms)" || fail "took ${elapsed_ms} ms"

# A handler that ignores SIGTERM is killed after --kill-after.
cat > "$TMP/stubborn.sh" <<'HANDLER'
#!/bin/sh
trap '' TERM
sleep 300
HANDLER
chmod +x "$TMP/stubborn.sh"
evt-emit --type t.slow --id stub1 \
  | timeout 20 evt-work --timeout 200ms --kill-after 200ms --max-retries 0 --dlq "$TMP/dlq.ndjson" \
      -- "$TMP/stubborn.sh" > "$TMP/r2" 2>/dev/null || true
expect_eq "SIGTERM-proof handler killed" timeout "$(result_field "$TMP/r2" stub1 category)"

# Shell metacharacters in the payload reach the handler as text and run nothing.
marker="$TMP/pwned"
evt-emit --type t.meta --id meta1 --field "cmd=\$(touch $marker)" --field "tick=\`touch $marker\`; touch $marker" \
  --key "k;touch $marker" \
  | evt-work -- sh -c 'cat > "$0"; printf "%s" "$EVT_IDEMPOTENCY_KEY" > "$0.key"' "$TMP/seen.json" \
      > "$TMP/r3" 2>/dev/null
expect_eq "metachar event done" done "$(result_field "$TMP/r3" meta1 status)"
[[ ! -e "$marker" ]] && pass "no command from the payload ran" || fail "payload text was executed"
expect_eq "payload arrived as plain text" "\$(touch $marker)" "$(jq -r .payload.cmd "$TMP/seen.json")"
expect_eq "key arrived as plain text" "k;touch $marker" "$(cat "$TMP/seen.json.key")"

# 100 MB on the handler's stdout: done, and evt-work's peak memory stays small.
evt-emit --type t.loud --id loud1 > "$TMP/loud.ndjson"
/usr/bin/time -f '%M' -o "$TMP/rss" \
  evt-work -- sh -c 'head -c 100000000 /dev/zero; head -c 5000000 /dev/zero >&2' \
  < "$TMP/loud.ndjson" > "$TMP/r4" 2>/dev/null
expect_eq "loud handler done" done "$(result_field "$TMP/r4" loud1 status)"
rss_kb=$(tail -1 "$TMP/rss")
# Against the same build running a handler that prints nothing: sanitizers and the shared
# libraries set the floor (about 12 MB here, 73 MB under ASan); 100 MB must not add to it.
/usr/bin/time -f '%M' -o "$TMP/rss0" evt-work -- true < "$TMP/loud.ndjson" > /dev/null 2>&1
rss0_kb=$(tail -1 "$TMP/rss0")
((rss_kb - rss0_kb < 32000)) \
  && pass "peak RSS ${rss_kb} KiB while 100 MB passed through (${rss0_kb} KiB for a silent handler)" \
  || fail "peak RSS ${rss_kb} KiB against ${rss0_kb} KiB for a silent handler: output was buffered"
# A handler that daemonizes (double fork + setsid): its daemon is gone after the attempt,
# whether the handler exits, times out, or evt-work is stopped while it runs.
cat > "$TMP/daemonizer.sh" <<'HANDLER'
#!/bin/sh
# $1: where the daemon writes its pid; $2: what the handler does afterwards.
setsid sh -c 'sleep 300 & echo $! > "$1.tmp"; mv "$1.tmp" "$1"' daemon "$1" &
wait
eval "$2"
HANDLER
chmod +x "$TMP/daemonizer.sh"
# daemon_gone WHAT PIDFILE: passes when the daemon whose pid is in PIDFILE is gone.
daemon_gone() {
  local pid; pid=$(cat "$2" 2>/dev/null || true)
  if [[ -z "$pid" ]]; then fail "$1: the daemon never started"; return; fi
  for _ in $(seq 20); do alive "$pid" || break; sleep 0.05; done
  if alive "$pid"; then fail "$1: daemon $pid survived"; kill -9 "$pid"; else pass "$1: daemon gone"; fi
}
evt-emit --type t.daemon --id d1 \
  | timeout 20 evt-work --dlq "$TMP/dlq.ndjson" -- "$TMP/daemonizer.sh" "$TMP/d1.pid" "exit 0" \
      > "$TMP/r5" 2>/dev/null
expect_eq "daemonizing handler done" done "$(result_field "$TMP/r5" d1 status)"
daemon_gone "after a handler's exit" "$TMP/d1.pid"
evt-emit --type t.daemon --id d2 \
  | timeout 20 evt-work --timeout 500ms --kill-after 200ms --max-retries 0 --dlq "$TMP/dlq.ndjson" \
      -- "$TMP/daemonizer.sh" "$TMP/d2.pid" "sleep 300" > "$TMP/r6" 2>/dev/null || rc=$?
expect_eq "timed-out daemonizer: a dead letter, so exit 123" 123 "${rc:-0}"
expect_eq "daemonizing handler timed out" timeout "$(result_field "$TMP/r6" d2 category)"
daemon_gone "after a timeout" "$TMP/d2.pid"
mkfifo "$TMP/in"
timeout 20 evt-work --shutdown-grace 200ms --kill-after 200ms --dlq "$TMP/dlq.ndjson" \
  -- "$TMP/daemonizer.sh" "$TMP/d3.pid" "sleep 300" < "$TMP/in" > "$TMP/r7" 2>/dev/null &
worker=$!
exec 3> "$TMP/in"
evt-emit --type t.daemon --id d3 >&3
for _ in $(seq 100); do [[ -e "$TMP/d3.pid" ]] && break; sleep 0.05; done
kill -TERM "$worker"
rc=0; wait "$worker" || rc=$?
expect_eq "stopped worker with an interrupted event exits 123" 123 "$rc"
exec 3>&-
expect_eq "daemonizing handler interrupted" interrupted "$(result_field "$TMP/r7" d3 status)"
daemon_gone "after evt-work stopped" "$TMP/d3.pid"

# 2 MB of short stderr lines with --max-output-bytes 1024: the log holds 1 KiB of them and
# one mark for the rest (it held 121 MB, one log line per stderr line).
evt-emit --type t.chatty --id chatty1 \
  | timeout 60 evt-work -v --max-output-bytes 1024 -- sh -c 'yes x | head -c 2000000 >&2' \
      > "$TMP/r8" 2> "$TMP/log8"
expect_eq "chatty handler done" done "$(result_field "$TMP/r8" chatty1 status)"
log_bytes=$(stat -c %s "$TMP/log8")
((log_bytes < 100000)) && pass "log of 2 MB of stderr: ${log_bytes} bytes" \
  || fail "log of 2 MB of stderr: ${log_bytes} bytes"
expect_eq "stderr lines logged" 512 "$(grep -c 'handler stderr.*text=x$' "$TMP/log8")"
expect_eq "one truncation mark" 1 "$(grep -c 'text=.* 1998976 more bytes' "$TMP/log8")"

# No evt credential reaches a handler: not the password variables, not the password of a
# broker URL in the environment (the flag --broker - is what this worker uses).
echo 'filepw-Zq' > "$TMP/pw"
evt-emit --type t.env --id env1 \
  | EVT_REDIS_PASSWORD='envpw-Zq' EVT_REDIS_PASSWORD_FILE="$TMP/pw" \
    EVT_BROKER='redis://u1:Xp@ss/w0rd-Zq@redis.example:6380/2' \
    timeout 20 evt-work --broker - -- sh -c 'env | grep ^EVT_ > "$0"; cat "$EVT_REDIS_PASSWORD_FILE" >> "$0" 2>/dev/null; tr "\0" "\n" < /proc/$PPID/environ > "$0.proc"; true' "$TMP/env.txt" \
      > "$TMP/r9" 2> "$TMP/log9"
expect_eq "env handler done" done "$(result_field "$TMP/r9" env1 status)"
expect_not_contains "no password in the handler's environment" "Zq" "$TMP/env.txt"
expect_contains "the handler read evt-work's /proc/PID/environ" "EVT_BROKER=" "$TMP/env.txt.proc"
expect_not_contains "no password in evt-work's /proc/PID/environ either" "Zq" "$TMP/env.txt.proc"
expect_not_contains "no password variable in the handler's environment" "EVT_REDIS_PASSWORD" "$TMP/env.txt"
expect_contains "the broker URL without its password" "EVT_BROKER=redis://u1@redis.example:6380/2" "$TMP/env.txt"
expect_not_contains "no password in the log" "Zq" "$TMP/log9"

# A password with a raw '@' or '/' never shows in a message.
evt-emit --broker 'redis://u2:ab/cd-Zq@127.0.0.1:1/x' --type t.x > /dev/null 2> "$TMP/log10" || true
expect_contains "bad URL reported" "--broker redis://u2:***@127.0.0.1:1/x" "$TMP/log10"
expect_not_contains "no password in the error" "Zq" "$TMP/log10"
timeout 20 evt-emit --broker 'redis://u1:Xp@ss-Zq@127.0.0.1:1' --type t.x > /dev/null 2> "$TMP/log11" || true
expect_contains "unreachable URL reported" "redis://u1:***@127.0.0.1:1" "$TMP/log11"
expect_not_contains "no password in the unreachable error" "Zq" "$TMP/log11"
finish
