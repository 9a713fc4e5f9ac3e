# Two workers in turn on one regular file, `{ evt-work; evt-work; } < events.ndjson`, the
# first stopped by SIGTERM mid-run: it gives back what it read ahead, so the two runs
# together see every line exactly once and nobody sees half a line. (On a pipe the lines
# read ahead cannot be given back: test_sigterm.sh.)
source "$(dirname "$0")/lib.sh"

N=300
pad=$(printf '%0300d' 0)  # long lines: the file is several 64 KiB reads
for i in $(seq 1 "$N"); do
  echo "{\"event_type\":\"t.sleep\",\"event_id\":\"f$i\",\"payload\":{\"mode\":\"sleep\",\"seconds\":0.02,\"pad\":\"$pad\"}}"
done > "$TMP/events.ndjson"

# One open file shared by both runs, as `{ a; b; } < file` shares it.
exec 3< "$TMP/events.ndjson"
evt-work --concurrency 2 --shutdown-grace 5s --dlq "$TMP/dlq1.ndjson" -- "$HANDLERS/scripted.sh" \
  <&3 > "$TMP/r1.ndjson" 2> "$TMP/log1" &
worker=$!
sleep 1
kill -TERM "$worker"
set +e
wait "$worker"; rc1=$?
timeout 120 evt-work --concurrency 4 --dlq "$TMP/dlq2.ndjson" -- "$HANDLERS/scripted.sh" \
  <&3 > "$TMP/r2.ndjson" 2> "$TMP/log2"
rc2=$?
set -e
exec 3<&-

# (Its exit status after SIGTERM is test_sigterm.sh's business; only 65 would be wrong.)
((rc1 != 65)) && pass "the first run rejected no line (exit $rc1)" || fail "the first run exited 65"
expect_eq "second run exits 0" 0 "$rc2"
first_done=$(jq -r 'select(.status=="done") | .event_id' "$TMP/r1.ndjson" | grep -c . || true)
((first_done > 0 && first_done < N)) && pass "the first run was stopped mid-file ($first_done done)" \
  || fail "the first run did $first_done of $N"
expect_eq "no raw fragment dead-lettered" 0 "$(jq -r 'select(has("raw")) | .error' "$TMP/dlq1.ndjson" 2>/dev/null | grep -c . || true)"
expect_eq "the second run rejected no line" 0 "$(jq -r 'select(.status=="invalid")' "$TMP/r2.ndjson" | grep -c . || true)"
expect_eq "nothing dead-lettered by the second run" 0 "$(count_lines "$TMP/dlq2.ndjson")"
# Every line once: done in one of the runs, or interrupted in the first.
{
  jq -r 'select(.status=="done") | .event_id' "$TMP/r1.ndjson" "$TMP/r2.ndjson"
  if [[ -f "$TMP/dlq1.ndjson" ]]; then jq -r '.event_id' "$TMP/dlq1.ndjson"; fi
} | sort > "$TMP/seen"
expect_eq "every line seen" "$N" "$(sort -u "$TMP/seen" | wc -l)"
expect_eq "no line seen twice" "" "$(uniq -d "$TMP/seen" | xargs)"
finish
