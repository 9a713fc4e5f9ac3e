#include "evt/handler_exec.h"

#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdint>
#include <optional>
#include <string>
#include <system_error>
#include <utility>

#include "evt/handler_args.h"
#include "handler/handler_text.h"
#include "handler/reaper.h"
#include "handler/subprocess.h"

namespace evt {

namespace {

constexpr std::size_t kMaxErrorLine = 500;

std::string ErrnoText(int err) { return std::generic_category().message(err); }

std::string SignalText(int sig) {
  std::string text = "killed by signal " + std::to_string(sig);
  if (const char* abbrev = sigabbrev_np(sig)) text += " (SIG" + std::string(abbrev) + ")";
  return text;
}

// Keeps an error message on one bounded line whatever the handler printed. Unlike
// OneLine (handler_text.h), it keeps other bytes and trailing spaces as they were.
std::string FlattenLine(std::string_view s, std::size_t max) {
  std::string out;
  for (char c : s.substr(0, max)) {
    out.push_back(c == '\n' || c == '\r' || c == '\t' ? ' ' : c);
  }
  if (s.size() > max) out += "...";
  return out;
}

// How much of one attempt's stderr goes to the log: at most `max` bytes, counting each
// line's newline. The line that crosses the bound is cut there, and nothing after it is
// passed on, so the log keeps the start of the story and one mark for the rest.
class StderrLogBudget {
 public:
  explicit StderrLogBudget(std::uint64_t max) : left_(max) {}

  // The part of `line` to log, or nullopt once the bound has been reached.
  std::optional<std::string_view> Admit(std::string_view line) {
    if (closed_) return std::nullopt;
    if (line.size() + 1 <= left_) {
      left_ -= line.size() + 1;
      logged_ += line.size() + 1;
      last_whole_ = true;
      return line;
    }
    closed_ = true;
    last_whole_ = false;
    if (left_ == 0) return std::nullopt;
    line = line.substr(0, static_cast<std::size_t>(left_));
    logged_ += line.size();
    left_ = 0;
    return line;
  }

  // The stderr bytes that were not logged: the lines after the bound, the cut part of
  // the line that crossed it, and what the per-line bound (kMaxStderrLine) dropped.
  std::uint64_t NotLogged(const ProcessResult& p) const {
    std::uint64_t logged = logged_;
    // A whole last line without a newline was counted with one.
    if (last_whole_ && !p.err_ends_in_newline && logged > 0) --logged;
    return p.err_total > logged ? p.err_total - logged : 0;
  }

 private:
  std::uint64_t left_;
  std::uint64_t logged_ = 0;
  bool last_whole_ = false;  // the last line passed on was whole
  bool closed_ = false;
};

}  // namespace

ExecHandler::ExecHandler(ExecHandlerOptions options) : options_(std::move(options)) {
  // From here on, a process a handler orphans (a daemon: fork, setsid, fork) is
  // reparented to us rather than to init, and each attempt's end kills it. On a kernel
  // without it (before 3.4) such a daemon escapes, as it always did.
  Reaper::Get().BecomeSubreaper();
}

// Nothing a handler started outlives its handler kind: not even an orphan that came here
// after the last attempt's end.
ExecHandler::~ExecHandler() { Reaper::Get().KillOrphans(Millis(2000), ChildSource::kAllThreads); }

namespace {

HandlerResult Interrupted() {
  HandlerResult result;
  result.outcome = Outcome::kTransient;
  result.category = Category::kTimeout;
  result.interrupted = true;
  result.error = "interrupted by shutdown";
  return result;
}

// The process of one attempt: argv with `{payload.x}` templates expanded, the event on
// stdin and in EVT_* variables. InvalidArgument when a template cannot be filled.
Result<ProcessSpec> BuildSpec(const ExecHandlerOptions& o, const AttemptContext& ctx) {
  ProcessSpec spec;
  spec.argv = o.argv;
  if (ctx.event != nullptr && HasArgumentTemplates(o.argv)) {
    // `{payload.server}` and the like: each becomes one argv element, never a shell word.
    Result<std::vector<std::string>> argv = ExpandArguments(o.argv, *ctx.event);
    if (!argv.ok()) return argv.status();
    spec.argv = std::move(*argv);
  }
  spec.timeout = o.timeout;
  spec.kill_after = o.kill_after;
  spec.max_capture = o.max_output_bytes;
  spec.cancel_fd = ctx.cancel != nullptr ? ctx.cancel->fd() : -1;
  if (ctx.event != nullptr) {
    const Event& e = *ctx.event;
    // Event data travels only as environment values and stdin bytes, never through a
    // shell, so `$(...)` in a payload stays text.
    spec.extra_env = {
        "EVT_EVENT_ID=" + Field(e, "event_id"),
        "EVT_EVENT_TYPE=" + Field(e, "event_type"),
        "EVT_IDEMPOTENCY_KEY=" + Field(e, "idempotency_key"),
        "EVT_ATTEMPT=" + std::to_string(ctx.attempt),
        "EVT_SOURCE=" + Field(e, "source"),
        "EVT_CORRELATION_ID=" + Field(e, "correlation_id"),
    };
    spec.stdin_data = e.doc.dump(-1, ' ', false, Json::error_handler_t::replace);
    spec.stdin_data.push_back('\n');
  }
  // No evt credential, and EVT_BROKER without its password. A handler that emits events
  // itself brings its own credential (EVT_REDIS_PASSWORD, --redis-password-file).
  HideCredentials(&spec.extra_env, &spec.unset_env);
  return spec;
}

// The outcome of a finished process: the exit classifier's verdict and a one-line error
// ending in the handler's last stderr line.
void Classify(const ExecHandlerOptions& o, const ProcessResult& p, const std::string& last_line,
              HandlerResult* result) {
  ExitClassifier::Verdict verdict{Outcome::kTransient, Category::kDependency};
  if (!p.started) {
    const std::string cmd = o.argv.empty() ? "" : o.argv[0];
    result->error = FlattenLine("cannot run " + cmd + ": " + ErrnoText(p.start_errno), 1000);
  } else if (p.cancelled) {
    verdict = {Outcome::kTransient, Category::kTimeout};
    result->interrupted = true;
    result->error = "interrupted by shutdown";
  } else if (p.timed_out) {
    verdict = ExitClassifier::ForTimeout();
    result->error = "timed out after " + FormatShortDuration(o.timeout);
  } else if (p.exited) {
    verdict = o.classifier.ForExit(p.exit_code);
    if (p.exit_code != 0) {
      result->error = "exit " + std::to_string(p.exit_code);
      if (!last_line.empty()) result->error += ": " + FlattenLine(last_line, kMaxErrorLine);
    }
  } else {
    verdict = ExitClassifier::ForSignal();
    result->error = SignalText(p.term_signal);
  }
  result->outcome = verdict.outcome;
  result->category = verdict.category;
}

}  // namespace

HandlerResult ExecHandler::Run(const AttemptContext& ctx) {
  // Shutting down: do not start new work at all.
  if (ctx.cancel != nullptr && ctx.cancel->cancelled()) return Interrupted();
  Result<ProcessSpec> spec = BuildSpec(options_, ctx);
  if (!spec.ok()) {
    HandlerResult result;
    result.outcome = Outcome::kPermanent;
    result.category = Category::kData;
    result.error = spec.status().message();
    return result;
  }
  // The last non-empty stderr line is usually the handler's own explanation; track it
  // here rather than from the bounded capture, which may have cut it off.
  std::string last_line;
  StderrLogBudget log_budget(options_.max_output_bytes);
  spec->on_stderr_line = [&](std::string_view line) {
    if (!IsBlank(line)) last_line.assign(line.data(), std::min(line.size(), kMaxErrorLine + 1));
    if (!ctx.on_stderr_line) return;
    if (std::optional<std::string_view> part = log_budget.Admit(line)) ctx.on_stderr_line(*part);
  };
  ProcessResult p = RunProcess(*spec);
  if (ctx.on_stderr_line) {
    if (std::uint64_t rest = log_budget.NotLogged(p); rest > 0) {
      ctx.on_stderr_line("... " + std::to_string(rest) + " more bytes");
    }
  }
  HandlerResult result;
  result.duration = p.duration;
  result.output = std::move(p.out);
  Classify(options_, p, last_line, &result);
  return result;
}

Status ExecHandler::CheckCommand(const std::vector<std::string>& argv) {
  if (argv.empty()) {
    return Status::Config("no handler command given (evt-work [options] -- COMMAND [ARGS...])");
  }
  const std::string& cmd = argv[0];
  bool found = false;
  for (const std::string& path : ExecCandidates(cmd)) {
    struct stat st;
    if (stat(path.c_str(), &st) != 0) continue;
    found = true;
    if (S_ISREG(st.st_mode) && access(path.c_str(), X_OK) == 0) return Status::Ok();
  }
  if (!found) return Status::Config("handler command not found: " + cmd);
  return Status::Config("handler command not executable: " + cmd);
}

}  // namespace evt
