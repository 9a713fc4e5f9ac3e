# bash completion for evt-emit, evt-work, evt-status, evt-dlq and evt-replay  -*- shell-script -*-
# One file for all commands: it is installed as .../completions/<command> for each, and
# whichever name bash-completion loads registers them all.
# Needs nothing from the bash-completion package.

# _evt_words: reads the line up to the cursor and sets
#   cur      the value being completed (after "--opt=" when the word is one),
#   prev     the word before it (the option, for "--opt=value"),
#   _evt_pre what the word holds before cur ("--opt=" or ""),
#   _evt_cut the part of the word that readline keeps: up to its last COMP_WORDBREAKS
#            character ("--opt=", "@"), which replies must not repeat,
#   _evt_nwords the number of whole words before the current one,
#   _evt_after_dd how many words follow "--" before the current one (-1: no "--").
_evt_words() {
  local line=${COMP_LINE:0:COMP_POINT} before w breaks
  local -a words
  cur=${line##*[[:space:]]}
  before=${line:0:${#line}-${#cur}}
  read -r -a words <<<"$before"
  _evt_nwords=${#words[@]}
  prev=
  ((_evt_nwords > 0)) && prev=${words[_evt_nwords - 1]}
  _evt_after_dd=-1
  for w in "${words[@]:1}"; do
    if ((_evt_after_dd >= 0)); then
      ((_evt_after_dd++))
    elif [[ $w == -- ]]; then
      _evt_after_dd=0
    fi
  done
  breaks=${COMP_WORDBREAKS//[[:space:]\"\']/}
  _evt_cut=
  [[ -n $breaks ]] && _evt_cut=${cur%"${cur##*[$breaks]}"}
  _evt_pre=
  if [[ $cur == --*=* ]]; then
    _evt_pre=${cur%%=*}=
    prev=${cur%%=*}
    cur=${cur#*=}
  fi
}

# _evt_reply: turns COMPREPLY from values of cur into what readline replaces.
_evt_reply() {
  local r full
  local -a out=()
  for r in "${COMPREPLY[@]}"; do
    full=$_evt_pre$r
    [[ $full == "$_evt_cut"* ]] && out+=("${full#"$_evt_cut"}")
  done
  COMPREPLY=("${out[@]}")
}

# _evt_files PREFIX: file names for cur with PREFIX removed, PREFIX put back.
_evt_files() {
  local prefix=$1 f
  local IFS=$'\n'
  for f in $(compgen -f -- "${cur#"$prefix"}"); do
    COMPREPLY+=("$prefix$f")
  done
  compopt -o filenames 2>/dev/null
}

# _evt_common PREV: the values of the options every evt command has. Returns 0 when
# PREV is one of them (COMPREPLY set), 1 otherwise.
_evt_common() {
  case $1 in
    --log-format) COMPREPLY=($(compgen -W 'text json' -- "$cur")) ;;
    --log-level) COMPREPLY=($(compgen -W 'debug info warn error off' -- "$cur")) ;;
    --broker)
      # A whole URL, or the start of one: no space after a bare scheme.
      COMPREPLY=($(compgen -W '- redis:// unix:// sqlite:/// redis://127.0.0.1:6379' -- "$cur"))
      [[ ${#COMPREPLY[@]} == 1 && ${COMPREPLY[0]} == *// ]] && compopt -o nospace 2>/dev/null ;;
    --redis-password-file) _evt_files '' ;;
    --max-event-bytes | -q | --queue | --namespace) ;;
    *) return 1 ;;
  esac
  return 0
}

_evt_emit() {
  local cur prev _evt_pre _evt_cut _evt_nwords _evt_after_dd
  COMPREPLY=()
  _evt_words
  case $prev in
    --format)
      COMPREPLY=($(compgen -W 'evt cloudevents' -- "$cur")) ;;
    -p | --payload)
      if [[ $cur == @* ]]; then
        _evt_files @
      else
        COMPREPLY=($(compgen -W '- @' -- "$cur"))
        [[ ${COMPREPLY[*]} == @ ]] && compopt -o nospace 2>/dev/null
      fi ;;
    --on-full) COMPREPLY=($(compgen -W 'wait fail' -- "$cur")) ;;
    --spool) _evt_files '' ; compopt -o dirnames 2>/dev/null ;;
    -t | --type | -s | --source | -k | --key | --id | --correlation-id | -f | --field | \
      --delay | --at | --max-depth | --wait-timeout | --group | --rate | --burst) ;;
    *)
      if ! _evt_common "$prev" && [[ $cur == -* ]]; then
        COMPREPLY=($(compgen -W '-h --help --version --broker -q --queue --namespace
          --redis-password-file --max-event-bytes --log-format --log-level -v --verbose -t --type -s --source -k --key --id --correlation-id
          -p --payload -f --field --stdin --format --delay --at --max-depth --on-full
          --wait-timeout --spool --group --rate --burst' -- "$cur"))
      fi ;;
  esac
  _evt_reply
  return 0
}

_evt_work() {
  local cur prev _evt_pre _evt_cut _evt_nwords _evt_after_dd
  COMPREPLY=()
  _evt_words
  if ((_evt_after_dd == 0)); then
    # The handler command, right after "--".
    if [[ $cur == */* ]]; then
      _evt_files ''
    else
      local IFS=$'\n'
      COMPREPLY=($(compgen -c -- "$cur" | LC_ALL=C sort -u))
    fi
  elif ((_evt_after_dd > 0)); then
    _evt_files ''  # the handler's own arguments
  else
    case $prev in
      --dlq | --header-file | --hmac-secret-file | --metrics-file) _evt_files '' ;;
      --state-dir) _evt_files '' ; compopt -o dirnames 2>/dev/null ;;
      --http | --header | --listen | --metrics-interval) ;;
      -c | --concurrency | --batch | --timeout | --kill-after | --max-retries | --backoff-base | \
        --backoff-max | --jitter | --permanent-exit | --transient-exit | \
        --shutdown-grace | --max-output-bytes | --consumer | --seed | --group | \
        --claim-after | --idempotency-ttl | --retention | --heartbeat | --burst-max-wait | --burst-store-wait) ;;
      *)
        if ! _evt_common "$prev" && [[ $cur == -* ]]; then
          COMPREPLY=($(compgen -W '-h --help --version --broker -q --queue --namespace
            --redis-password-file --max-event-bytes --log-format --log-level -v --verbose -c --concurrency --batch --timeout --kill-after
            --max-retries --backoff-base --backoff-max --jitter --permanent-exit
            --transient-exit --dlq --shutdown-grace --max-output-bytes --consumer
            --seed --group --claim-after --idempotency-ttl --retention --heartbeat
            --burst --burst-max-wait --burst-store-wait --state-dir --http --header --header-file --hmac-secret-file --pipe
            --listen --metrics-file --metrics-interval
            --' -- "$cur"))
        fi ;;
    esac
  fi
  _evt_reply
  return 0
}

_evt_status() {
  local cur prev _evt_pre _evt_cut _evt_nwords _evt_after_dd
  COMPREPLY=()
  _evt_words
  case $prev in
    --format) COMPREPLY=($(compgen -W 'table json prometheus' -- "$cur")) ;;
    -k | --key | --wait | --wait-timeout | --window | --watch | --max-dlq | --max-dlq-warn | \
      --max-dlq-growth | --max-dlq-growth-warn | --max-failure-ratio | \
      --max-failure-ratio-warn | --max-lag | --max-lag-warn | --min-consumers | \
      --min-consumers-warn) ;;
    *)
      if ! _evt_common "$prev" && [[ $cur == -* ]]; then
        COMPREPLY=($(compgen -W '-h --help --version --broker -q --queue --namespace
          --redis-password-file --max-event-bytes --log-format --log-level -v --verbose
          -k --key --wait --wait-timeout --window --types --json --format --watch --summary
          --check --max-dlq --max-dlq-warn --max-dlq-growth --max-dlq-growth-warn
          --max-failure-ratio --max-failure-ratio-warn --max-lag --max-lag-warn
          --min-consumers --min-consumers-warn' -- "$cur"))
      fi ;;
  esac
  _evt_reply
  return 0
}

# _evt_filter PREV: the values of the filter options of evt-dlq and evt-replay. Returns 0
# when PREV is one of them (COMPREPLY set), 1 otherwise.
_evt_filter() {
  case $1 in
    --category)
      COMPREPLY=($(compgen -W 'data auth network dependency timeout crash internal' -- "$cur")) ;;
    --reason)
      COMPREPLY=($(compgen -W 'permanent retries_exhausted poison invalid interrupted' -- "$cur")) ;;
    --type | --since | --until | --limit | --id) ;;
    *) return 1 ;;
  esac
  return 0
}

_evt_common_words='-h --help --version --broker -q --queue --namespace --redis-password-file
  --max-event-bytes --log-format --log-level -v --verbose'
_evt_filter_words='--type --since --until --category --reason --limit'

_evt_dlq() {
  local cur prev _evt_pre _evt_cut _evt_nwords _evt_after_dd w sub=
  COMPREPLY=()
  _evt_words
  for w in ${COMP_LINE:0:COMP_POINT}; do
    case $w in list | show | stats | export | purge) sub=$w ;; esac
  done
  case $prev in
    --file) _evt_files '' ;;
    *)
      if ! _evt_common "$prev" && ! _evt_filter "$prev"; then
        if [[ $cur == -* ]]; then
          COMPREPLY=($(compgen -W "$_evt_common_words $_evt_filter_words --file -y --yes" -- "$cur"))
        elif [[ -z $sub ]]; then
          COMPREPLY=($(compgen -W 'list show stats export purge' -- "$cur"))
        fi
      fi ;;
  esac
  _evt_reply
  return 0
}

_evt_replay() {
  local cur prev _evt_pre _evt_cut _evt_nwords _evt_after_dd
  COMPREPLY=()
  _evt_words
  case $prev in
    --from-file) _evt_files '' ;;
    --to)
      # - (NDJSON on stdout), or a broker URL or the start of one: no space after a scheme.
      COMPREPLY=($(compgen -W '- redis:// unix:// sqlite:///' -- "$cur"))
      [[ ${#COMPREPLY[@]} == 1 && ${COMPREPLY[0]} == *// ]] && compopt -o nospace 2>/dev/null ;;
    --to-queue | --rate) ;;
    *)
      if ! _evt_common "$prev" && ! _evt_filter "$prev" && [[ $cur == -* ]]; then
        COMPREPLY=($(compgen -W "$_evt_common_words $_evt_filter_words --from-dlq --from-stream
          --from-file --id --to-queue --to -n --dry-run --rate --keep-retries --force
          --keep" -- "$cur"))
      fi ;;
  esac
  _evt_reply
  return 0
}

complete -F _evt_emit evt-emit
complete -F _evt_work evt-work
complete -F _evt_status evt-status
complete -F _evt_dlq evt-dlq
complete -F _evt_replay evt-replay
