# fish completion for evt-emit and evt-work.
# Installed as evt-emit.fish and evt-work.fish (fish loads <command>.fish): each copy
# defines both commands; fish merges what a second copy repeats.

# --broker: - (NDJSON on stdin/stdout), a Redis URL, or the start of one.
function __evt_broker
    printf '%s\t%s\n' - 'NDJSON on standard input and output' \
        redis:// 'Redis over TCP: redis://[user[:pass]@]host[:port][/db]' \
        unix:// 'Redis over a Unix socket: unix:///path?db=N' \
        redis://127.0.0.1:6379 'Redis on this host'
end

# Options every evt command has.
for cmd in evt-emit evt-work
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
