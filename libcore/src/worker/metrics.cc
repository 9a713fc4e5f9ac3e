#include "evt/metrics.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>

namespace evt {
namespace {

// Bounds are computed once by repeated multiplication and looked up by binary search:
// floor(log(x)/log(1.25)) misplaces values that sit exactly on a bound.
const std::array<double, kHistogramBuckets>& Lowers() {
  static const std::array<double, kHistogramBuckets> lowers = [] {
    std::array<double, kHistogramBuckets> b{};
    b[0] = 0.0;
    double v = 1.0;
    for (int i = 1; i < kHistogramBuckets; ++i) {
      b[static_cast<std::size_t>(i)] = v;
      v *= kHistogramRatio;
    }
    return b;
  }();
  return lowers;
}

}  // namespace

int HistogramBucket(double ms) {
  if (!(ms > 0)) return 0;  // also NaN
  const auto& lowers = Lowers();
  auto it = std::upper_bound(lowers.begin(), lowers.end(), ms);
  return static_cast<int>(it - lowers.begin()) - 1;
}

double BucketLower(int i) { return Lowers()[static_cast<std::size_t>(i)]; }

double BucketUpper(int i) {
  if (i + 1 >= kHistogramBuckets) return std::numeric_limits<double>::infinity();
  return Lowers()[static_cast<std::size_t>(i + 1)];
}

double HistogramPercentile(const Histogram& h, double q) {
  std::int64_t total = 0;
  for (const auto& [bucket, count] : h) total += std::max<std::int64_t>(0, count);
  if (total == 0) return -1;
  q = std::min(1.0, std::max(q, 0.0));
  auto rank = static_cast<std::int64_t>(std::ceil(q * static_cast<double>(total)));
  rank = std::max<std::int64_t>(1, rank);
  std::int64_t seen = 0;
  for (const auto& [bucket, count] : h) {
    seen += std::max<std::int64_t>(0, count);
    if (seen >= rank) {
      int b = std::min(std::max(bucket, 0), kHistogramBuckets - 1);
      return b == kHistogramBuckets - 1 ? BucketLower(b) : BucketUpper(b);
    }
  }
  return BucketLower(kHistogramBuckets - 1);
}

std::vector<std::pair<std::string, std::int64_t>> MetricIncrements(const AttemptMetrics& m) {
  const std::string prefix = (m.event_type.empty() ? std::string("-") : m.event_type) + "|";
  std::vector<std::pair<std::string, std::int64_t>> out;
  auto add = [&](std::string what) { out.emplace_back(prefix + what, 1); };
  if (m.ran) {
    add("attempts");
    add("duration:" + std::to_string(HistogramBucket(static_cast<double>(m.duration.count()))));
  }
  bool final_outcome = false;
  switch (m.end) {
    case AttemptMetrics::End::kDone:
      add("outcome:done");
      final_outcome = true;
      break;
    case AttemptMetrics::End::kRetry:
      add("outcome:retry");
      break;
    case AttemptMetrics::End::kFailed:
      add("outcome:failed");
      add("reason:" + std::string(DeadReasonName(m.reason)));
      final_outcome = true;
      break;
    case AttemptMetrics::End::kDuplicate:
      add("outcome:duplicate");
      break;
  }
  if ((m.end == AttemptMetrics::End::kRetry || m.end == AttemptMetrics::End::kFailed) &&
      m.category != Category::kNone) {
    add("category:" + std::string(CategoryName(m.category)));
  }
  if (final_outcome && m.occurred_at >= 0) {
    double latency = static_cast<double>(std::max<UnixMillis>(0, m.now - m.occurred_at));
    add("latency:" + std::to_string(HistogramBucket(latency)));
  }
  return out;
}

bool SplitMetricField(std::string_view field, std::string* type, std::string* what) {
  std::size_t bar = field.find('|');
  if (bar == std::string_view::npos) return false;
  *type = std::string(field.substr(0, bar));
  *what = std::string(field.substr(bar + 1));
  return true;
}

}  // namespace evt
