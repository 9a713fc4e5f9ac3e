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
#include "evt/queue.h"

namespace evt {

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
  // Nothing to do: no delivery arrived within the receive wait.
  virtual void OnIdle() {}
  // The loop is alive (housekeeping tick, sd_notify WATCHDOG=1 / STATUS=).
  virtual void OnAlive(const LoopHealth& /*health*/) {}
  // The loop is stopping (sd_notify STOPPING=1).
  virtual void OnStopping() {}
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
  void OnIdle() override {
    for (auto* o : list_) o->OnIdle();
  }
  void OnAlive(const LoopHealth& h) override {
    for (auto* o : list_) o->OnAlive(h);
  }
  void OnStopping() override {
    for (auto* o : list_) o->OnStopping();
  }

 private:
  std::vector<WorkerObserver*> list_;
};

std::string_view DispositionName(Disposition d);  // "done", "retry", "failed", ...

}  // namespace evt
