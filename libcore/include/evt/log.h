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
Result<LogLevel> ParseLogLevel(std::string_view text);    // debug|info|warn|error|off

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
struct EventLogContext {
  std::string_view event_id;
  std::string_view idempotency_key;
  std::string_view event_type;
  std::string_view consumer;
  int attempt = 0;
};

// Logs `msg` with the event's fields first, then `extra`.
void LogEvent(LogLevel level, std::string_view msg, const EventLogContext& event,
              std::initializer_list<LogField> extra = {});
bool LogEnabled(LogLevel level);

}  // namespace evt
