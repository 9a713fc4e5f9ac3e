// The event contract, version 1 (DESIGN.md, "The event contract"; evt(7)).
//
// An Event is a validated, defaulted, normalized JSON object. It keeps unknown
// top-level fields as they came (forward compatibility) and serializes with a
// stable field order: schema_version, event_id, event_type, occurred_at, source,
// idempotency_key, correlation_id, retry_count, payload, then unknown fields in
// input order.
#pragma once

#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "evt/defaults.h"
#include "evt/rfc3339.h"
#include "evt/status.h"

namespace evt {

inline constexpr int kSchemaVersion = 1;
inline constexpr std::size_t kDefaultMaxEventBytes = SharedDefaults::kMaxEventBytes;

using Json = nlohmann::ordered_json;

// Output encodings of an event.
enum class EventFormat { kEvt, kCloudEvents };

// Parses "evt" or "cloudevents".
Result<EventFormat> ParseEventFormat(std::string_view text);

struct Event {
  // The whole event object, contract fields first. Always valid under v1 once an
  // Event has been returned by one of the functions below.
  Json doc;

  // Field accessors. REQUIRES: `doc` is a valid v1 event (as MakeEvent returns it).
  const std::string& event_id() const { return Str("event_id"); }
  const std::string& event_type() const { return Str("event_type"); }
  const std::string& idempotency_key() const { return Str("idempotency_key"); }
  const std::string& correlation_id() const { return Str("correlation_id"); }
  const std::string& source() const { return Str("source"); }
  const std::string& occurred_at() const { return Str("occurred_at"); }
  std::int64_t retry_count() const { return doc.at("retry_count").get<std::int64_t>(); }
  void set_retry_count(std::int64_t n) { doc["retry_count"] = n; }

 private:
  const std::string& Str(const char* key) const {
    return doc.at(key).get_ref<const std::string&>();
  }
};

// What to fill in when a field is missing. (Only for evt events: a CloudEvent must carry
// its own id, source and type.)
struct EventDefaults {
  std::string source;      // default `source`; empty means the host name
  UnixMillis now_ms = -1;  // `occurred_at` and the ULID time; -1 means now
  std::string event_id;    // default `event_id`; empty means a new ULID for now_ms
  std::size_t max_event_bytes = kDefaultMaxEventBytes;  // bound on the serialized event
};

// `base` with the defaults of an event read from the stream entry `entry_id`
// ("<ms>-<seq>", a stream entry id), for producers that leave fields out: event_id is
// EventIdAt(ms, seq) and occurred_at is that millisecond. Every delivery of the entry
// (a redelivery after a crash, a claim) then gives the event the same identity, default
// idempotency key and correlation id, and time. `base` is returned unchanged when
// `entry_id` has another form or a time past the ULID's 48 bits.
EventDefaults ForStreamEntry(std::string_view entry_id, EventDefaults base = {});

// Validates `object` (an evt v1 object, or a CloudEvents 1.0 JSON object, recognised by
// its `specversion` and checked as strictly as its spec asks, evt(7) CLOUDEVENTS), fills
// the defaults of missing fields, normalizes `occurred_at` to UTC milliseconds and
// orders the fields. Returns InvalidArgument whose message
// names the first field and the rule it broke, e.g.
//   "event_type: must match ^[a-z0-9][a-z0-9_.-]*$ (got \"Bad Type\")".
// A `schema_version` above 1 gives "schema_version: 2 is newer than this reader's 1".
// A payload or unknown field nested so deep that the event would pass 128 levels (the
// bound of ParseEvent) gives "payload: must nest at most 127 levels (...)".
Result<Event> MakeEvent(Json object, const EventDefaults& defaults = {});

// Parses one JSON text (RFC 8259) in time linear in its size, wide objects included. A
// key repeated in an object keeps its first place and its last value. Nesting deeper
// than 128 levels is refused. Invalid JSON gives InvalidArgument "invalid JSON: <reason>"
// (one line, the parser's reason, e.g. "column 6: syntax error while parsing value ...").
Result<Json> ParseJson(std::string_view text);

// Parses one line of JSON text (ParseJson) then calls MakeEvent. Invalid JSON gives
// InvalidArgument "invalid JSON: <parser's reason>"; a non-object "expected a JSON object";
// nesting deeper than 128 levels is refused as invalid JSON.
Result<Event> ParseEvent(std::string_view text, const EventDefaults& defaults = {});

// True when the status from ParseEvent/MakeEvent is about a schema_version this
// reader does not know (a permanent `data` failure for a consumer, not garbage).
bool IsNewerSchemaVersion(const Status& status);

// One line of compact JSON (no newline) in the chosen format.
std::string Serialize(const Event& event, EventFormat format = EventFormat::kEvt);

// The CloudEvents 1.0 JSON form of `event`, always a valid CloudEvent: specversion, id,
// type, source, time, datacontenttype, data (or data_base64 for a payload that came as
// binary data), the extensions idempotencykey, correlationid, retrycount, then the
// unknown fields that are valid attributes, then `evtfields`: a string holding a JSON
// object of the unknown fields that are not (such as `my_field`, `Tenant`, an object
// value, or a name written above), which MakeEvent reads back.
Json ToCloudEvents(const Event& event);

// The name of this machine (cached), used as the default `source`.
const std::string& HostName();

// "host:pid": the default name of a worker (its consumer name in logs, dead letters and a
// durable queue's consumer group) when --consumer is not given.
std::string DefaultConsumerName();

}  // namespace evt
