#include "evt/log.h"

#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <vector>

namespace evt {
namespace {

struct LogState {
  std::shared_ptr<spdlog::logger> logger;
  LogOptions options;
};

LogState& State() {
  static LogState state;
  return state;
}

spdlog::level::level_enum ToSpd(LogLevel l) {
  switch (l) {
    case LogLevel::kDebug:
      return spdlog::level::debug;
    case LogLevel::kInfo:
      return spdlog::level::info;
    case LogLevel::kWarn:
      return spdlog::level::warn;
    case LogLevel::kError:
      return spdlog::level::err;
    case LogLevel::kOff:
      return spdlog::level::off;
  }
  return spdlog::level::info;
}

const char* LevelName(LogLevel l) {
  switch (l) {
    case LogLevel::kDebug:
      return "debug";
    case LogLevel::kInfo:
      return "info";
    case LogLevel::kWarn:
      return "warn";
    case LogLevel::kError:
      return "error";
    case LogLevel::kOff:
      return "off";
  }
  return "info";
}

// A text value is written bare when it is a plain token, quoted (JSON-escaped) otherwise,
// so that a line stays one line and splits unambiguously on spaces.
void AppendTextValue(std::string* out, const Json& v) {
  if (!v.is_string()) {
    out->append(v.dump());
    return;
  }
  const std::string& s = v.get_ref<const std::string&>();
  bool plain = !s.empty();
  for (unsigned char c : s) {
    if (c <= ' ' || c == '"' || c == '=' || c == '\\' || c >= 0x7f) {
      plain = false;
      break;
    }
  }
  if (plain) {
    out->append(s);
  } else {
    out->append(v.dump(-1, ' ', false, Json::error_handler_t::replace));
  }
}

}  // namespace

Result<LogFormat> ParseLogFormat(std::string_view text) {
  if (text == "text") return LogFormat::kText;
  if (text == "json") return LogFormat::kJson;
  return Status::Usage("--log-format must be text or json (got \"" + std::string(text) + "\")");
}

bool IsJournalStream(const char* journal_stream, int fd) {
  if (journal_stream == nullptr) return false;
  unsigned long long dev = 0, ino = 0;
  char extra = 0;
  if (std::sscanf(journal_stream, "%llu:%llu%c", &dev, &ino, &extra) != 2) return false;
  struct stat st {};
  if (fstat(fd, &st) != 0) return false;
  return static_cast<unsigned long long>(st.st_dev) == dev &&
         static_cast<unsigned long long>(st.st_ino) == ino;
}

LogFormat DefaultLogFormat(LogAudience audience, bool stderr_is_terminal, bool stderr_is_journal) {
  if (stderr_is_journal) return LogFormat::kJson;
  if (audience == LogAudience::kService && !stderr_is_terminal) return LogFormat::kJson;
  return LogFormat::kText;
}

LogFormat DefaultLogFormat(LogAudience audience) {
  return DefaultLogFormat(audience, isatty(STDERR_FILENO) == 1,
                          IsJournalStream(std::getenv("JOURNAL_STREAM"), STDERR_FILENO));
}

Result<LogLevel> ParseLogLevel(std::string_view text) {
  if (text == "debug") return LogLevel::kDebug;
  if (text == "info") return LogLevel::kInfo;
  if (text == "warn" || text == "warning") return LogLevel::kWarn;
  if (text == "error") return LogLevel::kError;
  if (text == "off") return LogLevel::kOff;
  return Status::Usage("--log-level must be debug, info, warn, error or off (got \"" +
                       std::string(text) + "\")");
}

void InitLogging(const LogOptions& options) {
  LogState& st = State();
  st.options = options;
  auto sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
  st.logger = std::make_shared<spdlog::logger>(options.tool, std::move(sink));
  st.logger->set_pattern("%v");  // lines are formatted here, spdlog only filters and writes
  st.logger->set_level(ToSpd(options.level));
  st.logger->flush_on(spdlog::level::trace);
}

bool LogEnabled(LogLevel level) {
  const LogState& st = State();
  if (!st.logger) return level >= LogOptions{}.level && level != LogLevel::kOff;
  return st.logger->should_log(ToSpd(level));
}

namespace {

void Emit(LogLevel level, std::string_view msg, const LogField* begin, const LogField* end) {
  LogState& st = State();
  if (!st.logger) InitLogging(LogOptions{});
  std::string line;
  if (st.options.format == LogFormat::kJson) {
    Json j;
    j["ts"] = FormatRfc3339Millis(NowUnixMillis());
    j["level"] = LevelName(level);
    j["tool"] = st.options.tool;
    j["msg"] = msg;
    for (const LogField* f = begin; f != end; ++f) j[std::string(f->key)] = f->value;
    line = j.dump(-1, ' ', false, Json::error_handler_t::replace);
  } else {
    line.reserve(128);
    line.append(st.options.tool).append(": ").append(LevelName(level)).append(": ");
    line.append(msg);
    for (const LogField* f = begin; f != end; ++f) {
      line.push_back(' ');
      line.append(f->key).push_back('=');
      AppendTextValue(&line, f->value);
    }
  }
  st.logger->log(ToSpd(level), "{}", line);
}

}  // namespace

void Log(LogLevel level, std::string_view msg, std::initializer_list<LogField> fields) {
  if (level == LogLevel::kOff || !LogEnabled(level)) return;
  Emit(level, msg, fields.begin(), fields.end());
}

void LogEvent(LogLevel level, std::string_view msg, const EventLogContext& event,
              std::initializer_list<LogField> extra) {
  if (level == LogLevel::kOff || !LogEnabled(level)) return;
  std::vector<LogField> fields;
  fields.reserve(6 + extra.size());
  fields.push_back({"event_id", event.event_id});
  fields.push_back({"idempotency_key", event.idempotency_key});
  fields.push_back({"event_type", event.event_type});
  fields.push_back({"consumer", event.consumer});
  fields.push_back({"attempt", event.attempt});
  fields.push_back(
      {"correlation_id", event.correlation_id.empty() ? event.event_id : event.correlation_id});
  fields.insert(fields.end(), extra.begin(), extra.end());
  Emit(level, msg, fields.data(), fields.data() + fields.size());
}

}  // namespace evt
