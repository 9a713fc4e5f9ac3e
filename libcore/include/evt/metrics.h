// Per-minute queue metrics that merge across workers by addition (DESIGN.md, key
// `<ns>:{<queue>}:m:<minute>`).
//
// Each worker adds integers to one hash per queue and minute; any number of workers add to
// the same fields, and a reader (evt-status) sums the fields of the minutes it wants. Field
// names are `<event_type>|<what>`, where <what> is one of
//   attempts                handler runs
//   outcome:<o>             o = done | retry | failed | duplicate   (how an attempt ended)
//   category:<c>            c = data | auth | network | ...         (of retry and failed)
//   reason:<r>              r = permanent | retries_exhausted | poison | invalid (failed)
//   duration:<i>            handler duration, histogram bucket i      (per handler run)
//   latency:<i>             occurred_at → final outcome (done or failed), bucket i
// Event types never contain '|', so the split is unambiguous. An unparseable entry
// counts under the type "-".
//
// Histograms: fixed log-spaced buckets of milliseconds. Bucket 0 holds [0, 1) ms; bucket
// i >= 1 holds [1.25^(i-1), 1.25^i) ms; the last bucket, kHistogramBuckets - 1, is
// open-ended (everything from about 15 days up). Adjacent bounds differ by the factor 1.25,
// so a percentile read from merged buckets is at most 25% above the true value.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "evt/dead_reason.h"
#include "evt/duration.h"
#include "evt/outcome.h"
#include "evt/rfc3339.h"

namespace evt {

inline constexpr double kHistogramRatio = 1.25;
inline constexpr int kHistogramBuckets = 96;
// How long a minute hash lives after its last write: long enough for a week of history.
inline constexpr std::int64_t kMetricsTtlSeconds = 8 * 24 * 3600;

// The bucket of a duration in milliseconds (negative counts as 0).
int HistogramBucket(double ms);
// The bounds of bucket i: [lower, upper). upper of the last bucket is +infinity.
// REQUIRES: 0 <= i < kHistogramBuckets.
double BucketLower(int i);
double BucketUpper(int i);

// Buckets merged from any number of workers and minutes: bucket index → count.
using Histogram = std::map<int, std::int64_t>;

// The q-quantile (0 < q <= 1) of `h`: the upper bound of the bucket that holds the
// ceil(q * total)-th smallest value (for the open last bucket, its lower bound).
// Returns -1 when `h` holds nothing.
double HistogramPercentile(const Histogram& h, double q);

// The unix minute (ms / 60000) a metric written at `ms` counts in.
inline std::int64_t MetricsMinute(UnixMillis ms) { return ms / 60000; }

// How one attempt (or one delivery that was not run) ended, as the metrics see it.
struct AttemptMetrics {
  std::string event_type;  // empty when the entry was not a valid event
  enum class End { kDone, kRetry, kFailed, kDuplicate } end = End::kDone;
  bool ran = false;                            // a handler ran: count it and its duration
  Millis duration{0};                          // handler duration, when ran
  Category category = Category::kNone;         // for kRetry and kFailed
  DeadReason reason = DeadReason::kPermanent;  // for kFailed
  UnixMillis occurred_at = -1;                 // event time; -1 = unknown (no latency)
  UnixMillis now = 0;                          // when the attempt ended
};

// The hash fields to increment (each by the paired amount) for one attempt end.
std::vector<std::pair<std::string, std::int64_t>> MetricIncrements(const AttemptMetrics& m);

// Splits a field "<type>|<what>" into its two parts. False when there is no '|'.
bool SplitMetricField(std::string_view field, std::string* type, std::string* what);

}  // namespace evt
