#include "evt/cli.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <regex>
#include <vector>

#include "evt/broker.h"
#include "evt/exit_code.h"
#include "evt/signals.h"

namespace evt {
namespace {

constexpr std::size_t kNone = std::string::npos;

// Optimal string alignment distance: an insertion, a deletion, a substitution or a swap of
// two neighbours costs one each, so "tpye" is one away from "type".
std::size_t EditDistance(const std::string& a, const std::string& b) {
  std::vector<std::vector<std::size_t>> d(a.size() + 1, std::vector<std::size_t>(b.size() + 1));
  for (std::size_t i = 0; i <= a.size(); ++i) d[i][0] = i;
  for (std::size_t j = 0; j <= b.size(); ++j) d[0][j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    for (std::size_t j = 1; j <= b.size(); ++j) {
      std::size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) {
        d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
      }
    }
  }
  return d[a.size()][b.size()];
}

// "--name=value" → "--name".
std::string OptionToken(const std::string& arg) { return arg.substr(0, arg.find('=')); }

bool LooksLikeOption(const std::string& arg) {
  return arg.size() > 1 && arg[0] == '-' && arg != "--";
}

// The option an argument names ("--type", "--type=x", "-t", "-tx"), or null.
const CLI::Option* OptionOf(const CLI::App& app, const std::string& arg) {
  if (!LooksLikeOption(arg)) return nullptr;
  if (arg[1] == '-') return app.get_option_no_throw(OptionToken(arg));
  return app.get_option_no_throw(arg.substr(0, 2));
}

// A word as a shell would need it typed.
std::string ShellQuote(const std::string& word) {
  static const std::regex kPlain("[A-Za-z0-9_./:=@%+,-]+");
  if (std::regex_match(word, kPlain)) return word;
  std::string out = "'";
  for (char c : word) {
    if (c == '\'') {
      out += "'\\''";
    } else {
      out += c;
    }
  }
  return out + "'";
}

bool IsNumber(const std::string& text) {
  if (text.empty()) return false;
  char* end = nullptr;
  std::strtod(text.c_str(), &end);
  return end == text.c_str() + text.size();
}

// "10.000000" → "10", as CLI11 prints the bounds of a floating-point range.
std::string TrimNumber(std::string n) {
  if (n.find('.') == kNone) return n;
  while (!n.empty() && n.back() == '0') n.pop_back();
  if (!n.empty() && n.back() == '.') n.pop_back();
  return n;
}

// What went wrong, in words, and the index in `args` of the argument at fault (kNone when
// none is, e.g. a value from the environment).
struct Explained {
  std::string message;
  std::size_t at = kNone;
};

// Whether the argument `arg` is an option of `app` followed by its value as the next
// argument ("--timeout 5s", "-c 4"; not "--timeout=5s", "-c4" or a flag). A flag's type
// size is 1 (it may take "--flag=value") but it expects no item: count the items.
bool ValueFollows(const CLI::App& app, const std::string& arg) {
  const CLI::Option* o = OptionOf(app, arg);
  return o != nullptr && o->get_items_expected_max() > 0 && arg.find('=') == kNone &&
         (arg[1] == '-' || arg.size() == 2);
}

// An unknown option, or an argument nobody takes.
Explained ExplainExtras(const CLI::App& app, const std::vector<std::string>& args) {
  bool takes_words = false;
  for (const CLI::Option* o : app.get_options()) takes_words |= o->get_positional();
  for (std::size_t i = 0; i < args.size() && args[i] != "--"; ++i) {
    if (!LooksLikeOption(args[i])) {
      if (!takes_words) return {"unexpected argument " + ShellQuote(args[i]), i};
      continue;
    }
    if (OptionOf(app, args[i]) == nullptr) {
      std::string near = NearestOption(app, args[i]);
      return {"unknown option " + OptionToken(args[i]) +
                  (near.empty() ? "" : " (did you mean " + near + "?)"),
              i};
    }
    if (ValueFollows(app, args[i])) ++i;
  }
  return {};
}

// A value CLI11 could not convert or check. Its messages are "--name: <problem>" and
// "Could not convert: --name = <value>".
Explained ExplainValue(const CLI::App& app, const std::string& what,
                       const std::vector<std::string>& args) {
  static const std::string kConvert = "Could not convert: ";
  std::string name, value, raw;
  bool conversion = false;
  if (what.rfind(kConvert, 0) == 0) {
    std::size_t eq = what.find(" = ", kConvert.size());
    if (eq == kNone) return {};
    name = what.substr(kConvert.size(), eq - kConvert.size());
    value = what.substr(eq + 3);
    conversion = true;
  } else {
    std::size_t colon = what.find(": ");
    if (colon == kNone || what[0] != '-') return {};
    name = what.substr(0, colon);
    raw = what.substr(colon + 2);
  }
  const CLI::Option* opt = app.get_option_no_throw(name);
  if (opt == nullptr) return {};

  std::size_t at = kNone;
  for (std::size_t i = 0; i < args.size() && args[i] != "--"; ++i) {
    if (OptionOf(app, args[i]) == opt) at = i;
  }
  const char* env = opt->get_envname().empty() ? nullptr : std::getenv(opt->get_envname().c_str());

  // The problem, said so that it reads after "<value> is ".
  std::string problem;
  static const std::regex kRange("Value (.*) not in range (.*) to (.*)");
  static const std::regex kMember("(.*) not in \\{(.*)\\}");
  std::smatch m;
  if (conversion) {
    const std::string type = opt->get_type_name();
    bool numeric =
        type.find("INT") != kNone || type.find("FLOAT") != kNone || type.find("NUMBER") != kNone;
    problem = numeric ? "not a number" : "not a valid value";
  } else if (std::regex_match(raw, m, kRange)) {
    value = m[1];
    problem = IsNumber(value) ? "not in range " + TrimNumber(m[2]) + " to " + TrimNumber(m[3])
                              : "not a number";
  } else if (std::regex_match(raw, m, kMember)) {
    value = m[1];
    std::string items;
    for (char c : std::string(m[2])) items += c == ',' ? std::string(", ") : std::string(1, c);
    problem = "not one of " + items;
  }
  if (at == kNone && env != nullptr) {
    return {opt->get_envname() + "=" + env + ": " + (problem.empty() ? raw : problem), kNone};
  }
  if (problem.empty()) return {what, at};
  return {name + ": " + value + " is " + problem, at};
}

// For an app that runs a command given after "--" (evt-work): when it was given without
// one and the mistake lies in the command's own words (`evt-work sh -c 'exit 0'` reads -c
// as --concurrency), the command line to type instead; else "".
std::string HandlerHint(const CLI::App& app, const std::vector<std::string>& args,
                        std::size_t fault) {
  bool takes_command = false;
  for (const CLI::Option* o : app.get_options()) {
    if (o->get_positional() && o->get_items_expected_max() > 1) takes_command = true;
  }
  if (!takes_command || fault == kNone) return "";
  if (std::find(args.begin(), args.end(), "--") != args.end()) return "";
  // The command starts at the first word that is neither an option nor an option's value.
  std::size_t start = 0;
  while (start < args.size() && LooksLikeOption(args[start])) {
    start += ValueFollows(app, args[start]) ? 2 : 1;
  }
  if (start >= args.size() || fault < start) return "";
  std::string line = "put the handler after --: " + app.get_name();
  for (std::size_t i = 0; i < start; ++i) line += " " + ShellQuote(args[i]);
  line += " --";
  for (std::size_t i = start; i < args.size(); ++i) line += " " + ShellQuote(args[i]);
  return line;
}

}  // namespace

std::string NearestOption(const CLI::App& app, const std::string& typed) {
  const std::string name = OptionToken(typed);
  if (name.size() < 4 || name.compare(0, 2, "--") != 0) return "";
  const std::string word = name.substr(2);
  std::vector<std::string> longs;
  for (const CLI::Option* opt : app.get_options()) {
    for (const std::string& l : opt->get_lnames()) longs.push_back(l);
  }
  std::string only_prefix;
  int prefixes = 0;
  for (const std::string& l : longs) {
    if (l.size() > word.size() && l.compare(0, word.size(), word) == 0) {
      only_prefix = l;
      ++prefixes;
    }
  }
  if (prefixes == 1 && word.size() >= 3) return "--" + only_prefix;
  const std::size_t limit = std::max<std::size_t>(1, std::min<std::size_t>(3, word.size() / 3));
  std::string best;
  std::size_t best_distance = limit + 1;
  for (const std::string& l : longs) {
    std::size_t d = EditDistance(word, l);
    if (d < best_distance) {
      best = l;
      best_distance = d;
    }
  }
  return best.empty() ? "" : "--" + best;
}

std::string VersionString() { return std::string("evt ") + EVT_VERSION; }

void SetUpApp(CLI::App& app, CommonOptions* common) {
  app.set_version_flag("--version", VersionString(), "Print the version and exit");
  app.footer(
      "An option shown with Env:EVT_* also reads that environment variable (flag > "
      "environment > default).\nDurations read 250ms, 90s, 5m, 2h, 7d. See the man page for exit "
      "statuses.");
  app.get_formatter()->column_width(36);
  app.add_option(
         "--broker", common->broker,
         "- (NDJSON on stdin/stdout), redis://[user[:pass]@]host[:port][/db], unix:///path?db=N "
         "or sqlite:///path/evt.db")
      ->envname("EVT_BROKER")
      ->capture_default_str();
  app.add_option("-q,--queue", common->queue, "Queue name: 1-64 of [A-Za-z0-9_.-]")
      ->envname("EVT_QUEUE")
      ->capture_default_str();
  app.add_option("--namespace", common->ns, "Prefix of every Redis key")
      ->envname("EVT_NAMESPACE")
      ->capture_default_str();
  app.add_option("--redis-password-file", common->password_file,
                 "Read the Redis password from FILE (or set EVT_REDIS_PASSWORD)")
      ->envname("EVT_REDIS_PASSWORD_FILE");
  app.add_option("--max-event-bytes", common->max_event_bytes,
                 "Largest serialized event (and input line) accepted")
      ->envname("EVT_MAX_EVENT_BYTES")
      ->check(CLI::Range(std::size_t{256}, std::size_t{64} * 1024 * 1024))
      ->capture_default_str();
  app.add_option("--log-format", common->log_format,
                 common->kind == ToolKind::kWorker
                     ? "Log lines on stderr as text or json (default: json when stderr is not a "
                       "terminal and the broker is durable without --burst, or when stderr is "
                       "the systemd journal; else text)"
                     : "Log lines on stderr as text or json (default: json when stderr is the "
                       "systemd journal, else text)")
      ->envname("EVT_LOG_FORMAT")
      ->check(CLI::IsMember({"text", "json"}));
  app.add_option("--log-level", common->log_level, "debug, info, warn, error or off")
      ->envname("EVT_LOG_LEVEL")
      ->check(CLI::IsMember({"debug", "info", "warn", "warning", "error", "off"}))
      ->capture_default_str();
  app.add_flag("-v,--verbose", common->verbose,
               "Log every attempt and the summary (--log-level info, unless lower)");
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
  AddHelpJson(app);  // every tool answers --help-json; after all its options and subcommands
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);  // --help, --version: print, exit 0
    const std::vector<std::string> args(argv + std::min(argc, 1), argv + argc);
    Explained why = dynamic_cast<const CLI::ExtrasError*>(&e) != nullptr
                        ? ExplainExtras(app, args)
                        : ExplainValue(app, e.what(), args);
    if (why.message.empty()) why.message = e.what();
    const std::string& tool = app.get_name();
    std::fprintf(stderr, "%s: error: %s\n", tool.c_str(), why.message.c_str());
    if (std::string hint = HandlerHint(app, args, why.at); !hint.empty()) {
      std::fprintf(stderr, "%s: %s\n", tool.c_str(), hint.c_str());
    }
    std::fprintf(stderr, "Run '%s --help' for usage.\n", tool.c_str());
    return kExitUsage;
  }
  return -1;
}

LogAudience LogAudienceOf(const CommonOptions& common, const BrokerConfig& broker) {
  const bool service = common.kind == ToolKind::kWorker && broker.is_durable() && !common.runs_once;
  return service ? LogAudience::kService : LogAudience::kPerson;
}

Status ApplyCommonOptions(const std::string& tool, const CommonOptions& common) {
  Result<LogLevel> level = ParseLogLevel(common.log_level);
  if (!level.ok()) return level.status();
  if (common.verbose && *level > LogLevel::kInfo) *level = LogLevel::kInfo;
  // A bad broker URL is reported in the format of a person's command: it is a usage error.
  Result<BrokerConfig> broker = ParseBrokerUrl(common.broker);
  const LogAudience audience = broker.ok() ? LogAudienceOf(common, *broker) : LogAudience::kPerson;
  Result<LogFormat> format =
      common.log_format == "auto" ? DefaultLogFormat(audience) : ParseLogFormat(common.log_format);
  if (!format.ok()) return format.status();
  InitLogging(LogOptions{tool, *format, *level});
  if (Status s = ValidateQueueName(common.queue); !s.ok()) return s;
  if (Status s = ValidateNamespace(common.ns); !s.ok()) return s;
  if (!broker.ok()) return broker.status();
  return Status::Ok();
}

Result<BrokerConfig> ResolveBroker(const CommonOptions& common) {
  Result<BrokerConfig> broker = ParseBrokerUrl(common.broker);
  if (!broker.ok()) return broker.status();
  if (broker->is_redis()) {
    Status s =
        ResolveRedisPassword(&*broker, common.password_file, std::getenv("EVT_REDIS_PASSWORD"));
    if (!s.ok()) return s;
  }
  return broker;
}

Result<BrokerConfig> StartCommand(const std::string& tool, const CommonOptions& common) {
  InstallStopSignals();
  if (Status s = ApplyCommonOptions(tool, common); !s.ok()) return s;
  Result<BrokerConfig> broker = ResolveBroker(common);
  // Read once; from here on no copy of a password stays where a handler could read it.
  ScrubCredentialEnvironment();
  return broker;
}

int ReportFatal(const std::string& tool, const Status& status) {
  std::fprintf(stderr, "%s: error: %s\n", tool.c_str(), status.message().c_str());
  return ExitCodeFor(status);
}

}  // namespace evt
