# The man pages and the bash, zsh and fish completions cover every option that --help
# shows; every man page is clean under groff -ww and mandoc -T lint; the bash completion
# registers both commands under either installed name.
source "$(dirname "$0")/lib.sh"

MAN="$SOURCE_DIR/man"
COMP="$SOURCE_DIR/completions"
TOOLS=(evt-emit evt-work evt-dlq evt-replay)

for f in "$MAN/evt-emit.1" "$MAN/evt-work.1" "$MAN/evt-dlq.1" "$MAN/evt-replay.1" "$MAN/evt.7" \
  "$COMP/evt.bash" "$COMP/_evt" \
  "$COMP/evt.fish"; do
  [[ -s $f ]] && pass "exists: ${f#"$SOURCE_DIR"/}" || fail "missing or empty: $f"
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

# zsh_block TOOL: the parts of completions/_evt that apply to TOOL: the common options
# and TOOL's branch of the case statement, without the exclusion lists "(-t --type)"
# that name options without offering them.
zsh_block() {
  sed -E "s/'\([^)]*\)/'/g" "$COMP/_evt" | awk -v tool="$1" '
    /^_evt_common_opts=\(/ { common = 1 }
    common { print; if (/^\)/) common = 0; next }
    $0 ~ "^  " tool "\\)" { mine = 1 }
    mine { print; if (/^    ;;/) mine = 0 }'
}

# fish_tokens TOOL: the options that completions/evt.fish declares for TOOL, as --long and
# -s. Lines for "$cmd" are inside "for cmd in evt-emit evt-work" and count for both.
fish_tokens() {
  awk -v tool="$1" '
    $1 == "complete" {
      cmd = ""
      for (i = 2; i <= NF; i++) if ($i == "-c" || $i == "--command") cmd = $(i + 1)
      if (cmd != tool && cmd != "$cmd") next
      for (i = 2; i < NF; i++) {
        if ($i == "-l" || $i == "--long-option") print "--" $(i + 1)
        if ($i == "-s" || $i == "--short-option") print "-" $(i + 1)
      }
    }' "$COMP/evt.fish" | sort -u
}

# bash_options TOOL FUNCTION: what the bash completion offers after "TOOL -".
bash_options() {
  (
    set +euo pipefail
    source "$COMP/evt.bash"
    COMP_LINE="$1 -"
    COMP_POINT=${#COMP_LINE}
    COMP_WORDS=("$1" -)
    COMP_CWORD=1
    COMPREPLY=()
    "$2" 2>/dev/null
    printf '%s\n' "${COMPREPLY[@]}"
  )
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

for tool in "${TOOLS[@]}"; do
  fn=_${tool//-/_}
  if ! command -v "$tool" >/dev/null; then
    fail "$tool is not on PATH ($EVT_BIN_DIR)"
    continue
  fi
  set +e
  "$tool" --help >"$TMP/$tool.help" 2>&1
  rc=$?
  set -e
  expect_eq "$tool --help exits 0" 0 "$rc"

  # Option tokens: the first column of the lines "  -t,--type TEXT ...".
  mapfile -t opts < <(sed -n 's/^  \(-[^ ]*\).*/\1/p' "$TMP/$tool.help" | tr ',' '\n' |
    grep -E '^--?[[:alnum:]]' | sort -u)
  mapfile -t envs < <(grep -oE 'Env:EVT_[A-Z0-9_]+' "$TMP/$tool.help" | cut -d: -f2 | sort -u)
  if ((${#opts[@]} >= 5)); then
    pass "$tool --help shows ${#opts[@]} option tokens"
  else
    fail "$tool --help shows only ${#opts[@]} option tokens: ${opts[*]-}"
  fi
  if ((${#envs[@]} >= 4)); then
    pass "$tool --help shows ${#envs[@]} EVT_* variables"
  else
    fail "$tool --help shows only ${#envs[@]} EVT_* variables: ${envs[*]-}"
  fi

  section "$MAN/$tool.1" OPTIONS >"$TMP/$tool.man-options"
  section "$MAN/$tool.1" ENVIRONMENT >"$TMP/$tool.man-env"
  zsh_block "$tool" >"$TMP/$tool.zsh"
  fish_tokens "$tool" >"$TMP/$tool.fish"
  bash_options "$tool" "$fn" >"$TMP/$tool.bash"

  missing_man=() missing_bash=() missing_zsh=() missing_fish=()
  for opt in "${opts[@]}"; do
    has_token "$TMP/$tool.man-options" "$opt" || missing_man+=("$opt")
    grep -qxF -- "$opt" "$TMP/$tool.bash" || missing_bash+=("$opt")
    has_token "$TMP/$tool.zsh" "$opt" || missing_zsh+=("$opt")
    grep -qxF -- "$opt" "$TMP/$tool.fish" || missing_fish+=("$opt")
  done
  expect_eq "$tool.1 OPTIONS documents every option" "" "${missing_man[*]-}"
  expect_eq "bash completes every $tool option" "" "${missing_bash[*]-}"
  expect_eq "zsh completes every $tool option" "" "${missing_zsh[*]-}"
  expect_eq "fish completes every $tool option" "" "${missing_fish[*]-}"

  missing_env=()
  for env in "${envs[@]}"; do
    if ! has_token "$TMP/$tool.man-options" "$env" || ! has_token "$TMP/$tool.man-env" "$env"; then
      missing_env+=("$env")
    fi
  done
  expect_eq "$tool.1 names every EVT_* variable in OPTIONS and ENVIRONMENT" "" "${missing_env[*]-}"
done

# The variables a handler receives are documented.
section "$MAN/evt-work.1" ENVIRONMENT >"$TMP/work-env"
missing=()
for env in EVT_EVENT_ID EVT_EVENT_TYPE EVT_IDEMPOTENCY_KEY EVT_ATTEMPT EVT_SOURCE \
  EVT_CORRELATION_ID; do
  has_token "$TMP/work-env" "$env" || missing+=("$env")
done
expect_eq "evt-work.1 ENVIRONMENT names the handler's variables" "" "${missing[*]-}"

# Every man page has the sections a reader looks for.
for page in evt-emit.1 evt-work.1 evt-dlq.1 evt-replay.1; do
  for name in NAME SYNOPSIS DESCRIPTION OPTIONS ENVIRONMENT "EXIT STATUS" EXAMPLES "SEE ALSO"; do
    grep -qE "^\.SH \"?$name\"?\$" "$MAN/$page" || fail "$page: no section $name"
  done
done

# Every page in man/ formats without a single warning from groff or mandoc. mandoc's
# STYLE notes (input lines longer than 80 bytes) are below its warning level and not
# counted.
pages=("$MAN"/*.[1-9])
((${#pages[@]} >= 3)) && pass "man/ holds ${#pages[@]} pages" || fail "man/ holds ${#pages[@]} pages"
command -v mandoc >/dev/null || fail "mandoc is not installed (packaging/install-deps.sh)"
for path in "${pages[@]}"; do
  page=${path##*/}
  set +e
  out=$(groff -man -ww -z "$path" 2>&1)
  rc=$?
  set -e
  expect_eq "groff -man -ww -z $page" "0 " "$rc $out"
  if command -v mandoc >/dev/null; then
    set +e
    out=$(mandoc -T lint -W warning "$path" 2>&1)
    rc=$?
    set -e
    expect_eq "mandoc -T lint -W warning $page" "0 " "$rc $out"
  fi
done

# bash: valid syntax, both commands registered, whichever name the file is installed as.
set +e
out=$(bash -n "$COMP/evt.bash" 2>&1)
rc=$?
set -e
expect_eq "bash -n completions/evt.bash" "0 " "$rc $out"
for name in "${TOOLS[@]}"; do
  cp "$COMP/evt.bash" "$TMP/$name"
  set +e
  out=$(bash -c 'source "$1" && complete -p "${@:2}"' _ "$TMP/$name" "${TOOLS[@]}" 2>&1)
  rc=$?
  set -e
  expect_eq "installed as $name: complete -p exits 0" 0 "$rc"
  grep -q -- '-F _evt_emit evt-emit$' <<<"$out" && pass "installed as $name: evt-emit registered" ||
    fail "installed as $name: evt-emit not registered: $out"
  grep -q -- '-F _evt_work evt-work$' <<<"$out" && pass "installed as $name: evt-work registered" ||
    fail "installed as $name: evt-work not registered: $out"
  for tool in evt-dlq evt-replay; do
    grep -q -- "-F _${tool//-/_} $tool\$" <<<"$out" && pass "installed as $name: $tool registered" ||
      fail "installed as $name: $tool not registered: $out"
  done
done

# bash: option values and files.
: >"$TMP/dead.ndjson"
: >"$TMP/payload.json"
expect_eq "bash: --format values" "cloudevents evt" "$(bash_values 'evt-emit --format ' _evt_emit)"
expect_eq "bash: --format=VALUE" "cloudevents" "$(bash_values 'evt-emit --format=cl' _evt_emit)"
expect_eq "bash: --log-format values" "json text" "$(bash_values 'evt-work --log-format ' _evt_work)"
expect_eq "bash: --log-level values" "debug error info off warn" \
  "$(bash_values 'evt-emit --log-level ' _evt_emit)"
expect_eq "bash: --payload @FILE" "payload.json" "$(bash_values 'evt-emit --payload @pay' _evt_emit)"
expect_eq "bash: --dlq FILE" "dead.ndjson" "$(bash_values 'evt-work --dlq dea' _evt_work)"
expect_eq "bash: the command after --" "bash" "$(bash_values 'evt-work -c 2 -- bas' _evt_work |
  tr ' ' '\n' | grep -x bash)"
expect_eq "bash: no options after --" "" "$(bash_values 'evt-work -- ./h --ti' _evt_work)"
expect_eq "bash: --broker values" "- redis:// redis://127.0.0.1:6379 unix://" \
  "$(bash_values 'evt-work --broker ' _evt_work)"
expect_eq "bash: --broker=u" "unix://" "$(bash_values 'evt-emit --broker=u' _evt_emit)"
expect_eq "bash: evt-dlq commands" "export list purge show stats" "$(bash_values 'evt-dlq ' _evt_dlq)"
expect_eq "bash: evt-dlq --category values" "auth crash data dependency internal network timeout" \
  "$(bash_values 'evt-dlq list --category ' _evt_dlq)"
expect_eq "bash: evt-replay --from-file FILE" "dead.ndjson" \
  "$(bash_values 'evt-replay --from-file dea' _evt_replay)"
expect_eq "bash: evt-replay --to" "-" "$(bash_values 'evt-replay --to ' _evt_replay)"

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
  for tool in "${TOOLS[@]}"; do
    offered=$(fish -c 'source $argv[1]; complete -C "$argv[2] -"' "$COMP/evt.fish" "$tool" |
      cut -f1 | sort -u | xargs)
    declared=$(xargs <"$TMP/$tool.fish")
    expect_eq "fish offers the options of $tool" "$declared" "$offered"
  done
else
  echo "skip: fish not installed"
fi

# cmake --install puts every completion where its shell looks: bash-completion and fish
# load a file named after the command, zsh reads _evt from its fpath.
if [[ -n ${EVT_BUILD_DIR-} ]]; then
  inst=$TMP/inst
  set +e
  out=$(cmake --install "$EVT_BUILD_DIR" --prefix "$inst" 2>&1)
  rc=$?
  set -e
  expect_eq "cmake --install --prefix exits 0" 0 "$rc"
  ((rc == 0)) || echo "$out" >&2
  for f in bash-completion/completions/{evt-emit,evt-work,evt-dlq,evt-replay} \
    fish/vendor_completions.d/{evt-emit,evt-work,evt-dlq,evt-replay}.fish; do
    [[ -s $inst/share/$f ]] && pass "installed: share/$f" || fail "not installed: share/$f"
  done
  mapfile -t zsh_files < <(ls "$inst"/share/zsh/{vendor-completions,site-functions}/_evt 2>/dev/null)
  expect_eq "installed: one _evt in share/zsh/vendor-completions or site-functions" 1 \
    "${#zsh_files[@]}"
  if ((${#zsh_files[@]} == 1)) && command -v zsh >/dev/null; then
    set +e
    out=$(zsh -n "${zsh_files[0]}" 2>&1)
    rc=$?
    set -e
    expect_eq "zsh -n on the installed _evt" "0 " "$rc $out"
  fi
  if command -v fish >/dev/null; then
    fishdir=$inst/share/fish/vendor_completions.d
    for tool in "${TOOLS[@]}"; do
      set +e
      out=$(fish --no-execute "$fishdir/$tool.fish" 2>&1)
      rc=$?
      set -e
      expect_eq "fish --no-execute on the installed $tool.fish" "0 " "$rc $out"
      # Sourced by hand.
      offered=$(fish -c 'source $argv[1]; complete -C "$argv[2] --broker "' "$fishdir/$tool.fish" \
        "$tool" | cut -f1 | sort | xargs)
      expect_eq "fish offers the brokers for $tool --broker" \
        "- redis:// redis://127.0.0.1:6379 unix://" "$offered"
    done
    # Loaded by fish itself from the installed folder, by command name (fish loads a
    # command's completions only when the command is on PATH): both commands, either one
    # first, with nothing offered twice.
    offered=$(PATH="$inst/bin:$PATH" fish -c 'set -p fish_complete_path $argv[1]
      complete -C "evt-emit --st" >/dev/null
      complete -C "evt-work --broker "' "$fishdir" | cut -f1 | sort | xargs)
    expect_eq "fish autoloads evt-work.fish after evt-emit.fish" \
      "- redis:// redis://127.0.0.1:6379 unix://" "$offered"
    offered=$(PATH="$inst/bin:$PATH" fish -c 'set -p fish_complete_path $argv[1]
      complete -C "evt-work --bro" >/dev/null
      complete -C "evt-emit --st"' "$fishdir" | cut -f1 | xargs)
    expect_eq "fish autoloads evt-emit.fish after evt-work.fish" "--stdin" "$offered"
  fi
else
  fail "EVT_BUILD_DIR is not set: cannot check cmake --install"
fi

finish
