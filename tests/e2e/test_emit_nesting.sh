# evt-emit refuses a --payload or --field nested deeper than a reader accepts (128 levels
# in the event, its own object included), with one line and exit 65; what it does write,
# evt-work reads as valid.
source "$(dirname "$0")/lib.sh"

nested() { python3 -c "import sys; n = int(sys.argv[1]); print('[' * n + ']' * n)" "$1"; }

# A payload of 127 levels (the event's own object makes 128) is the deepest a reader takes.
payload_ok="{\"a\":$(nested 126)}"
payload_deep="{\"a\":$(nested 127)}"

timeout 10 evt-emit --type a.b --payload "$payload_ok" > "$TMP/ok.ndjson"
expect_eq "payload of 127 levels: one event" 1 "$(count_lines "$TMP/ok.ndjson")"
timeout 10 evt-emit --type a.b --field "k:=$(nested 126)" >> "$TMP/ok.ndjson"
expect_eq "field of 126 levels inside the payload: one event" 2 "$(count_lines "$TMP/ok.ndjson")"
set +e
timeout 10 evt-work -- true < "$TMP/ok.ndjson" > "$TMP/work.out" 2> "$TMP/work.err"; rc=$?
set -e
expect_eq "evt-work handles both events" 0 "$rc"
expect_eq "both done" 2 "$(grep -c '"status":"done"' "$TMP/work.out" || true)"

for what in payload field; do
  set +e
  if [[ $what == payload ]]; then
    timeout 10 evt-emit --type a.b --payload "$payload_deep" > "$TMP/out" 2> "$TMP/err"; rc=$?
  else
    timeout 10 evt-emit --type a.b -f "k:=$(nested 127)" > "$TMP/out" 2> "$TMP/err"; rc=$?
  fi
  set -e
  expect_eq "--$what too deep exits 65" 65 "$rc"
  expect_eq "--$what too deep: nothing on stdout" 0 "$(count_lines "$TMP/out")"
  expect_eq "--$what too deep: one line on stderr" 1 "$(count_lines "$TMP/err")"
  expect_contains "--$what too deep: the message names the limit" \
    "evt-emit: error: payload: must nest at most 127 levels (an event nests at most 128)" "$TMP/err"
done

finish
