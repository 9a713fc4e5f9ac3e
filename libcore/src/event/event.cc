#include "evt/event.h"

#include <unistd.h>

#include <charconv>
#include <cmath>
#include <cstdint>
#include <exception>
#include <limits>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "event/cloudevents.h"
#include "evt/rfc3339.h"
#include "evt/ulid.h"
#include "base/json_text.h"

namespace evt {
namespace {

// The contract's fields, in output order.
namespace field {
enum : int {
  kSchemaVersion,
  kEventId,
  kEventType,
  kOccurredAt,
  kSource,
  kIdempotencyKey,
  kCorrelationId,
  kRetryCount,
  kPayload,
  kCount
};
}  // namespace field

constexpr std::string_view kEvtNames[field::kCount] = {
    "schema_version",  "event_id",       "event_type",  "occurred_at", "source",
    "idempotency_key", "correlation_id", "retry_count", "payload"};
// The CloudEvents attribute each field is read from and written to ("" = none).
constexpr std::string_view kCeNames[field::kCount] = {
    "", "id", "type", "time", "source", "idempotencykey", "correlationid", "retrycount", "data"};

int EvtField(std::string_view key) {
  for (int i = 0; i < field::kCount; ++i) {
    if (key == kEvtNames[i]) return i;
  }
  return -1;
}

// The contract field a member of a CloudEvents object (as ReadCloudEvent leaves it) is
// read into, or -1 for an attribute kept as an unknown field.
int CeField(std::string_view key) {
  for (int i = 1; i < field::kCount; ++i) {
    if (key == kCeNames[i]) return i;
  }
  return -1;
}

Status Invalid(std::string_view name, std::string_view rule) {
  std::string m;
  m.reserve(name.size() + 2 + rule.size());
  m.append(name).append(": ").append(rule);
  return Status::InvalidArgument(std::move(m));
}

Status WrongType(std::string_view name, const char* expected, const Json& v) {
  return Invalid(name, std::string("must be ") + expected + " (got " + DescribeJson(v) + ")");
}

// Characters, as JSON Schema's maxLength counts them: code points, not bytes.
std::size_t CountChars(const std::string& s) {
  std::size_t n = 0;
  for (char c : s) n += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  return n;
}

// Checks that `v` is a string of 1..max characters.
Status CheckString(std::string_view name, const Json& v, std::size_t max) {
  if (!v.is_string()) return WrongType(name, "a string", v);
  const auto& s = v.get_ref<const std::string&>();
  if (s.empty() || (s.size() > max && CountChars(s) > max)) {
    return Invalid(name, "must be 1-" + std::to_string(max) + " characters long (got " +
                             std::to_string(CountChars(s)) + ")");
  }
  return {};
}

bool IsIdChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '.' || c == ':' || c == '-';
}

Status CheckEventId(std::string_view name, const Json& v) {
  Status s = CheckString(name, v, 128);
  if (!s.ok()) return s;
  const auto& id = v.get_ref<const std::string&>();
  for (char c : id) {
    if (!IsIdChar(c)) {
      return Invalid(name, "must be 1-128 of [A-Za-z0-9_.:-] (got " + Quoted(id) + ")");
    }
  }
  return {};
}

Status CheckEventType(std::string_view name, const Json& v) {
  Status s = CheckString(name, v, 255);
  if (!s.ok()) return s;
  // ^[a-z0-9][a-z0-9_.-]*$ by hand: std::regex would cost more than the whole parse.
  const auto& t = v.get_ref<const std::string&>();
  for (std::size_t i = 0; i < t.size(); ++i) {
    const char c = t[i];
    const bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                    (i > 0 && (c == '_' || c == '.' || c == '-'));
    if (!ok) return Invalid(name, "must match ^[a-z0-9][a-z0-9_.-]*$ (got " + Quoted(t) + ")");
  }
  return {};
}

enum class IntKind { kInteger, kNotInteger, kTooLarge };  // kTooLarge: above INT64_MAX

// JSON Schema's "integer": any number without a fractional part, so 3.0 counts (a
// Python or JavaScript producer may write it) and is normalized to 3.
IntKind ToInt64(const Json& v, std::int64_t* out) {
  switch (v.type()) {
    case Json::value_t::number_integer:
      *out = v.get<std::int64_t>();
      return IntKind::kInteger;
    case Json::value_t::number_unsigned: {
      const auto u = v.get<std::uint64_t>();
      if (u > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
        return IntKind::kTooLarge;
      }
      *out = static_cast<std::int64_t>(u);
      return IntKind::kInteger;
    }
    case Json::value_t::number_float: {
      const double d = v.get<double>();
      if (!std::isfinite(d) || d != std::trunc(d)) return IntKind::kNotInteger;
      if (d >= 9223372036854775808.0) return IntKind::kTooLarge;
      // Hugely negative values only need to fail the ">= 0" rules, which INT64_MIN does.
      *out = d < -9223372036854775808.0 ? std::numeric_limits<std::int64_t>::min()
                                        : static_cast<std::int64_t>(d);
      return IntKind::kInteger;
    }
    default:
      return IntKind::kNotInteger;
  }
}

// retry_count (evt) or retrycount (CloudEvents, where a string of digits is accepted too:
// many CloudEvents SDKs carry every extension as a string).
Status GetRetryCount(std::string_view name, const Json& v, bool allow_digits, std::int64_t* out) {
  const char* rule = allow_digits ? "an integer >= 0 or a string of digits" : "an integer >= 0";
  if (allow_digits && v.is_string()) {
    const auto& s = v.get_ref<const std::string&>();
    std::uint64_t n = 0;
    bool ok = !s.empty() && s.size() <= 19;
    for (char c : s) {
      ok = ok && c >= '0' && c <= '9';
      if (ok) n = n * 10 + static_cast<std::uint64_t>(c - '0');
    }
    if (!ok || n > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
      return WrongType(name, rule, v);
    }
    *out = static_cast<std::int64_t>(n);
    return {};
  }
  switch (ToInt64(v, out)) {
    case IntKind::kNotInteger:
      return WrongType(name, rule, v);
    case IntKind::kTooLarge:
      return Invalid(name, "must be at most 9223372036854775807 (got " + DescribeJson(v) + ")");
    case IntKind::kInteger:
      break;
  }
  if (*out < 0) return Invalid(name, std::string("must be >= 0 (got ") + DescribeJson(v) + ")");
  return {};
}

constexpr std::string_view kNewerSuffix = " is newer than this reader's 1";
static_assert(kSchemaVersion == 1, "update kNewerSuffix");

Status CheckSchemaVersion(const Json& v) {
  std::int64_t n = 0;
  switch (ToInt64(v, &n)) {
    case IntKind::kNotInteger:
      return WrongType("schema_version", "an integer", v);
    case IntKind::kTooLarge:
      n = std::numeric_limits<std::int64_t>::max();
      break;
    case IntKind::kInteger:
      break;
  }
  if (n < 1) return Invalid("schema_version", "must be >= 1 (got " + DescribeJson(v) + ")");
  if (n > kSchemaVersion) {
    const std::string shown = v.is_number_float() ? std::to_string(n) : DescribeJson(v);
    return Invalid("schema_version", shown + std::string(kNewerSuffix));
  }
  return {};
}

Result<Event> MakeEventImpl(Json object, const EventDefaults& defaults) {
  if (!object.is_object()) {
    return Status::InvalidArgument("expected a JSON object (got " + DescribeJson(object) + ")");
  }
  auto& in = object.get_ref<Json::object_t&>();

  bool cloudevents = false;
  for (const auto& kv : in) {
    if (kv.first == "specversion") {
      cloudevents = true;
      break;
    }
  }
  const std::string_view* names = cloudevents ? kCeNames : kEvtNames;
  // The evt fields that a CloudEvent carried in its evtfields extension.
  Json::object_t carried;
  if (cloudevents) {
    Status s = ReadCloudEvent(&in, &carried);
    if (!s.ok()) return s;
  }

  // One pass sorts the input's members into the contract's slots; the rest are unknown.
  Json* slot[field::kCount] = {};
  std::size_t unknown_count = carried.size();
  for (auto& kv : in) {
    const int f = cloudevents ? CeField(kv.first) : EvtField(kv.first);
    if (f >= 0) {
      slot[f] = &kv.second;
    } else {
      ++unknown_count;
    }
  }

  Json out(Json::value_t::object);
  auto& obj = out.get_ref<Json::object_t&>();
  // Reserved up front: the pointers below into `obj` stay valid, and members are
  // appended with emplace_back, skipping ordered_map's linear duplicate search (the
  // keys are distinct by construction).
  obj.reserve(field::kCount + unknown_count);

  if (const Json* v = slot[field::kSchemaVersion]) {
    Status s = CheckSchemaVersion(*v);
    if (!s.ok()) return s;
  }
  obj.emplace_back("schema_version", kSchemaVersion);

  const UnixMillis now = defaults.now_ms >= 0 ? defaults.now_ms : NowUnixMillis();

  if (Json* v = slot[field::kEventId]) {
    Status s = CheckEventId(names[field::kEventId], *v);
    if (!s.ok()) return s;
    obj.emplace_back("event_id", std::move(*v));
  } else if (!defaults.event_id.empty()) {
    Json id = defaults.event_id;
    Status s = CheckEventId("event_id", id);
    if (!s.ok()) return s;
    obj.emplace_back("event_id", std::move(id));
  } else {
    obj.emplace_back("event_id", NewEventId(now));
  }
  const std::string& event_id = obj.back().second.get_ref<const std::string&>();

  if (Json* v = slot[field::kEventType]) {
    Status s = CheckEventType(names[field::kEventType], *v);
    if (!s.ok()) return s;
    obj.emplace_back("event_type", std::move(*v));
  } else {
    return Invalid(names[field::kEventType], "is required");
  }

  if (Json* v = slot[field::kOccurredAt]) {
    const std::string_view name = names[field::kOccurredAt];
    if (!v->is_string()) return WrongType(name, "an RFC 3339 timestamp string", *v);
    const auto& text = v->get_ref<const std::string&>();
    Result<UnixMillis> t = ParseRfc3339(text);
    if (!t.ok()) {
      return Invalid(name, "must be an RFC 3339 timestamp such as 2026-02-27T04:55:00Z: " +
                               t.status().message() + " (got " + Quoted(text) + ")");
    }
    // The common case is already normal ("...T...sss.mmmZ"): keep the string.
    const bool normal = text.size() == 24 && text[10] == 'T' && text[19] == '.' && text[23] == 'Z';
    if (normal) {
      obj.emplace_back("occurred_at", std::move(*v));
    } else {
      obj.emplace_back("occurred_at", FormatRfc3339Millis(*t));
    }
  } else {
    obj.emplace_back("occurred_at", FormatRfc3339Millis(now));
  }

  // A default source goes through the same check: a bad --source is reported like data.
  if (Json* v = slot[field::kSource]) {
    Status s = CheckString(names[field::kSource], *v, 255);
    if (!s.ok()) return s;
    obj.emplace_back("source", std::move(*v));
  } else {
    Json source = defaults.source.empty() ? HostName() : defaults.source;
    Status s = CheckString("source", source, 255);
    if (!s.ok()) return s;
    obj.emplace_back("source", std::move(source));
  }

  for (int f : {field::kIdempotencyKey, field::kCorrelationId}) {
    if (Json* v = slot[f]) {
      Status s = CheckString(names[f], *v, 255);
      if (!s.ok()) return s;
      obj.emplace_back(kEvtNames[f], std::move(*v));
    } else {
      obj.emplace_back(kEvtNames[f], event_id);
    }
  }

  std::int64_t retry_count = 0;
  if (const Json* v = slot[field::kRetryCount]) {
    Status s = GetRetryCount(names[field::kRetryCount], *v, cloudevents, &retry_count);
    if (!s.ok()) return s;
  }
  obj.emplace_back("retry_count", retry_count);

  if (Json* v = slot[field::kPayload]) {
    if (!v->is_object()) return WrongType(names[field::kPayload], "a JSON object", *v);
    obj.emplace_back("payload", std::move(*v));
  } else {
    obj.emplace_back("payload", Json::object());
  }

  if (unknown_count > 0) {
    for (auto& kv : in) {
      const int f = cloudevents ? CeField(kv.first) : EvtField(kv.first);
      if (f < 0) obj.emplace_back(kv.first, std::move(kv.second));
    }
    for (auto& kv : carried) obj.emplace_back(kv.first, std::move(kv.second));
  }

  std::size_t size = 0;
  if (LargerThan(out, defaults.max_event_bytes, &size)) {
    return Status::InvalidArgument("event is " + std::to_string(size) +
                                   " bytes, more than --max-event-bytes " +
                                   std::to_string(defaults.max_event_bytes) +
                                   " (keep the payload small: pass references to large blobs)");
  }
  return Event{std::move(out)};
}

}  // namespace

Result<EventFormat> ParseEventFormat(std::string_view text) {
  if (text == "evt") return EventFormat::kEvt;
  if (text == "cloudevents") return EventFormat::kCloudEvents;
  return Status::InvalidArgument("format: must be \"evt\" or \"cloudevents\" (got " + Quoted(text) +
                                 ")");
}

EventDefaults ForStreamEntry(std::string_view entry_id, EventDefaults base) {
  const std::size_t dash = entry_id.find('-');
  if (dash == std::string_view::npos) return base;
  auto number = [](std::string_view digits, std::uint64_t* out) {
    const char* end = digits.data() + digits.size();
    const auto r = std::from_chars(digits.data(), end, *out);
    return !digits.empty() && digits.front() != '+' && r.ec == std::errc() && r.ptr == end;
  };
  std::uint64_t ms = 0, seq = 0;
  if (!number(entry_id.substr(0, dash), &ms) || !number(entry_id.substr(dash + 1), &seq) ||
      ms >= (std::uint64_t{1} << 48)) {
    return base;
  }
  base.event_id = EventIdAt(static_cast<std::int64_t>(ms), seq);
  base.now_ms = static_cast<UnixMillis>(ms);
  return base;
}

Result<Event> MakeEvent(Json object, const EventDefaults& defaults) {
  try {
    return MakeEventImpl(std::move(object), defaults);
  } catch (const std::exception& e) {
    // Only allocation failures (or a bug) get here; keep the promise of no exceptions.
    return Status::Internal(std::string("making an event: ") + e.what());
  }
}

Result<Event> ParseEvent(std::string_view text, const EventDefaults& defaults) {
  Result<Json> object = ParseJson(text);
  if (!object.ok()) return object.status();
  return MakeEvent(std::move(*object), defaults);
}

bool IsNewerSchemaVersion(const Status& status) {
  // The exact shape "[...: ]schema_version: <digits> is newer than this reader's 1", so
  // that a quoted value inside another message (always followed by a quote and a
  // parenthesis) cannot pass for it.
  if (status.kind() != Status::Kind::kInvalidArgument) return false;
  std::string_view m = status.message();
  if (m.size() < kNewerSuffix.size() || m.substr(m.size() - kNewerSuffix.size()) != kNewerSuffix) {
    return false;
  }
  m.remove_suffix(kNewerSuffix.size());
  std::size_t digits = 0;
  while (digits < m.size() && m[m.size() - 1 - digits] >= '0' && m[m.size() - 1 - digits] <= '9') {
    ++digits;
  }
  if (digits == 0) return false;
  m.remove_suffix(digits);
  constexpr std::string_view kPrefix = "schema_version: ";
  if (m.size() < kPrefix.size() || m.substr(m.size() - kPrefix.size()) != kPrefix) return false;
  m.remove_suffix(kPrefix.size());
  return m.empty() || (m.size() >= 2 && m.substr(m.size() - 2) == ": ");
}

std::string Serialize(const Event& event, EventFormat format) {
  try {
    if (format == EventFormat::kCloudEvents) {
      return WriteCompact(ToCloudEvents(event));
    }
    return WriteCompact(event.doc);
  } catch (const std::exception&) {
    return std::string();  // out of memory: nothing sensible to write
  }
}

const std::string& HostName() {
  static const std::string name = [] {
    char buf[256] = {};
    if (gethostname(buf, sizeof buf - 1) != 0 || buf[0] == '\0') return std::string("localhost");
    return std::string(buf);
  }();
  return name;
}

std::string DefaultConsumerName() { return HostName() + ":" + std::to_string(::getpid()); }

}  // namespace evt
