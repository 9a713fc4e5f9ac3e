// Dead-letter records and the filters of evt-dlq and evt-replay: the rules every admin
// store (broker or file) applies the same way.
#include <fnmatch.h>

#include <algorithm>

#include "evt/queue_admin.h"

namespace evt {
namespace {

std::string StringField(const Json& object, const char* name) {
  if (!object.is_object()) return {};
  auto it = object.find(name);
  return it != object.end() && it->is_string() ? it->get<std::string>() : std::string();
}

bool TypeMatches(const std::string& glob, const std::string& type) {
  return glob.empty() || ::fnmatch(glob.c_str(), type.c_str(), 0) == 0;
}

bool TimeMatches(const RecordFilter& f, UnixMillis t) {
  if (f.since && t < *f.since) return false;
  if (f.until && t >= *f.until) return false;
  return true;
}

bool IdMatches(const std::vector<std::string>& ids, const std::string& id,
               const std::string& event_id) {
  if (ids.empty()) return true;
  return std::any_of(ids.begin(), ids.end(), [&](const std::string& want) {
    return want == id || (!event_id.empty() && want == event_id);
  });
}

// A dead-letter record's optional integer field.
Result<std::int64_t> IntField(const Json& object, const char* name) {
  auto it = object.find(name);
  if (it == object.end() || it->is_null()) return std::int64_t{0};
  if (!it->is_number_integer() && !it->is_number_unsigned()) {
    return Status::InvalidArgument(std::string(name) + ": must be an integer");
  }
  return it->get<std::int64_t>();
}

}  // namespace

std::string DeadLetterRecord::event_id() const { return StringField(letter.event, "event_id"); }
std::string DeadLetterRecord::event_type() const { return StringField(letter.event, "event_type"); }

UnixMillis DeadLetterRecord::time() const {
  if (!plain_event) return letter.failed_at;
  Result<UnixMillis> t = ParseRfc3339(StringField(letter.event, "occurred_at"));
  return t.ok() ? *t : 0;
}

bool RecordMatches(const RecordFilter& f, const DeadLetterRecord& r) {
  if (!TypeMatches(f.type_glob, r.event_type())) return false;
  if (!TimeMatches(f, r.time())) return false;
  if (!f.category.empty() && (r.plain_event || CategoryName(r.letter.category) != f.category)) {
    return false;
  }
  if (!f.reason.empty() && (r.plain_event || DeadReasonName(r.letter.reason) != f.reason)) {
    return false;
  }
  return IdMatches(f.ids, r.id, r.event_id());
}

bool HistoryMatches(const RecordFilter& f, const HistoryRecord& r) {
  if (!f.category.empty() || !f.reason.empty()) return false;
  if (!TypeMatches(f.type_glob, StringField(r.event, "event_type"))) return false;
  if (f.since || f.until) {
    Result<UnixMillis> t = ParseRfc3339(StringField(r.event, "occurred_at"));
    if (!t.ok() || !TimeMatches(f, *t)) return false;
  }
  return IdMatches(f.ids, r.id, StringField(r.event, "event_id"));
}

Result<DeadLetterRecord> DeadLetterFromJson(const Json& object) {
  if (!object.is_object()) return Status::InvalidArgument("expected a JSON object");
  DeadLetterRecord r;
  const bool dead =
      object.contains("failed_at") && (object.contains("event") || object.contains("raw"));
  if (!dead) {
    if (!object.contains("event_type") && !object.contains("specversion")) {
      return Status::InvalidArgument(
          "neither a dead-letter record (failed_at, event) nor an event (event_type)");
    }
    r.plain_event = true;
    r.letter.event = object;
    return r;
  }
  Result<UnixMillis> failed = ParseRfc3339(StringField(object, "failed_at"));
  if (!failed.ok()) return Status::InvalidArgument("failed_at: " + failed.status().message());
  r.letter.failed_at = *failed;
  const std::string reason = StringField(object, "reason");
  r.letter.reason = DeadReasonFromName(reason);
  const std::string category = StringField(object, "category");
  r.letter.category = category.empty() ? Category::kNone : ParseCategory(category);
  r.letter.error = StringField(object, "error");
  r.letter.consumer = StringField(object, "consumer");
  Result<std::int64_t> attempts = IntField(object, "attempts");
  if (!attempts.ok()) return attempts.status();
  r.letter.attempts = static_cast<int>(*attempts);
  Result<std::int64_t> line = IntField(object, "line");
  if (!line.ok()) return line.status();
  r.letter.line = static_cast<std::uint64_t>(std::max<std::int64_t>(0, *line));
  r.stream_id = StringField(object, "stream_id");
  auto ev = object.find("event");
  if (ev != object.end() && ev->is_object()) {
    r.letter.event = *ev;
  } else {
    r.letter.raw = StringField(object, "raw");
  }
  return r;
}

}  // namespace evt
