// What the worker loop tells the rest of the program. The loop itself writes nothing (no
// log line, no result line, no metric): it reports each step here, and observers turn the
// steps into logs, stdio result lines, the /metrics endpoint, the metrics textfile and
// sd_notify. Several observers are combined with ObserverList.
//
// Thread-safety: every method may be called from any worker thread, concurrently. An
// observer must be cheap and must never block on the store or the handler.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "evt/dead_reason.h"
#include "evt/duration.h"
#include "evt/handler.h"
#include "evt/log.h"
#include "evt/queue.h"
#include "evt/worker_rules.h"

namespace evt {

struct WorkerStats;  // worker.h

// How one delivery's turn in the loop ended.
enum class Disposition {
  kDone,       // the handler succeeded; committed
  kRetry,      // transient failure; scheduled again (committed)
  kFailed,     // dead-lettered (permanent, retries exhausted, poison, invalid); committed
  kDuplicate,  // its key was already done; nothing ran; committed
  kDeferred,   // its key's lease is busy; handed out again later, no attempt counted
  kAbandoned,  // stopped (shutdown, cancelled) before an outcome; left for a later run
  kJournaled,  // the outcome is decided but its commit waits (store unreachable)
};

// The state of the loop, reported on every housekeeping tick (at least once a second
// while the loop runs) and on every change of `store_ok`.
struct LoopHealth {
  bool store_ok = true;               // the last store call succeeded (false during an outage)
  int in_flight = 0;                  // handlers running now
  int concurrency = 0;                // handler threads
  bool stopping = false;              // a stop was asked for; no more reads
  std::uint64_t waiting_commits = 0;  // outcomes decided but not yet committed
};

class WorkerObserver {
 public:
  virtual ~WorkerObserver() = default;
  // The loop is set up and about to read work (sd_notify READY=1).
  virtual void OnReady() {}
  // A handler is about to run attempt `attempt.attempt` of `attempt.event_id`.
  virtual void OnAttemptStarted(const AttemptEnd& /*attempt*/) {}
  // A delivery's turn ended with `what`. `end.ran` says whether a handler ran; `reason`
  // is meaningful for kFailed only.
  virtual void OnAttemptEnded(const AttemptEnd& /*end*/, Disposition /*what*/,
                              DeadReason /*reason*/) {}
  // The handler of `attempt` wrote `line` (without the newline) to its stderr.
  virtual void OnHandlerOutput(const AttemptEnd& /*attempt*/, std::string_view /*line*/) {}
  // The handler of `attempt` returned `result` (before the outcome is decided).
  virtual void OnHandlerEnded(const AttemptEnd& /*attempt*/, const HandlerResult& /*result*/) {}
  // The rules (DecideAction) decided `decision` for `attempt`, before it is committed.
  // `attempt.event_id` is empty when the entry is not a valid event.
  virtual void OnDecided(const AttemptEnd& /*attempt*/, const Decision& /*decision*/) {}
  // Nothing to do: no delivery arrived within the receive wait.
  virtual void OnIdle() {}
  // The loop is alive (housekeeping tick, sd_notify WATCHDOG=1 / STATUS=).
  virtual void OnAlive(const LoopHealth& /*health*/) {}
  // The queue's depth as the housekeeper counted it (QueueSession::Depth), every heartbeat
  // interval while the store answers. Never called for a store that keeps no count.
  virtual void OnQueueDepth(const QueueDepth& /*depth*/) {}
  // The loop is stopping (sd_notify STOPPING=1).
  virtual void OnStopping() {}
  // Why it stops ("SIGTERM", "SIGINT", "an error") and the state at that moment; called
  // right after OnStopping().
  virtual void OnStopAsked(std::string_view /*why*/, const LoopHealth& /*health*/) {}
  // Anything else worth a log line: the store's trouble, a commit that waits, entries
  // resumed, replayed or claimed. `attempt` is null when the notice is not about one.
  virtual void OnNotice(LogLevel /*level*/, std::string_view /*message*/,
                        const AttemptEnd* /*attempt*/, std::initializer_list<LogField> /*fields*/) {
  }
  // The run is over; `stats` are its final counts.
  virtual void OnFinished(const WorkerStats& /*stats*/) {}
};

// Fans every call out to several observers, in order. Not owning.
class ObserverList : public WorkerObserver {
 public:
  void Add(WorkerObserver* o) { list_.push_back(o); }
  void OnReady() override {
    for (auto* o : list_) o->OnReady();
  }
  void OnAttemptStarted(const AttemptEnd& a) override {
    for (auto* o : list_) o->OnAttemptStarted(a);
  }
  void OnAttemptEnded(const AttemptEnd& e, Disposition d, DeadReason r) override {
    for (auto* o : list_) o->OnAttemptEnded(e, d, r);
  }
  void OnHandlerOutput(const AttemptEnd& a, std::string_view line) override {
    for (auto* o : list_) o->OnHandlerOutput(a, line);
  }
  void OnHandlerEnded(const AttemptEnd& a, const HandlerResult& r) override {
    for (auto* o : list_) o->OnHandlerEnded(a, r);
  }
  void OnDecided(const AttemptEnd& a, const Decision& d) override {
    for (auto* o : list_) o->OnDecided(a, d);
  }
  void OnIdle() override {
    for (auto* o : list_) o->OnIdle();
  }
  void OnAlive(const LoopHealth& h) override {
    for (auto* o : list_) o->OnAlive(h);
  }
  void OnQueueDepth(const QueueDepth& d) override {
    for (auto* o : list_) o->OnQueueDepth(d);
  }
  void OnStopping() override {
    for (auto* o : list_) o->OnStopping();
  }
  void OnStopAsked(std::string_view why, const LoopHealth& h) override {
    for (auto* o : list_) o->OnStopAsked(why, h);
  }
  void OnNotice(LogLevel level, std::string_view message, const AttemptEnd* attempt,
                std::initializer_list<LogField> fields) override {
    for (auto* o : list_) o->OnNotice(level, message, attempt, fields);
  }
  void OnFinished(const WorkerStats& s) override {
    for (auto* o : list_) o->OnFinished(s);
  }

 private:
  std::vector<WorkerObserver*> list_;
};

std::string_view DispositionName(Disposition d);  // "done", "retry", "failed", ...

}  // namespace evt
