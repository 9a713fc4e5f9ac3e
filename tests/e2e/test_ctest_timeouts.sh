# Every CTest test has a TIMEOUT property of its own (so a hang fails fast and names
# itself), suited to its kind: unit ≤ 60 s, integration ≤ 120 s, e2e ≤ 180 s, chaos ≤ 300 s.
source "$(dirname "$0")/lib.sh"

: "${EVT_BUILD_DIR:?set EVT_BUILD_DIR to the CMake build folder}"
ctest --test-dir "$EVT_BUILD_DIR" --show-only=json-v1 >"$TMP/tests.json"

# One line per test: name, labels joined by commas, TIMEOUT (or "none").
jq -r '.tests[] | [.name,
    ([.properties[]? | select(.name == "LABELS") | .value[]] | join(",")),
    ([.properties[]? | select(.name == "TIMEOUT") | .value] | first // "none" | tostring)]
  | @tsv' "$TMP/tests.json" >"$TMP/timeouts.tsv"

total=$(count_lines "$TMP/timeouts.tsv")
if ((total >= 50)); then pass "ctest lists $total tests"; else fail "ctest lists only $total tests"; fi

bad=()
while IFS=$'\t' read -r name labels timeout; do
  case ",$labels," in
    *,chaos,*) limit=300 ;;
    *,e2e,*) limit=180 ;;
    *,integration,*) limit=120 ;;
    *,unit,*) limit=60 ;;
    *) limit=0 ;;
  esac
  if [[ $timeout == none ]] || ((limit == 0)) || ! awk -v t="$timeout" -v l="$limit" \
    'BEGIN { exit !(t > 0 && t <= l) }'; then
    bad+=("$name [$labels] TIMEOUT=$timeout")
  fi
done <"$TMP/timeouts.tsv"
expect_eq "every test has a TIMEOUT suited to its label" "" "$(printf '%s\n' "${bad[@]-}" | sed '/^$/d')"

# Each Catch case is one CTest test named after it: a ';' in its name would cut it into two
# tests that match no case (and pass without running it), and a leading '-' reads as an
# option of the test binary.
for bin in "$EVT_BUILD_DIR"/tests/evt_*_tests; do
  [[ -x $bin ]] || continue
  # Catch2 v2 exits with the number of cases listed.
  { "$bin" --list-test-names-only || true; } | sed '/^$/d' > "$TMP/names"
  expect_eq "$(basename "$bin"): no case name holds ';' or starts with '-'" "" \
    "$(grep -E ';|^-' "$TMP/names" || true)"
done

finish
