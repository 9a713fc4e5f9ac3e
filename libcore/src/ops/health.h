// The loop's health as the observer sees it: when it last reported OnAlive, whether the
// store was reachable then, and how often the store came back after an outage. Read by
// /healthz, the metrics and sd_notify's watchdog.
#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>

#include "evt/clock.h"
#include "evt/worker_observer.h"

namespace evt {

struct HealthSnapshot {
  bool ready = false;            // OnReady seen
  bool stopping = false;         // OnStopping seen (or LoopHealth::stopping)
  bool seen_alive = false;       // at least one OnAlive
  bool alive = false;            // an OnAlive within the stale limit (3 ticks)
  bool store_ok = false;         // the last OnAlive said the store was reachable
  LoopHealth last;               // what the last OnAlive said
  Millis since_alive{0};         // time since the last OnAlive (0 when never seen)
  UnixMillis last_alive_at = 0;  // wall time of the last OnAlive; 0 when never seen
  std::uint64_t reconnects = 0;  // store_ok went from false to true
  // Alive and the store reachable: /healthz answers 200.
  bool healthy() const { return alive && store_ok; }
};

// Thread-safe: the loop's threads report, the endpoint and notifier threads read.
class HealthTracker : public WorkerObserver {
 public:
  // `clock` is not owned and outlives this. The loop counts as stuck when no OnAlive came
  // for 3 * `tick`.
  HealthTracker(Clock* clock, Millis tick);

  void OnReady() override;
  void OnAlive(const LoopHealth& health) override;
  void OnStopping() override;

  HealthSnapshot Snapshot() const;
  Millis stale_after() const { return stale_after_; }

 private:
  Clock* const clock_;
  const Millis stale_after_;
  mutable std::mutex mu_;
  HealthSnapshot state_;
  std::chrono::steady_clock::time_point last_alive_{};
};

}  // namespace evt
