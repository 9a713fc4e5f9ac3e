#include "evt/handler_pipe.h"

#include <poll.h>
#include <pthread.h>
#include <signal.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <future>
#include <mutex>
#include <optional>
#include <thread>
#include <utility>

#include "evt/handler_exec.h"
#include "evt/log.h"
#include "handler/coprocess.h"
#include "handler/handler_text.h"
#include "handler/pipe_reply.h"
#include "handler/pipe_slot.h"

namespace evt {

namespace {

using Clock = std::chrono::steady_clock;

// The longest reply line accepted, when --max-output-bytes is smaller.
constexpr std::size_t kMinReplyBytes = 4096;

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

// The result of one attempt, timed from its start.
class Attempt {
 public:
  HandlerResult Finish(Outcome outcome, Category category, std::string error) {
    result_.outcome = outcome;
    result_.category = category;
    result_.error = std::move(error);
    result_.duration = std::chrono::duration_cast<Millis>(Clock::now() - start_);
    return result_;
  }
  HandlerResult Interrupted() {
    result_.interrupted = true;
    return Finish(Outcome::kTransient, Category::kTimeout, "interrupted by shutdown");
  }
  // The handler cannot run any event: the worker stops with `error`.
  HandlerResult Fatal(std::string error) {
    result_.fatal = true;
    result_.interrupted = true;
    return Finish(Outcome::kTransient, Category::kCrash, std::move(error));
  }
  HandlerResult Replied(const PipeReply& reply) {
    if (reply.outcome == Outcome::kDone) return Finish(Outcome::kDone, Category::kNone, "");
    if (reply.outcome == Outcome::kTransient) result_.retry_after = reply.retry_after;
    return Finish(reply.outcome, reply.category, reply.error);
  }

 private:
  const Clock::time_point start_ = Clock::now();
  HandlerResult result_;
};

bool Cancelled(const Cancellation* cancel) { return cancel != nullptr && cancel->cancelled(); }

std::string EventId(const Event& event) {
  auto it = event.doc.find("event_id");
  return it != event.doc.end() && it->is_string() ? it->get<std::string>() : std::string();
}

}  // namespace

struct PipeHandler::State {
  explicit State(const PipeHandlerOptions& o) : options(o) {}

  Spawner spawner;                    // first: destroyed last, after every co-process is stopped
  const PipeHandlerOptions& options;  // the handler's, which outlives this

  std::mutex mu;
  std::condition_variable slot_freed;
  std::vector<PipeSlot> slots;
  std::vector<int> free_slots;  // LIFO: the slot used last (its process warm) goes first

  // Co-processes in a row that ended without answering (guarded by mu).
  int streak = 0;
  std::string streak_event;        // the event in flight at the first of them
  bool streak_conclusive = false;  // a failed start, or two different events
  std::string fatal;               // non-empty: every Run reports it

  // Takes a free slot's index, waiting for one; -1 once `fatal` is set (copied to
  // *fatal_text) or `cancel` fires. With --concurrency threads and as many slots there is
  // always one free.
  int TakeSlot(const Cancellation* cancel, std::string* fatal_text) {
    std::unique_lock<std::mutex> lock(mu);
    while (free_slots.empty() && fatal.empty() && !Cancelled(cancel)) {
      slot_freed.wait_for(lock, Millis(100));
    }
    *fatal_text = fatal;
    if (!fatal.empty() || Cancelled(cancel)) return -1;
    const int index = free_slots.back();
    free_slots.pop_back();
    return index;
  }

  void ReleaseSlot(int index) {
    {
      std::lock_guard<std::mutex> lock(mu);
      free_slots.push_back(index);
    }
    slot_freed.notify_one();
  }

  // A process of `slot` ended without ever answering: one more in the streak, and the
  // slot waits out a doubling backoff. `event` is empty for a failed start. Returns the
  // fatal text once the streak is long and conclusive enough, else "".
  std::string NoteSilentEnd(PipeSlot* slot, const std::string& event, const std::string& why) {
    const PipeHandlerOptions& o = options;
    std::lock_guard<std::mutex> lock(mu);
    if (streak == 0) {
      streak_event = event;
      streak_conclusive = event.empty();
    } else if (event.empty() || event != streak_event) {
      streak_conclusive = true;
    }
    ++streak;
    Millis delay = o.restart_backoff_min;
    for (int i = 1; i < streak && delay < o.restart_backoff_max; ++i) delay *= 2;
    slot->restart_after = Clock::now() + std::min(delay, o.restart_backoff_max);
    if (streak >= o.max_startup_failures && streak_conclusive && fatal.empty()) {
      fatal = "co-process " + o.argv[0] + " ended " + std::to_string(streak) +
              " times in a row without answering an event; last: " + why;
      Log(LogLevel::kError, fatal);
      slot_freed.notify_all();
    }
    return fatal;
  }

  void NoteAnswer() {
    std::lock_guard<std::mutex> lock(mu);
    streak = 0;
    streak_conclusive = false;
  }

  std::optional<HandlerResult> ReadySlot(const AttemptContext& ctx, PipeSlot* slot,
                                         Attempt* attempt);
  HandlerResult Converse(const AttemptContext& ctx, PipeSlot* slot, Attempt* attempt);
  HandlerResult EndAfterFailure(const AttemptContext& ctx, PipeSlot* slot, StderrSink* sink,
                                Millis kill_after, Attempt* attempt, std::string error,
                                bool tell_how);
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
    : options_(std::move(options)), state_(std::make_unique<State>(options_)) {
  state_->slots.resize(static_cast<std::size_t>(options_.processes));
  for (int i = options_.processes - 1; i >= 0; --i) state_->free_slots.push_back(i);
}

PipeHandler::~PipeHandler() {
  // End of input first: a co-process that exits on EOF finishes its own way.
  for (PipeSlot& slot : state_->slots) {
    if (slot.proc) slot.proc->CloseStdin();
  }
  const Clock::time_point until = Clock::now() + options_.kill_after;
  for (PipeSlot& slot : state_->slots) {
    if (!slot.proc) continue;
    const Millis left =
        std::max(Millis(0), std::chrono::duration_cast<Millis>(until - Clock::now()));
    slot.proc->WaitForExit(left);
    StderrSink sink{nullptr, 0, slot.proc->pid(), &slot.last_stderr};
    slot.End(Millis(0), &sink);
  }
}

HandlerResult PipeHandler::Run(const AttemptContext& ctx) {
  Attempt attempt;
  if (Cancelled(ctx.cancel)) return attempt.Interrupted();
  if (ctx.event == nullptr) {
    return attempt.Finish(Outcome::kTransient, Category::kInternal, "no event");
  }
  std::string fatal_text;
  const int index = state_->TakeSlot(ctx.cancel, &fatal_text);
  if (!fatal_text.empty()) return attempt.Fatal(fatal_text);
  if (index < 0) return attempt.Interrupted();
  struct Release {
    State& st;
    int index;
    ~Release() { st.ReleaseSlot(index); }
  } release{*state_, index};
  PipeSlot& slot = state_->slots[static_cast<std::size_t>(index)];
  if (std::optional<HandlerResult> failed = state_->ReadySlot(ctx, &slot, &attempt)) {
    return *failed;
  }
  return state_->Converse(ctx, &slot, &attempt);
}

// Between events a co-process must be silent on stdout and alive; else it is replaced.
// Starts a process when the slot has none, after the backoff of silent ends. A result when
// the attempt ends here.
std::optional<HandlerResult> PipeHandler::State::ReadySlot(const AttemptContext& ctx,
                                                           PipeSlot* slot, Attempt* attempt) {
  if (slot->proc) {
    StderrSink idle_sink{nullptr, 0, slot->proc->pid(), &slot->last_stderr};
    if (const char* why = slot->CheckIdle(&idle_sink); why != nullptr) {
      const pid_t pid = slot->proc->pid();
      const std::string how = slot->End(options.kill_after, &idle_sink);
      Log(LogLevel::kWarn, why, {{"pid", pid}, {"status", how}});
    }
  }
  if (slot->proc) return std::nullopt;
  // Back off after processes that died without answering, but stay cancellable.
  if (Clock::now() < slot->restart_after) {
    pollfd p{ctx.cancel != nullptr ? ctx.cancel->fd() : -1, POLLIN, 0};
    while (Clock::now() < slot->restart_after && !Cancelled(ctx.cancel)) {
      poll(&p, 1, std::min(PollMillisUntil(slot->restart_after), 100));
    }
    if (Cancelled(ctx.cancel)) return attempt->Interrupted();
  }
  Result<std::unique_ptr<Coprocess>> started = spawner.Start(options.argv);
  if (!started.ok()) {
    const std::string why = started.status().message();
    const std::string fatal_text = NoteSilentEnd(slot, "", why);
    if (!fatal_text.empty()) return attempt->Fatal(fatal_text);
    return attempt->Finish(Outcome::kTransient, Category::kCrash, why);
  }
  slot->Adopt(std::move(*started));
  Log(LogLevel::kDebug, "co-process started",
      {{"pid", slot->proc->pid()}, {"command", options.argv[0]}});
  return std::nullopt;
}

// Sends the event to the slot's process and turns its reply, or the lack of one, into the
// attempt's result.
HandlerResult PipeHandler::State::Converse(const AttemptContext& ctx, PipeSlot* slot,
                                           Attempt* attempt) {
  StderrSink sink{&ctx, options.max_output_bytes, slot->proc->pid(), &slot->last_stderr};
  std::string line = ctx.event->doc.dump(-1, ' ', false, Json::error_handler_t::replace);
  line.push_back('\n');
  const std::size_t max_reply = std::max(options.max_output_bytes, kMinReplyBytes);
  std::optional<Clock::time_point> deadline;
  if (options.timeout > Millis(0)) deadline = Clock::now() + options.timeout;
  std::string reply_line;
  switch (slot->Ask(line, deadline, ctx.cancel, max_reply, &sink, &reply_line)) {
    case Exchange::kReply:
      break;
    case Exchange::kCancelled:
      slot->End(options.kill_after, &sink);
      return attempt->Interrupted();
    case Exchange::kTimeout:
      // A hang is bounded by the timeout, so it never spins: it does not count as a death
      // at start-up, and the next process starts without delay.
      slot->End(options.kill_after, &sink);
      return attempt->Finish(
          Outcome::kTransient, Category::kTimeout,
          "no reply from the co-process within " + FormatShortDuration(options.timeout));
    case Exchange::kTooLong:
      return EndAfterFailure(ctx, slot, &sink, Millis(0), attempt,
                             "malformed reply from the co-process: longer than " +
                                 std::to_string(max_reply) + " bytes without a newline",
                             false);
    case Exchange::kClosed:
      return EndAfterFailure(ctx, slot, &sink, options.kill_after, attempt,
                             "co-process ended before replying: ", true);
  }
  Result<PipeReply> reply = ParsePipeReply(reply_line);
  if (!reply.ok()) {
    return EndAfterFailure(ctx, slot, &sink, Millis(0), attempt,
                           "malformed reply from the co-process (" + reply.status().message() +
                               "): " + OneLine(reply_line, 200),
                           false);
  }
  slot->answered = true;
  NoteAnswer();
  return attempt->Replied(*reply);
}

// Ends the slot's process after a failure of the event in flight: a crash, or the fatal
// error once too many processes in a row ended without answering. `tell_how`: `error` gets
// how the process ended appended.
HandlerResult PipeHandler::State::EndAfterFailure(const AttemptContext& ctx, PipeSlot* slot,
                                                  StderrSink* sink, Millis kill_after,
                                                  Attempt* attempt, std::string error,
                                                  bool tell_how) {
  const bool answered = slot->answered;
  std::string how = slot->End(kill_after, sink);
  if (!slot->last_stderr.empty()) how += ": " + OneLine(slot->last_stderr, kMaxPipeErrorText);
  if (!answered) {
    const std::string fatal_text = NoteSilentEnd(slot, EventId(*ctx.event), how);
    if (!fatal_text.empty()) return attempt->Fatal(fatal_text);
  }
  if (tell_how) error += how;
  return attempt->Finish(Outcome::kTransient, Category::kCrash, std::move(error));
}

}  // namespace evt
