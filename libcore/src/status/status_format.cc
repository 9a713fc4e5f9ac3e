// The text and JSON forms of evt-status's reports. Field names of the JSON forms are
// documented in evt-status(1) and stay stable.
#include <algorithm>
#include <cmath>
#include <cstdio>

#include "evt/status_report.h"

namespace evt {
namespace {

using Table = std::vector<std::vector<std::string>>;

// Display width of UTF-8 text: one column per code point (the table holds no wide
// characters but the sparkline's, which are one column each).
std::size_t Width(const std::string& s) {
  std::size_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}

// Columns separated by two spaces, padded to their widest cell; the last column is not
// padded (no trailing blanks).
std::string Render(const Table& t) {
  std::vector<std::size_t> width;
  for (const auto& row : t) {
    if (width.size() < row.size()) width.resize(row.size(), 0);
    for (std::size_t i = 0; i < row.size(); ++i) width[i] = std::max(width[i], Width(row[i]));
  }
  std::string out;
  for (const auto& row : t) {
    std::string line;
    for (std::size_t i = 0; i < row.size(); ++i) {
      line += row[i];
      if (i + 1 < row.size()) line.append(width[i] - Width(row[i]) + 2, ' ');
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    out += line + "\n";
  }
  return out;
}

std::string Fixed(double v, int digits) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", digits, v);
  return buf;
}

// A duration in ms for people: "850ms", "2.3s", "4.1m", "1.5h"; "-" when unknown.
std::string Ms(double ms) {
  if (ms < 0) return "-";
  if (ms < 1000) return Fixed(ms, ms < 10 ? 1 : 0) + "ms";
  if (ms < 60000) return Fixed(ms / 1000, 1) + "s";
  if (ms < 3600000) return Fixed(ms / 60000, 1) + "m";
  return Fixed(ms / 3600000, 1) + "h";
}

std::string PerMinute(std::int64_t n, Millis window) {
  const double minutes = std::max(1.0, static_cast<double>(window.count()) / 60000.0);
  return Fixed(static_cast<double>(n) / minutes, 1);
}

std::string Categories(const std::map<std::string, std::int64_t>& c) {
  std::string out;
  for (const auto& [name, n] : c) out += (out.empty() ? "" : ",") + name + "=" + std::to_string(n);
  return out.empty() ? "-" : out;
}

Json Percentiles(const Histogram& h) {
  Json j = Json::object();
  for (auto [name, q] : {std::pair{"p50", 0.50}, {"p95", 0.95}, {"p99", 0.99}}) {
    double v = PercentileMs(h, q);
    j[name] = v < 0 ? Json(nullptr) : Json(std::round(v * 10) / 10);
  }
  return j;
}

Json Header(const StatusReport& r) {
  Json j = Json::object();
  j["namespace"] = r.ns;
  j["generated_at"] = FormatRfc3339Millis(r.now);
  j["window_seconds"] = r.window.count() / 1000;
  return j;
}

}  // namespace

std::string FormatQueueTable(const StatusReport& r, bool spark) {
  Table t = {{"QUEUE", "DEPTH", "PENDING", "DELAYED", "GROUPS (LAG)", "CONSUMERS", "DONE/MIN",
              "FAILED/MIN", "RETRIED/MIN", "DLQ", "DLQ+", "CATEGORY"}};
  if (spark) t[0].push_back("EVENTS/MIN");
  for (const QueueRow& q : r.queues) {
    std::string groups;
    for (const GroupState& g : q.state.groups) {
      const UnixMillis lag = g.oldest_ms >= 0 ? r.now - g.oldest_ms : 0;
      groups += (groups.empty() ? "" : ",") + g.name + ":" + std::to_string(g.undelivered) + "(" +
                Ms(static_cast<double>(lag)) + ")";
    }
    const std::string category = q.totals.DominantCategory();
    t.push_back(
        {q.state.queue, std::to_string(q.Depth()), std::to_string(q.Pending()),
         std::to_string(q.state.delayed), groups.empty() ? "-" : groups,
         std::to_string(q.state.consumers.size()), PerMinute(q.totals.done, r.window),
         PerMinute(q.totals.failed, r.window), PerMinute(q.totals.retried, r.window),
         std::to_string(q.state.dlq.size),
         "+" + std::to_string(q.state.dlq.added_since) + (q.state.dlq.added_capped ? "+" : ""),
         category.empty() ? "-" : category});
    if (spark) t.back().push_back(Sparkline(q.totals.per_minute));
  }
  return Render(t);
}

std::string FormatTypesTable(const StatusReport& r, bool spark) {
  Table t = {{"TYPE", "DONE", "RETRIED", "FAILED", "DUPLICATE", "RETRY%", "P50", "P95", "P99",
              "E2E P50", "E2E P95", "E2E P99", "CATEGORIES"}};
  if (spark) t[0].push_back("EVENTS/MIN");
  for (const TypeStats& s : r.types) {
    t.push_back({s.type, std::to_string(s.done), std::to_string(s.retried),
                 std::to_string(s.failed), std::to_string(s.duplicate),
                 Fixed(100 * s.RetryRate(), 1), Ms(PercentileMs(s.duration, 0.50)),
                 Ms(PercentileMs(s.duration, 0.95)), Ms(PercentileMs(s.duration, 0.99)),
                 Ms(PercentileMs(s.latency, 0.50)), Ms(PercentileMs(s.latency, 0.95)),
                 Ms(PercentileMs(s.latency, 0.99)), Categories(s.categories)});
    if (spark) t.back().push_back(Sparkline(s.per_minute));
  }
  return Render(t);
}

std::string FormatEventStatus(const EventStatus& s) {
  Table t = {{"event_id:", s.event_id},
             {"queue:", s.queue},
             {"status:", s.status + (s.delayed ? " (delayed)" : "")}};
  for (const auto& [name, value] : s.fields) {
    if (!value.empty()) t.push_back({name + ":", value});
  }
  return Render(t);
}

Json QueueReportJson(const StatusReport& r) {
  Json j = Header(r);
  j["queues"] = Json::array();
  for (const QueueRow& q : r.queues) {
    Json o = Json::object();
    o["queue"] = q.state.queue;
    o["depth"] = q.Depth();
    o["pending"] = q.Pending();
    o["delayed"] = q.state.delayed;
    o["length"] = q.state.length;
    o["lag_seconds"] = static_cast<double>(q.MaxLag(r.now).count()) / 1000.0;
    o["groups"] = Json::array();
    for (const GroupState& g : q.state.groups) {
      o["groups"].push_back(
          {{"name", g.name},
           {"undelivered", g.undelivered},
           {"pending", g.pending},
           {"lag_seconds", g.oldest_ms >= 0 ? (r.now - g.oldest_ms) / 1000.0 : 0.0}});
    }
    o["consumers"] = q.state.consumers.size();
    o["consumer_list"] = Json::array();
    for (const ConsumerState& c : q.state.consumers) {
      o["consumer_list"].push_back({{"name", c.name},
                                    {"host", c.host},
                                    {"pid", c.pid},
                                    {"concurrency", c.concurrency},
                                    {"in_flight", c.in_flight},
                                    {"heartbeat_at", c.heartbeat_at}});
    }
    o["done"] = q.totals.done;
    o["failed"] = q.totals.failed;
    o["retried"] = q.totals.retried;
    o["duplicate"] = q.totals.duplicate;
    o["failure_ratio"] = q.totals.FailureRatio();
    o["dlq"] = q.state.dlq.size;
    o["dlq_growth"] = q.state.dlq.added_since;
    o["dominant_category"] = q.totals.DominantCategory();
    o["categories"] = q.totals.categories;
    o["per_minute"] = q.totals.per_minute;
    j["queues"].push_back(std::move(o));
  }
  return j;
}

Json TypesReportJson(const StatusReport& r) {
  Json j = Header(r);
  j["types"] = Json::array();
  for (const TypeStats& s : r.types) {
    j["types"].push_back({{"type", s.type},
                          {"attempts", s.attempts},
                          {"done", s.done},
                          {"retried", s.retried},
                          {"failed", s.failed},
                          {"duplicate", s.duplicate},
                          {"dead_letters", s.failed},
                          {"retry_rate", s.RetryRate()},
                          {"failure_ratio", s.FailureRatio()},
                          {"duration_ms", Percentiles(s.duration)},
                          {"latency_ms", Percentiles(s.latency)},
                          {"categories", s.categories},
                          {"reasons", s.reasons},
                          {"per_minute", s.per_minute}});
  }
  return j;
}

Json EventStatusJson(const EventStatus& s) {
  Json j = Json::object();
  j["event_id"] = s.event_id;
  j["queue"] = s.queue;
  j["status"] = s.status;
  j["delayed"] = s.delayed;
  for (const auto& [name, value] : s.fields) {
    if (name == "attempts" || name == "duration_ms") {
      char* end = nullptr;
      long long n = std::strtoll(value.c_str(), &end, 10);
      j[name] = (end != value.c_str() && *end == '\0') ? Json(n) : Json(value);
    } else {
      j[name] = value;
    }
  }
  return j;
}

}  // namespace evt
