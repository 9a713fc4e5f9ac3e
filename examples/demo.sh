#!/usr/bin/env bash
# The main job on the no-server default: cron-style producers emit backup requests,
# evt-work runs a handler for each with retries, a dead-letter file, and a summary.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
export PATH="${EVT_BIN_DIR:-$here/../build/tools}:$PATH"
work="$(mktemp -d /tmp/evt-demo.XXXXXX)"
export DEMO_STATE="$work"

echo "== emitting 5 backup requests (one per server), as cron would"
for s in srv-a srv-b srv-c srv-d srv-e; do
  evt-emit --type server.backup.requested --source cron \
    --key "backup_${s}_$(date +%F)" --field "server=$s" --field bucket=backup-prod
done | tee "$work/events.ndjson" | jq -c '{event_id, event_type, idempotency_key, payload}'

echo
echo "== evt-work -v --concurrency 2 --backoff-base 500ms --dlq dlq.ndjson -- backup.sh"
# -v: a log line for every attempt (by default a run that goes well prints nothing on stderr).
rc=0
evt-work -v --concurrency 2 --backoff-base 500ms --max-retries 3 --dlq "$work/dlq.ndjson" \
  -- "$here/handlers/backup.sh" < "$work/events.ndjson" > "$work/results.ndjson" \
  2> "$work/worker.log" || rc=$?
# 123, as xargs: every event has an outcome, and some failed (the dead letter below).
echo "(exit status $rc; its log, on stderr, is in $work/worker.log; the lines about the retry and the dead letter:)"
if ((rc != 0 && rc != 123)); then cat "$work/worker.log" >&2; exit "$rc"; fi
grep -E "attempt failed|retry scheduled|dead letter" "$work/worker.log" | cut -c1-220

echo
echo "== results (stdout of evt-work)"
jq -r '[.idempotency_key, .status, "attempts=\(.attempts)", (.error // "")] | @tsv' "$work/results.ndjson"
echo
echo "== dead-letter queue ($work/dlq.ndjson)"
jq -c '{event_id, reason, category, attempts, error}' "$work/dlq.ndjson"
echo
echo "== summary"
grep "summary" "$work/worker.log"
echo
echo "files kept in $work"
