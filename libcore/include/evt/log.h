// Logging: one line per message on stderr, as text or JSON, through spdlog.
//
//   text:  evt-work: warn: attempt failed event_id=evt_01H... attempt=1 outcome=transient
//   json:  {"ts":"2026-...Z","level":"warn","tool":"evt-work","msg":"attempt failed",...}
//
// Never writes to stdout: stdout is data. Thread-safe once InitLogging() has run.
#pragma once

#include <initializer_list>
#include <string>
#include <string_view>

#include "evt/event.h"
#include "evt/status.h"

namespace evt {

enum class LogFormat { kText, kJson };
enum class LogLevel { kDebug, kInfo, kWarn, kError, kOff };

Result<LogFormat> ParseLogFormat(std::string_view text);  // "text" | "json"

// Whether `journal_stream` (the JOURNAL_STREAM variable systemd sets, "DEV:INODE") names
// the file `fd` is open on: then stderr goes to the journal. False for null or malformed.
bool IsJournalStream(const char* journal_stream, int fd);
// Who reads a command's log lines when --log-format is not given.
enum class LogAudience {
  kPerson,   // a terminal, a script or cron mail (evt-emit, evt-status, evt-dlq, evt-replay,
             // evt-work on stdio or with --burst): text, unless stderr is the journal
  kService,  // a long-running service (evt-work on a durable broker): a log collector reads
             // it whenever stderr is not a terminal (the journal, a file, a container's pipe)
};
// The format when --log-format is not given, the rule itself: json when stderr is
// systemd's journal, or for a service whenever stderr is not a terminal; text otherwise.
LogFormat DefaultLogFormat(LogAudience audience, bool stderr_is_terminal, bool stderr_is_journal);
// The same rule for this process: isatty(2) and IsJournalStream(getenv("JOURNAL_STREAM"), 2).
LogFormat DefaultLogFormat(LogAudience audience);
Result<LogLevel> ParseLogLevel(std::string_view text);  // debug|info|warn|error|off

struct LogOptions {
  std::string tool = "evt";             // prefix of every line, the command's name
  LogFormat format = LogFormat::kText;  // --log-format
  LogLevel level = LogLevel::kWarn;     // --log-level: quiet unless something is wrong
};

// Sets up the process-wide logger. Call once from main() before any Log().
void InitLogging(const LogOptions& options);

// A structured field of a log line. Values are JSON (string, number, bool).
struct LogField {
  std::string_view key;
  Json value;
};

// Logs `msg` with `fields` at `level` if enabled.
void Log(LogLevel level, std::string_view msg, std::initializer_list<LogField> fields = {});

// The fields every line about one event attempt carries (DESIGN.md, "Observability").
// Built as {event_id, key, type, consumer, attempt} or with a correlation_id after them.
struct EventLogContext {
  EventLogContext(std::string_view event_id_, std::string_view idempotency_key_,
                  std::string_view event_type_, std::string_view consumer_, int attempt_,
                  std::string_view correlation_id_ = {})
      : event_id(event_id_),
        idempotency_key(idempotency_key_),
        event_type(event_type_),
        consumer(consumer_),
        attempt(attempt_),
        correlation_id(correlation_id_) {}
  std::string_view event_id;
  std::string_view idempotency_key;
  std::string_view event_type;
  std::string_view consumer;
  int attempt = 0;
  std::string_view correlation_id;  // empty: the event_id (the contract's default)
};

// Logs `msg` with the event's fields first (event_id, idempotency_key, event_type,
// consumer, attempt, correlation_id), then `extra`.
void LogEvent(LogLevel level, std::string_view msg, const EventLogContext& event,
              std::initializer_list<LogField> extra = {});
bool LogEnabled(LogLevel level);

}  // namespace evt
