#include "evt/cli.h"

#include <cstdio>
#include <cstdlib>

#include "evt/broker.h"
#include "evt/exit_code.h"
#include "evt/signals.h"

namespace evt {

std::string VersionString() { return "evt 0.1.0"; }

void SetUpApp(CLI::App& app, CommonOptions* common) {
  app.set_version_flag("--version", VersionString(), "Print the version and exit");
  app.footer(
      "Every option also reads the EVT_* environment variable shown (flag > environment > "
      "default).\nDurations read 250ms, 90s, 5m, 2h, 7d. See the man page for exit statuses.");
  app.get_formatter()->column_width(36);
  app.add_option(
         "--broker", common->broker,
         "- (NDJSON on stdin/stdout), redis://[user[:pass]@]host[:port][/db] or unix:///path?db=N")
      ->envname("EVT_BROKER")
      ->capture_default_str();
  app.add_option("-q,--queue", common->queue, "Queue name: 1-64 of [A-Za-z0-9_.-]")
      ->envname("EVT_QUEUE")
      ->capture_default_str();
  app.add_option("--namespace", common->ns, "Prefix of every Redis key")
      ->envname("EVT_NAMESPACE")
      ->capture_default_str();
  app.add_option("--redis-password-file", common->redis_password_file,
                 "Read the Redis password from FILE (or set EVT_REDIS_PASSWORD)")
      ->envname("EVT_REDIS_PASSWORD_FILE");
  app.add_option("--max-event-bytes", common->max_event_bytes,
                 "Largest serialized event (and input line) accepted")
      ->envname("EVT_MAX_EVENT_BYTES")
      ->check(CLI::Range(std::size_t{256}, std::size_t{64} * 1024 * 1024))
      ->capture_default_str();
  app.add_option("--log-format", common->log_format, "Log lines on stderr as text or json")
      ->envname("EVT_LOG_FORMAT")
      ->check(CLI::IsMember({"text", "json"}))
      ->capture_default_str();
  app.add_option("--log-level", common->log_level, "debug, info, warn, error or off")
      ->envname("EVT_LOG_LEVEL")
      ->check(CLI::IsMember({"debug", "info", "warn", "warning", "error", "off"}))
      ->capture_default_str();
}

CLI::Option* AddDurationOption(CLI::App& app, const std::string& name, Millis* target,
                               const std::string& help, const std::string& env) {
  auto* opt = app.add_option_function<std::string>(
      name,
      [name, target](const std::string& text) {
        Result<Millis> d = ParseDuration(text);
        if (!d.ok()) throw CLI::ValidationError(name, d.status().message());
        *target = *d;
      },
      help);
  opt->envname(env)->default_str(FormatDuration(*target))->type_name("DURATION");
  return opt;
}

int ParseCommandLine(CLI::App& app, int argc, char** argv) {
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);  // --help, --version: print, exit 0
    std::fprintf(stderr, "%s: error: %s\nRun '%s --help' for usage.\n", app.get_name().c_str(),
                 e.what(), app.get_name().c_str());
    return kExitUsage;
  }
  return -1;
}

Status ApplyCommonOptions(const std::string& tool, const CommonOptions& common) {
  Result<LogFormat> format = ParseLogFormat(common.log_format);
  if (!format.ok()) return format.status();
  Result<LogLevel> level = ParseLogLevel(common.log_level);
  if (!level.ok()) return level.status();
  InitLogging(LogOptions{tool, *format, *level});
  if (Status s = ValidateQueueName(common.queue); !s.ok()) return s;
  if (Status s = ValidateNamespace(common.ns); !s.ok()) return s;
  Result<BrokerConfig> broker = ParseBrokerUrl(common.broker);
  if (!broker.ok()) return broker.status();
  return Status::Ok();
}

Result<BrokerConfig> ResolveBroker(const CommonOptions& common) {
  Result<BrokerConfig> broker = ParseBrokerUrl(common.broker);
  if (!broker.ok()) return broker.status();
  if (broker->is_redis()) {
    Status s = ResolveRedisPassword(&*broker, common.redis_password_file,
                                    std::getenv("EVT_REDIS_PASSWORD"));
    if (!s.ok()) return s;
  }
  return broker;
}

Result<BrokerConfig> StartCommand(const std::string& tool, const CommonOptions& common) {
  InstallStopSignals();
  if (Status s = ApplyCommonOptions(tool, common); !s.ok()) return s;
  return ResolveBroker(common);
}

int ReportFatal(const std::string& tool, const Status& status) {
  std::fprintf(stderr, "%s: error: %s\n", tool.c_str(), status.message().c_str());
  return ExitCodeFor(status);
}

}  // namespace evt
