#include <catch2/catch.hpp>
#include <sstream>

#include "evt/status_report.h"

namespace evt {
namespace {

StatusReport Sample() {
  StatusReport r;
  r.ns = "evt";
  r.now = 1700000000000;
  r.window = Millis(15 * 60000);
  QueueRow q;
  q.state.queue = "mail";
  q.state.length = 40;
  q.state.delayed = 2;
  q.state.groups = {{"workers", 7, 3, r.now - 90000}};
  q.state.consumers = {{"w1", "host-a", 12, 4, 1, "2023-11-14T22:13:20.000Z"}};
  q.state.dlq = {5, 2, false};
  q.totals.done = 30;
  q.totals.failed = 2;
  q.totals.retried = 4;
  q.totals.categories = {{"network", 5}, {"data", 1}};
  q.totals.per_minute = {0, 3, 9};
  r.queues.push_back(q);
  QueueRow other;
  other.state.queue = "a-much-longer-queue-name";
  other.totals.per_minute = {0, 0, 0};
  r.queues.push_back(other);
  TypeStats t = q.totals;
  t.type = "mail.sent";
  t.duration = {{HistogramBucket(120), 10}};
  t.latency = {{HistogramBucket(2500), 10}};
  r.types.push_back(t);
  return r;
}

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);) out.push_back(l);
  return out;
}

}  // namespace

TEST_CASE("status table: columns align, and the sparkline only when asked", "[status]") {
  StatusReport r = Sample();
  std::vector<std::string> lines = Lines(FormatQueueTable(r, false));
  REQUIRE(lines.size() == 3);
  CHECK(lines[0].rfind("QUEUE ", 0) == 0);
  const std::size_t depth = lines[0].find("DEPTH");
  CHECK(lines[1].substr(depth, 1) == "7");  // the depth sits under its header
  CHECK(lines[1].find("workers:7(1.5m)") != std::string::npos);
  CHECK(lines[1].find("network") != std::string::npos);  // the dominant category
  CHECK(lines[1].find("+2") != std::string::npos);       // DLQ growth
  CHECK(lines[1].find("▁") == std::string::npos);
  std::string with = FormatQueueTable(r, true);
  CHECK(with.find("EVENTS/MIN") != std::string::npos);
  CHECK(with.find("▁▄█") != std::string::npos);
  for (const std::string& l : Lines(with)) CHECK(l.back() != ' ');
}

TEST_CASE("status --types table shows percentiles of duration and latency", "[status]") {
  std::string t = FormatTypesTable(Sample(), false);
  CHECK(t.find("mail.sent") != std::string::npos);
  CHECK(t.find("E2E P99") != std::string::npos);
  CHECK(t.find("ms") != std::string::npos);
  CHECK(t.find("2.") != std::string::npos);  // e2e latency of about 2.5s
  CHECK(t.find("data=1,network=5") != std::string::npos);
}

TEST_CASE("status --json uses the documented field names", "[status]") {
  Json j = QueueReportJson(Sample());
  CHECK(j["namespace"] == "evt");
  CHECK(j["window_seconds"] == 900);
  const Json& q = j["queues"][0];
  for (const char* f :
       {"queue", "depth", "pending", "delayed", "length", "lag_seconds", "groups", "consumers",
        "consumer_list", "done", "failed", "retried", "duplicate", "failure_ratio", "dlq",
        "dlq_growth", "dominant_category", "categories", "per_minute"}) {
    CHECK(q.contains(f));
  }
  CHECK(q["depth"] == 7);
  CHECK(q["lag_seconds"] == 90.0);
  CHECK(q["dominant_category"] == "network");
  Json t = TypesReportJson(Sample())["types"][0];
  CHECK(t["type"] == "mail.sent");
  CHECK(t["dead_letters"] == 2);
  CHECK(t["duration_ms"]["p50"].is_number());
  CHECK(t["latency_ms"].contains("p99"));
  EventStatus ev;
  ev.event_id = "e1";
  ev.queue = "mail";
  ev.status = "done";
  ev.fields = {{"attempts", "2"}, {"duration_ms", "15"}, {"consumer", "w1"}};
  Json e = EventStatusJson(ev);
  CHECK(e["attempts"] == 2);
  CHECK(e["consumer"] == "w1");
  CHECK(e["delayed"] == false);
  std::vector<std::string> lines = Lines(FormatEventStatus(ev));
  REQUIRE(lines.size() == 6);
  CHECK(lines[0].rfind("event_id:", 0) == 0);
  CHECK(lines[2].rfind("status:", 0) == 0);
  CHECK(lines[2].substr(lines[2].size() - 4) == "done");
  CHECK(lines[2].find("done") == lines[0].find("e1"));  // values aligned
}

TEST_CASE("status --format prometheus: gauges with HELP, TYPE and escaped labels", "[status]") {
  StatusReport r = Sample();
  r.types[0].type = "odd\"type\\";
  std::string p = FormatPrometheus(r);
  CHECK(p.find("# TYPE evt_queue_depth gauge\n") != std::string::npos);
  CHECK(p.find("evt_queue_depth{namespace=\"evt\",queue=\"mail\"} 7\n") != std::string::npos);
  CHECK(p.find("evt_dlq_size{namespace=\"evt\",queue=\"mail\"} 5\n") != std::string::npos);
  CHECK(p.find("type=\"odd\\\"type\\\\\"") != std::string::npos);
  CHECK(p.find("percentile=\"99\"") != std::string::npos);
  CHECK(p.back() == '\n');
}

}  // namespace evt
