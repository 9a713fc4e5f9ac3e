#!/bin/sh
# A test handler driven by the event's payload:
#   payload.mode = ok | permanent | always_transient | transient_once | sleep
#   payload.state_dir: where transient_once remembers it already failed
#   payload.seconds: for sleep
# Appends "<idempotency key> <attempt>" to $RUN_LOG when set, to count real runs.
set -eu
event=$(cat)
mode=$(printf '%s' "$event" | jq -r '.payload.mode // "ok"')
[ -n "${RUN_LOG:-}" ] && echo "$EVT_IDEMPOTENCY_KEY $EVT_ATTEMPT" >> "$RUN_LOG"
case "$mode" in
  ok) exit 0 ;;
  permanent) echo "bad record for $EVT_EVENT_ID" >&2; exit 65 ;;
  always_transient) echo "upstream unavailable" >&2; exit 75 ;;
  transient_once)
    dir=$(printf '%s' "$event" | jq -r '.payload.state_dir')
    if [ ! -e "$dir/$EVT_IDEMPOTENCY_KEY" ]; then
      : > "$dir/$EVT_IDEMPOTENCY_KEY"
      echo "temporary failure, try again" >&2
      exit 75
    fi
    exit 0 ;;
  sleep) sleep "$(printf '%s' "$event" | jq -r '.payload.seconds')"; exit 0 ;;
  *) echo "unknown mode $mode" >&2; exit 64 ;;
esac
