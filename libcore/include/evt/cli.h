// Shared command-line plumbing for the evt-* tools (CLI11): the options every command
// has, option helpers that read EVT_* environment variables, and the parse step that
// maps CLI11's outcome to an exit code. Flag > environment > default everywhere.
#pragma once

#include <CLI/CLI.hpp>
#include <cstddef>
#include <string>

#include "evt/broker.h"
#include "evt/defaults.h"
#include "evt/duration.h"
#include "evt/event.h"
#include "evt/log.h"

namespace evt {

// "evt <version>", the project version of the build (CMakeLists.txt), e.g. "evt 0.1.0".
std::string VersionString();

// What kind of command a tool is, for the default of --log-format (LogAudienceOf).
enum class ToolKind {
  kCommand,  // run by a person, a script or cron: evt-emit, evt-status, evt-dlq, evt-replay
  kWorker,   // evt-work: a service when it works a durable broker without --burst
};

// Options that every evt command takes.
struct CommonOptions {
  ToolKind kind = ToolKind::kCommand;  // set by the tool before SetUpApp (its --help says it)
  bool runs_once = false;              // a worker that exits when done (evt-work --burst)
  std::string log_format = "auto";     // --log-format, EVT_LOG_FORMAT; auto: DefaultLogFormat()
  std::string log_level = "warn";      // --log-level, EVT_LOG_LEVEL: silent when all is well
  bool verbose = false;                // -v, --verbose: log at least at info (every attempt)
  std::string broker =
      SharedDefaults::kBroker;                 // --broker, EVT_BROKER: "-" = NDJSON on stdin/stdout
  std::string queue = SharedDefaults::kQueue;  // --queue, EVT_QUEUE
  std::string ns =
      SharedDefaults::kNamespace;  // --namespace, EVT_NAMESPACE: prefix of the broker's keys
  std::string password_file;       // the broker's password file (flag and variable: cli.cc)
  std::size_t max_event_bytes =
      SharedDefaults::kMaxEventBytes;  // --max-event-bytes, EVT_MAX_EVENT_BYTES
};

// Creates the App with --version, the footer and the common options bound to `common`.
void SetUpApp(CLI::App& app, CommonOptions* common);

// Adds a duration option ("250ms", "90s", ...) bound to `*target`, falling back to the
// environment variable `env`. The default shown in --help is the target's value.
CLI::Option* AddDurationOption(CLI::App& app, const std::string& name, Millis* target,
                               const std::string& help, const std::string& env);

// Parses argv. Returns -1 when the command should go on; otherwise the exit code to
// return now: 0 after --help/--version, 64 after a usage error, reported on stderr as
// "<tool>: error: ..." in words that teach:
//   unknown option --tpye (did you mean --type?)
//   EVT_CONCURRENCY=abc: not a number              (a bad value from the environment)
//   --concurrency: abc is not a number             (a bad value from a flag)
// then, when the app takes a command after -- and it was given without one, the line
//   <tool>: put the handler after --: <tool> [its options] -- <the command>
// and a hint to run --help.
int ParseCommandLine(CLI::App& app, int argc, char** argv);

// The option of `app` nearest to `typed` ("--tpye" or "--tpye=x"), as "--type", or "" when
// none is near: the unique option it is a prefix of, else the smallest edit distance
// (adjacent swaps count one) within about a third of its length.
std::string NearestOption(const CLI::App& app, const std::string& typed);

// Whose log lines these are: a service for a worker (ToolKind::kWorker) on a durable broker
// that does not run once; a person otherwise (log.h, DefaultLogFormat).
LogAudience LogAudienceOf(const CommonOptions& common, const BrokerConfig& broker);

// Validates the common options (log settings, queue, namespace, broker URL) and starts
// logging for `tool`: --log-format, else EVT_LOG_FORMAT, else DefaultLogFormat(
// LogAudienceOf(...)). Usage error on bad values.
Status ApplyCommonOptions(const std::string& tool, const CommonOptions& common);

// The start of every command after parsing: installs the stop signals (signals.h),
// applies the common options (ApplyCommonOptions) and resolves the broker (ResolveBroker).
Result<BrokerConfig> StartCommand(const std::string& tool, const CommonOptions& common);

// The broker of --broker with its password resolved (from the URL, the password file, then
// the environment: kCredentialEnvNames, broker.h). Usage or Config error.
Result<BrokerConfig> ResolveBroker(const CommonOptions& common);

// The option model of `app` as JSON, read from CLI11 itself: {"help_json": 1, "version",
// "name", "aliases", "description", "options": [...], "positionals": [...], "subcommands":
// [...] (each an app model), "require_subcommand"}. Each option: "name", "short" and "long"
// (["-t"], ["--type"]), "positional", "takes_value", "type" (the placeholder: TEXT, INT,
// DURATION...; null for a flag), "choices" (of an IsMember check, else null), "checks"
// (other checks as CLI11 describes them), "repeatable", "default", "env" (null when none),
// "required", "hidden" (not in --help), "excludes", "description". Options of nameless
// option groups are listed with their app's own.
std::string HelpJson(const CLI::App& app);

// Adds the hidden flag --help-json to `app` and to each of its subcommands: prints
// HelpJson(app) on stdout and exits 0 (ParseCommandLine returns 0), whatever else the
// command line holds. Call it after the last subcommand is added (options may come later:
// the model is read when the flag is seen). Returns the flag of `app`. Adding it twice
// adds nothing; ParseCommandLine adds it, so a tool needs no call of its own.
CLI::Option* AddHelpJson(CLI::App& app);

// Prints "<tool>: error: <message>" on stderr (bypassing the logger, which may not be
// set up yet) and returns ExitCodeFor(status).
int ReportFatal(const std::string& tool, const Status& status);

}  // namespace evt
