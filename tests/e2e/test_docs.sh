# The man pages and the completions as files: every page is clean under groff -ww and
# mandoc -T lint -W style; the completion files parse in bash, zsh and fish and complete
# values; cmake --install puts pages and completions where man and each shell look, for
# every evt-* command built. (That every option is in them: test_completions.sh.)
source "$(dirname "$0")/lib.sh"

MAN="$SOURCE_DIR/man"
COMP="$SOURCE_DIR/completions"
mapfile -t TOOLS < <(find "$EVT_BIN_DIR" -maxdepth 1 -name 'evt-*' -type f -perm -u+x \
  -printf '%f\n' | sort)

for f in "$MAN/evt.7" "$COMP/evt.bash" "$COMP/_evt" "$COMP/evt.fish"; do
  [[ -s $f ]] && pass "exists: ${f#"$SOURCE_DIR"/}" || fail "missing or empty: $f"
done
for tool in "${TOOLS[@]}"; do
  [[ -s $MAN/$tool.1 ]] && pass "exists: man/$tool.1" || fail "missing or empty: man/$tool.1"
done

# has_token FILE TOKEN: TOKEN stands in FILE as a whole option (so -c is not found
# inside --concurrency, nor --max-retries inside --max-retries-x).
has_token() {
  grep -qE -- "(^|[^-[:alnum:]_])$2([^-[:alnum:]_]|\$)" "$1"
}

# section FILE NAME: the lines of one .SH section of a roff file, with \- made plain -.
section() {
  sed 's/\\-/-/g' "$1" | awk -v name="$2" '
    /^\.SH / { sub(/^\.SH +/, ""); gsub(/"/, ""); on = ($0 == name); next }
    on'
}

# bash_values LINE FUNCTION: what the bash completion offers at the end of LINE, sorted,
# on one line.
bash_values() {
  (
    set +euo pipefail
    cd "$TMP" || exit 1
    source "$COMP/evt.bash"
    COMP_LINE=$1
    COMP_POINT=${#COMP_LINE}
    read -r -a COMP_WORDS <<<"$1"
    [[ $1 == *' ' ]] && COMP_WORDS+=('')
    COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
    COMPREPLY=()
    "$2" 2>/dev/null
    printf '%s\n' "${COMPREPLY[@]}" | sort | xargs
  )
}

# The variables a handler receives are documented.
section "$MAN/evt-work.1" ENVIRONMENT >"$TMP/work-env"
missing=()
for env in EVT_EVENT_ID EVT_EVENT_TYPE EVT_IDEMPOTENCY_KEY EVT_ATTEMPT EVT_SOURCE \
  EVT_CORRELATION_ID; do
  has_token "$TMP/work-env" "$env" || missing+=("$env")
done
expect_eq "evt-work.1 ENVIRONMENT names the handler's variables" "" "${missing[*]-}"

# Every command's man page has the sections a reader looks for.
for tool in "${TOOLS[@]}"; do
  for name in NAME SYNOPSIS DESCRIPTION OPTIONS ENVIRONMENT "EXIT STATUS" EXAMPLES "SEE ALSO"; do
    grep -qE "^\.SH \"?$name\"?\$" "$MAN/$tool.1" || fail "$tool.1: no section $name"
  done
done

# Every page in man/ formats without a single warning from groff, nor a single note from
# mandoc down to its STYLE level (input text lines longer than 80 bytes and the like;
# scripts/rewrap_man.py rewraps long lines without changing the output).
pages=("$MAN"/*.[1-9])
((${#pages[@]} >= 3)) && pass "man/ holds ${#pages[@]} pages" || fail "man/ holds ${#pages[@]} pages"
command -v mandoc >/dev/null || fail "mandoc is not installed (packaging/install-deps.sh)"
for path in "${pages[@]}"; do
  page=${path##*/}
  set +e
  # A table (.TS) needs tbl, which man runs when the first line asks for it: '\" t.
  pre=()
  if head -1 "$path" | grep -qE "^'\\\\\" +[a-z]*t"; then
    pre=(-t)
  elif grep -q '^\.TS' "$path"; then
    fail "$page has a table but no first line '\\\" t (man would not run tbl)"
  fi
  out=$(groff -man -ww -z "${pre[@]}" "$path" 2>&1)
  rc=$?
  set -e
  expect_eq "groff -man -ww -z ${pre[*]-} $page" "0 " "$rc $out"
  if command -v mandoc >/dev/null; then
    set +e
    out=$(mandoc -T lint -W style "$path" 2>&1)
    rc=$?
    set -e
    expect_eq "mandoc -T lint -W style $page" "0 " "$rc $out"
  fi
done

# bash: valid syntax.
set +e
out=$(bash -n "$COMP/evt.bash" 2>&1)
rc=$?
set -e
expect_eq "bash -n completions/evt.bash" "0 " "$rc $out"
if [[ " ${TOOLS[*]} " == *" evt-status "* ]]; then
  expect_eq "bash: evt-status --format values" "json prometheus table" \
    "$(bash_values 'evt-status --format ' _evt_status)"
fi

# bash: option values and files.
: >"$TMP/dead.ndjson"
: >"$TMP/payload.json"
expect_eq "bash: --format values" "cloudevents evt" "$(bash_values 'evt-emit --format ' _evt_emit)"
expect_eq "bash: --format=VALUE" "cloudevents" "$(bash_values 'evt-emit --format=cl' _evt_emit)"
expect_eq "bash: evt-work --log-<TAB>" "--log-format --log-level" \
  "$(bash_values 'evt-work --log-' _evt_work)"
expect_eq "bash: --log-format values" "json text" "$(bash_values 'evt-work --log-format ' _evt_work)"
expect_eq "bash: --log-level values" "debug error info off warn" \
  "$(bash_values 'evt-emit --log-level ' _evt_emit)"
expect_eq "bash: --payload @FILE" "payload.json" "$(bash_values 'evt-emit --payload @pay' _evt_emit)"
expect_eq "bash: --dlq FILE" "dead.ndjson" "$(bash_values 'evt-work --dlq dea' _evt_work)"
expect_eq "bash: the command after --" "bash" "$(bash_values 'evt-work -c 2 -- bas' _evt_work |
  tr ' ' '\n' | grep -x bash)"
expect_eq "bash: no options after --" "" "$(bash_values 'evt-work -- ./h --ti' _evt_work)"
expect_eq "bash: --broker values" "- redis:// redis://127.0.0.1:6379 sqlite:/// unix://" \
  "$(bash_values 'evt-work --broker ' _evt_work)"
expect_eq "bash: --broker=u" "unix://" "$(bash_values 'evt-emit --broker=u' _evt_emit)"
expect_eq "bash: --broker=s" "sqlite:///" "$(bash_values 'evt-work --broker=s' _evt_work)"
expect_eq "bash: evt-dlq commands" "export list purge show stats" "$(bash_values 'evt-dlq ' _evt_dlq)"
expect_eq "bash: evt-dlq --category values" "auth crash data dependency internal network timeout" \
  "$(bash_values 'evt-dlq list --category ' _evt_dlq)"
expect_eq "bash: evt-replay --from-file FILE" "dead.ndjson" \
  "$(bash_values 'evt-replay --from-file dea' _evt_replay)"
expect_eq "bash: evt-replay --to" "- redis:// sqlite:/// unix://" "$(bash_values 'evt-replay --to ' _evt_replay)"
expect_eq "bash: evt-replay --to=s" "sqlite:///" "$(bash_values 'evt-replay --to=s' _evt_replay)"

# zsh and fish, where installed: the files parse, and fish offers what it declares.
if command -v zsh >/dev/null; then
  set +e
  out=$(zsh -n "$COMP/_evt" 2>&1)
  rc=$?
  set -e
  expect_eq "zsh -n completions/_evt" "0 " "$rc $out"
else
  echo "skip: zsh not installed"
fi
if command -v fish >/dev/null; then
  set +e
  out=$(fish --no-execute "$COMP/evt.fish" 2>&1)
  rc=$?
  set -e
  expect_eq "fish --no-execute completions/evt.fish" "0 " "$rc $out"
else
  echo "skip: fish not installed"
fi

# cmake --install puts every page where man looks and every completion where its shell
# looks, for each command built: bash-completion and fish load a file named after the
# command, zsh reads a file whose #compdef line names it from its fpath.
if [[ -n ${EVT_BUILD_DIR-} ]]; then
  inst=$TMP/inst
  set +e
  out=$(cmake --install "$EVT_BUILD_DIR" --prefix "$inst" 2>&1)
  rc=$?
  set -e
  expect_eq "cmake --install --prefix exits 0" 0 "$rc"
  ((rc == 0)) || echo "$out" >&2
  [[ -s $inst/share/man/man7/evt.7.gz ]] && pass "installed: share/man/man7/evt.7.gz" ||
    fail "not installed: share/man/man7/evt.7.gz"
  mapfile -t zsh_files < <(ls "$inst"/share/zsh/{vendor-completions,site-functions}/_* 2>/dev/null)
  ((${#zsh_files[@]} >= 1)) && pass "installed: ${#zsh_files[@]} zsh completion file(s)" ||
    fail "no zsh completion in share/zsh/vendor-completions or site-functions"
  fishdir=$inst/share/fish/vendor_completions.d
  for tool in "${TOOLS[@]}"; do
    for f in man/man1/$tool.1.gz bash-completion/completions/$tool fish/vendor_completions.d/$tool.fish; do
      [[ -s $inst/share/$f ]] && pass "installed: share/$f" || fail "not installed: share/$f"
    done
    # bash-completion sources completions/<command> when <command> is completed first.
    set +e
    out=$(bash -c 'source "$1" && complete -p "$2"' _ "$inst/share/bash-completion/completions/$tool" \
      "$tool" 2>&1)
    set -e
    [[ $out == *" -F "*" $tool" ]] && pass "installed bash completion $tool registers $tool" ||
      fail "installed bash completion $tool does not register $tool: $out"
    n=$(grep -lE "^#compdef( .*)? $tool( |\$)" "${zsh_files[@]}" /dev/null | wc -l)
    expect_eq "one installed zsh completion names $tool" 1 "$n"
  done
  if command -v zsh >/dev/null; then
    for f in "${zsh_files[@]}"; do
      set +e
      out=$(zsh -n "$f" 2>&1)
      rc=$?
      set -e
      expect_eq "zsh -n on the installed ${f##*/}" "0 " "$rc $out"
    done
  fi
  if command -v fish >/dev/null; then
    for tool in "${TOOLS[@]}"; do
      set +e
      out=$(fish --no-execute "$fishdir/$tool.fish" 2>&1)
      rc=$?
      set -e
      expect_eq "fish --no-execute on the installed $tool.fish" "0 " "$rc $out"
      # Loaded by fish itself from the installed folder, by command name (fish loads a
      # command's completions only when the command is on PATH), after another command's.
      offered=$(PATH="$inst/bin:$PATH" fish -c 'set -p fish_complete_path $argv[1]
        for t in $argv[3..-1]; complete -C "$t --bro" >/dev/null; end
        complete -C "$argv[2] --broker "' "$fishdir" "$tool" "${TOOLS[@]}" | cut -f1 | sort | xargs)
      expect_eq "fish autoloads $tool.fish: --broker values" \
        "- redis:// redis://127.0.0.1:6379 sqlite:/// unix://" "$offered"
    done
    offered=$(PATH="$inst/bin:$PATH" fish -c 'set -p fish_complete_path $argv[1]
      complete -C "evt-work --bro" >/dev/null
      complete -C "evt-emit --st"' "$fishdir" | cut -f1 | xargs)
    expect_eq "fish autoloads evt-emit.fish after evt-work.fish" "--stdin" "$offered"
  fi
else
  fail "EVT_BUILD_DIR is not set: cannot check cmake --install"
fi

finish
