#include "evt/status_report.h"

#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <random>

namespace evt {
namespace {

// Adds the metric fields of one finished attempt to `m` at `minute`, as a worker does.
void Record(MinuteMetrics* m, std::int64_t minute, const std::string& type, AttemptMetrics::End end,
            double duration_ms, double latency_ms, Category category = Category::kNone) {
  AttemptMetrics a;
  a.event_type = type;
  a.end = end;
  a.ran = true;
  a.duration = Millis(static_cast<std::int64_t>(duration_ms));
  a.category = category;
  a.now = minute * 60000 + 30000;
  a.occurred_at = a.now - static_cast<std::int64_t>(latency_ms);
  for (auto& [field, n] : MetricIncrements(a)) (*m)[minute][field] += n;
}

double Exact(std::vector<double> v, double q) {
  std::sort(v.begin(), v.end());
  auto rank = static_cast<std::size_t>(std::ceil(q * static_cast<double>(v.size())));
  return v[std::max<std::size_t>(rank, 1) - 1];
}

}  // namespace

TEST_CASE("status: per-type counts merge over the minutes of the window", "[status]") {
  MinuteMetrics m;
  const std::int64_t now_minute = 28000000;
  Record(&m, now_minute, "mail.sent", AttemptMetrics::End::kDone, 10, 100);
  Record(&m, now_minute - 1, "mail.sent", AttemptMetrics::End::kRetry, 10, 0, Category::kNetwork);
  Record(&m, now_minute - 1, "mail.sent", AttemptMetrics::End::kFailed, 10, 100, Category::kData);
  Record(&m, now_minute - 2, "backup.run", AttemptMetrics::End::kDone, 10, 100);
  Record(&m, now_minute - 20, "backup.run", AttemptMetrics::End::kDone, 10, 100);  // outside
  m[now_minute]["not-a-field"] = 5;

  MinuteRange range = WindowMinutes(now_minute * 60000 + 5000, Millis(15 * 60000));
  CHECK(range.size() == 15);
  CHECK(range.last == now_minute);
  std::vector<TypeStats> types = StatsByType(m, range);
  REQUIRE(types.size() == 2);
  CHECK(types[0].type == "backup.run");
  CHECK(types[0].done == 1);
  const TypeStats& mail = types[1];
  CHECK(mail.done == 1);
  CHECK(mail.retried == 1);
  CHECK(mail.failed == 1);
  CHECK(mail.attempts == 3);
  CHECK(mail.categories.at("network") == 1);
  CHECK(mail.reasons.at("permanent") == 1);
  CHECK(mail.RetryRate() == Approx(1.0 / 3));
  CHECK(mail.FailureRatio() == Approx(0.5));
  REQUIRE(mail.per_minute.size() == 15);
  CHECK(mail.per_minute[14] == 1);
  CHECK(mail.per_minute[13] == 2);
  TypeStats all = MergeAll(types);
  CHECK(all.done == 2);
  CHECK(all.per_minute[12] == 1);
}

TEST_CASE("status: p50/p95/p99 from merged histograms are within 10% of the exact values",
          "[status]") {
  std::mt19937_64 rng(42);
  std::lognormal_distribution<double> lognormal(std::log(200.0), 1.0);
  std::uniform_real_distribution<double> uniform(5, 5000);
  std::exponential_distribution<double> exponential(1.0 / 800);
  for (int dist = 0; dist < 3; ++dist) {
    MinuteMetrics m;
    std::vector<double> durations, latencies;
    for (int i = 0; i < 20000; ++i) {
      double d = dist == 0 ? lognormal(rng) : dist == 1 ? uniform(rng) : exponential(rng) + 1;
      d = std::floor(d);  // workers record whole milliseconds
      double l = d * 3 + 1000;
      durations.push_back(d);
      latencies.push_back(l);
      // Three workers, five minutes: the histograms merge by addition.
      Record(&m, 1000 + i % 5, "t", AttemptMetrics::End::kDone, d, l);
    }
    std::vector<TypeStats> types = StatsByType(m, {1000, 1004});
    REQUIRE(types.size() == 1);
    for (double q : {0.50, 0.95, 0.99}) {
      INFO("distribution " << dist << " q " << q);
      CHECK(PercentileMs(types[0].duration, q) == Approx(Exact(durations, q)).epsilon(0.10));
      CHECK(PercentileMs(types[0].latency, q) ==
            Approx(Exact(std::vector<double>(latencies), q)).epsilon(0.10));
    }
  }
  CHECK(PercentileMs({}, 0.5) == -1);
}

TEST_CASE("status: a sparkline scales each minute to the busiest one", "[status]") {
  CHECK(Sparkline({0, 1, 4, 8}) == "▁▂▅█");  // anything above 0 rises above the floor
  CHECK(Sparkline({0, 0}) == "▁▁");
  CHECK(Sparkline({}).empty());
  CHECK(Sparkline({5}) == "█");
}

TEST_CASE("status: a queue's depth, pending and lag come from its groups", "[status]") {
  QueueRow row;
  row.state.length = 50;
  CHECK(row.Depth() == 50);  // no group yet: everything is undelivered
  row.state.groups = {{"workers", 7, 2, 1000}, {"audit", 12, 1, 500}};
  CHECK(row.Depth() == 12);
  CHECK(row.Pending() == 3);
  CHECK(row.MaxLag(4000).count() == 3500);
  row.state.groups = {{"workers", 0, 0, -1}};
  CHECK(row.MaxLag(4000).count() == 0);
}

TEST_CASE("status: --summary reads evt-work result lines per type", "[status]") {
  const std::string text =
      R"({"event_id":"a","event_type":"x","status":"done","attempts":1,"duration_ms":10})"
      "\n"
      R"({"event_id":"b","event_type":"x","status":"failed","attempts":3,"duration_ms":30,)"
      R"("reason":"retries_exhausted","category":"network"})"
      "\n"
      R"({"event_id":"c","event_type":"y","status":"duplicate","attempts":0,"duration_ms":0})"
      "\nnot json\n\n";
  std::int64_t skipped = 0;
  std::vector<TypeStats> types = SummarizeResults(text, &skipped);
  CHECK(skipped == 1);
  REQUIRE(types.size() == 2);
  CHECK(types[0].done == 1);
  CHECK(types[0].failed == 1);
  CHECK(types[0].retried == 2);
  CHECK(types[0].categories.at("network") == 1);
  CHECK(types[0].reasons.at("retries_exhausted") == 1);
  CHECK(PercentileMs(types[0].duration, 0.99) == Approx(30).epsilon(0.25));
  CHECK(types[1].duplicate == 1);
}

}  // namespace evt
