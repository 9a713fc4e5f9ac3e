// RunWorker: sets the loop up, starts its threads, watches for a stop and the grace
// period, and ends the run (worker_loop.h).
#include <poll.h>

#include <csignal>
#include <thread>

#include "evt/duration.h"
#include "evt/signals.h"
#include "worker/worker_loop.h"

namespace evt {

void AtomicStats::CopyTo(WorkerStats* s) const {
  s->events = events;
  s->attempts = attempts;
  s->done = done;
  s->retries = retries;
  s->failed = failed;
  s->invalid = invalid;
  s->duplicate = duplicate;
  s->deferred = deferred;
  s->claimed = claimed;
  s->abandoned = abandoned;
  s->resumed = resumed;
  s->replayed = replayed;
  s->left_in_journal = left_in_journal;
}

void WorkerLoop::Fatal(const Status& s) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!fatal_.ok()) return;  // said once, by the first thread that found it
    fatal_ = s;
  }
  // Nothing more is read from now on, not even before the calling thread notices.
  fatal_seen_ = true;
  queue_.Stop();
  Note(LogLevel::kError, s.message(), {{"consumer", consumer_}});
  WakeWatcher();
}

LoopHealth WorkerLoop::Health() const {
  LoopHealth h;
  h.store_ok = commits_stalled_.load() == 0;
  h.in_flight = in_flight_.load();
  h.concurrency = options_.concurrency;
  h.stopping = stopping_.load();
  h.waiting_commits = static_cast<std::uint64_t>(commits_waiting_.load());
  return h;
}

Status WorkerLoop::OpenJournal() {
  if (!queue_.NeedsJournal()) {
    recovered_ = true;  // nothing to replay
    return Status::Ok();
  }
  state_dir_ = options_.state_dir;
  if (state_dir_.empty()) {
    Result<std::string> dir = DefaultStateDir();
    if (!dir.ok()) return dir.status();
    state_dir_ = *dir;
  }
  if (Status s = PrepareStateDir(state_dir_); !s.ok()) return s;
  Result<std::unique_ptr<OutcomeJournal>> journal =
      OutcomeJournal::Create(state_dir_, queue_.Scope());
  if (!journal.ok()) return journal.status();
  journal_ = std::move(*journal);
  return Status::Ok();
}

// A refusal that waiting cannot fix (a wrong password) ends the run before any thread
// starts, so that it is said once, by the caller, not once per thread.
Status WorkerLoop::CheckStore() {
  std::unique_ptr<QueueSession> first = queue_.OpenSession();
  Status s = first->WithRetry([&] { return first->EnsureGroup(); },
                              [this] {
                                StoreDown();
                                return StopRequested() || burst_outage_.load();
                              });
  if (!s.ok() && burst_outage_.load()) return BurstOutage(s.message());
  if (!s.ok() && s.kind() != Status::Kind::kUnavailable) return s;
  return Status::Ok();
}

// The tries of one outage come every 50 ms, or every busy_timeout (up to 5 s) for a file
// locked by another process: a gap of 10 s without one ends the outage.
void WorkerLoop::StoreDown() {
  if (!options_.burst) return;
  const std::int64_t now = options_.clock->SteadyMillis();
  if (now - store_down_last_ms_.exchange(now) > 10000) store_down_since_ms_.store(now);
  if (now - store_down_since_ms_.load() >= options_.burst_store_wait.count()) {
    burst_outage_ = true;
  }
}

Status WorkerLoop::BurstOutage(const std::string& error) const {
  std::string left;
  if (const std::uint64_t n = stats_.left_in_journal; n > 0) {
    left = "; " + std::to_string(n) + " outcome(s) left in the journal for the next run";
  }
  return Status::Unavailable("the store was unreachable for longer than --burst-store-wait (" +
                             FormatDuration(options_.burst_store_wait) +
                             "): the burst ended early" + left +
                             (error.empty() ? "" : ": " + error));
}

void WorkerLoop::BeginStop(const char* why) {
  stopping_ = true;
  queue_.Stop();
  observer_.OnStopping();
  observer_.OnStopAsked(why, Health());
}

// The calling thread: until every handler thread is gone, after a drain or a stop.
void WorkerLoop::WatchUntilDone() {
  std::chrono::steady_clock::time_point deadline;
  while (true) {
    bool fatal;
    {
      std::unique_lock<std::mutex> lock(mu_);
      watch_cv_.wait_for(lock, std::chrono::milliseconds(20),
                         [this] { return !fatal_.ok() || threads_left_ == 0; });
      fatal = !fatal_.ok();
    }
    if (!Stopping() && threads_left_ == 0 && drained_ && !fatal) break;
    if (!Stopping() && (StopRequested() || fatal || threads_left_ == 0 || burst_outage_)) {
      deadline = options_.clock->SteadyNow() + options_.shutdown_grace;
      BeginStop(StopRequested() ? (StopSignal() == SIGINT ? "SIGINT" : "SIGTERM")
                : burst_outage_ ? "the store unreachable past --burst-store-wait"
                                : "an error");
    }
    if (Stopping() && threads_left_ == 0) break;
    if (Stopping() && !grace_over_ && options_.clock->SteadyNow() >= deadline) {
      Note(LogLevel::kWarn, "shutdown grace over: stopping running handlers",
           {{"running", in_flight_.load()}});
      grace_over_ = true;
      cancel_.Cancel();
    }
  }
}

Status WorkerLoop::EndRun(WorkerStats* stats) {
  if (const std::uint64_t left = stats_.left_in_journal; left > 0) {
    // Nothing is lost: the next worker started on this host for this queue commits them.
    const bool all_own = journal_ != nullptr && journal_->live_count() == left;
    Note(LogLevel::kWarn,
         "left " + std::to_string(left) +
             " outcome(s) in the journal; the next worker started for this queue on this host "
             "commits them",
         {{"journal", all_own ? journal_->path() : state_dir_}, {"consumer", consumer_}});
  }
  if (journal_ != nullptr) journal_->Close();
  adopted_.clear();
  std::uint64_t interrupted = 0;
  Status ended = queue_.EndRun(&interrupted);
  stats_.CopyTo(stats);
  stats->interrupted = interrupted;
  observer_.OnFinished(*stats);
  std::lock_guard<std::mutex> lock(mu_);
  // Output that failed says the results themselves may be incomplete: it goes first.
  if (ended.ok() && fatal_.ok() && burst_outage_) return BurstOutage("");
  if (ended.kind() == Status::Kind::kIOError || fatal_.ok()) return ended;
  return fatal_;
}

Status WorkerLoop::Run(WorkerStats* stats) {
  if (Status s = OpenJournal(); !s.ok()) return s;
  if (Status s = CheckStore(); !s.ok()) return s;
  if (journal_ != nullptr) {
    Note(LogLevel::kInfo, "worker started",
         {{"queue", queue_.Describe()},
          {"consumer", consumer_},
          {"concurrency", options_.concurrency},
          {"journal", journal_->path()}});
  }
  observer_.OnReady();
  started_wall_ = options_.clock->WallNow();
  threads_left_ = options_.concurrency;
  Housekeeper housekeeper(queue_, options_, leases_, observer_, [this] { return Health(); });
  std::thread housekeeping([&housekeeper] { housekeeper.Run(); });
  std::vector<std::thread> threads;
  for (int i = 0; i < options_.concurrency; ++i) {
    threads.emplace_back([this, i] { HandlerThread(i); });
  }
  WatchUntilDone();
  for (std::thread& t : threads) t.join();
  housekeeper.Stop();
  housekeeping.join();
  return EndRun(stats);
}

Status RunWorker(Queue& queue, Handler& handler, const WorkerOptions& options,
                 WorkerObserver& observer, WorkerStats* stats) {
  WorkerLoop loop(queue, handler, options, observer);
  return loop.Run(stats);
}

}  // namespace evt
