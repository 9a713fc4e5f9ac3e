#include "ops/metrics_registry.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "evt/outcome.h"

namespace evt {
namespace {

std::string TypeLabel(const std::string& event_type) {
  return event_type.empty() ? "-" : event_type;
}

// The shortest text that reads back as `v`, without an exponent where 17 digits allow
// ("0.005", "2.5", "1700000000", not "1.7e+09").
std::string FormatDouble(double v) {
  char buf[40];
  for (int precision = 1; precision <= 17; ++precision) {
    std::snprintf(buf, sizeof buf, "%.*g", precision, v);
    if (std::strtod(buf, nullptr) == v && std::strchr(buf, 'e') == nullptr) break;
  }
  return buf;
}

void Family(std::string* out, std::string_view name, std::string_view type, std::string_view help) {
  out->append("# HELP ").append(name).append(" ").append(help).append("\n");
  out->append("# TYPE ").append(name).append(" ").append(type).append("\n");
}

void Sample(std::string* out, std::string_view name, std::string_view labels,
            const std::string& value) {
  out->append(name);
  if (!labels.empty()) out->append("{").append(labels).append("}");
  out->append(" ").append(value).append("\n");
}

std::string Label(std::string_view key, std::string_view value) {
  return std::string(key) + "=\"" + EscapeLabelValue(value) + "\"";
}

// A counter family with one label.
void Counter1(std::string* out, std::string_view name, std::string_view help, std::string_view key,
              const std::map<std::string, std::uint64_t>& values) {
  Family(out, name, "counter", help);
  for (const auto& [label, n] : values) Sample(out, name, Label(key, label), std::to_string(n));
}

}  // namespace

std::string EscapeLabelValue(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

void MetricsRegistry::OnAttemptStarted(const AttemptEnd& attempt) {
  std::lock_guard<std::mutex> lock(mu_);
  ++attempts_[TypeLabel(attempt.event_type)];
}

void MetricsRegistry::OnAttemptEnded(const AttemptEnd& end, Disposition what, DeadReason reason) {
  const std::string type = TypeLabel(end.event_type);
  std::lock_guard<std::mutex> lock(mu_);
  ++events_[{type, std::string(DispositionName(what))}];
  if (what == Disposition::kRetry) ++retries_[type];
  if (what == Disposition::kFailed) ++dead_letters_[std::string(DeadReasonName(reason))];
  if ((what == Disposition::kRetry || what == Disposition::kFailed) &&
      end.category != Category::kNone) {
    ++failures_[std::string(CategoryName(end.category))];
  }
  if (end.ran) {
    Histogram& h = durations_[type];
    const double seconds = static_cast<double>(end.duration.count()) / 1000.0;
    std::size_t i = 0;
    while (i < kDurationBucketsSeconds.size() && seconds > kDurationBucketsSeconds[i]) ++i;
    if (i < h.buckets.size()) ++h.buckets[i];
    ++h.count;
    h.sum += seconds;
  }
}

void MetricsRegistry::OnIdle() {
  std::lock_guard<std::mutex> lock(mu_);
  ++idle_;
}

void MetricsRegistry::RenderHistograms(std::string* out) const {
  constexpr std::string_view kName = "evt_worker_handler_duration_seconds";
  Family(out, kName, "histogram", "Wall time of handler runs, by event type.");
  for (const auto& [type, h] : durations_) {
    const std::string type_label = Label("event_type", type);
    std::uint64_t cumulative = 0;
    for (std::size_t i = 0; i < kDurationBucketsSeconds.size(); ++i) {
      cumulative += h.buckets[i];
      Sample(out, std::string(kName) + "_bucket",
             type_label + "," + Label("le", FormatDouble(kDurationBucketsSeconds[i])),
             std::to_string(cumulative));
    }
    Sample(out, std::string(kName) + "_bucket", type_label + ",le=\"+Inf\"",
           std::to_string(h.count));
    Sample(out, std::string(kName) + "_sum", type_label, FormatDouble(h.sum));
    Sample(out, std::string(kName) + "_count", type_label, std::to_string(h.count));
  }
}

void MetricsRegistry::RenderHealth(std::string* out) const {
  const HealthSnapshot h = health_->Snapshot();
  auto gauge = [out](std::string_view name, std::string_view help, const std::string& value) {
    Family(out, name, "gauge", help);
    Sample(out, name, "", value);
  };
  gauge("evt_worker_in_flight", "Handlers running, as last reported by the loop.",
        std::to_string(h.last.in_flight));
  gauge("evt_worker_concurrency", "Handler threads.", std::to_string(h.last.concurrency));
  gauge("evt_worker_waiting_commits", "Outcomes decided but not yet committed to the store.",
        std::to_string(h.last.waiting_commits));
  gauge("evt_worker_store_up", "1 when the last store call succeeded.",
        h.seen_alive && h.store_ok ? "1" : "0");
  Family(out, "evt_worker_store_reconnects_total", "counter",
         "Times the store became reachable again after an outage.");
  Sample(out, "evt_worker_store_reconnects_total", "", std::to_string(h.reconnects));
  gauge("evt_worker_ready", "1 once the loop is set up and reading work.", h.ready ? "1" : "0");
  gauge("evt_worker_loop_alive", "1 when the loop reported within three housekeeping ticks.",
        h.alive ? "1" : "0");
  gauge("evt_worker_last_alive_timestamp_seconds",
        "Unix time of the loop's last report; 0 before the first.",
        FormatDouble(static_cast<double>(h.last_alive_at) / 1000.0));
}

void MetricsRegistry::OnQueueDepth(const QueueDepth& depth) {
  const UnixMillis now = clock_->WallNow();
  std::lock_guard<std::mutex> lock(mu_);
  depths_[{depth.queue, depth.group}] = {depth, now};
}

// REQUIRES: mu_ held.
void MetricsRegistry::RenderDepths(std::string* out) const {
  if (depths_.empty()) return;
  constexpr std::string_view kDepth = "evt_queue_depth";
  Family(out, kDepth, "gauge",
         "Entries not yet handed to the consumer group, as last counted (every heartbeat).");
  for (const auto& [key, d] : depths_) {
    if (d.first.undelivered < 0) continue;  // the store could not count it
    Sample(out, kDepth, Label("queue", key.first) + "," + Label("group", key.second),
           std::to_string(d.first.undelivered));
  }
  constexpr std::string_view kPending = "evt_queue_pending";
  Family(out, kPending, "gauge",
         "Entries handed out and not yet ended (any consumer of the group), as last counted.");
  for (const auto& [key, d] : depths_) {
    Sample(out, kPending, Label("queue", key.first) + "," + Label("group", key.second),
           std::to_string(d.first.pending));
  }
  constexpr std::string_view kDelayed = "evt_queue_delayed";
  Family(out, kDelayed, "gauge",
         "Events scheduled for later (retries, deferrals, delayed emits), as last counted.");
  std::map<std::string, std::int64_t> delayed;  // one per queue, whatever the group
  for (const auto& [key, d] : depths_) delayed[key.first] = d.first.delayed;
  for (const auto& [queue, n] : delayed) {
    Sample(out, kDelayed, Label("queue", queue), std::to_string(n));
  }
  constexpr std::string_view kAt = "evt_queue_depth_timestamp_seconds";
  Family(out, kAt, "gauge", "Unix time of the last count of the queue gauges.");
  for (const auto& [key, d] : depths_) {
    Sample(out, kAt, Label("queue", key.first) + "," + Label("group", key.second),
           FormatDouble(static_cast<double>(d.second) / 1000.0));
  }
}

std::string MetricsRegistry::Render() const {
  std::string out;
  out.reserve(4096);
  {
    std::lock_guard<std::mutex> lock(mu_);
    constexpr std::string_view kEvents = "evt_worker_events_total";
    Family(&out, kEvents, "counter",
           "Deliveries whose turn in the loop ended, by event type and outcome.");
    for (const auto& [key, n] : events_) {
      Sample(&out, kEvents, Label("event_type", key.first) + "," + Label("outcome", key.second),
             std::to_string(n));
    }
    Counter1(&out, "evt_worker_attempts_total", "Handler runs started, by event type.",
             "event_type", attempts_);
    Counter1(&out, "evt_worker_retries_total", "Retries scheduled, by event type.", "event_type",
             retries_);
    Counter1(&out, "evt_worker_dead_letters_total", "Dead letters, by reason.", "reason",
             dead_letters_);
    Counter1(&out, "evt_worker_failures_total",
             "Failed attempts (retried or dead-lettered), by category.", "category", failures_);
    Family(&out, "evt_worker_idle_polls_total", "counter",
           "Receive waits that ended without a delivery.");
    Sample(&out, "evt_worker_idle_polls_total", "", std::to_string(idle_));
    RenderHistograms(&out);
    RenderDepths(&out);
  }
  RenderHealth(&out);
  return out;
}

}  // namespace evt
