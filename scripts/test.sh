#!/usr/bin/env bash
# Builds evt and runs its tests in three builds: every test in the normal build and under
# AddressSanitizer + UndefinedBehaviorSanitizer, then the unit and integration tests under
# ThreadSanitizer (the worker is concurrent code: data races are found by a tool). Every
# test has its own CTest TIMEOUT, so a hang fails and names itself. CTest's summary line
# closes each run; extra arguments go to every ctest call (e.g. -R pattern).
set -euo pipefail
cd "$(dirname "$0")/.."

status=0
for preset in default sanitize tsan; do
  start=$SECONDS
  echo "== $preset build"
  cmake --preset "$preset" > /dev/null
  cmake --build --preset "$preset"
  echo "== $preset tests"
  labels=()
  [[ $preset == tsan ]] && labels=(-L 'unit|integration')  # chaos and e2e stay out
  ctest --preset "$preset" "${labels[@]}" "$@" || status=1
  echo "== $preset: $((SECONDS - start)) s"
done
exit "$status"
