// evt-status --summary: the per-type table of a stdio pipeline's run, from evt-work's
// result lines (one JSON object per event: event_id, event_type, status, attempts,
// duration_ms, and for a failure reason, error, category).
#include <sstream>

#include "evt/status_report.h"

namespace evt {
namespace {

std::int64_t IntField(const Json& j, const char* name) {
  auto it = j.find(name);
  return it != j.end() && it->is_number_integer() ? it->get<std::int64_t>() : 0;
}

std::string StrField(const Json& j, const char* name) {
  auto it = j.find(name);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

}  // namespace

std::vector<TypeStats> SummarizeResults(const std::string& text, std::int64_t* skipped) {
  std::map<std::string, TypeStats> by_type;
  *skipped = 0;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    Result<Json> doc = ParseJson(line);
    const std::string status = doc.ok() && doc->is_object() ? StrField(*doc, "status") : "";
    if (status.empty() || StrField(*doc, "event_id").empty()) {
      ++*skipped;
      continue;
    }
    std::string type = StrField(*doc, "event_type");
    if (type.empty()) type = "-";
    TypeStats& t = by_type[type];
    t.type = type;
    const std::int64_t attempts = IntField(*doc, "attempts");
    t.attempts += attempts;
    // Every attempt before the last one was a retry.
    if (attempts > 1) t.retried += attempts - 1;
    if (status == "done") {
      ++t.done;
    } else if (status == "failed") {
      ++t.failed;
      if (std::string r = StrField(*doc, "reason"); !r.empty()) ++t.reasons[r];
    } else if (status == "duplicate") {
      ++t.duplicate;
    } else {
      ++t.reasons[status];  // interrupted: stopped before an outcome
    }
    if (std::string c = StrField(*doc, "category"); !c.empty()) ++t.categories[c];
    // duration_ms is the handler time summed over the event's attempts.
    if (attempts > 0) {
      ++t.duration[HistogramBucket(static_cast<double>(IntField(*doc, "duration_ms")))];
    }
  }
  std::vector<TypeStats> out;
  for (auto& [type, t] : by_type) out.push_back(std::move(t));
  return out;
}

}  // namespace evt
