# fish completion for evt-emit, evt-work, evt-status, evt-dlq and evt-replay.
# Installed as <command>.fish for each (fish loads <command>.fish): each copy defines all
# commands; fish merges what a second copy repeats.

# --broker: - (NDJSON on stdin/stdout), a Redis or SQLite URL, or the start of one.
function __evt_broker
    printf '%s\t%s\n' - 'NDJSON on standard input and output' \
        redis:// 'Redis over TCP: redis://[user[:pass]@]host[:port][/db]' \
        unix:// 'Redis over a Unix socket: unix:///path?db=N' \
        sqlite:/// 'One SQLite file on this host: sqlite:///path/evt.db' \
        redis://127.0.0.1:6379 'Redis on this host'
end

# Options every evt command has.
for cmd in evt-emit evt-work evt-status evt-dlq evt-replay
    complete -c $cmd -s h -l help -d 'Print the options and exit'
    complete -c $cmd -l version -d 'Print the version and exit'
    complete -c $cmd -l broker -x -a '(__evt_broker)' -d 'Where events go and come from'
    complete -c $cmd -s q -l queue -x -d 'Queue name'
    complete -c $cmd -l namespace -x -d 'Prefix of every Redis key'
    complete -c $cmd -l redis-password-file -r -F -d 'Read the Redis password from FILE'
    complete -c $cmd -l max-event-bytes -x -d 'Largest serialized event and input line accepted'
    complete -c $cmd -l log-format -x -a 'text json' -d 'Log lines on stderr as text or json'
    complete -c $cmd -l log-level -x -a 'debug info warn error off' -d 'Log level'
    complete -c $cmd -s v -l verbose -d 'Log every attempt (at least --log-level info)'
end

# evt-emit
function __evt_emit_payload
    set -l tok (string replace -r -- '^(--payload=|-p)' '' (commandline -ct))
    if string match -q -- '@*' $tok
        for f in (__fish_complete_path (string sub -s 2 -- $tok))
            printf '@%s\n' $f
        end
    else
        printf '%s\t%s\n' - 'read the payload from standard input' @ 'read the payload from FILE'
    end
end

complete -c evt-emit -s t -l type -x -d 'event_type, e.g. server.backup.requested'
complete -c evt-emit -s s -l source -x -a '(__fish_print_hostnames)' -d 'source (default: the host name)'
complete -c evt-emit -s k -l key -x -d 'idempotency_key (default: the event_id)'
complete -c evt-emit -l id -x -d 'event_id (default: evt_ + a new ULID)'
complete -c evt-emit -l correlation-id -x -d 'correlation_id (default: the event_id)'
complete -c evt-emit -s p -l payload -x -a '(__evt_emit_payload)' -d 'payload: JSON object text, @FILE, or - for stdin'
complete -c evt-emit -s f -l field -x -d 'payload field: KEY=VALUE (string) or KEY:=JSON'
complete -c evt-emit -l stdin -d 'Read many events as NDJSON on stdin'
complete -c evt-emit -l format -x -a 'evt cloudevents' -d 'Output format'
complete -c evt-emit -l delay -x -d 'Deliver after this long (Redis)'
complete -c evt-emit -l at -x -d 'Deliver at this RFC 3339 time (Redis)'
complete -c evt-emit -l max-depth -x -d 'Backpressure: queued + pending events allowed'
complete -c evt-emit -l on-full -x -a 'wait fail' -d 'When the queue is at --max-depth'
complete -c evt-emit -l wait-timeout -x -d 'How long --on-full wait (and a Redis outage) may last'
complete -c evt-emit -l spool -x -a '(__fish_complete_directories)' -d 'Spool events to DIR while Redis is unreachable'
complete -c evt-emit -l group -x -d 'Consumer group whose backlog --max-depth counts'
complete -c evt-emit -l rate -x -d 'Pace --stdin: N/s, N/m or N/h'
complete -c evt-emit -l burst -x -d 'With --rate: events that may go at once after a pause'

# evt-work: options until "--", then the handler command and its arguments.
function __evt_work_dashdash
    # True once "--" stands before the token being completed.
    contains -- -- (commandline -opc)
end

function __evt_work_want_command
    # True right after "--": the next word is the handler command.
    set -l words (commandline -opc)
    test "$words[-1]" = --
end

complete -c evt-work -n 'not __evt_work_dashdash' -s c -l concurrency -x -d 'Handlers running at once (1-1024)'
complete -c evt-work -n 'not __evt_work_dashdash' -l batch -x -d 'Most entries a thread takes at once (1-1000)'
complete -c evt-work -n 'not __evt_work_dashdash' -l timeout -x -d 'Handler time limit, then SIGTERM to its process group'
complete -c evt-work -n 'not __evt_work_dashdash' -l kill-after -x -d 'After the SIGTERM of a timeout, SIGKILL this much later'
complete -c evt-work -n 'not __evt_work_dashdash' -l max-retries -x -d 'Retries of a transient failure, then DLQ'
complete -c evt-work -n 'not __evt_work_dashdash' -l backoff-base -x -d 'Delay before the first retry (doubles each retry)'
complete -c evt-work -n 'not __evt_work_dashdash' -l backoff-max -x -d 'Cap on the retry delay'
complete -c evt-work -n 'not __evt_work_dashdash' -l jitter -x -d 'Extra random delay, up to this fraction of it'
complete -c evt-work -n 'not __evt_work_dashdash' -l permanent-exit -x -d 'Handler exit codes that are permanent failures, e.g. 64-66,78'
complete -c evt-work -n 'not __evt_work_dashdash' -l transient-exit -x -d 'Handler exit codes that are transient failures, e.g. 65'
complete -c evt-work -n 'not __evt_work_dashdash' -l dlq -r -F -d 'Append dead letters to FILE as NDJSON'
complete -c evt-work -n 'not __evt_work_dashdash' -l shutdown-grace -x -d 'On SIGTERM/SIGINT, how long running handlers may finish'
complete -c evt-work -n 'not __evt_work_dashdash' -l max-output-bytes -x -d 'Bound on captured handler stdout and stderr, each'
complete -c evt-work -n 'not __evt_work_dashdash' -l consumer -x -d 'Consumer name in logs and dead letters'
complete -c evt-work -n 'not __evt_work_dashdash' -l seed -x -d 'Seed of the retry jitter (0 = random)'
complete -c evt-work -n 'not __evt_work_dashdash' -l burst -d 'Process everything due, then exit (for cron)'
complete -c evt-work -n 'not __evt_work_dashdash' -l burst-max-wait -x -d 'With --burst: also wait for retries due this long after the start'
complete -c evt-work -n 'not __evt_work_dashdash' -l burst-store-wait -x -d 'With --burst: exit 69 when the broker stays unreachable this long'
complete -c evt-work -n 'not __evt_work_dashdash' -l group -x -d 'Redis consumer group'
complete -c evt-work -n 'not __evt_work_dashdash' -l claim-after -x -d 'Claim entries of dead consumers idle this long'
complete -c evt-work -n 'not __evt_work_dashdash' -l idempotency-ttl -x -d 'How long a done record keeps a key from running again'
complete -c evt-work -n 'not __evt_work_dashdash' -l retention -x -d 'Keep stream history at least this long'
complete -c evt-work -n 'not __evt_work_dashdash' -l heartbeat -x -d 'How often the worker reports itself alive'
complete -c evt-work -n 'not __evt_work_dashdash' -l state-dir -x -a '(__fish_complete_directories)' -d 'Folder of the outcome journal'
complete -c evt-work -n 'not __evt_work_dashdash' -l http -x -d 'POST each event to URL instead of running a command'
complete -c evt-work -n 'not __evt_work_dashdash' -l header -x -d 'Extra HTTP header \'Name: value\' (repeatable)'
complete -c evt-work -n 'not __evt_work_dashdash' -l header-file -r -F -d 'Extra HTTP headers from FILE, one per line'
complete -c evt-work -n 'not __evt_work_dashdash' -l hmac-secret-file -r -F -d 'Sign each body with the HMAC-SHA256 key in FILE'
complete -c evt-work -n 'not __evt_work_dashdash' -l pipe -d 'Run the command as long-lived co-processes, one event per line'
complete -c evt-work -n 'not __evt_work_dashdash' -l listen -x -d 'Serve GET /healthz and GET /metrics on ADDR:PORT'
complete -c evt-work -n 'not __evt_work_dashdash' -l metrics-file -r -F -d 'Rewrite the metrics to FILE (Prometheus text) every interval'
complete -c evt-work -n 'not __evt_work_dashdash' -l metrics-interval -x -d 'How often --metrics-file is rewritten'
complete -c evt-work -n 'not __evt_work_dashdash' -f
complete -c evt-work -n '__evt_work_want_command' -x -a '(__fish_complete_command)' -d 'Handler command'
complete -c evt-work -n '__evt_work_dashdash; and not __evt_work_want_command' -F

# evt-status
complete -c evt-status -s k -l key -x -d 'Status of the event with this idempotency key'
complete -c evt-status -l wait -x -d 'Block until this event is done (exit 0) or failed (exit 1)'
complete -c evt-status -l wait-timeout -x -d 'Longest --wait (0: no limit), then exit 75'
complete -c evt-status -l window -x -d 'Time the rates, counts and percentiles cover'
complete -c evt-status -l types -d 'Per event type: outcomes, retry rate, p50/p95/p99'
complete -c evt-status -l json -d 'JSON output'
complete -c evt-status -l format -x -a 'table json prometheus' -d 'Output format'
complete -c evt-status -l watch -x -d 'Redraw every INTERVAL (default 2s)'
complete -c evt-status -l summary -d 'Per-type table of evt-work result lines on stdin'
complete -c evt-status -l check -d 'One status line; exit 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN'
complete -c evt-status -l max-dlq -x -d '--check: CRITICAL above this many dead letters'
complete -c evt-status -l max-dlq-warn -x -d '--check: WARNING above this many dead letters'
complete -c evt-status -l max-dlq-growth -x -d '--check: CRITICAL above this many new dead letters'
complete -c evt-status -l max-dlq-growth-warn -x -d '--check: WARNING above this many new dead letters'
complete -c evt-status -l max-failure-ratio -x -d '--check: CRITICAL above this failed/(done+failed)'
complete -c evt-status -l max-failure-ratio-warn -x -d '--check: WARNING above this failed/(done+failed)'
complete -c evt-status -l max-lag -x -d '--check: CRITICAL above this group lag'
complete -c evt-status -l max-lag-warn -x -d '--check: WARNING above this group lag'
complete -c evt-status -l min-consumers -x -d '--check: CRITICAL below this many live consumers'
complete -c evt-status -l min-consumers-warn -x -d '--check: WARNING below this many live consumers'
complete -c evt-status -f
# evt-dlq and evt-replay: the same filters, written out for each command.
set -l __evt_categories 'data auth network dependency timeout crash internal'
set -l __evt_reasons 'permanent retries_exhausted poison invalid interrupted'
complete -c evt-dlq -l type -x -d 'Only events whose event_type matches this glob'
complete -c evt-dlq -l since -x -d 'Only records from this time: RFC 3339 or a duration ago'
complete -c evt-dlq -l until -x -d 'Only records before this time'
complete -c evt-dlq -l category -x -a "$__evt_categories" -d 'Only this failure category'
complete -c evt-dlq -l reason -x -a "$__evt_reasons" -d 'Only this reason'
complete -c evt-dlq -l limit -x -d 'At most this many records, oldest first'
complete -c evt-dlq -l file -r -F -d 'Read a dead-letter file instead of a broker'
complete -c evt-dlq -s y -l yes -d 'purge: do not ask'
complete -c evt-dlq -f -n '__fish_use_subcommand' -a list -d 'One line per dead letter'
complete -c evt-dlq -f -n '__fish_use_subcommand' -a show -d 'Everything about one dead letter'
complete -c evt-dlq -f -n '__fish_use_subcommand' -a stats -d 'Counts by type, reason and category'
complete -c evt-dlq -f -n '__fish_use_subcommand' -a export -d 'NDJSON records, as evt-work --dlq writes them'
complete -c evt-dlq -f -n '__fish_use_subcommand' -a purge -d 'Delete the matching dead letters'

complete -c evt-replay -l type -x -d 'Only events whose event_type matches this glob'
complete -c evt-replay -l since -x -d 'Only records from this time: RFC 3339 or a duration ago'
complete -c evt-replay -l until -x -d 'Only records before this time'
complete -c evt-replay -l category -x -a "$__evt_categories" -d 'Only this failure category'
complete -c evt-replay -l reason -x -a "$__evt_reasons" -d 'Only this reason'
complete -c evt-replay -l limit -x -d 'At most this many records, oldest first'
complete -c evt-replay -l from-dlq -d 'Replay dead letters (the default)'
complete -c evt-replay -l from-stream -d 'Replay the retained stream history'
complete -c evt-replay -l from-file -r -F -d 'Replay the events or records of FILE (- for stdin)'
complete -c evt-replay -l id -x -d 'Only this dead letter id, stream id or event_id'
complete -c evt-replay -l to-queue -x -d 'Target queue'
complete -c evt-replay -l to -x -a '(__evt_broker)' -d 'NDJSON on stdout (-), or the broker URL to move the events to'
complete -c evt-replay -s n -l dry-run -d 'Print what would be replayed, change nothing'
complete -c evt-replay -l rate -x -d 'Pace the writes: N/s, N/m or N/h'
complete -c evt-replay -l keep-retries -d 'Keep retry_count (default: reset to 0)'
complete -c evt-replay -l force -d 'Run done keys again under a derived key'
complete -c evt-replay -l keep -d 'Leave the dead letters in place'
complete -c evt-replay -f
