#!/usr/bin/env bash
# Builds evt and runs every test twice: in the normal build, and under AddressSanitizer +
# UndefinedBehaviorSanitizer. CTest's summary line closes each run.
set -euo pipefail
cd "$(dirname "$0")/.."

for preset in default sanitize; do
  echo "== $preset build"
  cmake --preset "$preset" > /dev/null
  cmake --build --preset "$preset"
  echo "== $preset tests"
  ctest --preset "$preset" "$@"
done
