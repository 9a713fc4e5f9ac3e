# One source of truth for options: each command's --help-json (read from its CLI11 app).
# For every evt-* command in the build folder, every option it shows, with each of its
# names, is an item (.TP) of the OPTIONS section of man/<command>.1 (its EVT_* variable in
# OPTIONS and ENVIRONMENT too) and offered by the bash, zsh and fish completions; its
# choices are what the completions offer as its values; and neither the completions nor the
# man page's option list hold an option the command does not have (stale); evt(7) names
# every variable; every page's .TH carries the version the commands print. New commands
# are checked as soon as they are built.
source "$(dirname "$0")/lib.sh"

MAN="$SOURCE_DIR/man"
COMP="$SOURCE_DIR/completions"

mapfile -t TOOLS < <(find "$EVT_BIN_DIR" -maxdepth 1 -name 'evt-*' -type f -perm -u+x \
  -printf '%f\n' | sort)
if ((${#TOOLS[@]} >= 2)); then pass "commands found: ${TOOLS[*]}"; else
  fail "fewer than two evt-* commands in $EVT_BIN_DIR: ${TOOLS[*]-}"
fi

# has_token FILE TOKEN: TOKEN stands in FILE as a whole option or name (so -c is not found
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

# man_items FILE: the options a man page lists as items of its OPTIONS section (the tag
# line after each .TP), one per line.
man_items() {
  section "$1" OPTIONS | awk 'tag { print; tag = 0 } /^\.TP/ { tag = 1 }' |
    sed -E 's/\\f[BIRP]//g; s/\\&//g' | grep -oE '(^|[ ",|[(])--?[[:alnum:]][-[:alnum:]]*' |
    sed -E 's/^[ ",|[(]//' | sort -u
}

# man_item FILE OPTION: the text of OPTION's item in the OPTIONS section (from its .TP tag
# to the next item or heading), roff requests and font escapes stripped, on one line.
man_item() {
  section "$1" OPTIONS | awk -v o="$2" '
    /^\.(TP|SS|SH)/ { on = 0; tag = /^\.TP/; next }
    tag { tag = 0; n = split($0, w, /[ ",]+/); for (i = 1; i <= n; i++) if (w[i] == o) on = 1 }
    on' | sed -E 's/^\.[A-Z]+ ?//; s/\\f[BIRP]//g; s/\\&//g; s/"//g' | tr '\n' ' '
}

# names_of MODEL_FILE [hidden]: every short and long name of the options in the model
# (of the command and its subcommands), the hidden ones too when asked.
names_of() {
  jq -r --arg all "${2-}" '.. | objects | select(has("long") and has("short"))
    | select($all == "hidden" or (.hidden | not)) | (.short + .long)[]' "$1" | sort -u
}

# bash_offer TOOL WORD...: what the bash completion offers after "TOOL WORD...", sorted,
# one per line. Every completions/*.bash file is sourced, as bash-completion would find
# them; the function is the one `complete -p TOOL` names.
bash_offer() {
  (
    set +euo pipefail
    cd "$TMP" || exit 1
    # shellcheck disable=SC1090
    for f in "$COMP"/*.bash; do source "$f"; done
    fn=$(complete -p "$1" 2>/dev/null | sed -nE 's/.* -F ([^ ]+) .*/\1/p')
    [[ -n $fn ]] || exit 0
    COMP_WORDS=("$@")
    COMP_LINE="$*"
    COMP_POINT=${#COMP_LINE}
    COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
    COMPREPLY=()
    "$fn" "$1" "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD - 1]}" 2>/dev/null
    printf '%s\n' "${COMPREPLY[@]}" | sed '/^$/d' | sort -u
  )
}

# fish_offer LINE: what fish offers at the end of LINE (every completions/*.fish sourced).
fish_offer() {
  (cd "$TMP" && fish -c 'for f in $argv[2..-1]; source $f; end; complete -C "$argv[1]"' "$1" \
    "$COMP"/*.fish </dev/null) | cut -f1 | sort -u
}

# zsh_text TOOL: the parts of the zsh completion that apply to TOOL: in a file whose
# #compdef line names several commands, the common option list (an array whose name ends
# in _common_opts) and TOOL's branch of the case statement; in a file for TOOL alone, all
# of it. Exclusion lists such as '(-t --type)' name options without offering them and are
# left out.
zsh_text() {
  local f
  for f in "$COMP"/_*; do
    head -1 "$f" | grep -qE "^#compdef( .*)? $1( |\$)" || continue
    if [[ $(head -1 "$f" | wc -w) -eq 2 ]]; then
      sed -E "s/'\([^)]*\)/'/g" "$f"
    else
      sed -E "s/'\([^)]*\)/'/g" "$f" | awk -v tool="$1" '
        /^[[:alnum:]_]*_common_opts=\(/ { common = 1 }
        common { print; if (/^\)/) common = 0; next }
        $0 ~ "^  " tool "\\)" { mine = 1 }
        mine { print; if (/^    ;;/) mine = 0 }'
    fi
  done
}

# zsh_names FILE: the option names a zsh _arguments text declares: '--name=[', '--name[',
# '-n+', and the brace lists {-t+,--type=}.
zsh_names() {
  grep -oP "(?:(?<=['{,*])|^)--?[[:alnum:]][-[:alnum:]]*(?=[=+[,}'])" "$1" | sort -u
}

# check_values SHELL "TOOL OPT" OFFERED_FILE: the shell offers no value the option rejects
# and every value in $TMP/choices, except a longer spelling of one it offers (warning for
# warn).
check_values() {
  expect_eq "$1 offers no value $2 rejects" "" "$(missing "$3" "$TMP/choices")"
  local choice o spelled absent=()
  while read -r choice; do
    grep -qxF -- "$choice" "$3" && continue
    spelled=0
    while read -r o; do [[ $choice == "$o"* ]] && spelled=1; done <"$3"
    ((spelled)) || absent+=("$choice")
  done <"$TMP/choices"
  expect_eq "$1 offers every value of $2" "" "${absent[*]-}"
}

# missing LIST_FILE OFFERED_FILE: the lines of LIST_FILE absent from OFFERED_FILE, on one line.
missing() { comm -23 <(sort -u "$1") <(sort -u "$2") | xargs; }

for tool in "${TOOLS[@]}"; do
  model=$TMP/$tool.json
  set +e
  "$EVT_BIN_DIR/$tool" --help-json >"$model" 2>"$TMP/$tool.err"
  rc=$?
  set -e
  if ((rc != 0)) || ! jq -e '.help_json == 1 and (.options | length) > 0' "$model" >/dev/null; then
    fail "$tool --help-json: exit $rc, no option model"
    continue
  fi
  pass "$tool --help-json: $(jq '.options | length' "$model") options"
  names_of "$model" >"$TMP/$tool.names"
  names_of "$model" hidden >"$TMP/$tool.all-names"
  jq -r '.. | objects | select(has("env")) | .env // empty' "$model" | sort -u >"$TMP/$tool.envs"
  jq -r '.subcommands[] | .name, .aliases[]' "$model" | sort -u >"$TMP/$tool.subcommands"

  # The man page.
  page=$MAN/$tool.1
  if [[ ! -s $page ]]; then
    fail "no man page man/$tool.1"
  else
    for name in NAME SYNOPSIS DESCRIPTION OPTIONS ENVIRONMENT "EXIT STATUS" EXAMPLES "SEE ALSO"; do
      grep -qE "^\.SH \"?$name\"?\$" "$page" && pass "$tool.1 has $name" ||
        fail "$tool.1: no section $name"
    done
    version=$(jq -r .version "$model")
    grep -q "^\.TH .* \"$version\"" "$page" && pass "$tool.1 .TH says $version" ||
      fail "$tool.1: .TH does not say \"$version\" ($tool --version): $(grep '^\.TH' "$page")"
    section "$page" OPTIONS >"$TMP/$tool.man-options"
    section "$page" ENVIRONMENT >"$TMP/$tool.man-env"
    man_items "$page" >"$TMP/$tool.man-items"
    expect_eq "$tool.1 OPTIONS has an item for every option" "" \
      "$(missing "$TMP/$tool.names" "$TMP/$tool.man-items")"
    expect_eq "$tool.1 OPTIONS lists no option $tool lacks" "" \
      "$(missing "$TMP/$tool.man-items" "$TMP/$tool.all-names")"
    # Each default the command has is the one its item states ("Default: 2m"; a zero
    # duration may read 0).
    wrong=()
    while IFS=$'\t' read -r opt def; do
      said=$(man_item "$page" "$opt" | grep -oE 'Default: *[^ ]+' | head -1 | sed -E 's/Default: *//; s/[.,;)]$//' || true)
      [[ $said == "$def" || ($def =~ ^0[a-z]+$ && $said == 0) ]] || wrong+=("$opt=$def(man:${said:-none})")
    done < <(jq -r '.options[] | select(.default != null and (.hidden | not))
      | "\(.long[0] // .short[0])\t\(.default)"' "$model")
    expect_eq "$tool.1 states every default $tool has" "" "${wrong[*]-}"
    absent=()
    while read -r env; do
      has_token "$TMP/$tool.man-options" "$env" && has_token "$TMP/$tool.man-env" "$env" ||
        absent+=("$env")
    done <"$TMP/$tool.envs"
    expect_eq "$tool.1 names every EVT_* variable in OPTIONS and ENVIRONMENT" "" "${absent[*]-}"
    absent=()
    while read -r sub; do has_token "$page" "$sub" || absent+=("$sub"); done \
      <"$TMP/$tool.subcommands"
    expect_eq "$tool.1 documents every subcommand" "" "${absent[*]-}"
  fi

  # bash: the options after "TOOL -", the subcommands after "TOOL ", each subcommand's
  # options after "TOOL SUB -".
  bash_offer "$tool" - >"$TMP/$tool.bash"
  while read -r sub; do
    bash_offer "$tool" "$sub" - >>"$TMP/$tool.bash"
  done < <(jq -r '.subcommands[] | .name' "$model")
  grep -E '^--?[[:alnum:]]' "$TMP/$tool.bash" | sort -u >"$TMP/$tool.bash-opts" || true
  expect_eq "bash completes every $tool option" "" "$(missing "$TMP/$tool.names" "$TMP/$tool.bash-opts")"
  expect_eq "bash offers no option $tool lacks" "" \
    "$(missing "$TMP/$tool.bash-opts" "$TMP/$tool.all-names")"
  if [[ -s $TMP/$tool.subcommands ]]; then
    bash_offer "$tool" '' >"$TMP/$tool.bash-subs"
    expect_eq "bash completes every $tool subcommand" "" \
      "$(missing <(jq -r '.subcommands[].name' "$model") "$TMP/$tool.bash-subs")"
  fi

  # zsh: the text of its branch.
  zsh_text "$tool" >"$TMP/$tool.zsh"
  if [[ -s $TMP/$tool.zsh ]]; then
    zsh_names "$TMP/$tool.zsh" >"$TMP/$tool.zsh-opts"
    expect_eq "zsh completes every $tool option" "" "$(missing "$TMP/$tool.names" "$TMP/$tool.zsh-opts")"
    expect_eq "zsh offers no option $tool lacks" "" \
      "$(missing "$TMP/$tool.zsh-opts" "$TMP/$tool.all-names")"
    absent=()
    while read -r sub; do has_token "$TMP/$tool.zsh" "$sub" || absent+=("$sub"); done \
      <"$TMP/$tool.subcommands"
    expect_eq "zsh completes every $tool subcommand" "" "${absent[*]-}"
  else
    fail "zsh: no completion names $tool (#compdef in completions/_*)"
  fi

  # fish, run for real.
  if command -v fish >/dev/null; then
    fish_offer "$tool -" >"$TMP/$tool.fish"
    while read -r sub; do
      fish_offer "$tool $sub -" >>"$TMP/$tool.fish"
    done < <(jq -r '.subcommands[] | .name' "$model")
    grep -E '^--?[[:alnum:]]' "$TMP/$tool.fish" | sort -u >"$TMP/$tool.fish-opts" || true
    expect_eq "fish completes every $tool option" "" "$(missing "$TMP/$tool.names" "$TMP/$tool.fish-opts")"
    expect_eq "fish offers no option $tool lacks" "" \
      "$(missing "$TMP/$tool.fish-opts" "$TMP/$tool.all-names")"
    if [[ -s $TMP/$tool.subcommands ]]; then
      fish_offer "$tool " >"$TMP/$tool.fish-subs"
      expect_eq "fish completes every $tool subcommand" "" \
        "$(missing <(jq -r '.subcommands[].name' "$model") "$TMP/$tool.fish-subs")"
    fi
  else
    echo "skip: fish not installed"
  fi

  # Each completion knows which options take a value: bash offers no option right after
  # one (its value comes next) and does after a flag; zsh declares a value as '--name=' or
  # '-n+' and a flag as neither; fish registers a value option as --exclusive,
  # --require-parameter or --force-files and a flag as none of them.
  : >"$TMP/$tool.fish-decl"
  if command -v fish >/dev/null; then
    fish -c 'for f in $argv[2..-1]; source $f; end; complete -c $argv[1]' "$tool" "$COMP"/*.fish \
      >"$TMP/$tool.fish-decl"
  fi
  wrong_bash=() wrong_zsh=() wrong_fish=()
  while read -r takes name; do
    after=$(bash_offer "$tool" "$name" - | grep -cE '^--[[:alnum:]]' || true)
    if { [[ $takes == true ]] && ((after > 0)); } || { [[ $takes == false ]] && ((after == 0)); }; then
      wrong_bash+=("$name")
    fi
    declared=$(grep -oP "(?:(?<=['{,*])|^)\Q$name\E[=+[,}']" "$TMP/$tool.zsh" | cut -c$((${#name} + 1)) |
      sort -u | tr -d '\n' || true)
    # Empty: not declared at all, reported above.
    if [[ -n $declared ]]; then
      if { [[ $takes == true ]] && [[ $declared =~ [^=+] ]]; } ||
        { [[ $takes == false ]] && [[ $declared =~ [=+] ]]; }; then
        wrong_zsh+=("$name")
      fi
    fi
    if [[ -s $TMP/$tool.fish-decl ]]; then
      if [[ $name == --* ]]; then flag="-l ${name#--}"; else flag="-s ${name#-}"; fi
      line=$(grep -E -- "^complete .* $flag( |\$)" "$TMP/$tool.fish-decl" | head -1 || true)
      if [[ $line =~ --exclusive|--require-parameter|--force-files ]]; then
        [[ $takes == true ]] || wrong_fish+=("$name")
      elif [[ -n $line ]]; then
        [[ $takes == false ]] || wrong_fish+=("$name")
      fi
    fi
  done < <(jq -r '.options[] | select(.hidden | not) | .takes_value as $t
    | (.short + .long)[] | "\($t) \(.)"' "$model")
  expect_eq "bash knows which $tool options take a value" "" "${wrong_bash[*]-}"
  expect_eq "zsh knows which $tool options take a value" "" "${wrong_zsh[*]-}"
  expect_eq "fish knows which $tool options take a value" "" "${wrong_fish[*]-}"

  # Choices: the completions offer exactly the values the command accepts.
  while read -r opt; do
    jq -r --arg o "$opt" '.options[] | select((.long + .short) | index($o)) | .choices[]' \
      "$model" | sort -u >"$TMP/choices"
    bash_offer "$tool" "$opt" '' >"$TMP/offered.bash"
    check_values bash "$tool $opt" "$TMP/offered.bash"
    if command -v fish >/dev/null; then
      fish_offer "$tool $opt " >"$TMP/offered.fish"
      check_values fish "$tool $opt" "$TMP/offered.fish"
    fi
    # zsh: the words of the last "(a b c)" on the option's line.
    { grep -E -- "[{,'*]${opt}[=+[,}]" "$TMP/$tool.zsh" || true; } | grep -oE ':\([^()]*\)' |
      tail -1 | tr -d ':()' | tr ' ' '\n' | sed '/^$/d' | sort -u >"$TMP/offered.zsh" || true
    check_values zsh "$tool $opt" "$TMP/offered.zsh"
  done < <(jq -r '.options[] | select(.choices != null and (.hidden | not)) | .long[0] // .short[0]' \
    "$model")
done

# evt(7) lists the variables of every command, and its version is theirs.
section "$MAN/evt.7" ENVIRONMENT >"$TMP/evt7-env"
absent=()
for tool in "${TOOLS[@]}"; do
  while read -r env; do has_token "$TMP/evt7-env" "$env" || absent+=("$env"); done <"$TMP/$tool.envs"
done
expect_eq "evt.7 ENVIRONMENT names every command's EVT_* variables" "" "${absent[*]-}"
for name in ENVIRONMENT "EXIT STATUS"; do
  grep -qE "^\.SH \"?$name\"?\$" "$MAN/evt.7" && pass "evt.7 has $name" || fail "evt.7: no section $name"
done
version=$("$EVT_BIN_DIR/${TOOLS[0]}" --version)
grep -q "^\.TH .* \"$version\"" "$MAN/evt.7" && pass "evt.7 .TH says $version" ||
  fail "evt.7: .TH does not say \"$version\""

finish
