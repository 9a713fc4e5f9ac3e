// What evt-status reports, computed from what a QueueInspector read (inspector.h) or from
// evt-work's result lines: counts per event type over a window, percentiles from the
// merged histograms (metrics.h), the queue table, --check against thresholds, and the
// output forms (aligned text, JSON, Prometheus text). Pure functions: no store, no clock.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "evt/duration.h"
#include "evt/event.h"
#include "evt/inspector.h"
#include "evt/metrics.h"
#include "evt/rfc3339.h"

namespace evt {

// What happened to one event type (or to a whole queue: all types merged) over a window.
struct TypeStats {
  std::string type;
  std::int64_t attempts = 0;                       // handler runs
  std::int64_t done = 0;                           // outcome:done
  std::int64_t retried = 0;                        // outcome:retry (attempts that will run again)
  std::int64_t failed = 0;                         // outcome:failed = dead letters
  std::int64_t duplicate = 0;                      // outcome:duplicate (nothing ran)
  std::map<std::string, std::int64_t> categories;  // of retried and failed attempts
  std::map<std::string, std::int64_t> reasons;     // of failed ones
  Histogram duration;                              // handler duration, ms buckets
  Histogram latency;                               // occurred_at → final outcome
  std::vector<std::int64_t> per_minute;  // outcomes per minute of the window, oldest first

  // retried / (done + retried + failed); 0 when nothing ended.
  double RetryRate() const;
  // failed / (done + failed); 0 when nothing finished.
  double FailureRatio() const;
  // The category with the most retried and failed attempts ("" when none).
  std::string DominantCategory() const;
  // Adds `other`'s counts (per_minute element-wise).
  void Merge(const TypeStats& other);
};

// The minutes [first, last] of a window of `window` ending at `now` (MetricsMinute).
struct MinuteRange {
  std::int64_t first = 0;
  std::int64_t last = 0;
  int size() const { return static_cast<int>(last - first + 1); }
};
MinuteRange WindowMinutes(UnixMillis now, Millis window);

// The per-type statistics of `metrics` over `range`, sorted by type.
std::vector<TypeStats> StatsByType(const MinuteMetrics& metrics, MinuteRange range);

// All of `types` merged into one (type "").
TypeStats MergeAll(const std::vector<TypeStats>& types);

// One row of the queue table.
struct QueueRow {
  QueueState state;
  TypeStats totals;  // every type of the queue over the window
  // Entries not yet delivered: the largest backlog of its groups (the stream's length
  // when no group exists yet). Pending: in flight, summed over groups.
  std::int64_t Depth() const;
  std::int64_t Pending() const;
  // The largest group lag as a duration at `now` (0 when no group owes work).
  Millis MaxLag(UnixMillis now) const;
};

// The whole report of one evt-status run.
struct StatusReport {
  std::string ns;
  UnixMillis now = 0;
  Millis window{15 * 60 * 1000};
  std::vector<QueueRow> queues;
  std::vector<TypeStats> types;  // merged over the queues, by type
};

// "▁▂▅▇": one block per value, scaled to the largest (all blank blocks when all are 0).
std::string Sparkline(const std::vector<std::int64_t>& values);

// The q-percentile of `h` in ms for a report: -1 when it holds nothing.
double PercentileMs(const Histogram& h, double q);

// Aligned text tables; `spark` adds the sparkline column (a terminal, not --json).
std::string FormatQueueTable(const StatusReport& report, bool spark);
std::string FormatTypesTable(const StatusReport& report, bool spark);
// One event's status as "field: value" lines.
std::string FormatEventStatus(const EventStatus& status);

// --json (field names documented in evt-status(1); stable).
Json QueueReportJson(const StatusReport& report);
Json TypesReportJson(const StatusReport& report);
Json EventStatusJson(const EventStatus& status);

// --format prometheus: the exposition text format (promtool check metrics accepts it).
std::string FormatPrometheus(const StatusReport& report);

// A threshold with a warning and a critical level; either may be absent.
struct Threshold {
  std::optional<double> warning;
  std::optional<double> critical;
};

// --check: the thresholds (an upper bound each, but min_consumers, a lower bound).
struct CheckThresholds {
  Threshold max_dlq;            // dead letters in a queue
  Threshold max_dlq_growth;     // dead letters added over the window
  Threshold max_failure_ratio;  // failed / (done + failed) over the window, 0..1
  Threshold max_lag;            // group lag, ms
  Threshold min_consumers;      // live consumers of a queue
};

// Monitoring-plugin levels, which are also evt-status --check's exit codes.
enum class CheckLevel { kOk = 0, kWarning = 1, kCritical = 2, kUnknown = 3 };

struct CheckResult {
  CheckLevel level = CheckLevel::kOk;
  std::string line;  // "EVT OK - 3 queues ..." or "EVT CRITICAL - default: dlq 12 > 10; ..."
};

// Evaluates every threshold on every queue of `report`; the worst level wins and the line
// names each breach with its queue. With no queue at all: OK, "no queues".
CheckResult EvaluateCheck(const StatusReport& report, const CheckThresholds& thresholds);

// The UNKNOWN line for a broker that could not be read.
CheckResult UnknownCheck(const std::string& why);

// --summary: the per-type statistics of evt-work result lines (one JSON object per line:
// event_id, event_type, status, attempts, duration_ms, category), read from `text`.
// Lines that are not result objects are counted in *skipped and left out.
std::vector<TypeStats> SummarizeResults(const std::string& text, std::int64_t* skipped);

}  // namespace evt
