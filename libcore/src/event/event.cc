#include "evt/event.h"

#include <unistd.h>

#include <charconv>
#include <cstdint>
#include <exception>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/json_text.h"
#include "event/cloudevents.h"
#include "event/field_rules.h"
#include "evt/rfc3339.h"
#include "evt/ulid.h"

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

// The input's members sorted into the contract's slots in one pass; the rest are unknown.
struct Input {
  bool cloudevents = false;
  const std::string_view* names = kEvtNames;  // the names the input gives the fields
  Json::object_t* members = nullptr;
  Json* slot[field::kCount] = {};
  Json::object_t carried;  // the evt fields a CloudEvent carried in its evtfields extension
  std::size_t unknown_count = 0;

  int FieldOf(std::string_view key) const { return cloudevents ? CeField(key) : EvtField(key); }
};

Status SortInput(Json::object_t* in, Input* input) {
  input->members = in;
  for (const auto& kv : *in) {
    if (kv.first == "specversion") {
      input->cloudevents = true;
      input->names = kCeNames;
      if (Status s = ReadCloudEvent(in, &input->carried); !s.ok()) return s;
      break;
    }
  }
  input->unknown_count = input->carried.size();
  for (auto& kv : *in) {
    const int f = input->FieldOf(kv.first);
    if (f >= 0) {
      input->slot[f] = &kv.second;
    } else {
      ++input->unknown_count;
    }
  }
  return {};
}

// Each Add* below checks one field's rule and appends the field to `obj`, from the input or
// from the defaults. `obj` is reserved up front, so members are appended with emplace_back,
// skipping ordered_map's linear duplicate search (the keys are distinct by construction).

Status AddSchemaVersion(const Input& in, Json::object_t* obj) {
  if (const Json* v = in.slot[field::kSchemaVersion]) {
    if (Status s = CheckSchemaVersion(*v); !s.ok()) return s;
  }
  obj->emplace_back("schema_version", kSchemaVersion);
  return {};
}

Status AddEventId(const Input& in, const EventDefaults& defaults, UnixMillis now,
                  Json::object_t* obj) {
  if (Json* v = in.slot[field::kEventId]) {
    if (Status s = CheckEventId(in.names[field::kEventId], *v); !s.ok()) return s;
    obj->emplace_back("event_id", std::move(*v));
  } else if (!defaults.event_id.empty()) {
    Json id = defaults.event_id;
    if (Status s = CheckEventId("event_id", id); !s.ok()) return s;
    obj->emplace_back("event_id", std::move(id));
  } else {
    obj->emplace_back("event_id", NewEventId(now));
  }
  return {};
}

Status AddEventType(const Input& in, Json::object_t* obj) {
  Json* v = in.slot[field::kEventType];
  if (v == nullptr) return Invalid(in.names[field::kEventType], "is required");
  if (Status s = CheckEventType(in.names[field::kEventType], *v); !s.ok()) return s;
  obj->emplace_back("event_type", std::move(*v));
  return {};
}

Status AddOccurredAt(const Input& in, UnixMillis now, Json::object_t* obj) {
  Json* v = in.slot[field::kOccurredAt];
  if (v == nullptr) {
    obj->emplace_back("occurred_at", FormatRfc3339Millis(now));
    return {};
  }
  const std::string_view name = in.names[field::kOccurredAt];
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
    obj->emplace_back("occurred_at", std::move(*v));
  } else {
    obj->emplace_back("occurred_at", FormatRfc3339Millis(*t));
  }
  return {};
}

// A default source goes through the same check: a bad --source is reported like data.
Status AddSource(const Input& in, const EventDefaults& defaults, Json::object_t* obj) {
  if (Json* v = in.slot[field::kSource]) {
    if (Status s = CheckString(in.names[field::kSource], *v, 255); !s.ok()) return s;
    obj->emplace_back("source", std::move(*v));
    return {};
  }
  Json source = defaults.source.empty() ? HostName() : defaults.source;
  if (Status s = CheckString("source", source, 255); !s.ok()) return s;
  obj->emplace_back("source", std::move(source));
  return {};
}

// idempotency_key and correlation_id, each the event_id by default.
Status AddKeys(const Input& in, const std::string& event_id, Json::object_t* obj) {
  for (int f : {field::kIdempotencyKey, field::kCorrelationId}) {
    if (Json* v = in.slot[f]) {
      if (Status s = CheckString(in.names[f], *v, 255); !s.ok()) return s;
      obj->emplace_back(kEvtNames[f], std::move(*v));
    } else {
      obj->emplace_back(kEvtNames[f], event_id);
    }
  }
  return {};
}

Status AddRetryCount(const Input& in, Json::object_t* obj) {
  std::int64_t retry_count = 0;
  if (const Json* v = in.slot[field::kRetryCount]) {
    Status s = GetRetryCount(in.names[field::kRetryCount], *v, in.cloudevents, &retry_count);
    if (!s.ok()) return s;
  }
  obj->emplace_back("retry_count", retry_count);
  return {};
}

// `check_nesting`: the payload may nest too deep for the event to be read back (it was not
// parsed from the event's own text, which ParseJson bounds already).
Status AddPayload(const Input& in, bool check_nesting, Json::object_t* obj) {
  Json* v = in.slot[field::kPayload];
  if (v == nullptr) {
    obj->emplace_back("payload", Json::object());
    return {};
  }
  const std::string_view name = in.names[field::kPayload];
  if (!v->is_object()) return WrongType(name, "a JSON object", *v);
  if (check_nesting) {
    if (Status s = CheckNesting(name, *v, 1); !s.ok()) return s;
  }
  obj->emplace_back("payload", std::move(*v));
  return {};
}

// The unknown fields, in input order, then those a CloudEvent carried.
Status AddUnknown(const Input& in, bool check_nesting, Json::object_t* obj) {
  if (in.unknown_count == 0) return {};
  for (auto& kv : *in.members) {
    if (in.FieldOf(kv.first) >= 0) continue;
    if (check_nesting) {
      if (Status s = CheckNesting(kv.first, kv.second, 1); !s.ok()) return s;
    }
    obj->emplace_back(kv.first, std::move(kv.second));
  }
  for (auto& kv : in.carried) obj->emplace_back(kv.first, std::move(kv.second));
  return {};
}

Status CheckSize(const Json& event, std::size_t max_event_bytes) {
  std::size_t size = 0;
  if (!LargerThan(event, max_event_bytes, &size)) return {};
  return Status::InvalidArgument("event is " + std::to_string(size) +
                                 " bytes, more than --max-event-bytes " +
                                 std::to_string(max_event_bytes) +
                                 " (keep the payload small: pass references to large blobs)");
}

// `parsed`: `object` comes from ParseJson, whose depth bound holds for the event too (apart
// from a CloudEvent's data_base64, decoded into the payload one level deeper).
Result<Event> MakeEventImpl(Json object, const EventDefaults& defaults, bool parsed) {
  if (!object.is_object()) {
    return Status::InvalidArgument("expected a JSON object (got " + DescribeJson(object) + ")");
  }
  Input in;
  if (Status s = SortInput(&object.get_ref<Json::object_t&>(), &in); !s.ok()) return s;
  const bool check_nesting = !parsed || in.cloudevents;
  Json out(Json::value_t::object);
  auto& obj = out.get_ref<Json::object_t&>();
  obj.reserve(field::kCount + in.unknown_count);
  if (Status s = AddSchemaVersion(in, &obj); !s.ok()) return s;
  const UnixMillis now = defaults.now_ms >= 0 ? defaults.now_ms : NowUnixMillis();
  if (Status s = AddEventId(in, defaults, now, &obj); !s.ok()) return s;
  const std::string& event_id = obj.back().second.get_ref<const std::string&>();
  Status s = AddEventType(in, &obj);
  if (s.ok()) s = AddOccurredAt(in, now, &obj);
  if (s.ok()) s = AddSource(in, defaults, &obj);
  if (s.ok()) s = AddKeys(in, event_id, &obj);
  if (s.ok()) s = AddRetryCount(in, &obj);
  if (s.ok()) s = AddPayload(in, check_nesting, &obj);
  if (s.ok()) s = AddUnknown(in, check_nesting, &obj);
  if (s.ok()) s = CheckSize(out, defaults.max_event_bytes);
  if (!s.ok()) return s;
  return Event{std::move(out)};
}

Result<Event> MakeEventNoThrow(Json object, const EventDefaults& defaults, bool parsed) {
  try {
    return MakeEventImpl(std::move(object), defaults, parsed);
  } catch (const std::exception& e) {
    // Only allocation failures (or a bug) get here; keep the promise of no exceptions.
    return Status::Internal(std::string("making an event: ") + e.what());
  }
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
  return MakeEventNoThrow(std::move(object), defaults, /*parsed=*/false);
}

Result<Event> ParseEvent(std::string_view text, const EventDefaults& defaults) {
  Result<Json> object = ParseJson(text);
  if (!object.ok()) return object.status();
  return MakeEventNoThrow(std::move(*object), defaults, /*parsed=*/true);
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
