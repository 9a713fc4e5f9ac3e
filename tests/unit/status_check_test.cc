#include <catch2/catch.hpp>

#include "evt/status_command.h"
#include "evt/status_report.h"

namespace evt {
namespace {

StatusReport OneQueue(std::int64_t dlq, std::int64_t growth, std::int64_t done, std::int64_t failed,
                      UnixMillis lag_ms, int consumers) {
  StatusReport r;
  r.now = 1000000;
  QueueRow q;
  q.state.queue = "mail";
  q.state.dlq.size = dlq;
  q.state.dlq.added_since = growth;
  q.state.groups = {{"workers", 0, 1, lag_ms > 0 ? r.now - lag_ms : -1}};
  q.state.consumers.resize(static_cast<std::size_t>(consumers));
  q.totals.done = done;
  q.totals.failed = failed;
  r.queues.push_back(q);
  return r;
}

CheckLevel LevelOf(const StatusReport& r, const CheckThresholds& t) {
  return EvaluateCheck(r, t).level;
}

}  // namespace

TEST_CASE("check: each threshold crosses from OK to WARNING to CRITICAL", "[status]") {
  CheckThresholds t;
  t.max_dlq = {5, 10};
  CHECK(LevelOf(OneQueue(5, 0, 0, 0, 0, 1), t) == CheckLevel::kOk);
  CHECK(LevelOf(OneQueue(6, 0, 0, 0, 0, 1), t) == CheckLevel::kWarning);
  CHECK(LevelOf(OneQueue(11, 0, 0, 0, 0, 1), t) == CheckLevel::kCritical);

  t = {};
  t.max_dlq_growth = {1, 3};
  CHECK(LevelOf(OneQueue(50, 1, 0, 0, 0, 1), t) == CheckLevel::kOk);
  CHECK(LevelOf(OneQueue(50, 2, 0, 0, 0, 1), t) == CheckLevel::kWarning);
  CHECK(LevelOf(OneQueue(50, 4, 0, 0, 0, 1), t) == CheckLevel::kCritical);

  t = {};
  t.max_failure_ratio = {0.1, 0.5};
  CHECK(LevelOf(OneQueue(0, 0, 9, 1, 0, 1), t) == CheckLevel::kOk);
  CHECK(LevelOf(OneQueue(0, 0, 8, 2, 0, 1), t) == CheckLevel::kWarning);
  CHECK(LevelOf(OneQueue(0, 0, 4, 6, 0, 1), t) == CheckLevel::kCritical);
  CHECK(LevelOf(OneQueue(0, 0, 0, 0, 0, 1), t) == CheckLevel::kOk);  // nothing finished

  t = {};
  t.max_lag = {60000, 300000};
  CHECK(LevelOf(OneQueue(0, 0, 0, 0, 30000, 1), t) == CheckLevel::kOk);
  CHECK(LevelOf(OneQueue(0, 0, 0, 0, 120000, 1), t) == CheckLevel::kWarning);
  CHECK(LevelOf(OneQueue(0, 0, 0, 0, 600000, 1), t) == CheckLevel::kCritical);

  t = {};
  t.min_consumers = {2, 1};  // a lower bound: fewer is worse
  CHECK(LevelOf(OneQueue(0, 0, 0, 0, 0, 2), t) == CheckLevel::kOk);
  CHECK(LevelOf(OneQueue(0, 0, 0, 0, 0, 1), t) == CheckLevel::kWarning);
  CHECK(LevelOf(OneQueue(0, 0, 0, 0, 0, 0), t) == CheckLevel::kCritical);
}

TEST_CASE("check: one line names each breach and carries perfdata", "[status]") {
  CheckThresholds t;
  t.max_dlq = {std::nullopt, 10};
  t.min_consumers = {1, std::nullopt};
  CheckResult c = EvaluateCheck(OneQueue(12, 0, 0, 0, 0, 0), t);
  CHECK(c.level == CheckLevel::kCritical);
  CHECK(c.line.rfind("EVT CRITICAL - mail: dlq 12 > 10; mail: consumers 0 < 1 |", 0) == 0);
  CHECK(c.line.find(" dlq_mail=12;;10") != std::string::npos);
  CHECK(c.line.find('\n') == std::string::npos);
  c = EvaluateCheck(OneQueue(0, 0, 0, 0, 0, 3), t);
  CHECK(c.line.rfind("EVT OK - 1 queue, dlq 0, 3 consumers |", 0) == 0);
  CHECK(EvaluateCheck(StatusReport(), t).line == "EVT OK - no queues");
  CHECK(UnknownCheck("redis down").level == CheckLevel::kUnknown);
  CHECK(UnknownCheck("redis down").line == "EVT UNKNOWN - redis down");
}

TEST_CASE("check: thresholds parse as numbers or, for --max-lag, durations", "[status]") {
  std::optional<double> v;
  CHECK(ParseThreshold("--max-dlq", "10", false, &v).ok());
  CHECK(*v == 10);
  CHECK(ParseThreshold("--max-failure-ratio", "0.25", false, &v).ok());
  CHECK(*v == 0.25);
  CHECK(ParseThreshold("--max-lag", "5m", true, &v).ok());
  CHECK(*v == 300000);
  Status s = ParseThreshold("--max-dlq", "ten", false, &v);
  CHECK(s.kind() == Status::Kind::kUsage);
  CHECK(s.message() == "--max-dlq: ten is not a number >= 0");
  CHECK(ParseThreshold("--max-dlq", "-1", false, &v).kind() == Status::Kind::kUsage);
  CHECK(ParseThreshold("--max-lag", "soon", true, &v).kind() == Status::Kind::kUsage);
}

TEST_CASE("status options: modes go one at a time", "[status]") {
  StatusOptions o;
  CHECK(ValidateStatusOptions(o).ok());
  o.event_id = "e1";
  o.key = "k";
  CHECK(ValidateStatusOptions(o).kind() == Status::Kind::kUsage);
  o = {};
  o.check = true;
  o.format = "json";
  CHECK(ValidateStatusOptions(o).kind() == Status::Kind::kUsage);
  o = {};
  o.watch = true;
  o.wait_id = "e1";
  CHECK(ValidateStatusOptions(o).kind() == Status::Kind::kUsage);
  o = {};
  o.event_id = "e1";
  o.format = "prometheus";
  CHECK(ValidateStatusOptions(o).kind() == Status::Kind::kUsage);
  o = {};
  o.window = Millis(1000);
  CHECK(ValidateStatusOptions(o).kind() == Status::Kind::kUsage);
  o = {};
  o.summary = true;
  o.types = true;
  CHECK(ValidateStatusOptions(o).ok());
}

}  // namespace evt
