// evt-status --format prometheus: the text exposition format (version 0.0.4). The window
// counts are gauges (they go down as minutes leave the window), never counters.
#include <cstdio>

#include "evt/status_report.h"

namespace evt {
namespace {

std::string LabelValue(const std::string& v) {
  std::string out;
  for (char c : v) {
    if (c == '\\' || c == '"') out.push_back('\\');
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out.push_back(c);
  }
  return out;
}

std::string Value(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

class Writer {
 public:
  // Starts the family `name` with its HELP and TYPE lines.
  void Family(const std::string& name, const std::string& help) {
    out_ += "# HELP " + name + " " + help + "\n# TYPE " + name + " gauge\n";
    name_ = name;
  }
  // One sample of the current family; labels are name, value pairs.
  void Sample(const std::vector<std::pair<std::string, std::string>>& labels, double v) {
    out_ += name_;
    std::string sep = "{";
    for (const auto& [k, val] : labels) {
      out_ += sep + k + "=\"" + LabelValue(val) + "\"";
      sep = ",";
    }
    if (!labels.empty()) out_ += "}";
    out_ += " " + Value(v) + "\n";
  }
  std::string Take() { return std::move(out_); }

 private:
  std::string out_;
  std::string name_;
};

using Getter = double (*)(const QueueRow&, UnixMillis);

// The per-queue gauges.
void QueueGauges(const StatusReport& r, Writer* w) {
  const struct {
    const char* name;
    const char* help;
    Getter get;
  } families[] = {
      {"evt_queue_depth", "Entries not yet delivered (the largest backlog of the groups).",
       [](const QueueRow& q, UnixMillis) { return static_cast<double>(q.Depth()); }},
      {"evt_queue_pending", "Entries delivered and not yet acknowledged (in flight).",
       [](const QueueRow& q, UnixMillis) { return static_cast<double>(q.Pending()); }},
      {"evt_queue_delayed", "Events waiting in the delayed set.",
       [](const QueueRow& q, UnixMillis) { return static_cast<double>(q.state.delayed); }},
      {"evt_queue_length", "Entries in the stream, history included.",
       [](const QueueRow& q, UnixMillis) { return static_cast<double>(q.state.length); }},
      {"evt_queue_lag_seconds", "Age of the oldest entry a group still owes work on.",
       [](const QueueRow& q, UnixMillis now) {
         return static_cast<double>(q.MaxLag(now).count()) / 1000.0;
       }},
      {"evt_queue_consumers", "Live consumers (unexpired heartbeats).",
       [](const QueueRow& q, UnixMillis) { return static_cast<double>(q.state.consumers.size()); }},
      {"evt_dlq_size", "Dead letters in the queue's DLQ.",
       [](const QueueRow& q, UnixMillis) { return static_cast<double>(q.state.dlq.size); }},
      {"evt_dlq_growth", "Dead letters added over the window.",
       [](const QueueRow& q, UnixMillis) { return static_cast<double>(q.state.dlq.added_since); }},
  };
  for (const auto& f : families) {
    w->Family(f.name, f.help);
    for (const QueueRow& q : r.queues) {
      w->Sample({{"namespace", r.ns}, {"queue", q.state.queue}}, f.get(q, r.now));
    }
  }
}

// The per-type gauges: outcomes and percentiles over the window.
void TypeGauges(const StatusReport& r, Writer* w) {
  const std::string& ns = r.ns;
  w->Family("evt_window_outcomes", "Attempt outcomes over the window, by event type.");
  for (const TypeStats& t : r.types) {
    for (auto [outcome, n] : {std::pair<const char*, std::int64_t>{"done", t.done},
                              {"retry", t.retried},
                              {"failed", t.failed},
                              {"duplicate", t.duplicate}}) {
      w->Sample({{"namespace", ns}, {"type", t.type}, {"outcome", outcome}},
                static_cast<double>(n));
    }
  }
  const struct {
    const char* name;
    const char* help;
    Histogram TypeStats::*h;
  } quantile_families[] = {
      {"evt_window_duration_seconds", "Handler duration percentiles over the window.",
       &TypeStats::duration},
      {"evt_window_latency_seconds",
       "End-to-end latency percentiles (occurred_at to the final outcome) over the window.",
       &TypeStats::latency},
  };
  for (const auto& f : quantile_families) {
    w->Family(f.name, f.help);
    for (const TypeStats& t : r.types) {
      // A `quantile` label belongs to summaries, which these are not (no _sum, _count).
      for (auto [label, q] : {std::pair{"50", 0.5}, {"95", 0.95}, {"99", 0.99}}) {
        const double ms = PercentileMs(t.*(f.h), q);
        if (ms < 0) continue;
        w->Sample({{"namespace", ns}, {"type", t.type}, {"percentile", label}}, ms / 1000.0);
      }
    }
  }
}

}  // namespace

std::string FormatPrometheus(const StatusReport& r) {
  Writer w;
  w.Family("evt_window_seconds", "Length of the window the evt_window_* gauges count over.");
  w.Sample({{"namespace", r.ns}}, static_cast<double>(r.window.count()) / 1000.0);
  QueueGauges(r, &w);
  TypeGauges(r, &w);
  return w.Take();
}

}  // namespace evt
