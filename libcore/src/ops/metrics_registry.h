// The worker's metrics in this process, for GET /metrics and --metrics-file: counters fed
// by the observer calls, rendered in the Prometheus text exposition format (0.0.4).
//
//   evt_worker_events_total{event_type,outcome}        deliveries whose turn ended
//   evt_worker_attempts_total{event_type}              handler runs started
//   evt_worker_retries_total{event_type}               retries scheduled
//   evt_worker_dead_letters_total{reason}              dead letters
//   evt_worker_failures_total{category}                failed attempts (retry or dead letter)
//   evt_worker_handler_duration_seconds{event_type}    histogram of handler runs
//   evt_worker_in_flight, evt_worker_concurrency, evt_worker_waiting_commits    gauges
//   evt_worker_store_up, evt_worker_store_reconnects_total
//   evt_worker_ready, evt_worker_loop_alive, evt_worker_last_alive_timestamp_seconds
//   evt_queue_depth{queue,group}, evt_queue_pending{queue,group}, evt_queue_delayed{queue},
//   evt_queue_depth_timestamp_seconds{queue,group}: the queue as the housekeeper last
//   counted it (OnQueueDepth, every heartbeat); absent until then, and on the stdio
//   transport, which counts nothing
//
// An entry that is not a valid event counts under event_type "-", as in metrics.h.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>

#include "evt/clock.h"
#include "evt/worker_observer.h"
#include "ops/health.h"

namespace evt {

// The upper bounds (le) of the duration histogram, seconds: from 5 ms to an hour, as
// handlers range from a webhook call to a backup.
inline constexpr std::array<double, 18> kDurationBucketsSeconds = {
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600};

// A label value escaped for the text format: backslash, double quote and newline.
std::string EscapeLabelValue(std::string_view value);

// Thread-safe. Render may run while the loop's threads report.
class MetricsRegistry : public WorkerObserver {
 public:
  // `health` (not owned, outlives this) supplies the loop and store gauges; `clock` (not
  // owned, outlives this) the time a queue depth was counted.
  explicit MetricsRegistry(const HealthTracker* health, Clock* clock = &RealClock())
      : health_(health), clock_(clock) {}

  void OnAttemptStarted(const AttemptEnd& attempt) override;
  void OnAttemptEnded(const AttemptEnd& end, Disposition what, DeadReason reason) override;
  void OnIdle() override;
  void OnQueueDepth(const QueueDepth& depth) override;

  // The text format: # HELP and # TYPE once per family, then its samples.
  std::string Render() const;

 private:
  struct Histogram {
    std::array<std::uint64_t, kDurationBucketsSeconds.size()> buckets{};  // not cumulative
    std::uint64_t count = 0;
    double sum = 0;
  };
  void RenderHistograms(std::string* out) const;
  void RenderHealth(std::string* out) const;
  void RenderDepths(std::string* out) const;

  const HealthTracker* const health_;
  Clock* const clock_;
  mutable std::mutex mu_;
  std::map<std::pair<std::string, std::string>, std::uint64_t> events_;  // (type, outcome)
  std::map<std::string, std::uint64_t> attempts_;                        // type
  std::map<std::string, std::uint64_t> retries_;                         // type
  std::map<std::string, std::uint64_t> dead_letters_;                    // reason
  std::map<std::string, std::uint64_t> failures_;                        // category
  std::map<std::string, Histogram> durations_;                           // type
  std::uint64_t idle_ = 0;
  // (queue, group) -> the last count and its wall time.
  std::map<std::pair<std::string, std::string>, std::pair<QueueDepth, UnixMillis>> depths_;
};

}  // namespace evt
