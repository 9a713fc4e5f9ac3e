// Aggregation for evt-status: minute metrics → per-type statistics, queue rows,
// percentiles and sparklines.
#include "evt/status_report.h"

#include <algorithm>
#include <cmath>

namespace evt {
namespace {

// Adds `n` of metric `what` (metrics.h) at minute index `i` to `t`.
void AddMetric(const std::string& what, std::int64_t n, std::size_t i, TypeStats* t) {
  auto after = [&](const char* prefix, std::string* rest) {
    const std::size_t len = std::char_traits<char>::length(prefix);
    if (what.compare(0, len, prefix) != 0) return false;
    *rest = what.substr(len);
    return true;
  };
  std::string rest;
  if (what == "attempts") {
    t->attempts += n;
  } else if (after("outcome:", &rest)) {
    if (rest == "done") t->done += n;
    if (rest == "retry") t->retried += n;
    if (rest == "failed") t->failed += n;
    if (rest == "duplicate") t->duplicate += n;
    if (i < t->per_minute.size()) t->per_minute[i] += n;
  } else if (after("category:", &rest)) {
    t->categories[rest] += n;
  } else if (after("reason:", &rest)) {
    t->reasons[rest] += n;
  } else if (after("duration:", &rest) || after("latency:", &rest)) {
    char* end = nullptr;
    long bucket = std::strtol(rest.c_str(), &end, 10);
    if (end == rest.c_str() || *end != '\0' || bucket < 0 || bucket >= kHistogramBuckets) return;
    (what[0] == 'd' ? t->duration : t->latency)[static_cast<int>(bucket)] += n;
  }
}

}  // namespace

double TypeStats::RetryRate() const {
  const std::int64_t ended = done + retried + failed;
  return ended > 0 ? static_cast<double>(retried) / static_cast<double>(ended) : 0.0;
}

double TypeStats::FailureRatio() const {
  const std::int64_t finished = done + failed;
  return finished > 0 ? static_cast<double>(failed) / static_cast<double>(finished) : 0.0;
}

std::string TypeStats::DominantCategory() const {
  std::string best;
  std::int64_t most = 0;
  for (const auto& [name, n] : categories) {
    if (n > most) best = name, most = n;
  }
  return best;
}

void TypeStats::Merge(const TypeStats& o) {
  attempts += o.attempts;
  done += o.done;
  retried += o.retried;
  failed += o.failed;
  duplicate += o.duplicate;
  for (const auto& [k, n] : o.categories) categories[k] += n;
  for (const auto& [k, n] : o.reasons) reasons[k] += n;
  for (const auto& [k, n] : o.duration) duration[k] += n;
  for (const auto& [k, n] : o.latency) latency[k] += n;
  if (per_minute.size() < o.per_minute.size()) per_minute.resize(o.per_minute.size(), 0);
  for (std::size_t i = 0; i < o.per_minute.size(); ++i) per_minute[i] += o.per_minute[i];
}

MinuteRange WindowMinutes(UnixMillis now, Millis window) {
  MinuteRange r;
  r.last = MetricsMinute(now);
  const std::int64_t minutes = std::max<std::int64_t>(1, (window.count() + 59999) / 60000);
  r.first = r.last - minutes + 1;
  return r;
}

std::vector<TypeStats> StatsByType(const MinuteMetrics& metrics, MinuteRange range) {
  std::map<std::string, TypeStats> by_type;
  for (const auto& [minute, fields] : metrics) {
    if (minute < range.first || minute > range.last) continue;
    const auto i = static_cast<std::size_t>(minute - range.first);
    for (const auto& [field, n] : fields) {
      std::string type, what;
      if (!SplitMetricField(field, &type, &what)) continue;
      TypeStats& t = by_type[type];
      if (t.type.empty()) {
        t.type = type;
        t.per_minute.assign(static_cast<std::size_t>(range.size()), 0);
      }
      AddMetric(what, n, i, &t);
    }
  }
  std::vector<TypeStats> out;
  for (auto& [type, t] : by_type) out.push_back(std::move(t));
  return out;
}

TypeStats MergeAll(const std::vector<TypeStats>& types) {
  TypeStats all;
  for (const TypeStats& t : types) all.Merge(t);
  return all;
}

std::int64_t QueueRow::Depth() const {
  if (state.groups.empty()) return state.length;
  std::int64_t most = 0;
  for (const GroupState& g : state.groups) most = std::max(most, g.undelivered);
  return most;
}

std::int64_t QueueRow::Pending() const {
  std::int64_t sum = 0;
  for (const GroupState& g : state.groups) sum += g.pending;
  return sum;
}

Millis QueueRow::MaxLag(UnixMillis now) const {
  UnixMillis lag = 0;
  for (const GroupState& g : state.groups) {
    if (g.oldest_ms >= 0) lag = std::max(lag, now - g.oldest_ms);
  }
  return Millis(lag);
}

std::string Sparkline(const std::vector<std::int64_t>& values) {
  static const char* const kBlocks[] = {"▁", "▂", "▃", "▄", "▅", "▆", "▇", "█"};
  const std::int64_t most = values.empty() ? 0 : *std::max_element(values.begin(), values.end());
  std::string out;
  for (std::int64_t v : values) {
    int level =
        most > 0 ? static_cast<int>((std::max<std::int64_t>(v, 0) * 7 + most - 1) / most) : 0;
    out += kBlocks[std::clamp(level, 0, 7)];
  }
  return out;
}

// Interpolates inside the bucket that holds the rank, so a percentile of a smooth
// distribution lands well within the bucket ratio of 1.25 (metrics.h) instead of at the
// bucket's upper bound: geometrically (the buckets are log-spaced), except in the highest
// bucket that holds anything, where the values end somewhere inside: there the density of
// the bucket below tells how far they reach.
double PercentileMs(const Histogram& h, double q) {
  std::int64_t total = 0;
  for (const auto& [bucket, n] : h) total += std::max<std::int64_t>(0, n);
  if (total == 0) return -1;
  const double rank = std::clamp(q, 0.0, 1.0) * static_cast<double>(total);
  double below = 0;
  int top = -1;
  for (const auto& [bucket, n] : h) {
    if (n > 0) top = bucket;
  }
  for (auto it = h.begin(); it != h.end(); ++it) {
    const auto [bucket, n] = *it;
    if (n <= 0) continue;
    if (below + static_cast<double>(n) < rank) {
      below += static_cast<double>(n);
      continue;
    }
    const double f = std::clamp((rank - below) / static_cast<double>(n), 0.0, 1.0);
    const double lo = BucketLower(bucket), hi = BucketUpper(bucket);
    if (std::isinf(hi)) return lo;
    if (bucket == top && bucket > 0) {
      auto prev = h.find(bucket - 1);
      if (prev != h.end() && prev->second > 0) {
        const double density =
            static_cast<double>(prev->second) / (BucketUpper(bucket - 1) - BucketLower(bucket - 1));
        const double reach = std::min(hi - lo, static_cast<double>(n) / density);
        return lo + reach * f;
      }
    }
    if (lo <= 0) return hi * f;
    return lo * std::pow(hi / lo, f);
  }
  return BucketLower(top);
}

}  // namespace evt
