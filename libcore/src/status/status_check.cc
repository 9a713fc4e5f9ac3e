// evt-status --check: thresholds with a warning and a critical level, one status line and
// the exit codes of monitoring plugins (0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN).
#include <cstdio>

#include "evt/status_report.h"

namespace evt {
namespace {

const char* LevelName(CheckLevel l) {
  switch (l) {
    case CheckLevel::kOk:
      return "OK";
    case CheckLevel::kWarning:
      return "WARNING";
    case CheckLevel::kCritical:
      return "CRITICAL";
    case CheckLevel::kUnknown:
      break;
  }
  return "UNKNOWN";
}

std::string Num(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}

// One measured value against one threshold.
struct Probe {
  const char* what;  // "dlq", "lag", ...
  double value;
  const Threshold& t;
  bool lower_bound;  // min_consumers: breached below the level
  std::string (*show)(double);
};

std::string Plain(double v) { return Num(v); }
std::string Seconds(double ms) { return Num(ms / 1000.0) + "s"; }

// The level `p` reaches, appending "<queue>: <what> <value> > <limit>" for a breach.
CheckLevel Evaluate(const std::string& queue, const Probe& p, std::string* breaches) {
  auto crossed = [&](const std::optional<double>& level) {
    return level && (p.lower_bound ? p.value < *level : p.value > *level);
  };
  CheckLevel l = crossed(p.t.critical)  ? CheckLevel::kCritical
                 : crossed(p.t.warning) ? CheckLevel::kWarning
                                        : CheckLevel::kOk;
  if (l != CheckLevel::kOk) {
    const double limit = l == CheckLevel::kCritical ? *p.t.critical : *p.t.warning;
    *breaches += std::string(breaches->empty() ? "" : "; ") + queue + ": " + p.what + " " +
                 p.show(p.value) + (p.lower_bound ? " < " : " > ") + p.show(limit);
  }
  return l;
}

std::string Perf(const std::string& label, double value, const Threshold& t) {
  return " " + label + "=" + Num(value) + ";" + (t.warning ? Num(*t.warning) : "") + ";" +
         (t.critical ? Num(*t.critical) : "");
}

}  // namespace

CheckResult EvaluateCheck(const StatusReport& report, const CheckThresholds& t) {
  CheckResult result;
  std::string breaches, perf;
  std::int64_t dlq = 0, consumers = 0;
  for (const QueueRow& q : report.queues) {
    const double lag = static_cast<double>(q.MaxLag(report.now).count());
    const Probe probes[] = {
        {"dlq", static_cast<double>(q.state.dlq.size), t.max_dlq, false, Plain},
        {"dlq growth", static_cast<double>(q.state.dlq.added_since), t.max_dlq_growth, false,
         Plain},
        {"failure ratio", q.totals.FailureRatio(), t.max_failure_ratio, false, Plain},
        {"lag", lag, t.max_lag, false, Seconds},
        {"consumers", static_cast<double>(q.state.consumers.size()), t.min_consumers, true, Plain},
    };
    for (const Probe& p : probes) {
      CheckLevel l = Evaluate(q.state.queue, p, &breaches);
      if (static_cast<int>(l) > static_cast<int>(result.level)) result.level = l;
    }
    dlq += q.state.dlq.size;
    consumers += static_cast<std::int64_t>(q.state.consumers.size());
    const std::string& n = q.state.queue;
    perf +=
        Perf("dlq_" + n, static_cast<double>(q.state.dlq.size), t.max_dlq) +
        Perf("dlq_growth_" + n, static_cast<double>(q.state.dlq.added_since), t.max_dlq_growth) +
        Perf("failure_ratio_" + n, q.totals.FailureRatio(), t.max_failure_ratio) +
        Perf("lag_seconds_" + n, lag / 1000.0,
             {t.max_lag.warning ? std::optional<double>(*t.max_lag.warning / 1000) : std::nullopt,
              t.max_lag.critical ? std::optional<double>(*t.max_lag.critical / 1000)
                                 : std::nullopt}) +
        Perf("consumers_" + n, static_cast<double>(q.state.consumers.size()), t.min_consumers);
  }
  std::string summary = report.queues.empty()
                            ? "no queues"
                            : std::to_string(report.queues.size()) + " queue" +
                                  (report.queues.size() == 1 ? "" : "s") + ", dlq " +
                                  std::to_string(dlq) + ", " + std::to_string(consumers) +
                                  " consumer" + (consumers == 1 ? "" : "s");
  result.line = std::string("EVT ") + LevelName(result.level) + " - " +
                (breaches.empty() ? summary : breaches) + (perf.empty() ? "" : " |" + perf);
  return result;
}

CheckResult UnknownCheck(const std::string& why) {
  return {CheckLevel::kUnknown, std::string("EVT UNKNOWN - ") + why};
}

}  // namespace evt
