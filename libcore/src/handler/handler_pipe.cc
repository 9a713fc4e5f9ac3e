#include "evt/handler_pipe.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <future>
#include <mutex>
#include <optional>
#include <thread>
#include <utility>

#include "handler/coprocess.h"
#include "evt/handler_exec.h"
#include "evt/log.h"

namespace evt {

namespace {

using Clock = std::chrono::steady_clock;

constexpr std::size_t kReadChunk = 16 * 1024;
constexpr std::size_t kMaxStderrLine = 4096;
constexpr std::size_t kMaxErrorText = 500;
constexpr std::size_t kMinReplyBytes = 4096;
// A retry_after_ms above this is taken as this (as an HTTP Retry-After is).
constexpr Millis kMaxRetryAfter{24LL * 3600 * 1000};
// Once the group is killed every writer of stderr is gone and EOF comes at once; the bound
// only matters for a process that left the group and still holds the pipe.
constexpr Millis kDrainBound{250};

std::string OneLine(std::string_view s, std::size_t max) {
  std::string out;
  for (char c : s.substr(0, max)) {
    const auto u = static_cast<unsigned char>(c);
    out.push_back(u < 0x20 || u == 0x7f ? ' ' : c);
  }
  while (!out.empty() && out.back() == ' ') out.pop_back();
  if (s.size() > max) out += "...";
  return out;
}

bool IsBlank(std::string_view s) {
  return s.find_first_not_of(" \t\r\f\v") == std::string_view::npos;
}

std::string FormatShortDuration(Millis d) {
  if (d.count() % 1000 == 0) return std::to_string(d.count() / 1000) + "s";
  return std::to_string(d.count()) + "ms";
}

int PollMillis(std::optional<Clock::time_point> until) {
  if (!until) return -1;
  const Clock::time_point now = Clock::now();
  if (*until <= now) return 0;
  return static_cast<int>(
      std::min<Millis::rep>(std::chrono::ceil<Millis>(*until - now).count(), 1 << 30));
}

// Runs every co-process start on one long-lived thread: PR_SET_PDEATHSIG fires when the
// thread that forked dies, and worker threads may come and go while a co-process should
// live on. With this thread, co-processes die with the handler or with evt-work.
class Spawner {
 public:
  Spawner() : thread_([this] { Loop(); }) {}
  ~Spawner() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }
  Spawner(const Spawner&) = delete;
  Spawner& operator=(const Spawner&) = delete;

  Result<std::unique_ptr<Coprocess>> Start(const std::vector<std::string>& argv) {
    Task task([&argv] { return Coprocess::Start(argv); });
    std::future<Result<std::unique_ptr<Coprocess>>> done = task.get_future();
    {
      std::lock_guard<std::mutex> lock(mu_);
      tasks_.push_back(std::move(task));
    }
    cv_.notify_one();
    return done.get();
  }

 private:
  using Task = std::packaged_task<Result<std::unique_ptr<Coprocess>>()>;

  void Loop() {
    // Signals go to the other threads (the tools' stop handlers only set a flag anyway).
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, nullptr);
    while (true) {
      Task task;
      {
        std::unique_lock<std::mutex> lock(mu_);
        cv_.wait(lock, [&] { return stop_ || !tasks_.empty(); });
        if (tasks_.empty()) return;
        task = std::move(tasks_.front());
        tasks_.pop_front();
      }
      task();
    }
  }

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Task> tasks_;
  bool stop_ = false;
  std::thread thread_;  // last: starts once the members above exist
};

// Where stderr lines go: to the attempt in flight (bounded), or to the log between events.
struct StderrSink {
  const AttemptContext* ctx = nullptr;  // null: between events
  std::size_t budget = 0;               // bytes still forwarded to ctx
  pid_t pid = 0;
  std::string* last_line = nullptr;  // the last non-blank line, for errors

  void Line(std::string_view line) {
    if (!IsBlank(line)) last_line->assign(line.data(), std::min(line.size(), kMaxErrorText + 1));
    if (ctx == nullptr) {
      Log(LogLevel::kInfo, "co-process stderr", {{"pid", pid}, {"text", std::string(line)}});
      return;
    }
    if (!ctx->on_stderr_line || budget == 0) return;
    budget -= std::min(budget, line.size() + 1);
    ctx->on_stderr_line(line);
  }
};

// How one exchange of an event for a reply ended.
enum class Exchange { kReply, kClosed, kTimeout, kCancelled, kTooLong };

// One co-process place. Used by one Run at a time.
struct Slot {
  std::unique_ptr<Coprocess> proc;
  bool answered = false;              // the current process answered at least one event
  std::string out;                    // stdout read and not yet consumed as a reply
  std::string err_partial;            // stderr after the last newline
  std::string last_stderr;            // the current process's last non-blank stderr line
  Clock::time_point restart_after{};  // no new process before this

  // Reads what stderr holds now into lines. False at EOF or on an error.
  bool ReadStderr(StderrSink* sink) {
    char buf[kReadChunk];
    for (int i = 0; i < 16; ++i) {
      const ssize_t n = read(proc->stderr_fd(), buf, sizeof buf);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && errno == EAGAIN) return true;
      if (n <= 0) {
        proc->CloseStderr();
        FlushStderr(sink);
        return false;
      }
      std::string_view data(buf, static_cast<std::size_t>(n));
      while (!data.empty()) {
        const std::size_t nl = data.find('\n');
        const std::string_view part = data.substr(0, nl);
        err_partial.append(
            part.data(),
            std::min(part.size(), kMaxStderrLine - std::min(kMaxStderrLine, err_partial.size())));
        if (nl == std::string_view::npos) break;
        sink->Line(err_partial);
        err_partial.clear();
        data.remove_prefix(nl + 1);
      }
      if (static_cast<std::size_t>(n) < sizeof buf) return true;
    }
    return true;
  }

  void FlushStderr(StderrSink* sink) {
    if (!err_partial.empty()) sink->Line(err_partial);
    err_partial.clear();
  }

  // Reads what stdout holds now. Returns bytes read; 0 at EOF (stdout closed); -1 when
  // nothing is available.
  ssize_t ReadStdout() {
    char buf[kReadChunk];
    while (true) {
      const ssize_t n = read(proc->stdout_fd(), buf, sizeof buf);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return errno == EAGAIN ? -1 : 0;
      out.append(buf, static_cast<std::size_t>(n));
      return n;
    }
  }

  // Between events: reads what stderr holds and returns why the process must be replaced
  // (it exited, or wrote to stdout unasked), or null when it is fit for the next event.
  const char* CheckIdle(StderrSink* sink) {
    pollfd fds[3] = {{proc->stdout_fd(), POLLIN, 0},
                     {proc->stderr_fd(), POLLIN, 0},
                     {proc->exit_fd(), POLLIN, 0}};
    const bool ready = poll(fds, 3, 0) > 0;
    if (ready && fds[1].revents != 0) ReadStderr(sink);
    const bool wrote = ready && fds[0].revents != 0;
    if (wrote) ReadStdout();
    if ((ready && fds[2].revents != 0) || (proc->exit_fd() < 0 && proc->LeaderExited())) {
      return "co-process ended between events; starting a new one";
    }
    if (wrote || !out.empty()) {
      return "co-process wrote to stdout between events (more than one line per event?); "
             "restarting it";
    }
    return nullptr;
  }

  // Writes `line` (one event) and waits for one reply line, which it moves to *reply;
  // reads stderr meanwhile (a co-process blocked on a full stderr pipe would never
  // answer). What follows the reply stays in `out`.
  Exchange Ask(const std::string& line, std::optional<Clock::time_point> deadline,
               const Cancellation* cancel, std::size_t max_reply, StderrSink* sink,
               std::string* reply) {
    std::size_t written = 0;
    while (true) {
      pollfd fds[5];
      nfds_t n = 0;
      const int out_i = static_cast<int>(n);
      fds[n++] = {proc->stdout_fd(), POLLIN, 0};
      int err_i = -1, in_i = -1, exit_i = -1, cancel_i = -1;
      if (proc->stderr_fd() >= 0) {
        err_i = static_cast<int>(n);
        fds[n++] = {proc->stderr_fd(), POLLIN, 0};
      }
      if (written < line.size() && proc->stdin_fd() >= 0) {
        in_i = static_cast<int>(n);
        fds[n++] = {proc->stdin_fd(), POLLOUT, 0};
      }
      if (proc->exit_fd() >= 0) {
        exit_i = static_cast<int>(n);
        fds[n++] = {proc->exit_fd(), POLLIN, 0};
      }
      if (cancel != nullptr && cancel->fd() >= 0) {
        cancel_i = static_cast<int>(n);
        fds[n++] = {cancel->fd(), POLLIN, 0};
      }
      // Without a pidfd the exit shows as stdout's EOF, or is polled for.
      int wait = PollMillis(deadline);
      if (exit_i < 0) wait = wait < 0 ? 50 : std::min(wait, 50);
      const int ready = poll(fds, n, wait);
      if (ready < 0 && errno != EINTR) return Exchange::kClosed;
      auto fired = [&](int i) { return ready > 0 && i >= 0 && fds[i].revents != 0; };

      if (fired(in_i)) {
        // SIGPIPE is ignored by the tools and the tests (signals.h); EPIPE only means the
        // co-process is gone, which the reads below find out.
        const ssize_t w = write(proc->stdin_fd(), line.data() + written, line.size() - written);
        if (w > 0) written += static_cast<std::size_t>(w);
        if (w < 0 && errno != EAGAIN && errno != EINTR) proc->CloseStdin();
      }
      if (fired(err_i)) ReadStderr(sink);
      const bool closed = fired(out_i) && ReadStdout() == 0;
      const bool exited = fired(exit_i) || (exit_i < 0 && proc->LeaderExited());
      // One last look after an exit: a reply written just before it still counts.
      if (exited && !closed) ReadStdout();
      if (const std::size_t nl = out.find('\n'); nl != std::string::npos) {
        reply->assign(out, 0, nl);
        out.erase(0, nl + 1);
        return Exchange::kReply;
      }
      if (out.size() > max_reply) return Exchange::kTooLong;
      if (closed || exited) return Exchange::kClosed;
      if (fired(cancel_i) || (cancel != nullptr && cancel->cancelled())) {
        return Exchange::kCancelled;
      }
      if (deadline && Clock::now() >= *deadline) return Exchange::kTimeout;
    }
  }

  // Stops the process (its group) and reads the rest of its stderr into `sink`. Returns a
  // description of how it ended ("exit 1", "killed by signal 9 (SIGKILL)").
  std::string End(Millis kill_after, StderrSink* sink) {
    const int status = proc->Stop(kill_after);
    const Clock::time_point until = Clock::now() + kDrainBound;
    while (proc->stderr_fd() >= 0) {
      pollfd p{proc->stderr_fd(), POLLIN, 0};
      const int ready = poll(&p, 1, PollMillis(until));
      if (ready < 0 && errno == EINTR) continue;
      if (ready <= 0) break;
      if (!ReadStderr(sink)) break;
    }
    FlushStderr(sink);
    proc.reset();
    out.clear();
    return DescribeWaitStatus(status);
  }
};

// What a reply line says.
struct Reply {
  Outcome outcome = Outcome::kDone;
  Category category = Category::kNone;
  std::string error;
  Millis retry_after{0};
};

// Parses one reply line. InvalidArgument with the reason when it is not a valid reply.
Result<Reply> ParseReply(std::string_view line) {
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  Json doc = Json::parse(line.begin(), line.end(), nullptr, false);
  if (doc.is_discarded()) return Status::InvalidArgument("not JSON");
  if (!doc.is_object()) return Status::InvalidArgument("not a JSON object");
  auto status = doc.find("status");
  if (status == doc.end() || !status->is_string()) {
    return Status::InvalidArgument("no \"status\" string");
  }
  const std::string& name = status->get_ref<const std::string&>();
  Reply r;
  if (name == "ok") return r;
  if (name == "retry") {
    r.outcome = Outcome::kTransient;
    r.category = Category::kDependency;
  } else if (name == "fail") {
    r.outcome = Outcome::kPermanent;
    r.category = Category::kData;
  } else {
    return Status::InvalidArgument("\"status\" must be ok, retry or fail");
  }
  if (auto e = doc.find("error"); e != doc.end()) {
    if (!e->is_string()) return Status::InvalidArgument("\"error\" must be a string");
    r.error = OneLine(e->get_ref<const std::string&>(), 1000);
  }
  if (auto c = doc.find("category"); c != doc.end()) {
    if (!c->is_string()) return Status::InvalidArgument("\"category\" must be a string");
    r.category = ParseCategory(c->get_ref<const std::string&>());
  }
  if (auto ra = doc.find("retry_after_ms"); ra != doc.end()) {
    if (!ra->is_number_integer() || ra->get<long long>() < 0) {
      return Status::InvalidArgument("\"retry_after_ms\" must be an integer >= 0");
    }
    r.retry_after = std::min(Millis(ra->get<long long>()), kMaxRetryAfter);
  }
  if (r.error.empty()) r.error = "the handler replied " + name;
  return r;
}

}  // namespace

struct PipeHandler::State {
  Spawner spawner;  // first: destroyed last, after every co-process is stopped

  std::mutex mu;
  std::condition_variable slot_freed;
  std::vector<Slot> slots;
  std::vector<int> free_slots;  // LIFO: the slot used last (its process warm) goes first

  // Co-processes in a row that ended without answering (guarded by mu).
  int streak = 0;
  std::string streak_event;        // the event in flight at the first of them
  bool streak_conclusive = false;  // a failed start, or two different events
  std::string fatal;               // non-empty: every Run reports it
};

Result<std::unique_ptr<PipeHandler>> PipeHandler::Create(PipeHandlerOptions options) {
  if (options.processes < 1) return Status::Usage("--pipe needs at least one co-process");
  if (options.max_startup_failures < 1) {
    return Status::Usage("max_startup_failures must be at least 1");
  }
  if (options.argv.empty()) {
    return Status::Config("--pipe needs a command: evt-work --pipe -- COMMAND [ARGS...]");
  }
  if (Status s = ExecHandler::CheckCommand(options.argv); !s.ok()) return s;
  return std::unique_ptr<PipeHandler>(new PipeHandler(std::move(options)));
}

PipeHandler::PipeHandler(PipeHandlerOptions options)
    : options_(std::move(options)), state_(std::make_unique<State>()) {
  state_->slots.resize(static_cast<std::size_t>(options_.processes));
  for (int i = options_.processes - 1; i >= 0; --i) state_->free_slots.push_back(i);
}

PipeHandler::~PipeHandler() {
  // End of input first: a co-process that exits on EOF finishes its own way.
  for (Slot& slot : state_->slots) {
    if (slot.proc) slot.proc->CloseStdin();
  }
  const Clock::time_point until = Clock::now() + options_.kill_after;
  for (Slot& slot : state_->slots) {
    if (!slot.proc) continue;
    const Millis left =
        std::max(Millis(0), std::chrono::duration_cast<Millis>(until - Clock::now()));
    slot.proc->WaitForExit(left);
    StderrSink sink{nullptr, 0, slot.proc->pid(), &slot.last_stderr};
    slot.End(Millis(0), &sink);
  }
}

HandlerResult PipeHandler::Run(const AttemptContext& ctx) {
  const Clock::time_point start = Clock::now();
  HandlerResult result;
  auto finish = [&](Outcome outcome, Category category, std::string error) {
    result.outcome = outcome;
    result.category = category;
    result.error = std::move(error);
    result.duration = std::chrono::duration_cast<Millis>(Clock::now() - start);
    return result;
  };
  auto interrupted = [&] {
    result.interrupted = true;
    return finish(Outcome::kTransient, Category::kTimeout, "interrupted by shutdown");
  };
  auto fatal = [&](std::string error) {
    result.fatal = true;
    result.interrupted = true;
    return finish(Outcome::kTransient, Category::kCrash, std::move(error));
  };
  const Cancellation* cancel = ctx.cancel;
  auto cancelled = [cancel] { return cancel != nullptr && cancel->cancelled(); };
  if (cancelled()) return interrupted();
  if (ctx.event == nullptr) return finish(Outcome::kTransient, Category::kInternal, "no event");
  State& st = *state_;
  std::string event_id;
  if (auto it = ctx.event->doc.find("event_id"); it != ctx.event->doc.end() && it->is_string()) {
    event_id = it->get<std::string>();
  }

  // Take a slot; with --concurrency threads and as many slots there is always one free.
  int index = -1;
  {
    std::unique_lock<std::mutex> lock(st.mu);
    while (st.free_slots.empty() && st.fatal.empty() && !cancelled()) {
      st.slot_freed.wait_for(lock, Millis(100));
    }
    if (!st.fatal.empty()) return fatal(st.fatal);
    if (cancelled()) return interrupted();
    index = st.free_slots.back();
    st.free_slots.pop_back();
  }
  struct Release {
    State& st;
    int index;
    ~Release() {
      {
        std::lock_guard<std::mutex> lock(st.mu);
        st.free_slots.push_back(index);
      }
      st.slot_freed.notify_one();
    }
  } release{st, index};
  Slot& slot = st.slots[static_cast<std::size_t>(index)];
  const std::string& cmd = options_.argv[0];

  // A process ended without ever answering: one more in the streak (and maybe fatal).
  // `event` is empty for a failed start. Returns the fatal text once the streak is enough.
  auto note_silent_end = [&](const std::string& event, const std::string& why) -> std::string {
    std::lock_guard<std::mutex> lock(st.mu);
    if (st.streak == 0) {
      st.streak_event = event;
      st.streak_conclusive = event.empty();
    } else if (event.empty() || event != st.streak_event) {
      st.streak_conclusive = true;
    }
    ++st.streak;
    Millis delay = options_.restart_backoff_min;
    for (int i = 1; i < st.streak && delay < options_.restart_backoff_max; ++i) delay *= 2;
    slot.restart_after = Clock::now() + std::min(delay, options_.restart_backoff_max);
    if (st.streak >= options_.max_startup_failures && st.streak_conclusive && st.fatal.empty()) {
      st.fatal = "co-process " + cmd + " ended " + std::to_string(st.streak) +
                 " times in a row without answering an event; last: " + why;
      Log(LogLevel::kError, st.fatal);
      st.slot_freed.notify_all();
    }
    return st.fatal;
  };
  // Ends the current process after a failure of the event in flight.
  auto end_process = [&](StderrSink* sink, Millis kill_after) {
    const bool answered = slot.answered;
    std::string how = slot.End(kill_after, sink);
    if (!slot.last_stderr.empty()) how += ": " + OneLine(slot.last_stderr, kMaxErrorText);
    std::string fatal_text;
    if (!answered) fatal_text = note_silent_end(event_id, how);
    return std::make_pair(how, fatal_text);
  };

  // Between events a co-process must be silent on stdout and alive; else start afresh.
  if (slot.proc) {
    StderrSink idle_sink{nullptr, 0, slot.proc->pid(), &slot.last_stderr};
    if (const char* why = slot.CheckIdle(&idle_sink); why != nullptr) {
      const pid_t pid = slot.proc->pid();
      const std::string how = slot.End(options_.kill_after, &idle_sink);
      Log(LogLevel::kWarn, why, {{"pid", pid}, {"status", how}});
    }
  }

  if (!slot.proc) {
    // Back off after processes that died without answering, but stay cancellable.
    if (Clock::now() < slot.restart_after) {
      pollfd p{cancel != nullptr ? cancel->fd() : -1, POLLIN, 0};
      while (Clock::now() < slot.restart_after && !cancelled()) {
        poll(&p, 1, std::min(PollMillis(slot.restart_after), 100));
      }
      if (cancelled()) return interrupted();
    }
    Result<std::unique_ptr<Coprocess>> started = st.spawner.Start(options_.argv);
    if (!started.ok()) {
      const std::string why = started.status().message();
      const std::string fatal_text = note_silent_end("", why);
      if (!fatal_text.empty()) return fatal(fatal_text);
      return finish(Outcome::kTransient, Category::kCrash, why);
    }
    slot.proc = std::move(*started);
    slot.answered = false;
    slot.last_stderr.clear();
    slot.err_partial.clear();
    slot.out.clear();
    Log(LogLevel::kDebug, "co-process started", {{"pid", slot.proc->pid()}, {"command", cmd}});
  }

  StderrSink sink{&ctx, options_.max_output_bytes, slot.proc->pid(), &slot.last_stderr};
  std::string line = ctx.event->doc.dump(-1, ' ', false, Json::error_handler_t::replace);
  line.push_back('\n');
  const std::size_t max_reply = std::max(options_.max_output_bytes, kMinReplyBytes);
  std::optional<Clock::time_point> deadline;
  if (options_.timeout > Millis(0)) deadline = Clock::now() + options_.timeout;
  std::string reply_line;
  const Exchange end = slot.Ask(line, deadline, cancel, max_reply, &sink, &reply_line);
  switch (end) {
    case Exchange::kReply:
      break;
    case Exchange::kCancelled:
      slot.End(options_.kill_after, &sink);
      return interrupted();
    case Exchange::kTimeout: {
      // A hang is bounded by the timeout, so it never spins: it does not count as a death
      // at start-up, and the next process starts without delay.
      slot.End(options_.kill_after, &sink);
      return finish(Outcome::kTransient, Category::kTimeout,
                    "no reply from the co-process within " + FormatShortDuration(options_.timeout));
    }
    case Exchange::kTooLong: {
      auto [how, fatal_text] = end_process(&sink, Millis(0));
      if (!fatal_text.empty()) return fatal(fatal_text);
      return finish(Outcome::kTransient, Category::kCrash,
                    "malformed reply from the co-process: longer than " +
                        std::to_string(max_reply) + " bytes without a newline");
    }
    case Exchange::kClosed: {
      auto [how, fatal_text] = end_process(&sink, options_.kill_after);
      if (!fatal_text.empty()) return fatal(fatal_text);
      return finish(Outcome::kTransient, Category::kCrash,
                    "co-process ended before replying: " + how);
    }
  }

  Result<Reply> reply = ParseReply(reply_line);
  if (!reply.ok()) {
    const std::string error = "malformed reply from the co-process (" + reply.status().message() +
                              "): " + OneLine(reply_line, 200);
    auto [how, fatal_text] = end_process(&sink, Millis(0));
    if (!fatal_text.empty()) return fatal(fatal_text);
    return finish(Outcome::kTransient, Category::kCrash, error);
  }
  slot.answered = true;
  {
    std::lock_guard<std::mutex> lock(st.mu);
    st.streak = 0;
    st.streak_conclusive = false;
  }
  if (reply->outcome == Outcome::kDone) return finish(Outcome::kDone, Category::kNone, "");
  if (reply->outcome == Outcome::kTransient) result.retry_after = reply->retry_after;
  return finish(reply->outcome, reply->category, reply->error);
}

}  // namespace evt
