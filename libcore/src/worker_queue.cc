// The queue worker: N handler threads, each with its own QueueSession, each looping
// "claim or receive one entry → lease → run → commit"; one housekeeping thread
// (worker_housekeeping.h); and the
// calling thread, which only watches for the stop signal and enforces the grace period.
// A thread owns its delivery from receipt to commit, so no state is shared between
// threads except counters and the stop flags.
#include <poll.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <csignal>
#include <mutex>
#include <random>
#include <thread>
#include <vector>

#include "evt/log.h"
#include "evt/signals.h"
#include "evt/worker.h"
#include "worker_housekeeping.h"

namespace evt {
namespace {

using SteadyClock = std::chrono::steady_clock;

std::int64_t SteadyMillis() {
  return std::chrono::duration_cast<Millis>(SteadyClock::now().time_since_epoch()).count();
}

struct AtomicStats {
  std::atomic<std::uint64_t> attempts{0}, done{0}, retries{0}, failed{0}, duplicate{0}, deferred{0},
      claimed{0}, abandoned{0};
};

class QueueWorker {
 public:
  QueueWorker(Queue& queue, Handler& handler, const QueueWorkerOptions& o)
      : queue_(queue), handler_(handler), options_(o), consumer_(queue.consumer()) {}

  Status Run(QueueWorkerStats* stats);

 private:
  void HandlerThread(int index);
  void Process(QueueSession& session, const Delivery& entry, std::mt19937_64& rng);
  bool ClaimDue();
  void Commit(QueueSession& session, const AttemptEnd& end, const char* what,
              const std::function<Status()>& op);
  void Fatal(const Status& s);
  bool Stopping() const { return stopping_.load(); }

  Queue& queue_;
  Handler& handler_;
  const QueueWorkerOptions& options_;
  const std::string consumer_;
  Cancellation cancel_;
  AtomicStats stats_;
  std::atomic<bool> stopping_{false};    // read nothing more
  std::atomic<bool> grace_over_{false};  // stop handlers, give up commits
  std::atomic<int> in_flight_{0};
  std::atomic<int> threads_left_{0};
  std::atomic<std::int64_t> next_claim_ms_{0};
  std::mutex mu_;
  Status fatal_;
};

void QueueWorker::Fatal(const Status& s) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (fatal_.ok()) fatal_ = s;
  }
  Log(LogLevel::kError, s.message(), {{"consumer", consumer_}});
  WakeUp();
}

// One free thread at a time looks for abandoned entries, every claim_after / 3 (while it
// finds some, at once again).
bool QueueWorker::ClaimDue() {
  std::int64_t now = SteadyMillis();
  std::int64_t due = next_claim_ms_.load();
  if (now < due) return false;
  std::int64_t interval =
      std::min<std::int64_t>(10000, std::max<std::int64_t>(250, options_.claim_after.count() / 3));
  return next_claim_ms_.compare_exchange_strong(due, now + interval);
}

void QueueWorker::HandlerThread(int index) {
  std::mt19937_64 rng(options_.seed != 0 ? options_.seed + static_cast<std::uint64_t>(index)
                                         : std::random_device{}());
  std::unique_ptr<QueueSession> session = queue_.OpenSession();
  auto stopping = [this] { return Stopping(); };
  bool need_group = true;
  while (!Stopping()) {
    Status s;
    if (need_group) {
      s = session->WithRetry([&] { return session->EnsureGroup(); }, stopping);
      if (!s.ok()) {
        if (s.kind() != Status::Kind::kUnavailable) Fatal(s);
        break;
      }
      need_group = false;
    }
    std::vector<Delivery> got;
    if (ClaimDue()) {
      s = session->WithRetry(
          [&] {
            got.clear();
            return session->Claim(options_.claim_after, 1, &got);
          },
          stopping);
      if (s.ok() && !got.empty()) {
        next_claim_ms_.store(0);  // there may be more
        stats_.claimed += got.size();
        for (const Delivery& d : got) {
          Log(LogLevel::kWarn, "claimed an entry abandoned by another consumer",
              {{"stream_id", d.id}, {"deliveries", d.deliveries}, {"consumer", consumer_}});
        }
      }
    }
    if (s.ok() && got.empty()) {
      s = session->WithRetry(
          [&] {
            got.clear();
            return session->Receive(1, options_.receive_block, &got);
          },
          stopping);
    }
    if (s.kind() == Status::Kind::kNotFound) {  // the group (or stream) was deleted
      Log(LogLevel::kWarn, "consumer group missing; creating it again", {{"error", s.message()}});
      need_group = true;
      continue;
    }
    if (!s.ok()) {
      if (s.kind() != Status::Kind::kUnavailable) Fatal(s);
      break;  // Unavailable here means a stop came while the store was down
    }
    // Entries already received are ours: they run even when a stop came meanwhile.
    for (const Delivery& d : got) Process(*session, d, rng);
  }
  if (--threads_left_ == 0) WakeUp();
}

void QueueWorker::Commit(QueueSession& session, const AttemptEnd& end, const char* what,
                         const std::function<Status()>& op) {
  // The outcome is known: keep trying to record it until the shutdown grace is over.
  Status s = session.WithRetry(op, [this] { return grace_over_.load(); });
  if (s.ok()) return;
  ++stats_.abandoned;
  LogEvent(
      LogLevel::kError,
      "could not record the outcome; the entry stays pending and will be claimed and run again",
      {end.event_id, end.idempotency_key, end.event_type, consumer_, end.attempt},
      {{"outcome", what}, {"error", s.message()}});
}

void QueueWorker::Process(QueueSession& session, const Delivery& entry, std::mt19937_64& rng) {
  struct InFlight {
    std::atomic<int>& n;
    explicit InFlight(std::atomic<int>& c) : n(c) { ++n; }
    ~InFlight() { --n; }
  } in_flight(in_flight_);

  AttemptEnd end;
  end.delivery_id = entry.id;
  // An entry without event_id (another producer's) takes its identity and time from the
  // entry id: the same on every delivery, not made up anew by each consumer. From then on
  // the event carries it, so that a defer or a dead letter, which re-add the entry under a
  // new id, keep it too.
  EventDefaults defaults = ForStreamEntry(entry.id);
  defaults.max_event_bytes = options_.max_event_bytes;
  Result<Event> parsed = ParseEvent(entry.raw, defaults);
  Delivery carried;
  if (parsed.ok() && parsed->event_id() == defaults.event_id) {
    carried = Delivery{entry.id, Serialize(*parsed), entry.deliveries};
  }
  const Delivery& d = carried.id.empty() ? entry : carried;
  if (!parsed.ok()) {
    // Not an event this worker can run: a dead letter now, kept whole for a replay.
    DeadReason reason =
        IsNewerSchemaVersion(parsed.status()) ? DeadReason::kPermanent : DeadReason::kInvalid;
    end.category = Category::kData;
    end.error = parsed.status().message();
    Log(LogLevel::kError, "dead letter: entry is not a valid event",
        {{"stream_id", d.id},
         {"consumer", consumer_},
         {"reason", DeadReasonName(reason)},
         {"error", end.error}});
    Commit(session, end, "failed", [&] { return session.FinishDead(end, reason, d.raw); });
    ++stats_.failed;
    return;
  }
  const Event& ev = *parsed;
  end.event_id = ev.event_id();
  end.event_type = ev.event_type();
  end.idempotency_key = ev.idempotency_key();
  end.attempt = static_cast<int>(std::min<std::int64_t>(ev.retry_count() + 1, 1 << 30));
  Result<UnixMillis> occurred = ParseRfc3339(ev.occurred_at());
  end.occurred_at = occurred.ok() ? *occurred : -1;

  if (d.deliveries > static_cast<std::int64_t>(options_.retry.max_retries) + 1) {
    end.category = Category::kCrash;
    end.error = "delivered " + std::to_string(d.deliveries) +
                " times without an outcome (its workers died or were stopped)";
    LogEvent(LogLevel::kError, "dead letter",
             {end.event_id, end.idempotency_key, end.event_type, consumer_, end.attempt},
             {{"reason", "poison"}, {"category", "crash"}, {"error", end.error}});
    Commit(session, end, "failed",
           [&] { return session.FinishDead(end, DeadReason::kPoison, d.raw); });
    ++stats_.failed;
    return;
  }

  end.lease_owner = consumer_ + " " + d.id;
  Lease lease;
  Status s = session.WithRetry(
      [&] {
        Result<Lease> r = session.StartAttempt(end, options_.lease_ttl);
        if (r.ok()) lease = *r;
        return r.ok() ? Status::Ok() : r.status();
      },
      [this] { return Stopping(); });
  if (!s.ok()) {
    // Nothing ran: the entry stays pending for a later claim.
    ++stats_.abandoned;
    Log(LogLevel::kWarn, "left pending: could not take the idempotency lease",
        {{"event_id", end.event_id}, {"consumer", consumer_}, {"error", s.message()}});
    return;
  }
  if (lease.state == LeaseState::kAlreadyDone) {
    end.attempt = 0;
    Log(LogLevel::kInfo, "duplicate: idempotency key already done, not run",
        {{"event_id", end.event_id},
         {"idempotency_key", end.idempotency_key},
         {"event_type", end.event_type},
         {"consumer", consumer_}});
    end.lease_owner.clear();
    Commit(session, end, "duplicate", [&] { return session.FinishDuplicate(end); });
    ++stats_.duplicate;
    return;
  }
  if (lease.state == LeaseState::kBusy) {
    Millis wait = std::max(Millis(50), std::min(lease.remaining, options_.busy_retry_max));
    Log(LogLevel::kDebug, "idempotency key busy elsewhere; trying later",
        {{"event_id", end.event_id},
         {"idempotency_key", end.idempotency_key},
         {"consumer", consumer_},
         {"delay_ms", wait.count()}});
    Commit(session, end, "deferred",
           [&] { return session.Defer(d, NowUnixMillis() + wait.count()); });
    ++stats_.deferred;
    return;
  }

  AttemptContext ctx;
  ctx.event = &ev;
  ctx.attempt = end.attempt;
  ctx.cancel = &cancel_;
  ctx.on_stderr_line = [&](std::string_view text) {
    LogEvent(LogLevel::kInfo, "handler stderr",
             {end.event_id, end.idempotency_key, end.event_type, consumer_, end.attempt},
             {{"text", std::string(text)}});
  };
  ++stats_.attempts;
  HandlerResult r = handler_.Run(ctx);
  end.ran = true;
  end.duration = r.duration;
  end.category = r.category;
  end.error = r.error;

  if (r.interrupted) {
    ++stats_.abandoned;
    LogEvent(LogLevel::kWarn, "attempt interrupted by shutdown; left pending for another worker",
             {end.event_id, end.idempotency_key, end.event_type, consumer_, end.attempt},
             {{"duration_ms", r.duration.count()}});
    // One try: an expired lease does the same job a little later.
    session.WithRetry([&] { return session.ReleaseLease(end.idempotency_key, end.lease_owner); },
                      [] { return true; });
    return;
  }
  if (r.outcome == Outcome::kDone) {
    LogEvent(LogLevel::kInfo, "attempt finished",
             {end.event_id, end.idempotency_key, end.event_type, consumer_, end.attempt},
             {{"duration_ms", r.duration.count()}, {"outcome", "done"}});
    Commit(session, end, "done", [&] { return session.FinishDone(end); });
    ++stats_.done;
    return;
  }
  const bool retry = r.outcome == Outcome::kTransient && ShouldRetry(options_.retry, end.attempt);
  LogEvent(LogLevel::kWarn, "attempt failed",
           {end.event_id, end.idempotency_key, end.event_type, consumer_, end.attempt},
           {{"duration_ms", r.duration.count()},
            {"outcome", OutcomeName(r.outcome)},
            {"category", CategoryName(r.category)},
            {"error", r.error}});
  if (retry) {
    Millis delay = BackoffDelay(options_.retry, end.attempt - 1, rng);
    Event next = ev;
    next.set_retry_count(ev.retry_count() + 1);
    const std::string next_raw = Serialize(next);
    const UnixMillis due = NowUnixMillis() + delay.count();
    LogEvent(LogLevel::kInfo, "retry scheduled",
             {end.event_id, end.idempotency_key, end.event_type, consumer_, end.attempt + 1},
             {{"delay_ms", delay.count()}});
    Commit(session, end, "retry", [&] { return session.FinishRetry(end, next_raw, due); });
    ++stats_.retries;
    return;
  }
  DeadReason reason =
      r.outcome == Outcome::kPermanent ? DeadReason::kPermanent : DeadReason::kRetriesExhausted;
  LogEvent(LogLevel::kError, "dead letter",
           {end.event_id, end.idempotency_key, end.event_type, consumer_, end.attempt},
           {{"reason", DeadReasonName(reason)},
            {"category", CategoryName(r.category)},
            {"error", r.error}});
  Commit(session, end, "failed", [&] { return session.FinishDead(end, reason, d.raw); });
  ++stats_.failed;
}

Status QueueWorker::Run(QueueWorkerStats* stats) {
  Log(LogLevel::kInfo, "worker started",
      {{"queue", queue_.Describe()},
       {"consumer", consumer_},
       {"concurrency", options_.concurrency}});
  threads_left_ = options_.concurrency;
  Housekeeper housekeeper(queue_, options_, in_flight_);
  std::thread housekeeping([&housekeeper] { housekeeper.Run(); });
  std::vector<std::thread> threads;
  for (int i = 0; i < options_.concurrency; ++i) {
    threads.emplace_back([this, i] { HandlerThread(i); });
  }
  SteadyClock::time_point deadline;
  while (true) {
    pollfd pfd{WakeFd(), POLLIN, 0};
    ::poll(&pfd, 1, 200);
    DrainWake();
    bool fatal;
    {
      std::lock_guard<std::mutex> lock(mu_);
      fatal = !fatal_.ok();
    }
    if (!Stopping() && (StopRequested() || fatal || threads_left_ == 0)) {
      stopping_ = true;
      deadline = SteadyClock::now() + options_.shutdown_grace;
      const char* why =
          StopRequested() ? (StopSignal() == SIGINT ? "SIGINT" : "SIGTERM") : "an error";
      Log(LogLevel::kWarn, std::string("stopping: ") + why + "; reading no more entries",
          {{"running", in_flight_.load()}, {"grace_ms", options_.shutdown_grace.count()}});
    }
    if (Stopping() && threads_left_ == 0) break;
    if (Stopping() && !grace_over_ && SteadyClock::now() >= deadline) {
      Log(LogLevel::kWarn, "shutdown grace over: stopping running handlers",
          {{"running", in_flight_.load()}});
      grace_over_ = true;
      cancel_.Cancel();
    }
  }
  for (std::thread& t : threads) t.join();
  housekeeper.Stop();
  housekeeping.join();

  stats->attempts = stats_.attempts;
  stats->done = stats_.done;
  stats->retries = stats_.retries;
  stats->failed = stats_.failed;
  stats->duplicate = stats_.duplicate;
  stats->deferred = stats_.deferred;
  stats->claimed = stats_.claimed;
  stats->abandoned = stats_.abandoned;
  Log(LogLevel::kInfo, "summary",
      {{"attempts", stats->attempts},
       {"done", stats->done},
       {"retries", stats->retries},
       {"failed", stats->failed},
       {"duplicate", stats->duplicate},
       {"deferred", stats->deferred},
       {"claimed", stats->claimed},
       {"left_pending", stats->abandoned}});
  std::lock_guard<std::mutex> lock(mu_);
  return fatal_;
}

}  // namespace

Status RunQueueWorker(Queue& queue, Handler& handler, const QueueWorkerOptions& options,
                      QueueWorkerStats* stats) {
  QueueWorker worker(queue, handler, options);
  return worker.Run(stats);
}

}  // namespace evt
