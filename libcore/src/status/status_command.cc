// evt-status: one function per mode (queue table, --types, EVENT_ID/--key, --wait,
// --check, --summary, --watch) over the QueueInspector seam.
#include "evt/status_command.h"

#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <memory>
#include <thread>

#include "evt/broker_factory.h"
#include "evt/exit_code.h"
#include "evt/inspector.h"
#include "evt/log.h"
#include "evt/signals.h"

namespace evt {
namespace {

Status WriteAll(int fd, const std::string& text) {
  std::size_t done = 0;
  while (done < text.size()) {
    ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return Status::IOError("cannot write to stdout");
    done += static_cast<std::size_t>(n);
  }
  return Status::Ok();
}

std::string ReadAll(int fd) {
  std::string text;
  char buf[65536];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    text.append(buf, static_cast<std::size_t>(n));
  }
  return text;
}

// Sleeps `d` or until a stop signal. False when stopped.
bool SleepUnlessStopped(Millis d) {
  const auto end = std::chrono::steady_clock::now() + d;
  while (!StopRequested()) {
    const auto left = end - std::chrono::steady_clock::now();
    if (left <= std::chrono::steady_clock::duration::zero()) return true;
    std::this_thread::sleep_for(
        std::min<std::chrono::steady_clock::duration>(left, std::chrono::milliseconds(50)));
  }
  return false;
}

int Fail(const std::string& tool, const Status& s) {
  std::string line = tool + ": error: " + s.message() + "\n";
  [[maybe_unused]] ssize_t n = ::write(STDERR_FILENO, line.data(), line.size());
  return ExitCodeFor(s);
}

// An event lookup that failed: exit 1 for an unknown event (as documented), else the
// code of the error.
int FailLookup(const std::string& tool, const Status& s) {
  const int code = Fail(tool, s);
  return s.kind() == Status::Kind::kNotFound ? 1 : code;
}

Result<std::vector<std::string>> QueuesOf(QueueInspector& in, const StatusOptions& o) {
  if (!o.queues.empty()) return o.queues;
  return in.ListQueues();
}

Result<StatusReport> BuildReport(QueueInspector& in, const StatusOptions& o) {
  StatusReport r;
  r.ns = o.ns;
  r.now = NowUnixMillis();
  r.window = o.window;
  const MinuteRange range = WindowMinutes(r.now, o.window);
  Result<std::vector<std::string>> queues = QueuesOf(in, o);
  if (!queues.ok()) return queues.status();
  std::map<std::string, TypeStats> by_type;
  for (const std::string& name : *queues) {
    Result<QueueState> state = in.ReadQueue(name, r.now - o.window.count());
    if (!state.ok()) return state.status();
    Result<MinuteMetrics> metrics = in.ReadMetrics(name, range.first, range.last);
    if (!metrics.ok()) return metrics.status();
    std::vector<TypeStats> types = StatsByType(*metrics, range);
    QueueRow row;
    row.state = std::move(*state);
    row.totals = MergeAll(types);
    row.totals.per_minute.resize(static_cast<std::size_t>(range.size()), 0);
    r.queues.push_back(std::move(row));
    for (const TypeStats& t : types) {
      TypeStats& into = by_type[t.type];
      into.type = t.type;
      into.Merge(t);
    }
  }
  for (auto& [type, t] : by_type) r.types.push_back(std::move(t));
  return r;
}

std::string Render(const StatusReport& r, const StatusOptions& o, bool terminal) {
  if (o.format == "prometheus") return FormatPrometheus(r);
  if (o.format == "json") {
    return (o.types ? TypesReportJson(r) : QueueReportJson(r)).dump() + "\n";
  }
  return o.types ? FormatTypesTable(r, terminal) : FormatQueueTable(r, terminal);
}

// EVENT_ID or --key in the queues of `o`, the first that knows it.
Result<EventStatus> Lookup(QueueInspector& in, const StatusOptions& o, const std::string& id,
                           bool by_key) {
  Result<std::vector<std::string>> queues = QueuesOf(in, o);
  if (!queues.ok()) return queues.status();
  for (const std::string& q : *queues) {
    Result<EventStatus> st = by_key ? in.FindByKey(q, id) : in.FindEvent(q, id);
    if (st.ok() || st.status().kind() != Status::Kind::kNotFound) return st;
  }
  const std::string where = o.queues.empty() ? "namespace " + o.ns : "queue " + o.queues[0];
  return Status::NotFound(by_key ? "no event with idempotency key " + id + " in " + where
                                 : "no event " + id + " in " + where);
}

std::string RenderEvent(const EventStatus& s, const StatusOptions& o) {
  return o.format == "json" ? EventStatusJson(s).dump() + "\n" : FormatEventStatus(s);
}

int RunLookup(const std::string& tool, QueueInspector& in, const StatusOptions& o, int out) {
  const bool by_key = !o.key.empty();
  Result<EventStatus> st = Lookup(in, o, by_key ? o.key : o.event_id, by_key);
  if (!st.ok())
    return st.status().kind() == Status::Kind::kNotFound ? (Fail(tool, st.status()), 1)
                                                         : Fail(tool, st.status());
  Status w = WriteAll(out, RenderEvent(*st, o));
  return w.ok() ? kExitOk : Fail(tool, w);
}

int RunWait(const std::string& tool, QueueInspector& in, const StatusOptions& o, int out) {
  const auto start = std::chrono::steady_clock::now();
  for (;;) {
    Result<EventStatus> st = Lookup(in, o, o.wait_id, false);
    if (!st.ok()) return FailLookup(tool, st.status());
    const bool done = st->status == "done" || st->status == "duplicate";
    if (done || st->status == "failed") {
      Status w = WriteAll(out, RenderEvent(*st, o));
      if (!w.ok()) return Fail(tool, w);
      return done ? kExitOk : 1;
    }
    const auto waited = std::chrono::steady_clock::now() - start;
    if (o.wait_timeout.count() > 0 && waited >= o.wait_timeout) {
      Fail(tool, Status::Timeout("event " + o.wait_id + " is still " + st->status + " after " +
                                 FormatDuration(o.wait_timeout)));
      return kStatusWaitTimeout;
    }
    if (!SleepUnlessStopped(o.wait_poll)) return Fail(tool, Status::Unavailable("interrupted"));
  }
}

int RunCheck(const BrokerConfig& broker, const StatusOptions& o, int out) {
  CheckResult c;
  Result<std::unique_ptr<QueueInspector>> in = OpenInspector(broker, o.ns);
  Result<StatusReport> r = in.ok() ? BuildReport(**in, o) : Result<StatusReport>(in.status());
  c = r.ok() ? EvaluateCheck(*r, o.thresholds) : UnknownCheck(r.status().message());
  [[maybe_unused]] Status w = WriteAll(out, c.line + "\n");
  return static_cast<int>(c.level);
}

int RunSummary(const std::string& tool, const StatusOptions& o, int in_fd, int out) {
  std::int64_t skipped = 0;
  StatusReport r;
  r.ns = o.ns;
  r.now = NowUnixMillis();
  r.types = SummarizeResults(ReadAll(in_fd), &skipped);
  if (skipped > 0) {
    Log(LogLevel::kWarn, std::to_string(skipped) + " input lines were not evt-work result lines");
  }
  std::string text =
      o.format == "json" ? TypesReportJson(r).dump() + "\n" : FormatTypesTable(r, false);
  Status w = WriteAll(out, text);
  return w.ok() ? kExitOk : Fail(tool, w);
}

// --watch on a terminal redraws in place: the screen cleared once, then each frame from
// the top, every line cleared to its end (a shorter line leaves nothing of the last
// frame), and what is below the frame cleared.
std::string InPlace(const std::string& text, bool first) {
  std::string out = first ? "\x1b[2J\x1b[H" : "\x1b[H";
  for (char c : text) {
    if (c == '\n') out += "\x1b[K";
    out.push_back(c);
  }
  return out + "\x1b[J";
}

int RunReport(const std::string& tool, QueueInspector& in, const StatusOptions& o, int out) {
  const bool terminal = ::isatty(out) == 1 && o.format == "table";
  bool first = true;
  for (;;) {
    Result<StatusReport> r = BuildReport(in, o);
    if (!r.ok()) return Fail(tool, r.status());
    std::string text = Render(*r, o, terminal);
    if (o.watch && terminal) text = InPlace(text, first);
    first = false;
    if (Status w = WriteAll(out, text); !w.ok()) return Fail(tool, w);
    if (!o.watch || !SleepUnlessStopped(o.watch_interval)) return kExitOk;
  }
}

}  // namespace

Status ValidateStatusOptions(const StatusOptions& o) {
  const int modes = !o.event_id.empty() + !o.key.empty() + !o.wait_id.empty() + o.summary + o.check;
  if (modes > 1) {
    return Status::Usage("EVENT_ID, --key, --wait, --summary and --check go one at a time");
  }
  if (o.types && modes > 0 && !o.summary) {
    return Status::Usage(
        "--types reports a window of metrics; it goes with no EVENT_ID, --key, "
        "--wait or --check");
  }
  if (o.watch && modes > 0) return Status::Usage("--watch redraws the queue or --types table only");
  if (o.format == "prometheus" && modes > 0) {
    return Status::Usage("--format prometheus: only for the queue and --types reports");
  }
  if (o.check && o.format != "table")
    return Status::Usage("--check prints one status line; no --json");
  if (o.window.count() < 60000) return Status::Usage("--window: at least 1m");
  if (o.watch_interval.count() <= 0) return Status::Usage("--watch: the interval must be above 0");
  return Status::Ok();
}

Status ParseThreshold(const std::string& name, const std::string& text, bool duration,
                      std::optional<double>* out) {
  if (duration) {
    Result<Millis> d = ParseDuration(text);
    if (!d.ok()) return Status::Usage(name + ": " + d.status().message());
    *out = static_cast<double>(d->count());
    return Status::Ok();
  }
  char* end = nullptr;
  errno = 0;
  const double v = std::strtod(text.c_str(), &end);
  if (text.empty() || end == text.c_str() || *end != '\0' || errno != 0 || v < 0) {
    return Status::Usage(name + ": " + text + " is not a number >= 0");
  }
  *out = v;
  return Status::Ok();
}

int RunStatus(const std::string& tool, const StatusOptions& o, const BrokerConfig& broker,
              int in_fd, int out_fd) {
  if (o.summary) return RunSummary(tool, o, in_fd, out_fd);
  if (!broker.is_durable()) {
    const Status usage = Status::Usage(
        "--broker: evt-status reads a durable broker (or --summary reads evt-work result lines "
        "on stdin)");
    if (!o.check) return Fail(tool, usage);
    [[maybe_unused]] Status w = WriteAll(out_fd, UnknownCheck(usage.message()).line + "\n");
    return static_cast<int>(CheckLevel::kUnknown);
  }
  if (o.check) return RunCheck(broker, o, out_fd);
  Result<std::unique_ptr<QueueInspector>> in = OpenInspector(broker, o.ns);
  if (!in.ok()) return Fail(tool, in.status());
  if (!o.wait_id.empty()) return RunWait(tool, **in, o, out_fd);
  if (!o.event_id.empty() || !o.key.empty()) return RunLookup(tool, **in, o, out_fd);
  return RunReport(tool, **in, o, out_fd);
}

}  // namespace evt
