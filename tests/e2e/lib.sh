# Shared helpers of the end-to-end tests: sourced by each test_*.sh.
# EVT_BIN_DIR: where evt-emit and evt-work were built (set by CTest).
set -euo pipefail

: "${EVT_BIN_DIR:?set EVT_BIN_DIR to the folder holding evt-emit and evt-work}"
export PATH="$EVT_BIN_DIR:$PATH"
# The tests read evt's log lines as text, as a person at a terminal does: a worker on a
# durable broker would write JSON to their files by default. test_log_format.sh unsets it.
export EVT_LOG_FORMAT=text
E2E_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
HANDLERS="$E2E_DIR/handlers"
SOURCE_DIR="${EVT_SOURCE_DIR:-$(cd "$E2E_DIR/../.." && pwd)}"
TMP="$(mktemp -d /tmp/evt-e2e.XXXXXX)"
trap '[[ -n ${EVT_KEEP_TMP:-} ]] || rm -rf "$TMP"' EXIT
FAILS=0

fail() { echo "FAIL: $*" >&2; FAILS=$((FAILS + 1)); }
pass() { echo "ok: $*"; }

# expect_eq WHAT EXPECTED ACTUAL
expect_eq() {
  if [[ "$2" == "$3" ]]; then pass "$1"; else fail "$1: expected [$2], got [$3]"; fi
}
# expect_contains WHAT NEEDLE FILE
expect_contains() {
  if grep -qF -- "$2" "$3"; then pass "$1"; else fail "$1: [$2] not in $3:"; sed 's/^/    /' "$3" >&2; fi
}
expect_not_contains() {
  if grep -qF -- "$2" "$3"; then fail "$1: [$2] unexpectedly in $3"; else pass "$1"; fi
}
# count_lines FILE
count_lines() { if [[ -f "$1" ]]; then grep -c '' "$1" || true; else echo 0; fi; }
# jq_field FILE EVENT_ID FIELD: a field of the result line of one event
result_field() { jq -r --arg id "$2" "select(.event_id == \$id) | .$3" "$1"; }

# alive PID: true while the process exists and is not a zombie (PID 1 in a container may
# never reap orphans, so a killed orphan can linger as a zombie).
alive() {
  kill -0 "$1" 2>/dev/null || return 1
  local state
  state=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) || return 1
  [[ "$state" != Z ]]
}

finish() {
  if ((FAILS > 0)); then echo "$FAILS check(s) failed" >&2; exit 1; fi
  echo "all checks passed"
}
