#!/bin/sh
# An evt-work co-process handler in shell: evt-work --pipe -- sh pipe_handler.sh
#
# evt-work keeps this script running and writes one event per line on its stdin; it
# answers each with one JSON line on stdout ({"status":"ok"}, {"status":"retry",...} or
# {"status":"fail",...}; see evt-work(1), CO-PROCESS HANDLER). Logs go to stderr.
# The event is data: it is read with jq, never evaluated. Needs jq.
set -u
while IFS= read -r event; do
  server=$(printf '%s\n' "$event" | jq -r '.payload.server // empty' 2>/dev/null)
  simulate=$(printf '%s\n' "$event" | jq -r '.payload.simulate // empty' 2>/dev/null)
  if [ -z "$server" ]; then
    echo '{"status":"fail","error":"payload.server missing","category":"data"}'
  elif [ "$simulate" = busy ]; then
    echo '{"status":"retry","error":"server is busy","category":"dependency","retry_after_ms":100}'
  else
    echo "backed up $server" >&2
    echo '{"status":"ok"}'
  fi
done
