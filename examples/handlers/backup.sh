#!/bin/sh
# An example handler: "backs up" the server named in the event's payload.
# evt-work gives it the event JSON on stdin and EVT_* variables in its environment.
#   srv-c fails once with a temporary error (exit 75: retried with backoff),
#   srv-e has a bad record (exit 65: permanent, straight to the dead-letter queue).
set -eu
server=$(jq -r '.payload.server')
state=${DEMO_STATE:?}
case "$server" in
  srv-c)
    if [ ! -e "$state/$EVT_IDEMPOTENCY_KEY.tried" ]; then
      : > "$state/$EVT_IDEMPOTENCY_KEY.tried"
      echo "backup target for $server busy, try again later" >&2
      exit 75
    fi ;;
  srv-e)
    echo "no backup bucket configured for $server" >&2
    exit 65 ;;
esac
sleep 0.2
echo "backed up $server (attempt $EVT_ATTEMPT)" >&2
