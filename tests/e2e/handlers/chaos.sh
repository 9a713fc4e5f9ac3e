#!/bin/sh
# A chaos-test handler: works 20-100 ms, fails transiently (exit 75) one time in five, and
# only at its very end, once it has succeeded, appends its idempotency key to
# $SIDE_EFFECTS: a handler killed mid-run (PR_SET_PDEATHSIG) leaves no side effect.
# When the file $CHAOS_FREEZE exists, it hangs before the side effect, so that a test can
# kill its worker at a moment when every handler of it is surely mid-run.
cat > /dev/null
r=$(od -An -N2 -tu2 /dev/urandom | tr -d ' ')
sleep "0.$(printf '%03d' $((20 + r % 81)))"
if [ -n "${CHAOS_FREEZE:-}" ] && [ -e "$CHAOS_FREEZE" ]; then sleep 60; fi
[ $((r % 5)) -eq 0 ] && { echo "random transient failure" >&2; exit 75; }
echo "$EVT_IDEMPOTENCY_KEY" >> "$SIDE_EFFECTS"
