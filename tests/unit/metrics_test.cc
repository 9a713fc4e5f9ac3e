#include "evt/metrics.h"

#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <map>
#include <random>

namespace evt {

TEST_CASE("histogram buckets are log-spaced with a ratio of at most 1.25", "[metrics]") {
  CHECK(BucketLower(0) == 0.0);
  CHECK(BucketUpper(0) == 1.0);
  for (int i = 1; i + 1 < kHistogramBuckets; ++i) {
    CHECK(BucketUpper(i) / BucketLower(i) <= 1.25 + 1e-12);
    CHECK(BucketUpper(i) == BucketLower(i + 1));
  }
  CHECK(std::isinf(BucketUpper(kHistogramBuckets - 1)));
  // The open last bucket starts beyond two weeks.
  CHECK(BucketLower(kHistogramBuckets - 1) > 14.0 * 24 * 3600 * 1000);
}

TEST_CASE("a value falls in the bucket whose bounds hold it, also exactly on a bound",
          "[metrics]") {
  CHECK(HistogramBucket(-5) == 0);
  CHECK(HistogramBucket(0) == 0);
  CHECK(HistogramBucket(0.5) == 0);
  CHECK(HistogramBucket(1) == 1);
  CHECK(HistogramBucket(1.2) == 1);
  CHECK(HistogramBucket(1.25) == 2);
  for (int i = 1; i < kHistogramBuckets; ++i) {
    CHECK(HistogramBucket(BucketLower(i)) == i);
    CHECK(HistogramBucket(std::nextafter(BucketLower(i), 0.0)) == i - 1);
  }
  CHECK(HistogramBucket(1e300) == kHistogramBuckets - 1);
  std::mt19937_64 rng(7);
  std::uniform_real_distribution<double> exp10(0, 9);
  for (int n = 0; n < 10000; ++n) {
    double v = std::pow(10.0, exp10(rng));
    int b = HistogramBucket(v);
    CHECK(BucketLower(b) <= v);
    CHECK(v < BucketUpper(b));
  }
}

TEST_CASE("percentiles merged from several workers' buckets equal those of all values",
          "[metrics]") {
  std::mt19937_64 rng(11);
  std::lognormal_distribution<double> dist(4.0, 1.2);  // around 55 ms, long tail
  std::vector<double> all;
  Histogram merged;
  for (int worker = 0; worker < 3; ++worker) {
    Histogram mine;
    for (int n = 0; n < 5000; ++n) {
      double v = dist(rng);
      all.push_back(v);
      mine[HistogramBucket(v)] += 1;
    }
    for (auto& [b, c] : mine) merged[b] += c;  // what evt-status does across workers
  }
  std::sort(all.begin(), all.end());
  for (double q : {0.5, 0.95, 0.99}) {
    double exact = all[static_cast<std::size_t>(std::ceil(q * all.size())) - 1];
    double p = HistogramPercentile(merged, q);
    CHECK(p >= exact);
    CHECK(p <= exact * 1.25 + 1e-9);
  }
  CHECK(HistogramPercentile(Histogram{}, 0.5) == -1);
  CHECK(HistogramPercentile(Histogram{{3, 1}}, 0.99) == BucketUpper(3));
}

TEST_CASE("one attempt's metric fields", "[metrics]") {
  AttemptMetrics m;
  m.event_type = "x.y";
  m.end = AttemptMetrics::End::kFailed;
  m.ran = true;
  m.duration = Millis(100);
  m.category = Category::kTimeout;
  m.reason = DeadReason::kRetriesExhausted;
  m.occurred_at = 1000;
  m.now = 3000;
  auto inc = MetricIncrements(m);
  std::map<std::string, std::int64_t> got(inc.begin(), inc.end());
  std::map<std::string, std::int64_t> want = {
      {"x.y|attempts", 1},         {"x.y|duration:" + std::to_string(HistogramBucket(100)), 1},
      {"x.y|outcome:failed", 1},   {"x.y|reason:retries_exhausted", 1},
      {"x.y|category:timeout", 1}, {"x.y|latency:" + std::to_string(HistogramBucket(2000)), 1}};
  CHECK(got == want);

  AttemptMetrics dup;
  dup.end = AttemptMetrics::End::kDuplicate;
  inc = MetricIncrements(dup);
  REQUIRE(inc.size() == 1);
  CHECK(inc[0].first == "-|outcome:duplicate");

  std::string type, what;
  CHECK(SplitMetricField("a.b|latency:7", &type, &what));
  CHECK(type == "a.b");
  CHECK(what == "latency:7");
  CHECK_FALSE(SplitMetricField("nobar", &type, &what));
}

}  // namespace evt
