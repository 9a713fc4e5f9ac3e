// The worker's Prometheus metrics, fed by calling the observer directly (no loop).
#include <sys/wait.h>

#include <catch2/catch.hpp>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "fake_clock.h"
#include "ops/health.h"
#include "ops/metrics_registry.h"
#include "temp_dir.h"

namespace evt {
namespace {

AttemptEnd Ran(const std::string& type, Millis duration, Category category = Category::kNone) {
  AttemptEnd e;
  e.event_id = "evt_1";
  e.event_type = type;
  e.attempt = 1;
  e.ran = true;
  e.duration = duration;
  e.category = category;
  return e;
}

bool Has(const std::string& text, const std::string& line) {
  return text.find(line + "\n") != std::string::npos;
}

TEST_CASE("metrics count events by type and outcome, retries, dead letters and categories") {
  testing::FakeClock clock;
  HealthTracker health(&clock, Millis(1000));
  MetricsRegistry m(&health);
  m.OnAttemptStarted(Ran("backup.requested", Millis(0)));
  m.OnAttemptEnded(Ran("backup.requested", Millis(20)), Disposition::kDone, DeadReason::kPermanent);
  m.OnAttemptEnded(Ran("backup.requested", Millis(20), Category::kNetwork), Disposition::kRetry,
                   DeadReason::kPermanent);
  m.OnAttemptEnded(Ran("user.created", Millis(5), Category::kData), Disposition::kFailed,
                   DeadReason::kPermanent);
  AttemptEnd invalid;  // not a valid event: no type, nothing ran
  m.OnAttemptEnded(invalid, Disposition::kFailed, DeadReason::kInvalid);
  AttemptEnd dup;
  dup.event_type = "user.created";
  m.OnAttemptEnded(dup, Disposition::kDuplicate, DeadReason::kPermanent);
  m.OnIdle();

  const std::string t = m.Render();
  CHECK(Has(t, "# TYPE evt_worker_events_total counter"));
  CHECK(Has(t, "evt_worker_events_total{event_type=\"backup.requested\",outcome=\"done\"} 1"));
  CHECK(Has(t, "evt_worker_events_total{event_type=\"backup.requested\",outcome=\"retry\"} 1"));
  CHECK(Has(t, "evt_worker_events_total{event_type=\"user.created\",outcome=\"failed\"} 1"));
  CHECK(Has(t, "evt_worker_events_total{event_type=\"user.created\",outcome=\"duplicate\"} 1"));
  CHECK(Has(t, "evt_worker_events_total{event_type=\"-\",outcome=\"failed\"} 1"));
  CHECK(Has(t, "evt_worker_attempts_total{event_type=\"backup.requested\"} 1"));
  CHECK(Has(t, "evt_worker_retries_total{event_type=\"backup.requested\"} 1"));
  CHECK(Has(t, "evt_worker_dead_letters_total{reason=\"permanent\"} 1"));
  CHECK(Has(t, "evt_worker_dead_letters_total{reason=\"invalid\"} 1"));
  CHECK(Has(t, "evt_worker_failures_total{category=\"network\"} 1"));
  CHECK(Has(t, "evt_worker_failures_total{category=\"data\"} 1"));
  CHECK(Has(t, "evt_worker_idle_polls_total 1"));
}

TEST_CASE("the handler duration histogram is cumulative with le buckets, a sum and a count") {
  testing::FakeClock clock;
  HealthTracker health(&clock, Millis(1000));
  MetricsRegistry m(&health);
  for (Millis d : {Millis(3), Millis(40), Millis(40), Millis(2000), Millis(7200000)}) {
    m.OnAttemptEnded(Ran("t", d), Disposition::kDone, DeadReason::kPermanent);
  }
  AttemptEnd not_run;  // a duplicate: no handler ran, no duration
  not_run.event_type = "t";
  m.OnAttemptEnded(not_run, Disposition::kDuplicate, DeadReason::kPermanent);
  const std::string t = m.Render();
  const std::string b = "evt_worker_handler_duration_seconds_bucket{event_type=\"t\",le=";
  CHECK(Has(t, "# TYPE evt_worker_handler_duration_seconds histogram"));
  CHECK(Has(t, b + "\"0.005\"} 1"));
  CHECK(Has(t, b + "\"0.025\"} 1"));
  CHECK(Has(t, b + "\"0.05\"} 3"));
  CHECK(Has(t, b + "\"2.5\"} 4"));
  CHECK(Has(t, b + "\"3600\"} 4"));  // two hours is only in +Inf
  CHECK(Has(t, b + "\"+Inf\"} 5"));
  CHECK(Has(t, "evt_worker_handler_duration_seconds_count{event_type=\"t\"} 5"));
  CHECK(Has(t, "evt_worker_handler_duration_seconds_sum{event_type=\"t\"} 7202.083"));
}

TEST_CASE("metrics label values are escaped") {
  CHECK(EscapeLabelValue("plain.type") == "plain.type");
  CHECK(EscapeLabelValue("a\"b\\c\nd") == "a\\\"b\\\\c\\nd");
  testing::FakeClock clock;
  HealthTracker health(&clock, Millis(1000));
  MetricsRegistry m(&health);
  m.OnAttemptEnded(Ran("we\"ird\n", Millis(1)), Disposition::kDone, DeadReason::kPermanent);
  CHECK(Has(m.Render(), "evt_worker_events_total{event_type=\"we\\\"ird\\n\",outcome=\"done\"} 1"));
}

TEST_CASE("metrics show the loop's health: in flight, store up, reconnects, last alive") {
  testing::FakeClock clock(5000, 1'700'000'000'000);
  HealthTracker health(&clock, Millis(1000));
  MetricsRegistry m(&health);
  std::string t = m.Render();
  CHECK(Has(t, "evt_worker_loop_alive 0"));
  CHECK(Has(t, "evt_worker_store_up 0"));
  CHECK(Has(t, "evt_worker_last_alive_timestamp_seconds 0"));

  health.OnReady();
  LoopHealth h;
  h.in_flight = 3;
  h.concurrency = 4;
  h.waiting_commits = 2;
  health.OnAlive(h);
  h.store_ok = false;
  health.OnAlive(h);
  h.store_ok = true;
  health.OnAlive(h);
  t = m.Render();
  CHECK(Has(t, "evt_worker_in_flight 3"));
  CHECK(Has(t, "evt_worker_concurrency 4"));
  CHECK(Has(t, "evt_worker_waiting_commits 2"));
  CHECK(Has(t, "evt_worker_store_up 1"));
  CHECK(Has(t, "evt_worker_store_reconnects_total 1"));
  CHECK(Has(t, "evt_worker_ready 1"));
  CHECK(Has(t, "evt_worker_loop_alive 1"));
  CHECK(Has(t, "evt_worker_last_alive_timestamp_seconds 1700000000"));
  clock.Advance(Millis(3001));
  CHECK(Has(m.Render(), "evt_worker_loop_alive 0"));
}

TEST_CASE("metrics may be rendered while worker threads report") {
  testing::FakeClock clock;
  HealthTracker health(&clock, Millis(1000));
  MetricsRegistry m(&health);
  std::vector<std::thread> threads;
  for (int i = 0; i < 4; ++i) {
    threads.emplace_back([&m, &health] {
      for (int n = 0; n < 500; ++n) {
        m.OnAttemptStarted(Ran("t", Millis(0)));
        m.OnAttemptEnded(Ran("t", Millis(n)), Disposition::kDone, DeadReason::kPermanent);
        health.OnAlive(LoopHealth{});
      }
    });
  }
  for (int n = 0; n < 50; ++n) m.Render();
  for (auto& t : threads) t.join();
  CHECK(Has(m.Render(), "evt_worker_events_total{event_type=\"t\",outcome=\"done\"} 2000"));
}

TEST_CASE("promtool check metrics accepts the metrics text") {
  if (std::system("command -v promtool >/dev/null 2>&1") != 0) {
    WARN("promtool not found (Debian package prometheus): the format check is skipped");
    return;
  }
  testing::FakeClock clock;
  HealthTracker health(&clock, Millis(1000));
  MetricsRegistry m(&health);
  const std::string empty = m.Render();
  m.OnAttemptStarted(Ran("backup.requested", Millis(0)));
  m.OnAttemptEnded(Ran("backup.requested", Millis(120), Category::kTimeout), Disposition::kFailed,
                   DeadReason::kRetriesExhausted);
  m.OnAttemptEnded(Ran("x\"y\\z", Millis(1)), Disposition::kDone, DeadReason::kPermanent);
  health.OnAlive(LoopHealth{});
  testing::TempDir dir;
  for (const std::string& text : {empty, m.Render()}) {
    testing::WriteFile(dir / "metrics.prom", text);
    const std::string cmd =
        "promtool check metrics < " + (dir / "metrics.prom") + " > " + (dir / "out") + " 2>&1";
    const int rc = std::system(cmd.c_str());
    INFO(testing::ReadFile(dir / "out"));
    INFO(text);
    CHECK(WIFEXITED(rc));
    CHECK(WEXITSTATUS(rc) == 0);
    CHECK(testing::ReadFile(dir / "out").empty());
  }
}

}  // namespace
}  // namespace evt
