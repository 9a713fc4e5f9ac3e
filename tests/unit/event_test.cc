#include "evt/event.h"

#include <catch2/catch.hpp>
#include <string>
#include <utility>

#include "evt/rfc3339.h"
#include "evt/ulid.h"

namespace evt {
namespace {

constexpr UnixMillis kNow = 1772168100000;  // 2026-02-27T04:55:00.000Z
constexpr char kNowText[] = "2026-02-27T04:55:00.000Z";

// A complete, valid v1 event, as a producer writes it.
constexpr char kFull[] =
    R"({"schema_version":1,"event_id":"evt_01KJEQ6E50MVGG8ZD13W37QTS2",)"
    R"("event_type":"server.backup.requested","occurred_at":"2026-02-27T04:55:00.000Z",)"
    R"("source":"web-1","idempotency_key":"backup-2026-02-27","correlation_id":"req-42",)"
    R"("retry_count":2,"payload":{"host":"db1","tags":["a","b"]}})";

EventDefaults Fixed() {
  EventDefaults d;
  d.source = "test-host";
  d.now_ms = kNow;
  return d;
}

Event Ok(Result<Event> r) {
  INFO(r.status().message());
  REQUIRE(r.ok());
  return std::move(r).value();
}

std::string ErrorOf(const Result<Event>& r) {
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().kind() == Status::Kind::kInvalidArgument);
  CHECK(r.status().message().find('\n') == std::string::npos);
  return r.status().message();
}

Event Parse(const std::string& text, const EventDefaults& d = Fixed()) {
  INFO(text);
  return Ok(ParseEvent(text, d));
}

std::string ParseError(const std::string& text, const EventDefaults& d = Fixed()) {
  INFO(text);
  return ErrorOf(ParseEvent(text, d));
}

// The complete event with one field set to `value`.
Result<Event> With(const char* key, Json value, const EventDefaults& d = Fixed()) {
  Json j = Json::parse(kFull);
  j[key] = std::move(value);
  return MakeEvent(std::move(j), d);
}

// The complete event without `key`.
Result<Event> Without(const char* key, const EventDefaults& d = Fixed()) {
  Json j = Json::parse(kFull);
  j.erase(key);
  return MakeEvent(std::move(j), d);
}

std::string Repeat(const std::string& s, int n) {
  std::string out;
  for (int i = 0; i < n; ++i) out += s;
  return out;
}

// --- the whole event -------------------------------------------------------------------

TEST_CASE("a complete event is written back unchanged", "[event]") {
  CHECK(Serialize(Parse(kFull)) == kFull);
}

TEST_CASE("fields are written in the contract's order whatever the input order", "[event]") {
  const std::string shuffled =
      R"({"payload":{"host":"db1","tags":["a","b"]},"retry_count":2,"correlation_id":"req-42",)"
      R"("idempotency_key":"backup-2026-02-27","source":"web-1",)"
      R"("occurred_at":"2026-02-27T04:55:00.000Z","event_type":"server.backup.requested",)"
      R"("event_id":"evt_01KJEQ6E50MVGG8ZD13W37QTS2","schema_version":1})";
  CHECK(Serialize(Parse(shuffled)) == kFull);
}

TEST_CASE("the accessors read the contract fields", "[event]") {
  Event e = Parse(kFull);
  CHECK(e.event_id() == "evt_01KJEQ6E50MVGG8ZD13W37QTS2");
  CHECK(e.event_type() == "server.backup.requested");
  CHECK(e.occurred_at() == kNowText);
  CHECK(e.source() == "web-1");
  CHECK(e.idempotency_key() == "backup-2026-02-27");
  CHECK(e.correlation_id() == "req-42");
  CHECK(e.retry_count() == 2);
  e.set_retry_count(3);
  CHECK(e.retry_count() == 3);
  CHECK(Serialize(e).find(R"("retry_count":3,)") != std::string::npos);
}

TEST_CASE("a minimal event gets every default", "[event]") {
  const Event e = Parse(R"({"event_type":"user.created"})");
  const std::string id = e.event_id();
  REQUIRE(id.size() == 30);
  CHECK(id.substr(0, 4) == "evt_");
  CHECK(IsUlid(id.substr(4)));
  CHECK(Serialize(e) == R"({"schema_version":1,"event_id":")" + id +
                            R"(","event_type":"user.created","occurred_at":")" + kNowText +
                            R"(","source":"test-host","idempotency_key":")" + id +
                            R"(","correlation_id":")" + id + R"(","retry_count":0,"payload":{}})");
}

TEST_CASE("the generated event id carries the defaults' time", "[event]") {
  const Event e = Parse(R"({"event_type":"a"})");
  // The first 10 characters of the ULID encode the millisecond time.
  CHECK(e.event_id().substr(4, 10) == NewEventId(kNow).substr(4, 10));
}

TEST_CASE("events made in a row get increasing ids", "[event]") {
  const std::string a = Parse(R"({"event_type":"a"})").event_id();
  const std::string b = Parse(R"({"event_type":"a"})").event_id();
  CHECK(a < b);
}

TEST_CASE("without a fixed time, occurred_at is now", "[event]") {
  EventDefaults d;
  d.source = "s";
  const UnixMillis before = NowUnixMillis();
  const Event e = Parse(R"({"event_type":"a"})", d);
  const UnixMillis after = NowUnixMillis();
  const UnixMillis at = *ParseRfc3339(e.occurred_at());
  CHECK(at >= before);
  CHECK(at <= after);
}

TEST_CASE("without a default source, the source is the host name", "[event]") {
  EventDefaults d;
  d.now_ms = kNow;
  CHECK_FALSE(HostName().empty());
  CHECK(&HostName() == &HostName());  // cached
  CHECK(Parse(R"({"event_type":"a"})", d).source() == HostName());
}

// --- schema_version ---------------------------------------------------------------------

TEST_CASE("schema_version 1 is accepted and a missing one means 1", "[event][schema_version]") {
  CHECK(Ok(With("schema_version", 1)).doc["schema_version"] == 1);
  CHECK(Ok(Without("schema_version")).doc.begin().key() == "schema_version");
  CHECK(Ok(Without("schema_version")).doc["schema_version"] == 1);
}

TEST_CASE("schema_version written as 1.0 is the integer 1", "[event][schema_version]") {
  const Event e = Ok(With("schema_version", 1.0));
  CHECK(e.doc["schema_version"].is_number_integer());
  CHECK(Serialize(e) == kFull);
}

TEST_CASE("schema_version below 1 or not an integer is rejected", "[event][schema_version]") {
  CHECK(ErrorOf(With("schema_version", 0)) == "schema_version: must be >= 1 (got 0)");
  CHECK(ErrorOf(With("schema_version", -3)) == "schema_version: must be >= 1 (got -3)");
  CHECK(ErrorOf(With("schema_version", "1")) == R"(schema_version: must be an integer (got "1"))");
  CHECK(ErrorOf(With("schema_version", true)) == "schema_version: must be an integer (got true)");
  CHECK(ErrorOf(With("schema_version", 1.5)) == "schema_version: must be an integer (got 1.5)");
  CHECK(ErrorOf(With("schema_version", nullptr)) ==
        "schema_version: must be an integer (got null)");
}

TEST_CASE("a newer schema_version is reported as such, before any other rule",
          "[event][schema_version]") {
  const Result<Event> r = ParseEvent(R"({"schema_version":2,"event_type":"Not Valid"})", Fixed());
  CHECK(ErrorOf(r) == "schema_version: 2 is newer than this reader's 1");
  CHECK(IsNewerSchemaVersion(r.status()));
  CHECK(ParseError(R"({"schema_version":2.0})") ==
        "schema_version: 2 is newer than this reader's 1");
  CHECK(ParseError(R"({"schema_version":18446744073709551615})") ==
        "schema_version: 18446744073709551615 is newer than this reader's 1");
}

TEST_CASE("IsNewerSchemaVersion recognizes only the newer-version status",
          "[event][schema_version]") {
  CHECK(IsNewerSchemaVersion(
      Status::InvalidArgument("schema_version: 7 is newer than this reader's 1")));
  // A caller may put the line number in front.
  CHECK(IsNewerSchemaVersion(
      Status::InvalidArgument("line 3: schema_version: 2 is newer than this reader's 1")));
  CHECK_FALSE(IsNewerSchemaVersion(Status()));
  CHECK_FALSE(
      IsNewerSchemaVersion(Status::Internal("schema_version: 2 is newer than this reader's 1")));
  CHECK_FALSE(IsNewerSchemaVersion(ParseEvent("{", Fixed()).status()));
  CHECK_FALSE(IsNewerSchemaVersion(With("schema_version", 0).status()));
  CHECK_FALSE(IsNewerSchemaVersion(With("event_type", "X").status()));
  // A value that quotes the message cannot pass for it.
  const Result<Event> spoof = With("event_id", "schema_version: 2 is newer than this reader's 1");
  CHECK_FALSE(IsNewerSchemaVersion(spoof.status()));
  const Result<Event> spoof2 =
      With("source", Repeat("x", 250) + ": schema_version: 2 is newer than this reader's 1");
  CHECK_FALSE(IsNewerSchemaVersion(spoof2.status()));
  CHECK_FALSE(IsNewerSchemaVersion(
      Status::InvalidArgument("xschema_version: 2 is newer than this reader's 1")));
  CHECK_FALSE(IsNewerSchemaVersion(
      Status::InvalidArgument("schema_version:  is newer than this reader's 1")));
}

// --- event_id ---------------------------------------------------------------------------

TEST_CASE("event_id accepts letters, digits and _.:- up to 128 characters", "[event][event_id]") {
  CHECK(Ok(With("event_id", "aZ09_.:-")).event_id() == "aZ09_.:-");
  CHECK(Ok(With("event_id", "x")).event_id() == "x");
  CHECK(Ok(With("event_id", std::string(128, 'a'))).event_id() == std::string(128, 'a'));
}

TEST_CASE("event_id that is empty, too long or has other characters is rejected",
          "[event][event_id]") {
  CHECK(ErrorOf(With("event_id", "")) == "event_id: must be 1-128 characters long (got 0)");
  CHECK(ErrorOf(With("event_id", std::string(129, 'a'))) ==
        "event_id: must be 1-128 characters long (got 129)");
  CHECK(ErrorOf(With("event_id", "a b")) ==
        R"(event_id: must be 1-128 of [A-Za-z0-9_.:-] (got "a b"))");
  CHECK(ErrorOf(With("event_id", "a/b")) ==
        R"(event_id: must be 1-128 of [A-Za-z0-9_.:-] (got "a/b"))");
  CHECK(ErrorOf(With("event_id", "é")) ==
        R"(event_id: must be 1-128 of [A-Za-z0-9_.:-] (got "é"))");
  CHECK(ErrorOf(With("event_id", 42)) == "event_id: must be a string (got 42)");
  CHECK(ErrorOf(With("event_id", nullptr)) == "event_id: must be a string (got null)");
}

TEST_CASE("the idempotency key and correlation id default to the event id", "[event][event_id]") {
  Json j = Json::parse(kFull);
  j.erase("idempotency_key");
  j.erase("correlation_id");
  const Event e = Ok(MakeEvent(std::move(j), Fixed()));
  CHECK(e.idempotency_key() == "evt_01KJEQ6E50MVGG8ZD13W37QTS2");
  CHECK(e.correlation_id() == "evt_01KJEQ6E50MVGG8ZD13W37QTS2");
}

// --- event_type -------------------------------------------------------------------------

TEST_CASE("event_type is required", "[event][event_type]") {
  CHECK(ErrorOf(Without("event_type")) == "event_type: is required");
  CHECK(ParseError("{}") == "event_type: is required");
}

TEST_CASE("event_type accepts lower-case dotted names up to 255 characters",
          "[event][event_type]") {
  CHECK(Ok(With("event_type", "a")).event_type() == "a");
  CHECK(Ok(With("event_type", "0")).event_type() == "0");
  CHECK(Ok(With("event_type", "server.backup-v2_done.")).event_type() == "server.backup-v2_done.");
  CHECK(Ok(With("event_type", std::string(255, 'a'))).event_type() == std::string(255, 'a'));
}

TEST_CASE("event_type that breaks the pattern is rejected with the pattern quoted",
          "[event][event_type]") {
  CHECK(ErrorOf(With("event_type", "Bad Type")) ==
        R"(event_type: must match ^[a-z0-9][a-z0-9_.-]*$ (got "Bad Type"))");
  CHECK(ErrorOf(With("event_type", ".hidden")) ==
        R"(event_type: must match ^[a-z0-9][a-z0-9_.-]*$ (got ".hidden"))");
  CHECK(ErrorOf(With("event_type", "_x")) ==
        R"(event_type: must match ^[a-z0-9][a-z0-9_.-]*$ (got "_x"))");
  CHECK(ErrorOf(With("event_type", "-x")) ==
        R"(event_type: must match ^[a-z0-9][a-z0-9_.-]*$ (got "-x"))");
  CHECK(ErrorOf(With("event_type", "a:b")) ==
        R"(event_type: must match ^[a-z0-9][a-z0-9_.-]*$ (got "a:b"))");
  CHECK(ErrorOf(With("event_type", "user.Created")) ==
        R"(event_type: must match ^[a-z0-9][a-z0-9_.-]*$ (got "user.Created"))");
}

TEST_CASE("event_type that is empty, too long or not a string is rejected", "[event][event_type]") {
  CHECK(ErrorOf(With("event_type", "")) == "event_type: must be 1-255 characters long (got 0)");
  CHECK(ErrorOf(With("event_type", std::string(256, 'a'))) ==
        "event_type: must be 1-255 characters long (got 256)");
  CHECK(ErrorOf(With("event_type", 1)) == "event_type: must be a string (got 1)");
  CHECK(ErrorOf(With("event_type", Json::array())) ==
        "event_type: must be a string (got an array)");
  CHECK(ErrorOf(With("event_type", Json::object())) ==
        "event_type: must be a string (got an object)");
  CHECK(ErrorOf(With("event_type", false)) == "event_type: must be a string (got false)");
}

// --- occurred_at ------------------------------------------------------------------------

TEST_CASE("an offset timestamp is normalized to UTC milliseconds", "[event][occurred_at]") {
  CHECK(Ok(With("occurred_at", "2026-02-27T10:25:00+05:30")).occurred_at() == kNowText);
  CHECK(Ok(With("occurred_at", "2026-02-26T20:55:00-08:00")).occurred_at() == kNowText);
  CHECK(Ok(With("occurred_at", "2026-02-27T04:55:00Z")).occurred_at() == kNowText);
  CHECK(Ok(With("occurred_at", "2026-02-27t04:55:00z")).occurred_at() == kNowText);
  CHECK(Ok(With("occurred_at", "2026-02-27 04:55:00+00:00")).occurred_at() == kNowText);
  CHECK(Ok(With("occurred_at", "2026-02-27T04:55:00.5Z")).occurred_at() ==
        "2026-02-27T04:55:00.500Z");
}

TEST_CASE("fractions finer than milliseconds are truncated", "[event][occurred_at]") {
  CHECK(Ok(With("occurred_at", "2026-02-27T10:25:00.123456789+05:30")).occurred_at() ==
        "2026-02-27T04:55:00.123Z");
  CHECK(Ok(With("occurred_at", "2026-02-27T04:55:00.999999Z")).occurred_at() ==
        "2026-02-27T04:55:00.999Z");
}

TEST_CASE("a leap day is a valid date only in a leap year", "[event][occurred_at]") {
  CHECK(Ok(With("occurred_at", "2024-02-29T12:00:00Z")).occurred_at() ==
        "2024-02-29T12:00:00.000Z");
  CHECK(ErrorOf(With("occurred_at", "2023-02-29T12:00:00Z")) ==
        "occurred_at: must be an RFC 3339 timestamp such as 2026-02-27T04:55:00Z: day 29 of "
        R"(February in a year that is not a leap year (got "2023-02-29T12:00:00Z"))");
}

TEST_CASE("occurred_at that is not an RFC 3339 string is rejected", "[event][occurred_at]") {
  CHECK(ErrorOf(With("occurred_at", "yesterday")) ==
        "occurred_at: must be an RFC 3339 timestamp such as 2026-02-27T04:55:00Z: expected a "
        R"(four-digit year at the start (got "yesterday"))");
  CHECK(ErrorOf(With("occurred_at", "2026-02-27T04:55:00")) ==
        "occurred_at: must be an RFC 3339 timestamp such as 2026-02-27T04:55:00Z: expected 'Z' "
        R"(or an offset such as +02:00 after the time (got "2026-02-27T04:55:00"))");
  CHECK(ErrorOf(With("occurred_at", "")) ==
        "occurred_at: must be an RFC 3339 timestamp such as 2026-02-27T04:55:00Z: expected a "
        R"(four-digit year at the start (got ""))");
  CHECK(ErrorOf(With("occurred_at", 1772168100)) ==
        "occurred_at: must be an RFC 3339 timestamp string (got 1772168100)");
}

TEST_CASE("a missing occurred_at is the defaults' now", "[event][occurred_at]") {
  CHECK(Ok(Without("occurred_at")).occurred_at() == kNowText);
}

// --- source -----------------------------------------------------------------------------

TEST_CASE("source is any string of 1-255 characters", "[event][source]") {
  CHECK(Ok(With("source", "https://example.com/a b?c")).source() == "https://example.com/a b?c");
  CHECK(Ok(With("source", std::string(255, 's'))).source() == std::string(255, 's'));
  // Characters, not bytes: 255 two-byte characters fit.
  CHECK(Ok(With("source", Repeat("é", 255))).source() == Repeat("é", 255));
  CHECK(ErrorOf(With("source", Repeat("é", 256))) ==
        "source: must be 1-255 characters long (got 256)");
  CHECK(ErrorOf(With("source", std::string(256, 's'))) ==
        "source: must be 1-255 characters long (got 256)");
  CHECK(ErrorOf(With("source", "")) == "source: must be 1-255 characters long (got 0)");
  CHECK(ErrorOf(With("source", 3.5)) == "source: must be a string (got 3.5)");
}

TEST_CASE("a missing source is the default source", "[event][source]") {
  CHECK(Ok(Without("source")).source() == "test-host");
}

TEST_CASE("a default source that breaks the rule is reported", "[event][source]") {
  EventDefaults d = Fixed();
  d.source = std::string(300, 'h');
  CHECK(ErrorOf(Without("source", d)) == "source: must be 1-255 characters long (got 300)");
}

// --- idempotency_key and correlation_id -------------------------------------------------

TEST_CASE("idempotency_key and correlation_id are strings of 1-255 characters",
          "[event][idempotency_key][correlation_id]") {
  for (const char* key : {"idempotency_key", "correlation_id"}) {
    INFO(key);
    const std::string k = key;
    CHECK(Ok(With(key, "order 42 / step 1")).doc[k] == "order 42 / step 1");
    CHECK(Ok(With(key, std::string(255, 'k'))).doc[k] == std::string(255, 'k'));
    CHECK(ErrorOf(With(key, std::string(256, 'k'))) ==
          k + ": must be 1-255 characters long (got 256)");
    CHECK(ErrorOf(With(key, "")) == k + ": must be 1-255 characters long (got 0)");
    CHECK(ErrorOf(With(key, 7)) == k + ": must be a string (got 7)");
    CHECK(ErrorOf(With(key, nullptr)) == k + ": must be a string (got null)");
  }
}

// --- retry_count ------------------------------------------------------------------------

TEST_CASE("retry_count is an integer >= 0, 0 when missing", "[event][retry_count]") {
  CHECK(Ok(With("retry_count", 0)).retry_count() == 0);
  CHECK(Ok(With("retry_count", 17)).retry_count() == 17);
  CHECK(Ok(With("retry_count", 3.0)).retry_count() == 3);
  CHECK(Ok(With("retry_count", 3.0)).doc["retry_count"].is_number_integer());
  CHECK(Ok(Without("retry_count")).retry_count() == 0);
  CHECK(Parse(R"({"event_type":"a","retry_count":9223372036854775807})").retry_count() ==
        INT64_MAX);
}

TEST_CASE("retry_count that is negative, fractional or not a number is rejected",
          "[event][retry_count]") {
  CHECK(ErrorOf(With("retry_count", -1)) == "retry_count: must be >= 0 (got -1)");
  CHECK(ErrorOf(With("retry_count", 1.5)) == "retry_count: must be an integer >= 0 (got 1.5)");
  CHECK(ErrorOf(With("retry_count", true)) == "retry_count: must be an integer >= 0 (got true)");
  CHECK(ErrorOf(With("retry_count", "1")) == R"(retry_count: must be an integer >= 0 (got "1"))");
  CHECK(ErrorOf(With("retry_count", nullptr)) == "retry_count: must be an integer >= 0 (got null)");
  CHECK(ParseError(R"({"event_type":"a","retry_count":9223372036854775808})") ==
        "retry_count: must be at most 9223372036854775807 (got 9223372036854775808)");
  CHECK(ParseError(R"({"event_type":"a","retry_count":1e300})") ==
        "retry_count: must be at most 9223372036854775807 (got 1e+300)");
}

// --- payload ----------------------------------------------------------------------------

TEST_CASE("payload is an object, {} when missing", "[event][payload]") {
  CHECK(Ok(Without("payload")).doc["payload"] == Json::object());
  const Event e = Parse(R"({"event_type":"a","payload":{"z":1,"a":{"deep":[null,true,1.25]}}})");
  CHECK(e.doc["payload"].dump() == R"({"z":1,"a":{"deep":[null,true,1.25]}})");
}

TEST_CASE("a payload that is not an object is rejected", "[event][payload]") {
  CHECK(ErrorOf(With("payload", nullptr)) == "payload: must be a JSON object (got null)");
  CHECK(ErrorOf(With("payload", Json::array({1}))) ==
        "payload: must be a JSON object (got an array)");
  CHECK(ErrorOf(With("payload", "{}")) == R"(payload: must be a JSON object (got "{}"))");
  CHECK(ErrorOf(With("payload", 0)) == "payload: must be a JSON object (got 0)");
}

// --- unknown fields ---------------------------------------------------------------------

TEST_CASE("unknown fields are kept verbatim after the contract fields, in input order",
          "[event][unknown]") {
  const Event e =
      Parse(R"({"zeta":1,"event_type":"a","alpha":{"b":[1,"x"]},"event_id":"e1","mid":null,)"
            R"("occurred_at":"2026-02-27T04:55:00Z","Upper":"v"})");
  CHECK(Serialize(e) ==
        R"({"schema_version":1,"event_id":"e1","event_type":"a",)"
        R"("occurred_at":"2026-02-27T04:55:00.000Z","source":"test-host",)"
        R"("idempotency_key":"e1","correlation_id":"e1","retry_count":0,"payload":{},)"
        R"("zeta":1,"alpha":{"b":[1,"x"]},"mid":null,"Upper":"v"})");
}

TEST_CASE("many unknown fields keep their order", "[event][unknown]") {
  std::string in = R"({"event_type":"a","event_id":"e1")";
  std::string tail;
  for (int i = 99; i >= 0; --i) {
    const std::string member = "\"f" + std::to_string(i) + "\":{\"v\":" + std::to_string(i) + "}";
    in += "," + member;
    tail += "," + member;
  }
  in += "}";
  const std::string out = Serialize(Parse(in));
  CHECK(out.substr(out.find(R"("payload":{})") + 12) == tail + "}");
}

TEST_CASE("writing and reading again gives the same line", "[event]") {
  const std::string once = Serialize(Parse(R"({"b":2,"event_type":"a","a":1,"payload":{"x":1}})"));
  CHECK(Serialize(Parse(once)) == once);
}

// --- size -------------------------------------------------------------------------------

TEST_CASE("an event at the size bound passes and one byte more is rejected", "[event][size]") {
  const std::string line = Serialize(Parse(kFull));
  EventDefaults d = Fixed();
  d.max_event_bytes = line.size();
  CHECK(Serialize(Parse(kFull, d)) == line);
  d.max_event_bytes = line.size() - 1;
  CHECK(ParseError(kFull, d) == "event is " + std::to_string(line.size()) +
                                    " bytes, more than --max-event-bytes " +
                                    std::to_string(line.size() - 1) +
                                    " (keep the payload small: pass references to large blobs)");
}

TEST_CASE("a large payload is rejected under the default 64 KiB bound", "[event][size]") {
  Json j = {{"event_type", "a"}, {"payload", {{"blob", std::string(70000, 'x')}}}};
  const std::string msg = ErrorOf(MakeEvent(std::move(j), Fixed()));
  CHECK(msg.rfind("event is 70", 0) == 0);
  CHECK(msg.find("bytes, more than --max-event-bytes 65536 (keep the payload small: pass "
                 "references to large blobs)") != std::string::npos);
}

TEST_CASE("the size bound counts escaped bytes as written", "[event][size]") {
  // Each newline is written as two bytes.
  Json j = {{"event_type", "a"}, {"payload", {{"t", std::string(100, '\n')}}}};
  const Event e = Ok(MakeEvent(j, Fixed()));
  EventDefaults d = Fixed();
  d.max_event_bytes = Serialize(e).size() - 1;
  CHECK(ErrorOf(MakeEvent(j, d)).find(std::to_string(Serialize(e).size()) + " bytes") !=
        std::string::npos);
}

TEST_CASE(
    "an event whose rough size estimate is over the bound but whose real size is not "
    "passes",
    "[event][size]") {
  // 100 plain bytes are estimated as up to 600 written bytes; they are written as 100.
  Json j = {{"event_type", "a"}, {"event_id", "e1"}, {"payload", {{"t", std::string(100, 'x')}}}};
  const std::string line = Serialize(Ok(MakeEvent(j, Fixed())));
  EventDefaults d = Fixed();
  d.max_event_bytes = line.size();
  CHECK(Serialize(Ok(MakeEvent(j, d))) == line);
}

TEST_CASE("events are written exactly as nlohmann's compact dump writes them", "[event]") {
  const Event e = Parse(
      R"({"event_type":"a","payload":{"f":1.5,"g":-0.0,"h":1e-7,"i":100.0,"big":18446744073709551615,)"
      R"("neg":-9223372036854775808,"s":"tab\t nl\n q\" bs\\ sl\/ ctl\u0001\u001f del\u007f é 😀",)"
      R"("arr":[[],{},[null,true,false]],"e":{}},"u":"\u2028"})");
  CHECK(Serialize(e) == e.doc.dump(-1, ' ', false, Json::error_handler_t::replace));
  const std::string ce = Serialize(e, EventFormat::kCloudEvents);
  CHECK(ce == ToCloudEvents(e).dump(-1, ' ', false, Json::error_handler_t::replace));
}

TEST_CASE("a repeated key keeps its first place and its last value", "[event][json]") {
  const Event e = Parse(R"({"x":1,"event_type":"a","y":2,"x":3,"event_type":"b"})");
  CHECK(e.event_type() == "b");
  CHECK(Serialize(e).substr(Serialize(e).find(R"("payload")")) == R"("payload":{},"x":3,"y":2})");
}

// --- defaults from a stream entry ------------------------------------------------------

TEST_CASE("an event from a stream entry gets its defaults from the entry id", "[event][entry]") {
  // 1772168100000 is 2026-02-27T04:55:00.000Z.
  const EventDefaults d = ForStreamEntry("1772168100000-3");
  CHECK(d.event_id == EventIdAt(1772168100000, 3));
  CHECK(d.now_ms == 1772168100000);
  const Event e = Parse(R"({"event_type":"x.y","payload":{}})", d);
  CHECK(e.event_id() == EventIdAt(1772168100000, 3));
  CHECK(e.idempotency_key() == e.event_id());
  CHECK(e.correlation_id() == e.event_id());
  CHECK(e.occurred_at() == "2026-02-27T04:55:00.000Z");
  // Every delivery of the entry gives the same event; another entry another one.
  CHECK(Serialize(Parse(R"({"event_type":"x.y","payload":{}})",
                        ForStreamEntry("1772168100000-3"))) == Serialize(e));
  CHECK(Parse(R"({"event_type":"x.y"})", ForStreamEntry("1772168100000-4")).event_id() !=
        e.event_id());
  // What the producer wrote wins.
  const Event own =
      Parse(R"({"event_type":"x.y","event_id":"mine","occurred_at":"2026-01-01T00:00:00Z"})", d);
  CHECK(own.event_id() == "mine");
  CHECK(own.idempotency_key() == "mine");
  CHECK(own.occurred_at() == "2026-01-01T00:00:00.000Z");
}

TEST_CASE("a stream entry id of another form leaves the defaults alone", "[event][entry]") {
  EventDefaults base;
  base.source = "s";
  base.max_event_bytes = 1000;
  for (const char* id : {"", "12", "12-", "-3", "a-1", "1-b", "1-2-3", "99999999999999999999-1",
                         "1-99999999999999999999"}) {
    INFO(id);
    const EventDefaults d = ForStreamEntry(id, base);
    CHECK(d.event_id.empty());
    CHECK(d.now_ms == -1);
    CHECK(d.source == "s");
    CHECK(d.max_event_bytes == 1000);
  }
  const EventDefaults kept = ForStreamEntry("0-0", base);
  CHECK(kept.source == "s");
  CHECK(kept.max_event_bytes == 1000);
  CHECK(kept.now_ms == 0);
}

// --- bad JSON and safe messages ---------------------------------------------------------

TEST_CASE("invalid JSON is reported in one line with the parser's reason", "[event][json]") {
  CHECK(ParseError("{") ==
        "invalid JSON: column 2: syntax error while parsing object key - unexpected end of "
        "input; expected string literal");
  CHECK(ParseError(R"({"a":})") ==
        "invalid JSON: column 6: syntax error while parsing value - unexpected '}'; expected "
        "'[', '{', or a literal");
  CHECK(ParseError("") ==
        "invalid JSON: column 1: syntax error while parsing value - unexpected end of input; "
        "expected '[', '{', or a literal");
  CHECK(ParseError(R"({"a":1} x)").rfind("invalid JSON: column 9: syntax error", 0) == 0);
  CHECK(ParseError(R"({"event_type":"a","x":1e999})") ==
        "invalid JSON: number overflow parsing '1e999'");
}

TEST_CASE("control characters and bad UTF-8 in the input never reach a message", "[event][json]") {
  const std::string ctl = ParseError("{\"a\": \"\x01\x1b[31m\"}");
  CHECK(ctl.rfind("invalid JSON: column 8: ", 0) == 0);
  const std::string bad_utf8 = ParseError("{\"a\": \"\xff\"}");
  CHECK(bad_utf8 ==
        "invalid JSON: column 8: syntax error while parsing value - invalid string: ill-formed "
        "UTF-8 byte; last read: '\"\xEF\xBF\xBD'");
  for (const std::string& m : {ctl, bad_utf8}) {
    for (char c : m) CHECK((static_cast<unsigned char>(c) >= 0x20 && c != 0x7f));
  }
}

TEST_CASE("offending values are quoted JSON-escaped and cut to 60 characters", "[event]") {
  CHECK(ErrorOf(With("event_type", "a\x1b[31m\n\"\\")) ==
        R"(event_type: must match ^[a-z0-9][a-z0-9_.-]*$ (got "a\u001b[31m\n\"\\"))");
  // C1 controls (U+009B is CSI on some terminals) and invalid UTF-8 too.
  CHECK(ErrorOf(With("event_type",
                     "a\xC2\x9B"
                     "b\xFF")) ==
        "event_type: must match ^[a-z0-9][a-z0-9_.-]*$ (got \"a\\u009bb\xEF\xBF\xBD\")");
  CHECK(ErrorOf(With("event_type", std::string(200, 'X'))) ==
        "event_type: must match ^[a-z0-9][a-z0-9_.-]*$ (got \"" + std::string(60, 'X') + "...\")");
}

TEST_CASE("a JSON text that is not an object is rejected", "[event][json]") {
  CHECK(ParseError("[1]") == "expected a JSON object (got an array)");
  CHECK(ParseError(R"("event")") == R"(expected a JSON object (got "event"))");
  CHECK(ParseError("42") == "expected a JSON object (got 42)");
  CHECK(ParseError("null") == "expected a JSON object (got null)");
  CHECK(ErrorOf(MakeEvent(Json(true), Fixed())) == "expected a JSON object (got true)");
}

TEST_CASE("deeply nested JSON is refused without crashing", "[event][json]") {
  const std::string deep = R"({"event_type":"a","payload":{"x":)" + std::string(100000, '[') +
                           std::string(100000, ']') + "}}";
  CHECK(ParseError(deep) == "invalid JSON: nested deeper than 128 levels");
  // Brackets inside strings do not count.
  const std::string in_string =
      R"({"event_type":"a","payload":{"x":")" + std::string(1000, '[') + R"(\""}})";
  CHECK(Parse(in_string).doc["payload"]["x"] == std::string(1000, '[') + "\"");
  const std::string ok =
      R"({"event_type":"a","payload":{"x":)" + std::string(126, '[') + std::string(126, ']') + "}}";
  CHECK(Parse(ok).event_type() == "a");
}

// `levels` objects, each the only member of the one around it.
Json Nested(int levels) {
  Json v = 1;
  for (int i = 0; i < levels; ++i) {
    Json outer(Json::value_t::object);
    outer["a"] = std::move(v);
    v = std::move(outer);
  }
  return v;
}

TEST_CASE("an event made from values nests no deeper than a reader accepts", "[event][json]") {
  // The event object is one level: its payload may nest 127 more, as a reader allows 128.
  const Event ok = Ok(With("payload", Nested(127)));
  CHECK(ParseEvent(Serialize(ok), Fixed()).ok());
  CHECK(ErrorOf(With("payload", Nested(128))) ==
        "payload: must nest at most 127 levels (an event nests at most 128)");
  CHECK(ErrorOf(With("extra", Nested(128))) ==
        "extra: must nest at most 127 levels (an event nests at most 128)");
  CHECK(Ok(With("extra", Nested(127))).doc.contains("extra"));
  // Far deeper values are refused without deep recursion.
  CHECK(ErrorOf(With("payload", Nested(10000))).rfind("payload: must nest", 0) == 0);
}

TEST_CASE("strings with any Unicode are kept and invalid UTF-8 is replaced on output",
          "[event][json]") {
  const Event e = Parse(R"({"event_type":"a","payload":{"t":"日本語 😀 \u0000"}})");
  CHECK(e.doc["payload"]["t"] == std::string("日本語 😀 \0", 16));
  CHECK(Serialize(e).find(R"("t":"日本語 😀 \u0000")") != std::string::npos);
  // A document built in code may hold bytes that are not UTF-8; writing it must not throw.
  Json j = {{"event_type", "a"}, {"note", "ok\xFF"}};
  const Event bad = Ok(MakeEvent(std::move(j), Fixed()));
  CHECK(Serialize(bad).find("\"note\":\"ok\xEF\xBF\xBD\"") != std::string::npos);
}

// --- formats ----------------------------------------------------------------------------

TEST_CASE("the output format is evt or cloudevents", "[event][format]") {
  CHECK(*ParseEventFormat("evt") == EventFormat::kEvt);
  CHECK(*ParseEventFormat("cloudevents") == EventFormat::kCloudEvents);
  const Result<EventFormat> bad = ParseEventFormat("json");
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.status().message() == R"(format: must be "evt" or "cloudevents" (got "json"))");
  CHECK_FALSE(ParseEventFormat("EVT").ok());
}

// --- CloudEvents ------------------------------------------------------------------------

TEST_CASE("an event is written as CloudEvents 1.0 JSON", "[event][cloudevents]") {
  const Event e = Parse(R"({"event_type":"a.b","event_id":"e1","x":[1],"payload":{"k":"v"}})");
  const std::string expected =
      R"({"specversion":"1.0","id":"e1","type":"a.b","source":"test-host",)"
      R"("time":"2026-02-27T04:55:00.000Z","datacontenttype":"application/json",)"
      R"("data":{"k":"v"},"idempotencykey":"e1","correlationid":"e1","retrycount":0,)"
      R"("evtfields":"{\"x\":[1]}"})";
  CHECK(Serialize(e, EventFormat::kCloudEvents) == expected);
  CHECK(ToCloudEvents(e).dump() == expected);
}

TEST_CASE("evt to CloudEvents and back gives the identical event", "[event][cloudevents]") {
  for (const std::string& in :
       {std::string(kFull), std::string(R"({"event_type":"a","subject":"s","extra":{"n":1}})")}) {
    const Event e = Parse(in);
    const std::string evt_line = Serialize(e);
    const Event back = Parse(Serialize(e, EventFormat::kCloudEvents));
    CHECK(Serialize(back) == evt_line);
    CHECK(back.doc == e.doc);
  }
}

TEST_CASE("CloudEvents input maps onto the contract fields", "[event][cloudevents]") {
  const Event e = Parse(
      R"({"specversion":"1.0","id":"A-1","source":"/orders","type":"order.paid",)"
      R"("time":"2026-02-27T10:25:00+05:30","subject":"o-7","datacontenttype":"application/json",)"
      R"("data":{"amount":5},"idempotencykey":"pay-7","correlationid":"c-9","retrycount":4,)"
      R"("dataschema":"https://example.com/s","traceparent":"00-ab"})");
  CHECK(Serialize(e) ==
        R"({"schema_version":1,"event_id":"A-1","event_type":"order.paid",)"
        R"("occurred_at":"2026-02-27T04:55:00.000Z","source":"/orders",)"
        R"("idempotency_key":"pay-7","correlation_id":"c-9","retry_count":4,)"
        R"("payload":{"amount":5},"subject":"o-7","dataschema":"https://example.com/s",)"
        R"("traceparent":"00-ab"})");
  // The other attributes come back on CloudEvents output.
  CHECK(Serialize(e, EventFormat::kCloudEvents) ==
        R"({"specversion":"1.0","id":"A-1","type":"order.paid","source":"/orders",)"
        R"("time":"2026-02-27T04:55:00.000Z","datacontenttype":"application/json",)"
        R"("data":{"amount":5},"idempotencykey":"pay-7","correlationid":"c-9","retrycount":4,)"
        R"("subject":"o-7","dataschema":"https://example.com/s","traceparent":"00-ab"})");
}

TEST_CASE("CloudEvents retrycount may be a string of digits", "[event][cloudevents]") {
  const std::string head =
      R"({"specversion":"1.0","id":"1","source":"/s","type":"a","retrycount":)";
  CHECK(Parse(head + R"("3"})").retry_count() == 3);
  CHECK(Parse(head + R"("007"})").retry_count() == 7);
  CHECK(Parse(head + "2}").retry_count() == 2);
  CHECK(ParseError(head + R"("-1"})") ==
        R"(retrycount: must be an integer >= 0 or a string of digits (got "-1"))");
  CHECK(ParseError(head + R"(""})") ==
        R"(retrycount: must be an integer >= 0 or a string of digits (got ""))");
  CHECK(ParseError(head + R"("1.5"})") ==
        R"(retrycount: must be an integer >= 0 or a string of digits (got "1.5"))");
  CHECK(
      ParseError(head + R"("99999999999999999999"})") ==
      R"(retrycount: must be an integer >= 0 or a string of digits (got "99999999999999999999"))");
  CHECK(ParseError(head + "-2}") == "retrycount: must be >= 0 (got -2)");
  CHECK(ParseError(head + "true}") ==
        "retrycount: must be an integer >= 0 or a string of digits (got true)");
}

TEST_CASE("CloudEvents time is defaulted like evt's occurred_at, id, source, type are not",
          "[event][cloudevents]") {
  const Event e = Parse(R"({"specversion":"1.0","id":"1","source":"/s","type":"a"})");
  CHECK(e.event_id() == "1");
  CHECK(e.source() == "/s");
  CHECK(e.occurred_at() == kNowText);
  CHECK(e.doc["payload"] == Json::object());
  CHECK(ParseError(R"({"specversion":"1.0","id":"1","source":"s"})") == "type: is required");
  CHECK(ParseError(R"({"specversion":"1.0","type":"a","source":"s"})") == "id: is required");
}

TEST_CASE("CloudEvents attributes are checked under their own names", "[event][cloudevents]") {
  std::string head = R"({"specversion":"1.0","id":"1","source":"/s",)";
  CHECK(ParseError(head + R"("type":"Order.Paid"})") ==
        R"(type: must match ^[a-z0-9][a-z0-9_.-]*$ (got "Order.Paid"))");
  CHECK(ParseError(R"({"specversion":"1.0","source":"/s","type":"a","id":"a/b"})") ==
        R"(id: must be 1-128 of [A-Za-z0-9_.:-] (got "a/b"))");
  CHECK(ParseError(R"({"specversion":"1.0","id":"1","type":"a","source":""})") ==
        "source: must be 1-255 characters long (got 0)");
  CHECK(ParseError(head + R"("type":"a","time":"now"})") ==
        "time: must be an RFC 3339 timestamp such as 2026-02-27T04:55:00Z: expected a "
        R"(four-digit year at the start (got "now"))");
  CHECK(ParseError(head + R"("type":"a","idempotencykey":5})") ==
        "idempotencykey: must be a string (got 5)");
  CHECK(ParseError(head + R"("type":"a","correlationid":""})") ==
        "correlationid: must be 1-255 characters long (got 0)");
  CHECK(ParseError(head + R"("type":"a","data":[1]})") ==
        "data: must be a JSON object (got an array)");
  CHECK(ParseError(head + R"("type":"a","data":"text"})") ==
        R"(data: must be a JSON object (got "text"))");
}

TEST_CASE("only CloudEvents 1.0 is accepted", "[event][cloudevents]") {
  CHECK(ParseError(R"({"specversion":"0.3","type":"a"})") ==
        R"(specversion: must be "1.0" (got "0.3"))");
  CHECK(ParseError(R"({"specversion":1.0,"type":"a"})") ==
        R"(specversion: must be "1.0" (got 1.0))");
}

TEST_CASE("CloudEvents data must be JSON", "[event][cloudevents]") {
  const std::string head =
      R"({"specversion":"1.0","id":"1","source":"/s","type":"a","data":{},"datacontenttype":)";
  CHECK(Parse(head + R"("application/json"})").event_type() == "a");
  CHECK(Parse(head + R"("Application/JSON; charset=utf-8"})").event_type() == "a");
  CHECK(Parse(head + R"("application/cloudevents+json"})").event_type() == "a");
  CHECK(Parse(head + R"("text/json"})").event_type() == "a");
  CHECK(ParseError(head + R"("text/plain"})") ==
        "datacontenttype: must be a JSON type (*/json or */*+json) unless the data is in "
        R"(data_base64 (got "text/plain"))");
  CHECK(ParseError(head + R"("json"})") ==
        "datacontenttype: must be a JSON type (*/json or */*+json) unless the data is in "
        R"(data_base64 (got "json"))");
  CHECK(ParseError(head + "7}") == "datacontenttype: must be a string (got 7)");
}

TEST_CASE("evt field names inside a CloudEvents event are refused", "[event][cloudevents]") {
  const std::string head = R"({"specversion":"1.0","type":"a",)";
  CHECK(ParseError(head + R"("event_type":"b"})") ==
        R"(event_type: is an evt field, not allowed in a CloudEvents event (use "type"))");
  CHECK(ParseError(head + R"("payload":{}})") ==
        R"(payload: is an evt field, not allowed in a CloudEvents event (use "data"))");
  CHECK(ParseError(head + R"("schema_version":1})") ==
        "schema_version: is an evt field, not allowed in a CloudEvents event");
}

TEST_CASE("an unknown evt field named like a CloudEvents attribute is carried in evtfields",
          "[event][cloudevents]") {
  const Event e = Parse(R"({"event_type":"a","event_id":"e1","type":"x","data":1,"keep":2})");
  CHECK(Serialize(e).find(R"("type":"x","data":1,"keep":2})") != std::string::npos);
  CHECK(Serialize(e, EventFormat::kCloudEvents) ==
        R"({"specversion":"1.0","id":"e1","type":"a","source":"test-host",)"
        R"("time":"2026-02-27T04:55:00.000Z","datacontenttype":"application/json","data":{},)"
        R"("idempotencykey":"e1","correlationid":"e1","retrycount":0,"keep":2,)"
        R"("evtfields":"{\"type\":\"x\",\"data\":1}"})");
  const Event back = Parse(Serialize(e, EventFormat::kCloudEvents));
  CHECK(back.doc["type"] == "x");
  CHECK(back.doc["data"] == 1);
  CHECK(back.event_type() == "a");
}

}  // namespace
}  // namespace evt
