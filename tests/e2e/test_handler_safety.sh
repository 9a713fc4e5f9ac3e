# Handler safety: timeouts kill the whole process group, payload text never reaches a shell,
# a handler writing 100 MB neither blocks nor grows evt-work's memory.
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
((rss_kb < 64000)) && pass "peak RSS ${rss_kb} KiB while 100 MB passed through" \
  || fail "peak RSS ${rss_kb} KiB: output was buffered"
finish
