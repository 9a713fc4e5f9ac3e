// The stdio worker: one main thread owns all bookkeeping (input, retries, idempotency keys,
// results, dead letters); `concurrency` threads only run handlers and hand results back
// through a locked queue plus a wake-up byte. Keeping every decision on one thread keeps
// the rules simple enough to read in one sitting.
#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <csignal>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "evt/log.h"
#include "evt/ndjson.h"
#include "evt/signals.h"
#include "evt/worker.h"

namespace evt {
namespace {

using SteadyClock = std::chrono::steady_clock;

struct Job {
  Event event;
  std::uint64_t line = 0;
  int attempts = 0;        // attempts finished so far
  Millis handler_time{0};  // summed over attempts
  std::string last_error;
  Category last_category = Category::kNone;
};
using JobPtr = std::unique_ptr<Job>;

struct Completion {
  JobPtr job;
  HandlerResult result;
};

class StdioWorker {
 public:
  StdioWorker(int in_fd, int out_fd, Handler& handler, DeadLetterSink& dlq, const WorkerOptions& o,
              WorkerStats* stats)
      : in_fd_(in_fd),
        handler_(handler),
        dlq_(dlq),
        options_(o),
        stats_(*stats),
        reader_(in_fd, o.max_event_bytes),
        writer_(out_fd),
        rng_(o.seed != 0 ? o.seed : std::random_device{}()) {
    consumer_ = o.consumer.empty() ? DefaultConsumerName() : o.consumer;
  }

  Status Run();

 private:
  void ThreadMain();
  // Parses one input line; a rejected line is recorded (result + dead letter) and gives null.
  JobPtr ParseLine(const Line& line);
  void HandleLine(const Line& line);
  void Dispatch(JobPtr job);
  void StartNow(JobPtr job);
  void OnCompletion(Completion c);
  void ReleaseKey(const std::string& key, bool succeeded);
  void BeginStop(const char* why);
  void Interrupt(JobPtr job);
  void InterruptEverythingLeft();
  void DeadLetterJob(const Job& job, DeadReason reason);
  void WriteResult(const Job& job, const char* status, const DeadReason* reason);
  void WriteLine(const std::string& text);
  void RecordDeadLetter(const DeadLetter& d);
  bool WantRead() const { return !eof_ && !stopping_ && active_ < options_.concurrency; }

  int in_fd_;
  Handler& handler_;
  DeadLetterSink& dlq_;
  const WorkerOptions& options_;
  WorkerStats& stats_;
  LineReader reader_;
  LineWriter writer_;
  std::mt19937_64 rng_;
  std::string consumer_;
  Cancellation cancel_;

  // Shared with the handler threads, under mu_.
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<JobPtr> ready_;
  std::vector<Completion> completions_;
  bool closing_ = false;

  // Main thread only.
  int active_ = 0;  // jobs in ready_ or running on a thread
  std::multimap<SteadyClock::time_point, JobPtr> retries_;
  std::unordered_map<std::string, std::deque<JobPtr>> inflight_keys_;  // key → waiting jobs
  std::unordered_set<std::string> done_keys_;
  bool eof_ = false;
  bool stopping_ = false;
  SteadyClock::time_point grace_deadline_;
  Status io_status_;
  Status fatal_;  // the handler kind cannot go on (HandlerResult::fatal)
};

void StdioWorker::ThreadMain() {
  while (true) {
    JobPtr job;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [&] { return closing_ || !ready_.empty(); });
      if (ready_.empty()) return;
      job = std::move(ready_.front());
      ready_.pop_front();
    }
    AttemptContext ctx;
    ctx.event = &job->event;
    ctx.attempt = job->attempts + 1;
    ctx.cancel = &cancel_;
    const Job* j = job.get();
    ctx.on_stderr_line = [this, j](std::string_view text) {
      LogEvent(LogLevel::kInfo, "handler stderr",
               {j->event.event_id(), j->event.idempotency_key(), j->event.event_type(), consumer_,
                j->attempts + 1},
               {{"text", std::string(text)}});
    };
    HandlerResult result = handler_.Run(ctx);
    {
      std::lock_guard<std::mutex> lock(mu_);
      completions_.push_back(Completion{std::move(job), std::move(result)});
    }
    WakeUp();
  }
}

void StdioWorker::WriteLine(const std::string& text) {
  if (!io_status_.ok()) return;
  Status s = writer_.WriteLine(text);
  if (!s.ok()) {
    io_status_ = Status::IOError("cannot write results to stdout: " + s.message());
    Log(LogLevel::kError, io_status_.message());
    BeginStop("output failed");
  }
}

void StdioWorker::WriteResult(const Job& job, const char* status, const DeadReason* reason) {
  Json r;
  r["event_id"] = job.event.event_id();
  r["event_type"] = job.event.event_type();
  r["idempotency_key"] = job.event.idempotency_key();
  r["status"] = status;
  r["attempts"] = job.attempts;
  r["duration_ms"] = job.handler_time.count();
  if (reason != nullptr) {
    r["reason"] = DeadReasonName(*reason);
    r["error"] = job.last_error;
    r["category"] = CategoryName(job.last_category);
  }
  WriteLine(r.dump(-1, ' ', false, Json::error_handler_t::replace));
}

void StdioWorker::RecordDeadLetter(const DeadLetter& d) {
  Status s = dlq_.Append(d);
  if (!s.ok()) {
    // The record must not be lost: put it on stderr, and make the exit status say so.
    Log(LogLevel::kError, s.message());
    std::string line = SerializeDeadLetter(d) + "\n";
    [[maybe_unused]] ssize_t n = ::write(STDERR_FILENO, line.data(), line.size());
    if (io_status_.ok()) io_status_ = s;
  }
}

void StdioWorker::DeadLetterJob(const Job& job, DeadReason reason) {
  DeadLetter d;
  d.reason = reason;
  d.category = job.last_category;
  d.error = job.last_error;
  d.attempts = job.attempts;
  d.failed_at = options_.clock->WallNow();
  d.consumer = consumer_;
  d.line = job.line;
  d.event = job.event.doc;
  RecordDeadLetter(d);
}

JobPtr StdioWorker::ParseLine(const Line& line) {
  auto reject = [&](const std::string& error, Json event, DeadReason reason) {
    Log(LogLevel::kError, "line " + std::to_string(line.number) + ": " + error);
    DeadLetter d;
    d.reason = reason;
    d.category = Category::kData;
    d.error = error;
    d.failed_at = options_.clock->WallNow();
    d.consumer = consumer_;
    d.line = line.number;
    d.event = std::move(event);
    // An over-long line was never held whole: its head is what there is to keep.
    if (d.event.is_null()) d.raw = std::string(line.too_long ? line.head : line.text);
    RecordDeadLetter(d);
    Json r;
    r["line"] = line.number;
    r["status"] = reason == DeadReason::kInvalid ? "invalid" : "failed";
    if (reason != DeadReason::kInvalid) r["reason"] = DeadReasonName(reason);
    r["error"] = error;
    WriteLine(r.dump(-1, ' ', false, Json::error_handler_t::replace));
  };
  if (line.too_long) {
    ++stats_.invalid;
    reject("line is " + std::to_string(line.length) + " bytes, more than --max-event-bytes " +
               std::to_string(options_.max_event_bytes),
           Json(), DeadReason::kInvalid);
    return nullptr;
  }
  EventDefaults defaults;
  defaults.max_event_bytes = options_.max_event_bytes;
  Result<Event> ev = ParseEvent(line.text, defaults);
  if (!ev.ok()) {
    if (IsNewerSchemaVersion(ev.status())) {
      // A newer producer, not garbage: a permanent `data` failure, kept whole for replay
      // by a newer worker.
      ++stats_.failed;
      Result<Json> whole = ParseJson(line.text);
      reject(ev.status().message(), whole.ok() ? std::move(*whole) : Json(),
             DeadReason::kPermanent);
    } else {
      ++stats_.invalid;
      reject(ev.status().message(), Json(), DeadReason::kInvalid);
    }
    return nullptr;
  }
  ++stats_.events;
  auto job = std::make_unique<Job>();
  job->event = std::move(*ev);
  job->line = line.number;
  return job;
}

void StdioWorker::HandleLine(const Line& line) {
  if (JobPtr job = ParseLine(line)) Dispatch(std::move(job));
}

void StdioWorker::Dispatch(JobPtr job) {
  const std::string& key = job->event.idempotency_key();
  if (done_keys_.count(key) != 0) {
    ++stats_.duplicate;
    Log(LogLevel::kInfo, "duplicate: idempotency key already done, not run",
        {{"event_id", job->event.event_id()},
         {"idempotency_key", key},
         {"event_type", job->event.event_type()},
         {"consumer", consumer_}});
    WriteResult(*job, "duplicate", nullptr);
    return;
  }
  auto it = inflight_keys_.find(key);
  if (it != inflight_keys_.end()) {
    it->second.push_back(std::move(job));  // waits for the outcome of the same key
    return;
  }
  inflight_keys_.emplace(key, std::deque<JobPtr>());
  StartNow(std::move(job));
}

void StdioWorker::StartNow(JobPtr job) {
  ++active_;
  {
    std::lock_guard<std::mutex> lock(mu_);
    ready_.push_back(std::move(job));
  }
  cv_.notify_one();
}

void StdioWorker::ReleaseKey(const std::string& key, bool succeeded) {
  auto it = inflight_keys_.find(key);
  if (it == inflight_keys_.end()) return;
  std::deque<JobPtr> waiting = std::move(it->second);
  inflight_keys_.erase(it);
  if (succeeded) {
    for (JobPtr& j : waiting) Dispatch(std::move(j));  // each becomes a duplicate
    return;
  }
  if (waiting.empty()) return;
  if (stopping_) {
    for (JobPtr& j : waiting) Interrupt(std::move(j));
    return;
  }
  JobPtr next = std::move(waiting.front());
  waiting.pop_front();
  inflight_keys_.emplace(key, std::move(waiting));
  StartNow(std::move(next));
}

void StdioWorker::OnCompletion(Completion c) {
  --active_;
  JobPtr job = std::move(c.job);
  const HandlerResult& r = c.result;
  job->attempts += 1;
  job->handler_time += r.duration;
  if (r.outcome != Outcome::kDone) {
    job->last_error = r.error;
    job->last_category = r.category;
  }
  const std::string key = job->event.idempotency_key();
  if (r.outcome == Outcome::kDone) {
    LogEvent(LogLevel::kInfo, "attempt finished",
             {job->event.event_id(), key, job->event.event_type(), consumer_, job->attempts},
             {{"duration_ms", r.duration.count()}, {"outcome", OutcomeName(r.outcome)}});
  } else {
    LogEvent(LogLevel::kWarn, r.interrupted ? "attempt interrupted" : "attempt failed",
             {job->event.event_id(), key, job->event.event_type(), consumer_, job->attempts},
             {{"duration_ms", r.duration.count()},
              {"outcome", OutcomeName(r.outcome)},
              {"category", CategoryName(r.category)},
              {"error", r.error}});
  }

  if (r.fatal && fatal_.ok()) {
    // A co-process that dies at start-up again and again: stop rather than fail every
    // event; what is left is interrupted, as on SIGTERM.
    fatal_ = Status::Unavailable("handler: " + r.error);
    Log(LogLevel::kError, fatal_.message(), {{"consumer", consumer_}});
    BeginStop("the handler cannot run");
  }
  if (r.interrupted) {
    Interrupt(std::move(job));
    ReleaseKey(key, false);
    return;
  }
  if (r.outcome == Outcome::kDone) {
    ++stats_.done;
    WriteResult(*job, "done", nullptr);
    done_keys_.insert(key);
    ReleaseKey(key, true);
    return;
  }
  if (r.outcome == Outcome::kTransient && ShouldRetry(options_.retry, job->attempts)) {
    if (stopping_) {
      Interrupt(std::move(job));
      ReleaseKey(key, false);
      return;
    }
    // A handler's Retry-After is a floor under the backoff, never a way round it.
    Millis delay = std::max(BackoffDelay(options_.retry, job->attempts - 1, rng_), r.retry_after);
    ++stats_.retries;
    job->event.set_retry_count(job->event.retry_count() + 1);
    LogEvent(LogLevel::kInfo, "retry scheduled",
             {job->event.event_id(), key, job->event.event_type(), consumer_, job->attempts + 1},
             {{"delay_ms", delay.count()}});
    retries_.emplace(options_.clock->SteadyNow() + delay, std::move(job));
    return;
  }
  DeadReason reason =
      r.outcome == Outcome::kPermanent ? DeadReason::kPermanent : DeadReason::kRetriesExhausted;
  ++stats_.failed;
  LogEvent(LogLevel::kError, "dead letter",
           {job->event.event_id(), key, job->event.event_type(), consumer_, job->attempts},
           {{"reason", DeadReasonName(reason)},
            {"category", CategoryName(job->last_category)},
            {"error", job->last_error},
            {"dlq", dlq_.name()}});
  DeadLetterJob(*job, reason);
  WriteResult(*job, "failed", &reason);
  ReleaseKey(key, false);
}

void StdioWorker::Interrupt(JobPtr job) {
  ++stats_.interrupted;
  if (job->last_error.empty()) job->last_error = "worker stopped before the event finished";
  DeadReason reason = DeadReason::kInterrupted;
  DeadLetterJob(*job, reason);
  WriteResult(*job, "interrupted", &reason);
}

void StdioWorker::BeginStop(const char* why) {
  if (stopping_) return;
  stopping_ = true;
  grace_deadline_ = options_.clock->SteadyNow() + options_.shutdown_grace;
  // Events handed to threads but not yet started go back: they will not start now.
  std::deque<JobPtr> unstarted;
  {
    std::lock_guard<std::mutex> lock(mu_);
    unstarted.swap(ready_);
  }
  active_ -= static_cast<int>(unstarted.size());
  Log(LogLevel::kWarn, std::string("stopping: ") + why + "; reading no more input",
      {{"running", active_}, {"grace_ms", options_.shutdown_grace.count()}});
  for (JobPtr& j : unstarted) {
    std::string key = j->event.idempotency_key();
    Interrupt(std::move(j));
    ReleaseKey(key, false);
  }
}

void StdioWorker::InterruptEverythingLeft() {
  for (auto& [due, job] : retries_) {
    std::string key = job->event.idempotency_key();
    Interrupt(std::move(job));
    ReleaseKey(key, false);
  }
  retries_.clear();
  for (auto& [key, waiting] : inflight_keys_) {
    for (JobPtr& j : waiting) Interrupt(std::move(j));
  }
  inflight_keys_.clear();
  // Lines read ahead but not yet parsed. From a regular file they are given back: the
  // offset moves back to just after the last line taken, so that the next reader of the
  // same file (`{ evt-work ...; evt-work ...; } < events.ndjson`) starts on a whole line.
  if (stopping_ && reader_.GiveBack()) return;
  // From a pipe they cannot be: they are ours, so they are recorded, never dropped.
  Line line;
  while (reader_.HasBufferedLine() && reader_.Next(&line) == LineReader::State::kLine) {
    if (JobPtr job = ParseLine(line)) Interrupt(std::move(job));
  }
  std::string_view partial = reader_.Unconsumed();
  if (!partial.empty()) {
    DeadLetter d;
    d.reason = DeadReason::kInterrupted;
    d.error = "unfinished line when the worker stopped";
    d.failed_at = options_.clock->WallNow();
    d.consumer = consumer_;
    d.raw = std::string(partial);
    ++stats_.interrupted;
    RecordDeadLetter(d);
  }
}

Status StdioWorker::Run() {
  std::vector<std::thread> threads;
  threads.reserve(static_cast<std::size_t>(options_.concurrency));
  for (int i = 0; i < options_.concurrency; ++i) threads.emplace_back([this] { ThreadMain(); });

  Status input_status;
  while (true) {
    DrainWake();  // before looking at the queues, so no wake-up is lost
    std::vector<Completion> done;
    {
      std::lock_guard<std::mutex> lock(mu_);
      done.swap(completions_);
    }
    for (Completion& c : done) OnCompletion(std::move(c));

    if (StopRequested()) BeginStop(StopSignal() == SIGINT ? "SIGINT" : "SIGTERM");

    auto now = options_.clock->SteadyNow();
    while (!stopping_ && !retries_.empty() && retries_.begin()->first <= now) {
      JobPtr job = std::move(retries_.begin()->second);
      retries_.erase(retries_.begin());
      StartNow(std::move(job));  // its key is still held in inflight_keys_
    }
    Line line;
    while (WantRead() && reader_.HasBufferedLine() &&
           reader_.Next(&line) == LineReader::State::kLine) {
      HandleLine(line);
    }

    if (stopping_) {
      if (active_ == 0) break;
      if (now >= grace_deadline_ && !cancel_.cancelled()) {
        Log(LogLevel::kWarn, "shutdown grace over: stopping running handlers",
            {{"running", active_}});
        cancel_.Cancel();
      }
    } else if (eof_ && active_ == 0 && retries_.empty()) {
      break;
    }

    if (!io_status_.ok()) {
      // Output is gone; nothing to flush.
    } else if (Status s = writer_.Flush(); !s.ok()) {
      io_status_ = Status::IOError("cannot write results to stdout: " + s.message());
      Log(LogLevel::kError, io_status_.message());
      BeginStop("output failed");
      continue;
    }

    int timeout_ms = -1;
    auto until = [&](SteadyClock::time_point t) {
      auto ms = std::chrono::ceil<std::chrono::milliseconds>(t - now).count();
      int v = static_cast<int>(std::max<long long>(0, std::min<long long>(ms, 3'600'000)));
      timeout_ms = timeout_ms < 0 ? v : std::min(timeout_ms, v);
    };
    if (!stopping_ && !retries_.empty()) until(retries_.begin()->first);
    if (stopping_ && !cancel_.cancelled()) until(grace_deadline_);

    pollfd fds[2];
    nfds_t nfds = 0;
    fds[nfds++] = pollfd{WakeFd(), POLLIN, 0};
    const bool poll_input = WantRead();
    if (poll_input) fds[nfds++] = pollfd{in_fd_, POLLIN, 0};
    int n = ::poll(fds, nfds, timeout_ms);
    if (n < 0) continue;  // EINTR: a signal; the loop looks at it
    if (poll_input && fds[1].revents != 0) {
      LineReader::State st = reader_.Next(&line);
      if (st == LineReader::State::kLine) {
        HandleLine(line);
      } else if (st == LineReader::State::kEof) {
        eof_ = true;
      } else if (st == LineReader::State::kError) {
        eof_ = true;
        input_status = reader_.status();
        Log(LogLevel::kError, "cannot read input: " + input_status.message());
      }
    }
  }

  InterruptEverythingLeft();
  {
    std::lock_guard<std::mutex> lock(mu_);
    closing_ = true;
  }
  cv_.notify_all();
  for (std::thread& t : threads) t.join();
  if (io_status_.ok()) {
    if (Status s = writer_.Flush(); !s.ok()) io_status_ = s;
  }

  // Silent when all went well (at the default level); said when the exit status is not 0.
  const bool trouble = stats_.failed + stats_.invalid + stats_.interrupted > 0;
  Log(trouble ? LogLevel::kWarn : LogLevel::kInfo, "summary",
      {{"events", stats_.events},
       {"done", stats_.done},
       {"failed", stats_.failed},
       {"duplicate", stats_.duplicate},
       {"invalid", stats_.invalid},
       {"interrupted", stats_.interrupted},
       {"retries", stats_.retries},
       {"dlq", dlq_.name()}});
  if (!io_status_.ok()) return io_status_;
  if (!fatal_.ok()) return fatal_;
  if (!input_status.ok()) return input_status;
  if (stats_.invalid > 0) {
    return Status::InvalidArgument(std::to_string(stats_.invalid) + " input lines rejected");
  }
  return Status::Ok();
}

}  // namespace

Status RunStdioWorker(int in_fd, int out_fd, Handler& handler, DeadLetterSink& dlq,
                      const WorkerOptions& options, WorkerStats* stats) {
  StdioWorker worker(in_fd, out_fd, handler, dlq, options, stats);
  return worker.Run();
}

}  // namespace evt
